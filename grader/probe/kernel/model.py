# Request kinds on the student's trained model: interface, reconstruct, decode_prior,
# fit_latents, interpolate, inpaint. ``request["model"]`` says how the model is reached (see
# grader.probe.interface.ModelSpec.config).


def model_parts(model):
    """The model's encode and decode callables, and every object put in inference mode around them."""
    encode = resolve(kernel.namespace, model["encode"]["call"]) if model["encode"] else None
    decode = resolve(kernel.namespace, model["decode"]["call"])
    objects = [part for part in (encode, decode) if part is not None]
    return encode, decode, objects + [resolve(kernel.namespace, locator) for locator in model["inference"]]


def conditioned(function, labels):
    """``function`` with a conditional model's labels (an array, as the grader chose them) passed
    after its input, as the framework's tensor; None: ``function`` unchanged."""
    if labels is None:
        return function
    tensor = kernel.fw.labels(labels)
    return lambda x: function(x, tensor)


def run_encode(encode, model, x, labels=None):
    """(mu, scale) of images ``x`` (N, ...) in the model's layout; scale None for an encoder that
    gives mu alone. Both as the encoder gives them, extra singleton axes and all."""
    fw = kernel.fw
    output = fw.call_model(conditioned(encode, labels), fw.tensor(x.reshape((len(x), *model["layout"]))))
    choice = model["encode"]["select"]
    if choice.get("split"):
        both = fw.to_numpy(output)
        half = both.shape[-1] // 2
        return both[..., :half], both[..., half:]
    mu = numeric(fw, select(output, choice["mu"]), "encode (mu)")
    scale = None if choice.get("scale") is None else numeric(fw, select(output, choice["scale"]), "encode (scale)")
    return mu, scale


def run_decode(decode, model, z, labels=None):
    fw = kernel.fw
    output = fw.call_model(conditioned(decode, labels), fw.tensor(z.astype("float32")))
    return numeric(fw, select(output, model["decode"]["output"]), "decode")


def batched(function, count, size=500):
    """``function(start, stop)`` over ``count`` items in slices of ``size``, results concatenated."""
    import numpy as np

    return np.concatenate([function(start, min(start + size, count)) for start in range(0, count, size)])


def kind_interface(request, inputs):
    import numpy as np

    model = request["model"]
    arrays = {}
    latent = None
    if model["latent"]:
        try:
            latent = resolve(kernel.namespace, model["latent"])
        except Exception:
            latent = None
    arrays["latent_dim"] = np.array(latent if isinstance(latent, int) and not isinstance(latent, bool) else -1)
    try:
        encode, decode, objects = model_parts(model)
    except Exception as exc:
        arrays["found"] = np.array(False)
        arrays["find_error"] = np.array(f"{type(exc).__name__}: {exc}")
        return arrays
    arrays["found"] = np.array(callable(decode) and (encode is None or callable(encode)))
    arrays["is_model"] = np.array(any(kernel.fw.is_model(getattr(o, "__self__", o)) for o in objects))
    labels = inputs.get("labels")
    with kernel.fw.inference(objects):
        for size in request["batch_sizes"]:
            try:
                mu, scale = run_encode(encode, model, inputs["images"][:size], None if labels is None else labels[:size])
                arrays[f"mu_{size}"] = mu
                if scale is not None:
                    arrays[f"scale_{size}"] = scale
                arrays[f"x_hat_{size}"] = run_decode(decode, model, mu, None if labels is None else labels[:size])
            except Exception as exc:
                arrays[f"error_{size}"] = np.array(f"{type(exc).__name__}: {exc}")
    return arrays


def kind_reconstruct(request, inputs):
    import numpy as np

    model = request["model"]
    encode, decode, objects = model_parts(model)
    images, labels = inputs["images"], inputs.get("labels")
    parts = {"mu": [], "scale": [], "x_hat": []}
    with kernel.fw.inference(objects):
        for start in range(0, len(images), 500):
            chosen = None if labels is None else labels[start:start + 500]
            mu, scale = run_encode(encode, model, images[start:start + 500], chosen)
            parts["mu"].append(mu)
            parts["scale"].append(scale)
            parts["x_hat"].append(run_decode(decode, model, mu, chosen))
    if parts["scale"][0] is None:
        del parts["scale"]
    return {name: np.concatenate(values) for name, values in parts.items()}


