# Observing the student's own code at work: request kind ``forward`` (a model's forward pass on
# the grader's images, with what flows between its parts captured), ``training_step`` (a
# training step method called on the grader's batches, its update undone) and ``recorded`` (the
# last steps of the student's own training, recorded as it ran: see start_recording).


def part(value, point):
    """The tensor a capture point names in a captured output or argument list (before any halving)."""
    return select(value, point["select"])


def halved(fw, value, point):
    """The point's half of the last axis, when it names one (mu and a scale in one tensor)."""
    if point["half"] is None:
        return value
    array = fw.to_numpy(value) if fw.is_tensor(value) else value
    middle = array.shape[-1] // 2
    return array[..., :middle] if point["half"] == "first" else array[..., middle:]


def watching(points, captured):
    """Watch every capture point (keeping the first value each sees); returns the stops."""
    stops = []
    for role, point in points.items():
        target = resolve(kernel.namespace, point["at"])
        stops.append(kernel.fw.watch(target, point["take"], lambda value, role=role: captured.setdefault(role, value)))
    return stops


def observed_pass(run, x, labels, points):
    """One call of ``run(x)`` (``run(x, labels)`` for a conditional model) with the points
    captured: the captured tensors (before halving), and the gradients of sum(z) w.r.t. the mu
    and scale tensors that flowed into it."""
    fw, captured = kernel.fw, {}
    stops = watching(points, captured)
    try:
        with fw.taped() as tape:
            fw.call_training(conditioned(run, labels), x)
            tensors = {role: part(captured[role], point) for role, point in points.items() if role in captured}
    finally:
        for stop in reversed(stops):
            stop()
    missing = [role for role in points if role not in tensors]
    if missing:
        raise LookupError(f"the forward pass never went through {', '.join(points[r]['name'] for r in missing)}")
    wanted = [role for role in ("mu", "scale") if role in tensors]
    grads = fw.gradients(tape, tensors["z"], [tensors[role] for role in wanted]) if "z" in tensors else []
    return tensors, dict(zip(wanted, grads))


def running(run):
    """How the student's code names what runs: ``VAE.forward``, ``Encoder.call``, a function's name."""
    if hasattr(run, "__self__"):
        return f"{type(run.__self__).__name__}.{run.__name__}"
    return f"{type(run).__name__}.{'call' if hasattr(run, 'call') and not hasattr(run, 'forward') else 'forward'}"


def kind_forward(request, inputs):
    """Two passes of the located forward on the grader's images (in train mode, batch-norm
    statistics restored after): mu, scale and z of the first, z of the second, and the pathwise
    gradients of sum(z) w.r.t. mu and the scale."""
    import numpy as np

    fw, points = kernel.fw, request["points"]
    run = resolve(kernel.namespace, request["run"])
    x = fw.tensor(inputs["images"].reshape((len(inputs["images"]), *request["model"]["layout"])))
    arrays = {"runs": np.array(running(run))}
    with fw.modes([run] + [resolve(kernel.namespace, p["at"]) for p in points.values()], training=True):
        for index in range(2):
            tensors, grads = observed_pass(run, x, inputs.get("labels"), points)
            suffix = "" if index == 0 else "_2"
            for role, tensor in tensors.items():
                arrays[role + suffix] = halved(fw, fw.to_numpy(tensor), points[role])
            for role, grad in grads.items():
                if index == 0 and grad is not None:
                    arrays[f"grad_{role}"] = halved(fw, fw.to_numpy(grad), points[role])
    return arrays


def step_arrays(steps):
    """Recorded steps as arrays: ``loss`` (steps,) and each role's ``<role>_<step>``."""
    import numpy as np

    arrays = {"loss": np.asarray([step["loss"] for step in steps], dtype=np.float64)}
    for index, step in enumerate(steps):
        arrays.update({f"{role}_{index}": value for role, value in step.items() if role != "loss"})
    return arrays


def kind_training_step(request, inputs):
    """The student's training step (``model.train_step(batch)``; a conditional model's gets
    ``(images, labels)``) called on the grader's batches, eagerly, with the loss it
    differentiates and the tensors of its forward pass captured; the model's weights and its
    optimizer's state are put back after every step."""
    fw, points = kernel.fw, request["points"]
    run = resolve(kernel.namespace, request["run"])
    images, labels = inputs["images"], inputs.get("labels")
    size = request["batch_size"]
    recorder = Recorder(fw, {"points": points, "keep": len(images) // size}, attached=True)
    with fw.restored(getattr(run, "__self__", run)), fw.recording(recorder):
        for start in range(0, len(images) - size + 1, size):
            batch = fw.tensor(images[start:start + size].reshape((-1, *request["model"]["layout"])))
            fw.call_step(run, batch if labels is None else (batch, fw.labels(labels[start:start + size])))
    recorder.close()
    if not recorder.steps:
        raise LookupError(recorder.why_empty())
    return {**step_arrays(recorder.steps), **learning_curve(recorder)}


def learning_curve(recorder):
    """Every recorded step's loss (``curve``) and where each model's training starts in it (``runs``)."""
    import numpy as np

    return {"curve": np.asarray(recorder.curve, dtype=np.float64),
            "runs": np.asarray([start for _, start in recorder.runs], dtype=np.int64)}


def kind_recorded(request, inputs):
    """The first and last steps of the student's own training, as recorded while the notebook ran,
    and every step's loss with where each model's training starts (:func:`learning_curve`)."""
    import sys

    recorder = getattr(sys.modules.get("_vaegrade_recording"), "recorders", {}).get(request["record"])
    if recorder is None:
        raise LookupError("nothing was recorded: the notebook's training never ran")
    recorder.close()
    if not recorder.steps:
        raise LookupError(recorder.why_empty())
    return {**step_arrays(recorder.steps), **learning_curve(recorder), **model_trainings(recorder, request["owners"])}


def model_trainings(recorder, owners):
    """With ``owners`` (locators of the graded model's parts): which recorded trainings trained
    that model (``trains_model``: 1 or 0 per training, its run's first parameter among the parts'),
    or why the model was not found (``owner_error``: UTF-8 bytes). Nothing without owners, or
    when the parts hold no parameters the grader can list (plain functions)."""
    import numpy as np

    if not owners:
        return {}
    try:
        owned = set().union(*(kernel.fw.parameter_ids(resolve(kernel.namespace, owner)) for owner in owners))
    except Exception as exc:  # noqa: BLE001 (the model's absence is the student's, reported as such)
        return {"owner_error": np.frombuffer(f"{type(exc).__name__}: {exc}".encode(), dtype=np.uint8)}
    if not owned:
        return {}
    return {"trains_model": np.asarray([int(run in owned) for run, _ in recorder.runs], dtype=np.int64)}
