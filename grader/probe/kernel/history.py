# Request kind ``history``: the losses a notebook recorded while it trained.


def as_series(value, role):
    """Per-epoch (or per-step) values as float64: a list or array of numbers or scalar tensors."""
    import numpy as np

    if isinstance(value, dict) or isinstance(value, str) or not hasattr(value, "__len__"):
        raise TypeError(f"the {role} history is {type(value).__name__}, not a list of numbers")
    return np.asarray([kernel.fw.to_numpy(v) for v in value], dtype=np.float64).reshape(-1)


def kind_history(request, inputs):
    """Each role's series (``loss``, ``recon``, ``kl``): keys of a dict (or a Keras History's
    ``history``) the rubric locates, or plain lists each located on its own."""
    arrays = {role: as_series(resolve(kernel.namespace, locator), role) for role, locator in request["series"].items()}
    if request["history"] is not None:
        record = resolve(kernel.namespace, request["history"])
        if not isinstance(record, dict) and isinstance(getattr(record, "history", None), dict):
            record = record.history  # a Keras History object
        if not isinstance(record, dict):
            raise TypeError(f"the history is {type(record).__name__}, not a dict")
        arrays.update({role: as_series(record[key], role) for role, key in request["keys"].items() if key in record})
    return arrays
