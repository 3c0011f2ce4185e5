"""Kernel-side probe: runs inside the student's kernel, after the student's cells.

This file is not imported by the grader: its text is injected as the last cell of the
notebook (see :func:`vaegrade.grader.run.transforms.probe_cell`). It imports only the standard library,
numpy and the notebook's framework (torch, or tensorflow/keras), reads the grader's inputs
from ``<probe_dir>/<key>.inputs.npz``, calls the student's objects, and writes only numeric
arrays: ``<probe_dir>/<key>.npz`` per request and ``manifest.json`` (which requests ran, and
the exception of those that did not).

Objects are found by locators (see :mod:`vaegrade.grader.probe.interface`): paths as steps (a name, then
attributes and literal items, walked, never evaluated), candidate names,
an instance of a named class, or a fresh instance. A framework adapter (:func:`torch_adapter`,
:func:`tensorflow_adapter`) converts arrays to tensors and back, takes gradients of
``output.sum()`` and puts models in inference mode; the kinds of request are written once
against it. No conversion of conventions happens here: raw outputs go back to the grader.

Kinds of request (``kind`` in the config):
- ``call``: a student function on the positional arguments ``args`` lays out (arrays ``arg0``,
  or a dict of arrays ``arg1.<key>``) and keywords ``kw_<name>``, with the gradients of
  ``output.sum()`` w.r.t. the arrays listed in ``grad``.
- ``interface``: ``encode`` then ``decode`` on small batches, step by step, errors recorded.
- ``reconstruct``: ``decode(mu)`` for ``mu`` from ``encode(x)``, on the grader's images.
- ``decode_prior``: ``decode(z)`` for z ~ N(0, I) drawn from the grader's seed, z as wide as mu
  (with ``nudge``, also the decodings of each z moved that far in a random direction).
- ``history``: per-epoch losses as float64 arrays, by role (``loss``, ``recon``, ``kl``).
- ``fit_latents``: an auto-decoder's test-time inference: latent codes for the grader's images
  found by Adam on the summed BCE through ``decode`` (the grader's steps, rate and seed).
- ``interpolate``: the student's interpolation between the posterior means of image pairs, and
  the decoded path.
- ``inpaint``: the model's completion of masked images (a student function, or decode(encode)).
"""


