# The probe's entry point: read the grader's requests, answer each with its kind's function,
# write the arrays and a manifest. Called by the probe cell as main(globals(), probe_dir).

ADAPTERS = {"torch": torch_adapter, "tensorflow": tensorflow_adapter}
KINDS = {"call": kind_call, "interface": kind_interface, "reconstruct": kind_reconstruct,
         "decode_prior": kind_decode_prior, "history": kind_history, "fit_latents": kind_fit_latents,
         "interpolate": kind_interpolate, "inpaint": kind_inpaint, "forward": kind_forward,
         "training_step": kind_training_step, "recorded": kind_recorded, "weights": kind_weights}


class Kernel:
    """What every request kind works with: the notebook's namespace and the framework adapter."""

    def __init__(self, namespace, fw):
        self.namespace, self.fw = namespace, fw


def load_inputs(probe_dir, key):
    import os

    import numpy as np

    path = os.path.join(probe_dir, f"{key}.inputs.npz")
    if not os.path.exists(path):
        return {}
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def students_line(exc):
    """Where in the student's own code ``exc`` was raised (`` (in cell code, line 12: `...`)``), or ""."""
    import traceback

    frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
              if frame.filename != "vaegrade_probe" and "site-packages" not in frame.filename
              and not frame.filename.startswith("<frozen")]
    if not frames:
        return ""
    frame = frames[-1]
    code = f": `{frame.line.strip()}`" if frame.line else ""
    return f" (raised in {frame.name}, line {frame.lineno}{code})"


def main(namespace, probe_dir):
    """Answer every request of ``<probe_dir>/requests.json``: ``<key>.npz`` per request that ran,
    and ``manifest.json`` (which ran, and the exception of those that did not)."""
    import json
    import os

    import numpy as np

    global kernel
    with open(os.path.join(probe_dir, "requests.json")) as handle:
        requests = json.load(handle)
    kernel = Kernel(namespace, ADAPTERS[requests["framework"]]())
    manifest = {}
    for request in requests["requests"]:
        key = request["key"]
        try:
            inputs = load_inputs(probe_dir, key)
            kernel.fw.seed(requests["seed"])
            np.savez(os.path.join(probe_dir, f"{key}.npz"), **KINDS[request["kind"]](request, inputs))
            manifest[key] = {"ok": True}
        except Exception as exc:
            manifest[key] = {"ok": False, "error": (f"{type(exc).__name__}: {exc}".rstrip(": ") + students_line(exc))[:500]}
    with open(os.path.join(probe_dir, "manifest.json"), "w") as handle:
        json.dump(manifest, handle)