def latent_shape(encode, decode, model, inputs):
    """One code's shape as the model makes it: mu's, without the batch axis (an encoder's extra
    singleton axes kept), or the rubric's width for a model without an encoder."""
    if encode is None:
        return (request_width(model),)
    labels = inputs.get("labels")
    return run_encode(encode, model, inputs["images"][:1], None if labels is None else labels[:1])[0].shape[1:]


def request_width(model):
    width = resolve(kernel.namespace, model["latent"]) if model["latent"] else None
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise TypeError(f"the latent size is {width!r}, not a positive int (the rubric's `model.latent`)")
    return width


def kind_decode_prior(request, inputs):
    import numpy as np

    model = request["model"]
    encode, decode, objects = model_parts(model)
    labels = inputs.get("prior_labels")
    with kernel.fw.inference(objects):
        shape = latent_shape(encode, decode, model, inputs)
        rng = np.random.default_rng(request["seed"])
        z = rng.standard_normal((request["n"], int(np.prod(shape)))).astype(np.float32)

        def decode_all(codes):
            return batched(lambda a, b: run_decode(decode, model, codes[a:b].reshape((b - a, *shape)),
                                                   None if labels is None else labels[a:b]), len(codes))

        arrays = {"z": z, "samples": decode_all(z)}
        if request["nudge"]:  # each code also moved by `nudge` in a random direction
            direction = rng.standard_normal(z.shape)
            moved = z + request["nudge"] * direction / np.linalg.norm(direction, axis=1, keepdims=True)
            arrays["nudged"] = decode_all(moved.astype(np.float32))
    return arrays


def kind_fit_latents(request, inputs):
    model = request["model"]
    decode = resolve(kernel.namespace, model["decode"]["call"])
    target = inputs["images"].reshape(len(inputs["images"]), -1)
    objects = [decode] + [resolve(kernel.namespace, locator) for locator in model["inference"]]
    width = request["width"] or request_width(model)
    with kernel.fw.inference(objects):
        z = kernel.fw.fit_latents(decode, target, width, request)
        return {"z": z, "x_hat": run_decode(decode, model, z)}


def kind_interpolate(request, inputs):
    """The student's path between the posterior means of image pairs (``function(p1, p2, steps)``),
    decoded; or, for a function taking the two images and notebook objects (``function(x1, x2,
    encoder, decoder)``), the images it returns."""
    import numpy as np

    model = request["model"]
    encode, decode, objects = model_parts(model)
    function = resolve(kernel.namespace, request["function"])
    extra = [resolve(kernel.namespace, locator) for locator in request["objects"]]
    images, steps = inputs["images"], request["steps"]
    with kernel.fw.inference(objects):
        mu = run_encode(encode, model, images)[0]
        arrays = {"mu": mu, "reconstructions": run_decode(decode, model, mu)}
        made = []
        for index in range(0, len(images), 2):
            if request["takes"] == "images":
                ends = [images[index + k].reshape((1, *model["layout"])).astype(np.float32) for k in (0, 1)]
            else:
                ends = [mu[index + k].astype(np.float32) for k in (0, 1)]
            if not request["numpy"]:
                ends = [kernel.fw.tensor(end) for end in ends]
            result = function(*ends, *extra) if request["takes"] == "images" else function(*ends, steps)
            made.append(numeric(kernel.fw, result, request["name"]).reshape(steps, -1))
        if request["takes"] == "images":
            arrays["decoded"] = np.concatenate(made)
        else:
            arrays["paths"] = np.stack(made)
            arrays["decoded"] = run_decode(decode, model, arrays["paths"].reshape(-1, mu.shape[-1]))
        return arrays


def kind_inpaint(request, inputs):
    import numpy as np

    model = request["model"]
    encode, decode, objects = model_parts(model)
    layout = (len(inputs["images"]), *model["layout"])
    masked, mask = inputs["masked"].reshape(layout), inputs["mask"].reshape(layout)
    with kernel.fw.inference(objects):
        if request["function"] is None:
            mu = run_encode(encode, model, masked)[0]
            return {"completed": run_decode(decode, model, mu)}
        function = resolve(kernel.namespace, request["function"])
        masked_in, mask_in = (a.astype(np.float32) if request["numpy"] else kernel.fw.tensor(a) for a in (masked, mask))
        return {"completed": numeric(kernel.fw, function(masked_in, mask_in), request["name"])}
