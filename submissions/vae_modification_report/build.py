"""Write the VAE modification report assignment (the keras.io "Variational AutoEncoder" example
changed four ways, and a written report): handout, reference and alternative solutions, flawed
samples. Usage: ``python submissions/vae_modification_report/build.py [--run]`` (byte-stable).

Each submission is a notebook and its report, ``<name>.ipynb`` and ``<name>.md``. The report
quotes the final losses and training times the notebook printed, so the samples carry the
outputs of the student's own run: ``--run`` executes every sample once (``vaegrade grade
--isolation none`` at the rubric's budget, into a temporary folder) and stores the outputs of
that run in it, as a student's saved notebook holds them. Graded by
rubrics/vae_modification_report.yaml.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
import keras_io_vae as base  # noqa: E402
from notebooks import Cells, change, notebook, stub, write  # noqa: E402

INTRO = """# VAE modification report

Start from the keras.io example "Variational AutoEncoder" (below, unchanged but for training on
the training digits only). Then change it four ways, train each variant, and write a short
report (`<your name>.md`, beside this notebook) that compares them, quoting the final losses and
training times your run printed:

1. the architecture: a third convolutional layer in the encoder and in the decoder;
2. the latent size: 1 and 10 instead of 2;
3. the loss: squared error instead of binary cross-entropy;
4. inpainting: complete test digits whose bottom half is hidden, with `inpaint(masked, mask)`.

The auto-grader calls `inpaint` (which uses the baseline `vae`) and the 10-D variant `vae_10d`
(its `encoder` and `decoder`)."""

BASELINE = """vae, history = train(latent_dim=2)"""

VARIANTS = """vae_conv3, _ = train(latent_dim=2, conv_layers=3)
vae_1d, _ = train(latent_dim=1)
vae_10d, _ = train(latent_dim=10)
vae_mse, _ = train(latent_dim=2, reconstruction="mse")"""

INPAINT = """def inpaint(masked, mask, steps=10):
    \"\"\"Complete the hidden pixels (mask 0) of masked (N, 28, 28, 1) digits: encode, decode, put
    the known pixels back, and repeat; returns the completed digits.\"\"\"
    completed = masked
    for _ in range(steps):
        z_mean, _, _ = vae.encoder.predict(completed, verbose=0)
        decoded = vae.decoder.predict(z_mean, verbose=0)
        completed = mask * masked + (1 - mask) * decoded
    return completed


mask = np.ones((10, 28, 28, 1), dtype="float32")
mask[:, 14:] = 0.0
completed = inpaint(test_digits[:10] * mask, mask)
fig, axes = plt.subplots(3, 10, figsize=(10, 3))
for i in range(10):
    for row, image in enumerate((test_digits[i], test_digits[i] * mask[i], completed[i])):
        axes[row, i].imshow(image.squeeze(), cmap="gray")
        axes[row, i].axis("off")
plt.show()"""


def cells(inpaint=INPAINT, variants=VARIANTS) -> Cells:
    return [
        ("md", INTRO), ("code", base.IMPORTS), ("md", "## The keras.io example"), ("code", base.SAMPLING),
        ("code", base.MODELS), ("code", base.VAE), ("code", base.DATA), ("code", BASELINE),
        ("md", "## Modifications 1 to 3: architecture, latent size, loss"), ("code", variants),
        ("md", "## Modification 4: inpainting"), ("code", inpaint),
    ]


ALTERNATIVE_INPAINT = INPAINT.replace('''    completed = masked
    for _ in range(steps):
        z_mean, _, _ = vae.encoder.predict(completed, verbose=0)
        decoded = vae.decoder.predict(z_mean, verbose=0)
        completed = mask * masked + (1 - mask) * decoded
    return completed''', '''    masked = tf.convert_to_tensor(masked, dtype=tf.float32)
    completed = masked
    for _ in range(steps):
        z_mean = vae.encoder(completed, training=False)[0]
        completed = tf.where(mask > 0, masked, vae.decoder(z_mean, training=False))
    return completed.numpy()''')

REPORT = """# Report: modifying the keras.io VAE

## Setup
All variants trained with the same data, optimiser and number of epochs as the baseline (2-D
latent space, two convolutional layers, binary cross-entropy). Losses are per image, in nats.

## Results
The baseline reached a final loss of {baseline_loss} and trained in {baseline_time} s.
With a third convolutional layer the final loss was {conv3_loss}, and training took
{conv3_time} s: the deeper model is slower per epoch.
With a 1-D latent space the final loss was {d1_loss}; with a 10-D latent space it was
{d10_loss}. A larger latent space keeps more information, so it reconstructs better.
With the squared error instead of binary cross-entropy the final loss was {mse_loss}; it is on
another scale (squared error, not nats), so it cannot be compared directly, and its
reconstructions are blurrier.

## Inpainting
Encoding the masked digit, decoding it and putting the known pixels back, ten times, fills the
hidden bottom half with a plausible completion of the digit.

