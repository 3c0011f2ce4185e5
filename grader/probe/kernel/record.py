# Recording training steps: the loss the student's code differentiates (Tensor.backward,
# GradientTape.gradient) with the tensors of the same forward pass, kept as numbers. Started by
# the setup cell, before the student's first cell (start_recording), or around a training step
# the probe calls (kind_training_step). Nothing here may ever raise into the student's code.


class Recorder:
    """Keeps ``spec["keep"]`` finite steps, the first half of them and the last: each step's loss
    and the tensors the capture points saw during the forward pass before it (early and late
    steps weigh the loss's terms differently, which the identification needs; a training that
    diverges keeps the steps before it did). Attaches to the model the first time a loss is differentiated once the
    points can be found in ``namespace`` (the model may not exist yet when recording starts),
    and again, starting over, when the notebook binds their names to new objects (``model =
    VAE()`` for a second run)."""

    def __init__(self, fw, spec, namespace=None, attached=False):
        import collections

        self.fw, self.spec, self.namespace = fw, spec, namespace
        self.first, self.last = [], collections.deque(maxlen=spec["keep"] - spec["keep"] // 2)
        self.curve = []  # every finite step's loss: the learning curve
        self.runs = []  # [run, index of its first step in curve] as each model's training begins
        self.current, self.stops, self.problem = {}, [], None
        self.seen, self.diverged, self.roots = 0, 0, None
        if attached:
            self.attach(kernel.namespace)

    def bound(self, namespace):
        """The objects the points' names are bound to now (their identities)."""
        return [id(namespace.get(steps[0]["name"])) for point in self.spec["points"].values()
                for steps in point["at"].get("paths") or []]

    def follow(self, namespace):
        """Attach, or attach again when the points' names were bound to new objects."""
        roots = self.bound(namespace)
        if self.roots is not None and roots == self.roots:
            return
        self.close()
        self.first, self.curve, self.runs = [], [], []
        self.last.clear()
        self.attach(namespace)
        self.roots, self.problem = roots, None

    def attach(self, namespace):
        for role, point in self.spec["points"].items():
            target = resolve(namespace, point["at"])
            self.stops.append(self.fw.watch(target, point["take"], lambda value, role=role: self.keep(role, value)))

    def keep(self, role, value):
        self.current[role] = value

    def on_loss(self, target, run=0):
        try:
            self.seen += 1
            if self.namespace is not None:
                self.follow(self.namespace)
            if self.fw.is_concrete(target) and all(role in self.current for role in self.spec["points"]):
                step = self.step(target)
                if all(np.isfinite(value).all() for value in step.values()):
                    (self.first if len(self.first) < self.spec["keep"] // 2 else self.last).append(step)
                    if not self.runs or self.runs[-1][0] != run:
                        self.runs.append([run, len(self.curve)])
                    self.curve.append(step["loss"])
                else:
                    self.diverged += 1
        except Exception as exc:  # noqa: BLE001 (the student's training goes on, whatever happens here)
            self.problem = f"{type(exc).__name__}: {exc}"
        self.current = {}

    @property
    def steps(self):
        return self.first + list(self.last)

    def step(self, loss):
        step = {"loss": float(self.fw.to_numpy(loss).reshape(-1)[0])}
        for role, point in self.spec["points"].items():
            step[role] = halved(self.fw, self.fw.to_numpy(part(self.current[role], point)), point).astype("float32")
        return step

    def close(self):
        for stop in reversed(self.stops):
            stop()
        self.stops = []

    def why_empty(self):
        if self.problem:
            return f"the training steps could not be recorded: {self.problem}"
        if not self.seen:
            return "no loss was ever differentiated (no backward() or tape.gradient() ran)"
        if self.diverged:
            return f"every one of the {self.diverged} training steps recorded had a loss or tensors that are not finite"
        names = ", ".join(point["name"] for point in self.spec["points"].values())
        return f"{self.seen} losses were differentiated, none after a forward pass through {names}"


def start_recording(framework, namespace, records):
    """Record the student's own training steps for each of ``records`` ({key: spec}): called by
    the setup cell, before the student's first cell. The recorders live in a module of their own
    (``_vaegrade_recording``), where the probe finds them, and stops them (:func:`stop_recording`)."""
    import sys
    import types

    fw = ADAPTERS[framework]()
    recorders = {key: Recorder(fw, spec, namespace) for key, spec in records.items()}
    module = types.ModuleType("_vaegrade_recording")
    module.recorders, module.active = recorders, True
    sys.modules[module.__name__] = module
    fw.on_loss(lambda target, run: [recorder.on_loss(target, run) for recorder in recorders.values()] if module.active else None)
    fw.observable_training()


def stop_recording():
    """The student's cells are over: the probe's own gradients are no training steps."""
    import sys

    module = sys.modules.get("_vaegrade_recording")
    if module is not None:
        module.active = False
