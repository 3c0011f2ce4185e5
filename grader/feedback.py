"""HTML feedback rendered from a saved :class:`SubmissionResult` and its ``artifacts.npz``.

Templates live in ``templates/`` (jinja2, autoescaped; see :mod:`grader.shipped`). Figures are drawn with matplotlib and
embedded as base64 PNG data URIs, so the page is one self-contained file.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402
from jinja2 import Environment, FileSystemLoader, select_autoescape  # noqa: E402

from grader.results import SubmissionResult  # noqa: E402
from grader.shipped import shipped  # noqa: E402

_environment = Environment(loader=FileSystemLoader(shipped("templates")), autoescape=select_autoescape(["html", "j2"]))


def _png(figure: plt.Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _image_grid(images: np.ndarray, titles: list[str], columns: int) -> str:
    rows = (len(images) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 0.9, rows * 1.0), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles):
        ax.imshow(image.reshape(28, 28), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=7)
    return _png(figure)


def figures(artifacts: dict[str, np.ndarray]) -> dict[str, str]:
    """PNG data URIs for whichever figures the artifacts allow: samples, reconstructions, curves."""
    out = {}
    if "prior_samples" in artifacts:
        labels = artifacts.get("prior_sample_labels", np.full(len(artifacts["prior_samples"]), -1))
        out["samples"] = _image_grid(artifacts["prior_samples"], [f"classified {int(k)}" for k in labels], 8)
    if "reconstructions" in artifacts:
        pairs = np.stack([artifacts["reconstruction_inputs"], artifacts["reconstructions"]], axis=1).reshape(-1, 28, 28)
        out["reconstructions"] = _image_grid(pairs, ["input", "reconstruction"] * (len(pairs) // 2), 10)
    if "interpolations" in artifacts:
        paths = artifacts["interpolations"]
        steps = paths.shape[1]
        out["interpolations"] = _image_grid(paths.reshape(-1, 28, 28), ["start"] + [""] * (steps - 2) + ["end"], steps)
    if "inpaintings" in artifacts:
        pairs = artifacts["inpaintings"]
        out["inpaintings"] = _image_grid(pairs, ["masked", "completed"] * (len(pairs) // 2), 6)
    if "history_loss" in artifacts and artifacts["history_loss"].size:
        figure, axes = plt.subplots(1, 3, figsize=(10, 2.6))
        for ax, key in zip(axes, ("loss", "recon", "kl")):
            values = artifacts[f"history_{key}"].reshape(-1)
            ax.plot(np.arange(1, len(values) + 1), values, marker="o")
            ax.set_title(f"{key} (nats per example)", fontsize=9)
            ax.set_xlabel("epoch", fontsize=8)
        out["curves"] = _png(figure)
    return out


def render(template: str, result: object, artifacts: dict[str, np.ndarray]) -> str:
    """HTML of ``template`` for a result (a :class:`SubmissionResult`, or self-check's) and its figures."""
    return _environment.get_template(template).render(result=result, figures=figures(artifacts))


def write_feedback(result: SubmissionResult, artifacts: dict[str, np.ndarray], path: Path) -> None:
    """Render ``feedback.html`` for one submission."""
    path.write_text(render("feedback.html.j2", result, artifacts), encoding="utf-8")
