# Request kind ``call``: a student function on the grader's arrays.


def argument(entry, tensors):
    """One argument from its layout entry: an array, a dict of such arguments, arrays joined
    along the last axis (a student's ``cat([mu, log_sigma])``), or a notebook object (the model)."""
    if "array" in entry:
        return tensors[entry["array"]]
    if "dict" in entry:
        return {key: argument(value, tensors) for key, value in entry["dict"].items()}
    if "join" in entry:
        return kernel.fw.concatenate([tensors[name] for name in entry["join"]])
    return resolve(kernel.namespace, entry["object"])


def kind_call(request, inputs):
    """Call the student's function ``n_calls`` times on the same arrays; gradients of
    ``output.sum()`` w.r.t. the arrays listed in ``grad`` on the first call."""
    fw = kernel.fw
    function = resolve(kernel.namespace, request["function"])
    if not callable(function):
        raise TypeError(f"{request['name']} is {type(function).__name__}, not callable")
    # a packed call passes its arguments as one list, as a Keras layer takes [z_mean, z_log_var]
    target = (lambda *a, **k: function(list(a), **k)) if request["pack"] else function
    arrays = {}
    for run in range(request["n_calls"]):
        grad = request["grad"] if run == 0 else []
        tensors = {name: fw.tensor(inputs[name], name in grad) for name in request["arrays"]}
        args = [argument(entry, tensors) for entry in request["args"]]
        kwargs = {name: float(inputs[f"kw_{name}"]) for name in request["kwargs"]}
        output, grads = fw.call_with_grad(target, args, kwargs, {name: tensors[name] for name in grad},
                                          lambda out: select(out, request["output"]))
        arrays["output" if run == 0 else f"output_{run + 1}"] = numeric(fw, output, request["name"])
        for name, value in grads.items():
            arrays[f"grad_{name}"] = fw.to_numpy(value)
    return arrays
