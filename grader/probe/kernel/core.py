# Kernel side of the probe (see vaegrade.grader.probe.cell): this file and its neighbours are
# compiled together in the student's kernel, never imported by the grader. Only the standard
# library, numpy and the notebook's own framework are imported: the framework by its adapter's
# loader (torch_adapter, tensorflow_adapter), into these files' shared globals.
#
# core: finding the student's objects (locators, walked, never evaluated) and reading outputs.

import contextlib  # noqa: F401  (the adapters' context managers, in the files compiled after this one)

import numpy as np


def resolve(namespace, locator):
    """The object a locator names in the notebook's namespace (see grader.probe.interface)."""
    if locator.get("paths"):
        for steps, name in zip(locator["paths"], locator["names"]):
            if steps[0]["name"] in namespace:
                return walk(namespace[steps[0]["name"]], steps[1:], name)
        firsts = list(dict.fromkeys(steps[0]["name"] for steps in locator["paths"]))
        if locator["names"] == firsts:
            raise NameError(f"name {' or '.join(repr(name) for name in firsts)} is not defined")
        wanted = " or ".join(f"`{name}`" for name in locator["names"])
        raise NameError(f"name {' or '.join(repr(name) for name in firsts)} is not defined (looking for {wanted})")
    class_name = locator.get("instance_of") or locator["new"]
    if locator.get("new"):
        if class_name not in namespace:
            raise NameError(f"class '{class_name}' is not defined")
        value = namespace[class_name]()
    else:
        found = [v for k, v in namespace.items() if not k.startswith("_") and not isinstance(v, type)
                 and any(c.__name__ == class_name for c in type(v).__mro__)]
        if not found:
            raise NameError(f"no instance of class '{class_name}' is defined")
        value = found[-1]
    return walk(value, locator.get("attr") or [], class_name)


def walk(value, steps, name):
    """Follow attribute and item steps from ``value`` (the object called ``name``)."""
    for step in steps:
        if "attr" in step:
            value = getattr(value, step["attr"])
        else:
            try:
                value = value[step["item"]]
            except (KeyError, IndexError, TypeError) as exc:
                raise LookupError(f"{name}: no item {step['item']!r} ({type(exc).__name__})") from None
    return value


def select(output, selector):
    """Part of a call's output: ``selector`` None (all), a position, a key or attribute, or a list
    of them applied in turn (``[1, "kl_loss"]``)."""
    if isinstance(selector, list):
        for part in selector:
            output = select(output, part)
        return output
    if selector is None:
        return output
    if isinstance(selector, str):  # a dict's key, else an attribute (torch.distributions.Normal.loc)
        if isinstance(output, dict):
            if selector not in output:
                raise KeyError(f"the output has no key '{selector}' (keys: {sorted(map(str, output))})")
            return output[selector]
        if not hasattr(output, selector):
            raise TypeError(f"expected a dict with key '{selector}' or an object with that attribute, "
                            f"got {type(output).__name__}")
        return getattr(output, selector)
    if not isinstance(output, (tuple, list)):
        raise TypeError(f"expected a tuple or list to take item {selector} of, got {type(output).__name__}")
    if len(output) <= selector:
        raise IndexError(f"expected at least {selector + 1} outputs, got {len(output)}")
    return output[selector]


def numeric(fw, value, what):
    """``value`` as a float64 array; a value that is not a tensor or number is the student's error."""
    if not (fw.is_tensor(value) or isinstance(value, (np.ndarray, float, int))):
        raise TypeError(f"{what} returned {type(value).__name__}, not a tensor")
    return fw.to_numpy(value)


def wrap_attribute(target, take, keep):
    """Watch a bound method (or a Keras layer's ``call``) by replacing it on its object for as long
    as the returned function is not called; ``keep`` gets its output or its positional arguments.
    A method may be watched several times (each wrapper calls the one before it); stop them in
    the reverse order (a wrapper stopped out of order only passes calls through)."""
    owner = getattr(target, "__self__", None)
    if owner is None:
        raise TypeError(f"{target!r} is neither a model part nor a method of one: it cannot be watched")
    name = target.__name__
    original = owner.__dict__.get(name)
    active = [True]

    def watched(*args, **kwargs):
        if take == "input" and active[0]:
            keep(list(args))
        result = target(*args, **kwargs)
        if take == "output" and active[0]:
            keep(result)
        return result

    watched.__self__, watched.__name__ = owner, name
    setattr(owner, name, watched)

    def restore():
        active[0] = False
        if owner.__dict__.get(name) is not watched:
            return
        if original is None:
            delattr(owner, name)
        else:
            setattr(owner, name, original)
    return restore
