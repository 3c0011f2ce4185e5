# Recording training steps: the loss the student's code differentiates (Tensor.backward,
# GradientTape.gradient) with the tensors of the same forward pass, kept as numbers. Started by
# the setup cell, before the student's first cell (start_recording), or around a training step
# the probe calls (kind_training_step). Nothing here may ever raise into the student's code.


class Recorder:
    """Keeps the last ``spec["keep"]`` steps: each step's loss and the tensors the capture points
    saw during the forward pass before it. Attaches to the model the first time a loss is
    differentiated once the points can be found in ``namespace`` (the model may not exist yet
    when recording starts)."""

    def __init__(self, fw, spec, namespace=None, attached=False):
        import collections

        self.fw, self.spec, self.namespace = fw, spec, namespace
        self.steps = collections.deque(maxlen=spec["keep"])
        self.current, self.stops, self.problem = {}, [], None
        self.seen = 0
        if attached:
            self.attach(kernel.namespace)

    def attach(self, namespace):
        for role, point in self.spec["points"].items():
            target = resolve(namespace, point["at"])
            self.stops.append(self.fw.watch(target, point["take"], lambda value, role=role: self.keep(role, value)))

    def keep(self, role, value):
        self.current[role] = value

    def on_loss(self, target):
        try:
            self.seen += 1
            if not self.stops and self.namespace is not None:
                self.attach(self.namespace)
            if self.fw.is_concrete(target) and all(role in self.current for role in self.spec["points"]):
                self.steps.append(self.step(target))
        except Exception as exc:  # the student's training goes on, whatever happens here
            self.problem = f"{type(exc).__name__}: {exc}"
        self.current = {}

    def step(self, loss):
        step = {"loss": float(self.fw.to_numpy(loss).reshape(-1)[0])}
        for role, point in self.spec["points"].items():
            step[role] = halved(self.fw, self.fw.to_numpy(part(self.current[role], point)), point).astype("float32")
        return step

    def close(self):
        for stop in self.stops:
            stop()
        self.stops = []

    def why_empty(self):
        if self.problem:
            return f"the training steps could not be recorded: {self.problem}"
        if not self.seen:
            return "no loss was ever differentiated (no backward() or tape.gradient() ran)"
        names = ", ".join(point["name"] for point in self.spec["points"].values())
        return f"{self.seen} losses were differentiated, none after a forward pass through {names}"


def start_recording(framework, namespace, records):
    """Record the student's own training steps for each of ``records`` ({key: spec}): called by
    the setup cell, before the student's first cell. The recorders live in a module of their own
    (``_vaegrade_recording``), where the probe finds them."""
    import sys
    import types

    fw = ADAPTERS[framework]()
    recorders = {key: Recorder(fw, spec, namespace) for key, spec in records.items()}
    fw.on_loss(lambda target: [recorder.on_loss(target) for recorder in recorders.values()])
    module = types.ModuleType("_vaegrade_recording")
    module.recorders = recorders
    sys.modules[module.__name__] = module