def main(namespace, probe_dir):
    import json
    import os

    import numpy as np

    def resolve(locator):
        """The object a locator names in the notebook's namespace (see vaegrade.grader.probe.interface)."""
        if "paths" in locator:
            for steps, name in zip(locator["paths"], locator["names"]):
                if steps[0]["name"] in namespace:
                    return walk(namespace[steps[0]["name"]], steps[1:], name)
            names = " or ".join(f"'{p}'" for p in locator["names"])
            raise NameError(f"name {names} is not defined")
        class_name = locator.get("instance_of") or locator["new"]
        if "new" in locator:
            if class_name not in namespace:
                raise NameError(f"class '{class_name}' is not defined")
            value = namespace[class_name]()
        else:
            found = [v for k, v in namespace.items() if not k.startswith("_") and not isinstance(v, type)
                     and any(c.__name__ == class_name for c in type(v).__mro__)]
            if not found:
                raise NameError(f"no instance of class '{class_name}' is defined")
            value = found[-1]
        return walk(value, locator.get("attr", []), class_name)

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

    def torch_adapter():
        import contextlib

        import torch

        class Torch:
            name = "torch"

            @staticmethod
            def tensor(array, grad=False):
                return torch.tensor(array, dtype=torch.float32, requires_grad=grad)

            @staticmethod
            def is_tensor(value):
                return isinstance(value, torch.Tensor)

            @staticmethod
            def to_numpy(value):
                if isinstance(value, torch.Tensor):
                    return value.detach().cpu().double().numpy()
                return np.asarray(value, dtype=np.float64)

            @staticmethod
            def call_with_grad(function, args, kwargs, watched, pick):
                output = pick(function(*args, **kwargs))
                grads = {}
                if isinstance(output, torch.Tensor) and watched and output.requires_grad:
                    output.sum().backward()
                    grads = {name: t.grad for name, t in watched.items() if t.grad is not None}
                return output, grads

            @staticmethod
            def is_model(value):
                return isinstance(value, torch.nn.Module)

            @staticmethod
            @contextlib.contextmanager
            def inference(objects):
                """eval() and no_grad() for the duration; each module's training flag restored
                after (self-check runs this in the student's own kernel)."""
                owners = [o for o in (getattr(obj, "__self__", obj) for obj in objects) if isinstance(o, torch.nn.Module)]
                modes = [(module, module.training) for owner in owners for module in owner.modules()]
                for owner in owners:
                    owner.eval()
                try:
                    with torch.no_grad():
                        yield
                finally:
                    for module, training in modes:
                        module.training = training

            @staticmethod
            def call_model(function, x):
                return function(x)

            @staticmethod
            def fit_latents(decode, target, width, config):
                """Adam on BCE(decode(z), target) summed, w.r.t. z only (the model's own
                gradients are never accumulated); z = softplus(w) on a positive support."""
                generator = torch.Generator().manual_seed(config["seed"])
                w = (0.01 * torch.randn(len(target), width, generator=generator)).requires_grad_()
                x = torch.tensor(target, dtype=torch.float32)
                optimiser = torch.optim.Adam([w], lr=config["lr"])
                with torch.enable_grad():
                    for _ in range(config["steps"]):
                        z = torch.nn.functional.softplus(w) if config["positive"] else w
                        out = select(decode(z), config["decode"]["output"]).reshape(x.shape)
                        if config["logits"]:
                            loss = torch.nn.functional.binary_cross_entropy_with_logits(out, x, reduction="sum")
                        else:
                            loss = torch.nn.functional.binary_cross_entropy(out.clamp(1e-6, 1 - 1e-6), x, reduction="sum")
                        (w.grad,) = torch.autograd.grad(loss, [w])
                        optimiser.step()
                return (torch.nn.functional.softplus(w) if config["positive"] else w).detach().numpy()

            seed = staticmethod(torch.manual_seed)
            nothing = contextlib.nullcontext

        return Torch

    def tensorflow_adapter():
        import contextlib

        import tensorflow as tf

        try:
            import keras
            layer_types = (keras.layers.Layer,)
        except ImportError:
            layer_types = (tf.keras.layers.Layer,)

        class TensorFlow:
            name = "tensorflow"

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
            def is_model(value):
                return isinstance(value, layer_types)

            @staticmethod
            def inference(objects):
                return contextlib.nullcontext()

            @staticmethod
            def call_model(function, x):
                if isinstance(function, layer_types):
                    return function(x, training=False)
                return function(x)

            @staticmethod
            def fit_latents(decode, target, width, config):
                """As the torch adapter's: Adam on the summed BCE w.r.t. z only."""
                rng = np.random.default_rng(config["seed"])
                w = tf.Variable(0.01 * rng.standard_normal((len(target), width)), dtype=tf.float32)
                x = tf.constant(target, dtype=tf.float32)
                optimiser = tf.keras.optimizers.Adam(learning_rate=config["lr"])
                for _ in range(config["steps"]):
                    with tf.GradientTape() as tape:
                        z = tf.nn.softplus(w) if config["positive"] else w
                        out = tf.reshape(select(TensorFlow.call_model(decode, z), config["decode"]["output"]), x.shape)
                        if config["logits"]:
                            loss = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=out))
                        else:
                            p = tf.clip_by_value(out, 1e-6, 1 - 1e-6)
                            loss = -tf.reduce_sum(x * tf.math.log(p) + (1 - x) * tf.math.log(1 - p))
                    optimiser.apply_gradients([(tape.gradient(loss, w), w)])
                return (tf.nn.softplus(w) if config["positive"] else w).numpy()

            seed = staticmethod(tf.random.set_seed)
            nothing = contextlib.nullcontext

        return TensorFlow

    with open(os.path.join(probe_dir, "requests.json")) as handle:
        requests = json.load(handle)
    fw = {"torch": torch_adapter, "tensorflow": tensorflow_adapter}[requests["framework"]]()

    def numeric(value, what):
        if not (fw.is_tensor(value) or isinstance(value, (np.ndarray, float, int))):
            raise TypeError(f"{what} returned {type(value).__name__}, not a tensor")
        return fw.to_numpy(value)

    def call(config, inputs):
        function = resolve(config["function"])
        if not callable(function):
            raise TypeError(f"{config['name']} is {type(function).__name__}, not callable")
        # a packed call passes its arguments as one list, as a Keras layer takes [z_mean, z_log_var]
        target = (lambda *a, **k: function(list(a), **k)) if config.get("pack") else function
        names = [name for entry in config["args"] for name in ([entry] if isinstance(entry, str) else entry.values())]
        arrays = {}
        for run in range(config.get("n_calls", 1)):
            grad = config.get("grad", []) if run == 0 else []
            tensors = {name: fw.tensor(inputs[name], name in grad) for name in names}
            args = [tensors[e] if isinstance(e, str) else {key: tensors[n] for key, n in e.items()} for e in config["args"]]
            kwargs = {name: float(inputs[f"kw_{name}"]) for name in config.get("kwargs", [])}
            output, grads = fw.call_with_grad(target, args, kwargs, {name: tensors[name] for name in grad},
                                              lambda out: select(out, config.get("output")))
            arrays["output" if run == 0 else f"output_{run + 1}"] = numeric(output, config["name"])
            for name, value in grads.items():
                arrays[f"grad_{name}"] = fw.to_numpy(value)
        return arrays

    def model_parts(config):
        encode = resolve(config["encode"]["call"])
        decode = resolve(config["decode"]["call"])
        objects = [encode, decode] + [resolve(locator) for locator in config["inference"]]
        return encode, decode, objects

    def run_encode(encode, config, x):
        shaped = fw.tensor(x.reshape((len(x), *config["layout"])))
        output = fw.call_model(encode, shaped)
        select_config = config["encode"]["select"]
        if select_config.get("split"):
            both = fw.to_numpy(output)
            half = both.shape[-1] // 2
            return both[..., :half], both[..., half:]
        return (numeric(select(output, select_config["mu"]), "encode (mu)"),
                numeric(select(output, select_config["scale"]), "encode (scale)"))

    def run_decode(decode, config, z):
        output = fw.call_model(decode, fw.tensor(z.astype(np.float32)))
        return numeric(select(output, config["decode"]["output"]), "decode")

    def interface(config, inputs):
        arrays = {}
        latent = None
        if config["latent"]:
            try:
                latent = resolve(config["latent"])
            except Exception:
                latent = None
        arrays["latent_dim"] = np.array(latent if isinstance(latent, int) and not isinstance(latent, bool) else -1)
        try:
            encode, decode, objects = model_parts(config)
        except Exception as exc:
            arrays["found"] = np.array(False)
            arrays["find_error"] = np.array(f"{type(exc).__name__}: {exc}")
            return arrays
        arrays["found"] = np.array(callable(encode) and callable(decode))
        arrays["is_model"] = np.array(any(fw.is_model(getattr(o, "__self__", o)) for o in objects))
        with fw.inference(objects):
            for size in config["batch_sizes"]:
                try:
                    mu, scale = run_encode(encode, config, inputs["images"][:size])
                    arrays[f"mu_{size}"], arrays[f"scale_{size}"] = mu, scale
                    arrays[f"x_hat_{size}"] = run_decode(decode, config, mu)
                except Exception as exc:
                    arrays[f"error_{size}"] = np.array(f"{type(exc).__name__}: {exc}")
        return arrays

    def reconstruct(config, inputs):
        encode, decode, objects = model_parts(config)
        parts = {"mu": [], "scale": [], "x_hat": []}
        with fw.inference(objects):
            for start in range(0, len(inputs["images"]), 500):
                mu, scale = run_encode(encode, config, inputs["images"][start:start + 500])
                parts["mu"].append(mu)
                parts["scale"].append(scale)
                parts["x_hat"].append(run_decode(decode, config, mu))
        return {name: np.concatenate(values) for name, values in parts.items()}

    def decode_prior(config, inputs):
        encode, decode, objects = model_parts(config)
        with fw.inference(objects):
            width = run_encode(encode, config, inputs["images"][:1])[0].shape[-1]
            rng = np.random.default_rng(config["seed"])
            z = rng.standard_normal((config["n"], width)).astype(np.float32)
            def decode_all(codes):
                return np.concatenate([run_decode(decode, config, codes[i:i + 500]) for i in range(0, len(codes), 500)])

            arrays = {"z": z, "samples": decode_all(z)}
            if config.get("nudge"):  # each code also moved by `nudge` in a random direction
                direction = rng.standard_normal(z.shape)
                arrays["nudged"] = decode_all((z + config["nudge"] * direction / np.linalg.norm(
                    direction, axis=1, keepdims=True)).astype(np.float32))
        return arrays

    def history(config, inputs):
        record = resolve(config["history"])
        if not isinstance(record, dict) and isinstance(getattr(record, "history", None), dict):
            record = record.history  # a Keras History object
        if not isinstance(record, dict):
            raise TypeError(f"the history is {type(record).__name__}, not a dict")
        return {role: np.asarray([fw.to_numpy(v) for v in record[key]], dtype=np.float64).reshape(-1)
                for role, key in config["keys"].items() if key in record}

    def fit_latents(config, inputs):
        decode = resolve(config["decode"]["call"])
        target = inputs["images"].reshape(len(inputs["images"]), -1)
        objects = [decode] + [resolve(locator) for locator in config["inference"]]
        width = config["width"] or (resolve(config["latent"]) if config["latent"] else None)
        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            raise TypeError(f"the latent size is {width!r}, not a positive int (the rubric's `width` or `model.latent`)")
        with fw.inference(objects):
            z = fw.fit_latents(decode, target, width, config)
            return {"z": z, "x_hat": run_decode(decode, config, z)}

    def interpolate(config, inputs):
        encode, decode, objects = model_parts(config)
        function = resolve(config["function"])
        with fw.inference(objects):
            mu = run_encode(encode, config, inputs["images"])[0]
            paths = []
            for first, second in zip(mu[0::2], mu[1::2]):
                ends = [p.astype(np.float32) for p in (first, second)]
                if not config["numpy"]:
                    ends = [fw.tensor(p) for p in ends]
                paths.append(numeric(function(*ends, config["steps"]), config["name"]).reshape(config["steps"], -1))
            path = np.stack(paths)
            decoded = run_decode(decode, config, path.reshape(-1, path.shape[-1]))
            return {"mu": mu, "paths": path, "decoded": decoded, "reconstructions": run_decode(decode, config, mu)}

    def inpaint(config, inputs):
        encode, decode, objects = model_parts(config)
        layout = (len(inputs["images"]), *config["layout"])
        masked, mask = inputs["masked"].reshape(layout), inputs["mask"].reshape(layout)
        with fw.inference(objects):
            if config["function"] is None:
                mu = run_encode(encode, config, masked)[0]
                return {"completed": run_decode(decode, config, mu)}
            function = resolve(config["function"])
            masked_in, mask_in = (a.astype(np.float32) if config["numpy"] else fw.tensor(a) for a in (masked, mask))
            return {"completed": numeric(function(masked_in, mask_in), config["name"])}

    kinds = {"call": call, "interface": interface, "reconstruct": reconstruct, "decode_prior": decode_prior,
             "history": history, "fit_latents": fit_latents, "interpolate": interpolate, "inpaint": inpaint}
    manifest = {}
    for request in requests["requests"]:
        key = request["key"]
        inputs_path = os.path.join(probe_dir, f"{key}.inputs.npz")
        try:
            inputs = {}
            if os.path.exists(inputs_path):
                with np.load(inputs_path, allow_pickle=False) as npz:
                    inputs = {name: npz[name] for name in npz.files}
            fw.seed(requests["seed"])
            arrays = kinds[request["kind"]](request["config"], inputs)
            np.savez(os.path.join(probe_dir, f"{key}.npz"), **arrays)
            manifest[key] = {"ok": True}
        except Exception as exc:
            manifest[key] = {"ok": False, "error": f"{type(exc).__name__}: {exc}".rstrip(": ")[:500]}
    with open(os.path.join(probe_dir, "manifest.json"), "w") as handle:
        json.dump(manifest, handle)
