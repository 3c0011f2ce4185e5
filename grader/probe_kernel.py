"""Kernel-side probe: runs inside the student's kernel, after the student's cells.

This file is not imported by the grader: its text is injected as the last cell of the
notebook (see :func:`grader.transforms.probe_cell`). It imports only the standard library,
numpy and torch, reads the grader's inputs from ``<probe_dir>/<key>.inputs.npz``, calls the
student's objects, and writes only numeric arrays: ``<probe_dir>/<key>.npz`` per request and
``manifest.json`` (which requests ran, and the exception of those that did not).

Kinds of request (``kind`` in the config):
- ``call``: a student function on the inputs, with gradients of ``output.sum()``.
- ``interface``: the model's ``encode`` / ``decode`` on small batches, step by step.
- ``reconstruct``: ``decode(encode(x)[0])`` on the grader's images, in eval mode.
- ``decode_prior``: ``decode(z)`` for z ~ N(0, I) drawn from the grader's seed.
- ``history``: the student's per-epoch history lists as float64 arrays.
"""


def main(namespace, probe_dir):
    import json
    import os

    import numpy as np
    import torch

    def lookup(name):
        if name not in namespace:
            raise NameError(f"name '{name}' is not defined")
        return namespace[name]

    def as_array(value, dtype=np.float64):
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().double().numpy()
        return np.asarray(value, dtype=dtype)

    def as_tensors(inputs, grad):
        return {
            name: torch.tensor(array, dtype=torch.float32, requires_grad=name in grad)
            for name, array in inputs.items()
        }

    def call(config, inputs):
        function = lookup(config["function"])
        if not callable(function):
            raise TypeError(f"'{config['function']}' is {type(function).__name__}, not a function")
        arrays = {}
        for run in range(config.get("n_calls", 1)):
            tensors = as_tensors(inputs, config.get("grad", []) if run == 0 else [])
            args = [tensors[name] for name in config["args"]]
            kwargs = {key: float(tensors[name]) for key, name in config.get("kwargs", {}).items()}
            output = function(*args, **kwargs)
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"{config['function']} returned {type(output).__name__}, not a torch.Tensor")
            arrays["output" if run == 0 else f"output_{run + 1}"] = as_array(output)
            if run == 0 and config.get("grad"):
                if output.requires_grad:
                    output.sum().backward()
                for name in config["grad"]:
                    if tensors[name].grad is not None:
                        arrays[f"grad_{name}"] = as_array(tensors[name].grad)
        return arrays

    def model_of(config):
        model = lookup(config["model"])
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"'{config['model']}' is {type(model).__name__}, not a torch.nn.Module")
        return model.eval()

    def encode(model, x):
        encoded = model.encode(x)
        if not (isinstance(encoded, (tuple, list)) and len(encoded) == 2):
            raise TypeError(f"encode returned {type(encoded).__name__}, not a (mu, logvar) pair")
        return encoded

    def interface(config, inputs):
        arrays = {}
        model = lookup(config["model"])
        arrays["is_module"] = np.array(isinstance(model, torch.nn.Module))
        for method in ("encode", "decode"):
            arrays[f"has_{method}"] = np.array(callable(getattr(model, method, None)))
        latent = namespace.get(config["latent"])
        arrays["latent_dim"] = np.array(latent if isinstance(latent, int) and not isinstance(latent, bool) else -1)
        if isinstance(model, torch.nn.Module):
            model.eval()
        with torch.no_grad():
            for size in config["batch_sizes"]:
                x = torch.tensor(inputs["images"][:size])
                try:
                    mu, logvar = encode(model, x)
                    arrays[f"mu_{size}"], arrays[f"logvar_{size}"] = as_array(mu), as_array(logvar)
                    arrays[f"x_hat_{size}"] = as_array(model.decode(mu))
                except Exception as exc:
                    arrays[f"error_{size}"] = np.array(f"{type(exc).__name__}: {exc}")
        return arrays

    def reconstruct(config, inputs):
        model = model_of(config)
        parts = {"mu": [], "logvar": [], "x_hat": []}
        with torch.no_grad():
            for batch in torch.tensor(inputs["images"]).split(500):
                mu, logvar = encode(model, batch)
                parts["mu"].append(as_array(mu))
                parts["logvar"].append(as_array(logvar))
                parts["x_hat"].append(as_array(model.decode(mu)))
        return {name: np.concatenate(values) for name, values in parts.items()}

    def decode_prior(config, inputs):
        model, latent_dim = model_of(config), int(lookup(config["latent"]))
        z = np.random.default_rng(config["seed"]).standard_normal((config["n"], latent_dim)).astype(np.float32)
        with torch.no_grad():
            samples = np.concatenate([as_array(model.decode(batch)) for batch in torch.tensor(z).split(500)])
        return {"z": z, "samples": samples}

    def history(config, inputs):
        record = lookup(config["name"])
        if not isinstance(record, dict):
            raise TypeError(f"'{config['name']}' is {type(record).__name__}, not a dict")
        return {key: as_array([as_array(v) for v in record[key]]) for key in config["keys"] if key in record}

    kinds = {"call": call, "interface": interface, "reconstruct": reconstruct,
             "decode_prior": decode_prior, "history": history}
    with open(os.path.join(probe_dir, "requests.json")) as handle:
        requests = json.load(handle)
    manifest = {}
    for request in requests["requests"]:
        key = request["key"]
        inputs_path = os.path.join(probe_dir, f"{key}.inputs.npz")
        try:
            inputs = {}
            if os.path.exists(inputs_path):
                with np.load(inputs_path, allow_pickle=False) as npz:
                    inputs = {name: npz[name] for name in npz.files}
            torch.manual_seed(requests["seed"])
            arrays = kinds[request["kind"]](request["config"], inputs)
            np.savez(os.path.join(probe_dir, f"{key}.npz"), **arrays)
            manifest[key] = {"ok": True}
        except Exception as exc:
            manifest[key] = {"ok": False, "error": f"{type(exc).__name__}: {exc}".rstrip(": ")[:500]}
    with open(os.path.join(probe_dir, "manifest.json"), "w") as handle:
        json.dump(manifest, handle)
