# Handed-in trained weights: loaded into the notebook's model by a cell injected right after its
# last training cell (see grader/run/transforms.py), reported to the grader by the probe.


def mismatches(own, stored, shape):
    """Raise ValueError naming every parameter whose name or shape differs between the model's
    ``own`` and the file's ``stored`` ({name: array}), ``shape`` giving an array's shape."""
    problems = [f"`{name}` is {shape(stored[name])} in the file but {shape(value)} in the notebook's model"
                for name, value in own.items() if name in stored and shape(stored[name]) != shape(value)]
    missing = [name for name in own if name not in stored]
    unexpected = [name for name in stored if name not in own]
    problems += [f"{where}: {named(names)}" for where, names in (("missing from the file", missing),
                                                                ("in the file but not in the model", unexpected)) if names]
    if problems:
        raise ValueError("they come from another architecture: " + "; ".join(problems))


def named(names, shown=6):
    """The first ``shown`` of ``names`` in backquotes, and how many more there are."""
    return ", ".join(f"`{name}`" for name in names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def load_handed_in(namespace, framework, spec):
    """Load ``spec["path"]`` into the object ``spec["into"]`` names; the outcome ({loaded, message})
    is kept in the module ``_vaegrade_weights`` for the probe (kind_weights). Never raises into the
    student's notebook."""
    import sys
    import types

    module = types.ModuleType("_vaegrade_weights")
    sys.modules[module.__name__] = module
    try:
        fw = ADAPTERS[framework]()
        fw.load_weights(resolve(namespace, spec["into"]), spec["path"])
        module.outcome = {"loaded": True, "message": f"loaded into {spec['name']}"}
    except Exception as exc:  # noqa: BLE001 (reported to the grader, never raised into the notebook)
        module.outcome = {"loaded": False, "message": f"{spec['name']}: {type(exc).__name__}: {exc}"[:600]}
    print(f"[vaegrade] the trained weights you handed in: {module.outcome['message']}")


def kind_weights(request, inputs):
    """Whether the handed-in weights were loaded (``loaded``: 1 or 0) and the loader's message
    (``message``: its UTF-8 bytes, artifacts being numeric arrays only)."""
    import sys

    import numpy as np

    outcome = getattr(sys.modules.get("_vaegrade_weights"), "outcome", None)
    if outcome is None:
        raise LookupError("the notebook stopped before the end of its training: the weights were never loaded")
    return {"loaded": np.array(int(outcome["loaded"])), "message": np.frombuffer(outcome["message"].encode(), dtype=np.uint8)}
