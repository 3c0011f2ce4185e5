# The TensorFlow/Keras adapter: tensors, gradients (GradientTape), inference mode, seeding, and
# the wrappers that watch a model's own forward pass (a layer's or sub-model's ``call``).


def tensorflow_adapter():
    """The TensorFlow/Keras adapter, with tensorflow (and Keras' layer class) imported into the
    probe's globals (only for a tensorflow rubric)."""
    global tf, layer_types
    import tensorflow as tf

    try:
        import keras
        layer_types = (keras.layers.Layer,)
    except ImportError:
        layer_types = (tf.keras.layers.Layer,)
    return TensorFlow


class TensorFlow:
    name = "tensorflow"

    @staticmethod
    def seed(value):
        tf.random.set_seed(value)

    @staticmethod
    def tensor(array, grad=False):
        return tf.Variable(array, dtype=tf.float32) if grad else tf.convert_to_tensor(array, dtype=tf.float32)

    @staticmethod
    def is_tensor(value):
        return tf.is_tensor(value) or isinstance(value, tf.Variable)

    @staticmethod
    def to_numpy(value):
        if hasattr(value, "numpy"):
            value = value.numpy()
        return np.asarray(value, dtype=np.float64)

    @staticmethod
    def call_with_grad(function, args, kwargs, watched, pick):
        with tf.GradientTape() as tape:
            output = pick(function(*args, **kwargs))
            total = tf.reduce_sum(output) if TensorFlow.is_tensor(output) else None
        grads = {}
        if watched and total is not None:
            values = tape.gradient(total, list(watched.values()))
            grads = {name: g for name, g in zip(watched, values) if g is not None}
        return output, grads

    @staticmethod
    def concatenate(tensors):
        return tf.concat(tensors, axis=-1)

    @staticmethod
    def labels(array):
        return tf.convert_to_tensor(array, dtype=tf.int64 if array.dtype.kind in "iu" else tf.float32)

    @staticmethod
    def call_training(function, x):
        return function(x, training=True) if isinstance(function, layer_types) else function(x)

    @staticmethod
    def call_step(step, batch):
        return step(batch)

    @staticmethod
    def is_concrete(loss):
        """A loss whose value can be read: an eager tensor (not one being traced into a graph)."""
        return tf.is_tensor(loss) and hasattr(loss, "numpy") and int(tf.size(loss)) == 1

    @staticmethod
    def on_loss(callback):
        """Call ``callback(loss, run)`` whenever a loss is differentiated (``GradientTape.gradient``);
        ``run`` tells one model's training from another's (the identity of the first variable the
        gradient is taken with respect to). Returns a function that stops it."""
        original = tf.GradientTape.gradient

        def gradient(self, target, *args, **kwargs):
            sources = args[0] if args else kwargs.get("sources")
            first = tf.nest.flatten(sources)[:1] if sources is not None else []
            callback(target, id(first[0]) if first else 0)
            return original(self, target, *args, **kwargs)

        tf.GradientTape.gradient = gradient
        return lambda: setattr(tf.GradientTape, "gradient", original)

    @staticmethod
    def parameter_ids(part):
        """The identities of the variables of ``part`` (a Keras layer or model, or a bound method of one)."""
        owner = getattr(part, "__self__", part)
        return {id(variable) for variable in getattr(owner, "variables", None) or []}

    @staticmethod
    def observable_training():
        """Keras ``Model.fit`` runs its steps eagerly (``run_eagerly``), so that the loss its tape
        differentiates is a concrete tensor the recorder can read, not one traced into a graph."""
        import wrapt

        def patch(module):
            fit = module.Model.fit

            def fit_eagerly(self, *args, **kwargs):
                before, self.run_eagerly = self.run_eagerly, True
                try:
                    return fit(self, *args, **kwargs)
                finally:
                    self.run_eagerly = before
            module.Model.fit = fit_eagerly

        for package in ("keras", "tf_keras"):
            wrapt.register_post_import_hook(patch, package)

    @staticmethod
    @contextlib.contextmanager
    def recording(recorder):
        stop = TensorFlow.on_loss(recorder.on_loss)
        try:
            yield
        finally:
            stop()

    @staticmethod
    @contextlib.contextmanager
    def restored(owner):
        """The model's variables and its optimizer's as they were, after the block."""
        variables = list(getattr(owner, "variables", [])) + list(getattr(getattr(owner, "optimizer", None), "variables", []))
        saved = [(variable, variable.numpy()) for variable in variables]
        try:
            yield
        finally:
            for variable, value in saved:
                variable.assign(value)

    @staticmethod
    def is_model(value):
        return isinstance(value, layer_types)

    @staticmethod
    def inference(objects):
        return contextlib.nullcontext()

    @staticmethod
    def modes(objects, training):
        return contextlib.nullcontext()

    @staticmethod
    def call_model(function, x):
        if isinstance(function, layer_types):
            return function(x, training=False)
        return function(x)

    @staticmethod
    def watch(target, take, keep):
        """As the torch adapter's: a layer or sub-model is watched through its ``call``."""
        return wrap_attribute(target.call if isinstance(target, layer_types) else target, take, keep)

    @staticmethod
    def taped():
        return tf.GradientTape(persistent=True)

    @staticmethod
    def gradients(tape, total, tensors):
        return tape.gradient(tf.reduce_sum(total), list(tensors))

    @staticmethod
    def fit_latents(decode, target, width, request):
        """As the torch adapter's: Adam on the summed BCE w.r.t. z only."""
        rng = np.random.default_rng(request["seed"])
        w = tf.Variable(0.01 * rng.standard_normal((len(target), width)), dtype=tf.float32)
        x = tf.constant(target, dtype=tf.float32)
        optimiser = tf.keras.optimizers.Adam(learning_rate=request["lr"])
        for _ in range(request["steps"]):
            with tf.GradientTape() as tape:
                z = tf.nn.softplus(w) if request["positive"] else w
                out = tf.reshape(select(TensorFlow.call_model(decode, z), request["model"]["decode"]["output"]), x.shape)
                if request["logits"]:
                    loss = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=out))
                else:
                    p = tf.clip_by_value(out, 1e-6, 1 - 1e-6)
                    loss = -tf.reduce_sum(x * tf.math.log(p) + (1 - x) * tf.math.log(1 - p))
            optimiser.apply_gradients([(tape.gradient(loss, w), w)])
        return (tf.nn.softplus(w) if request["positive"] else w).numpy()

    @staticmethod
    def load_weights(model, path):
        """Keras's own ``model.load_weights`` (``.weights.h5`` or ``.keras``), whose error names the
        layer whose variables do not fit the file. Keras 3 marks a model trained by its own
        ``train_step`` (no ``call``, as keras.io's VAE) as built only once it is called, and refuses
        to load into it: one whose layers are all built is marked built first."""
        if not hasattr(model, "load_weights"):
            raise TypeError(f"it is a {type(model).__name__}, not a Keras model")
        layers = getattr(model, "layers", [])
        if not getattr(model, "built", True) and layers and all(layer.built for layer in layers):
            model.built = True
        model.load_weights(path)