## Conclusion
The latent size matters most for reconstruction; the third convolutional layer costs training
time for little gain at this budget.
"""

#: Where each number of the report is printed by the notebook (the `train` helper's last line).
QUOTED = {"baseline": "latent_dim=2 conv_layers=2 loss=bce", "conv3": "latent_dim=2 conv_layers=3 loss=bce",
          "d1": "latent_dim=1 conv_layers=2 loss=bce", "d10": "latent_dim=10 conv_layers=2 loss=bce",
          "mse": "latent_dim=2 conv_layers=2 loss=mse"}


def printed(outputs: str) -> dict[str, str]:
    """The report's numbers as the run printed them: ``<variant>_loss`` and ``<variant>_time``."""
    import re

    numbers = {}
    for key, prefix in QUOTED.items():
        found = re.search(re.escape(prefix) + r": final loss (\d+\.\d+),.*?trained in (\d+\.\d+) s", outputs)
        if found:
            numbers[f"{key}_loss"], numbers[f"{key}_time"] = found.groups()
    return numbers


SAMPLES: dict[str, tuple[Cells, callable]] = {}


def sample(name: str, cells_: Cells, report=lambda numbers: REPORT.format(**numbers)) -> None:
    SAMPLES[name] = (cells_, report)


solution = cells()
sample("reference_solution", solution)
sample("alternative_tf_inpaint", cells(inpaint=ALTERNATIVE_INPAINT),
       lambda n: REPORT.format(**n).replace("Encoding the masked digit, decoding it and putting the known pixels back, ten times,",
                                            "Ten rounds of decoding the code of the current guess, keeping the known pixels with tf.where,"))
# the report quotes a loss the notebook never printed (the 10-D variant's, from an earlier run)
sample("flawed_report_loss_not_printed", solution,
       lambda n: REPORT.format(**{**n, "d10_loss": f"{float(n['d10_loss']) - 12.4:.2f}"}))
# the mask read the other way round: the decoded pixels go where the digit is known, the hole stays black
sample("flawed_inpaint_mask_inverted", change(solution, "completed = mask * masked + (1 - mask) * decoded",
                                                  "completed = (1 - mask) * masked + mask * decoded"))
# inpainting that never uses the model: the hidden half stays black
sample("flawed_inpaint_returns_masked", change(solution, "    completed = masked\n    for _ in range(steps):",
                                                   "    completed = masked\n    for _ in range(0):"))
# the report leaves out the training times and the comparison of latent sizes
sample("flawed_report_no_times", solution,
       lambda n: REPORT.format(**n).replace(f" and trained in {n['baseline_time']} s", "").replace(
           f", and training took\n{n['conv3_time']} s: the deeper model is slower per epoch", "").replace(
           " A larger latent space keeps more information, so it reconstructs better.", ""))


def run_outputs(names: list[str]) -> dict[str, nbformat.NotebookNode]:
    """Each sample executed once at the rubric's budget (the student's own run), as the grader
    executed it (its own injected cells included: :func:`with_outputs` keeps the student's)."""
    with tempfile.TemporaryDirectory(prefix="vaegrade-build-") as work:
        folder = Path(work) / "in"
        for name in names:
            write(folder / f"{name}.ipynb", SAMPLES[name][0])
        subprocess.run([sys.executable, "-m", "vaegrade.grader.cli", "grade", str(folder), "--rubric",
                        str(ROOT / "rubrics" / "vae_modification_report.yaml"), "--out", str(Path(work) / "out"),
                        "--isolation", "none", "--jobs", "2"], check=True, cwd=ROOT)
        return {name: nbformat.read(Path(work) / "out" / name / "executed.ipynb", as_version=4) for name in names}


def with_outputs(cells_: Cells, ran: nbformat.NotebookNode, executed: bool) -> nbformat.NotebookNode:
    """The notebook of ``cells_`` with the outputs of ``ran``: the grader's run of it
    (``executed``: its injected cells left out, its parameters rewritten) or the saved sample."""
    nb = notebook(cells_)
    done = [cell for cell in ran.cells if cell.cell_type == "code" and not cell.metadata.get("vaegrade", {}).get("injected")]
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    if len(done) != len(code) or not executed and [cell.source for cell in done] != [cell.source for cell in code]:
        raise SystemExit("the code changed since the samples last ran: run `build.py --run`")
    for cell, old in zip(code, done):
        cell.outputs, cell.execution_count = old.outputs, old.execution_count
    return nb


def main() -> None:
    write(HERE / "handout.ipynb", cells(inpaint=stub(INPAINT), variants="# TODO: train the four variants: "
                                        "vae_conv3, vae_1d, vae_10d and vae_mse (see train's arguments)"))
    samples = HERE / "samples"
    samples.mkdir(exist_ok=True)
    executed = "--run" in sys.argv[1:]
    ran = run_outputs(list(SAMPLES)) if executed else {
        name: nbformat.read(samples / f"{name}.ipynb", as_version=4) for name in SAMPLES}
    from vaegrade.grader.report.run import notebook_outputs

    for name, (cells_, report) in SAMPLES.items():
        nb = with_outputs(cells_, ran[name], executed)
        (samples / f"{name}.ipynb").write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        (samples / f"{name}.md").write_text(report(printed(notebook_outputs(nb))), encoding="utf-8")

if __name__ == "__main__":
    main()
