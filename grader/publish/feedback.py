"""HTML feedback rendered from a saved :class:`SubmissionResult` and its ``artifacts.npz``.

Templates live in ``templates/`` (jinja2, autoescaped; see :mod:`vaegrade.grader.shipped`). Figures are
drawn with Pillow (image grids and loss curves: a few milliseconds a page, where matplotlib cost
over a second) and embedded as base64 PNG data URIs, so the page is one self-contained file.
"""

from __future__ import annotations

import base64
import html
import io
import logging
from pathlib import Path

import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape
from PIL import Image, ImageDraw

from vaegrade.grader.results import Row, SubmissionResult
from vaegrade.grader.shipped import shipped

#: The autoescaped HTML templates of ``templates/`` (the feedback pages and the class overview).
HTML_TEMPLATES = Environment(loader=FileSystemLoader(shipped("templates")), autoescape=select_autoescape(["html", "j2"]))
ZOOM = 2  # screen pixels per image pixel
CAPTION = 14  # pixels of caption under each image
CURVE_WIDTH, CURVE_HEIGHT, MARGIN = 300, 170, 36
DOTS = 60  # the most values a curve marks with a dot each


def _png(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _image_grid(images: np.ndarray, titles: list[str], columns: int) -> str:
    """Images (..., H, W) in [0, 1], ``columns`` a row, each captioned by its title."""
    height, width = images.shape[-2:]
    tiles = (np.clip(images.reshape(-1, height, width), 0, 1) * 255).astype(np.uint8)
    rows = (len(tiles) + columns - 1) // columns
    tile_w, tile_h = ZOOM * width, ZOOM * height
    grid = Image.new("L", (columns * (tile_w + 4), rows * (tile_h + CAPTION + 4)), 255)
    draw = ImageDraw.Draw(grid)
    for index, (tile, title) in enumerate(zip(tiles, titles)):
        x, y = (index % columns) * (tile_w + 4), (index // columns) * (tile_h + CAPTION + 4)
        grid.paste(Image.fromarray(tile).resize((tile_w, tile_h), Image.NEAREST), (x, y + CAPTION))
        draw.text((x, y + 1), title[:12], fill=0)
    return _png(grid)


def _curves(series: dict[str, np.ndarray], unit: str = "epoch") -> str:
    """One small line plot per series (values per ``unit``), side by side, min and max labelled; a
    dot per value when there are few enough to tell apart."""
    image = Image.new("RGB", (len(series) * (CURVE_WIDTH + 10), CURVE_HEIGHT + 2 * MARGIN), "white")
    draw = ImageDraw.Draw(image)
    for panel, (name, values) in enumerate(series.items()):
        left, top = panel * (CURVE_WIDTH + 10) + MARGIN, MARGIN
        width, height = CURVE_WIDTH - MARGIN - 10, CURVE_HEIGHT
        draw.text((left, 8), name, fill="black")
        draw.rectangle((left, top, left + width, top + height), outline="grey")
        finite = values[np.isfinite(values)]
        if not finite.size:
            continue
        low, high = float(finite.min()), float(finite.max())
        span = high - low or 1.0
        xs = left + np.linspace(0, width, len(values)) if len(values) > 1 else np.array([left + width / 2])
        ys = top + height - (np.nan_to_num(values, nan=low) - low) / span * height
        points = list(zip(xs.tolist(), ys.tolist()))
        if len(points) > 1:
            draw.line(points, fill=(31, 119, 180), width=2)
        for x, y in points if len(points) <= DOTS else []:
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=(31, 119, 180))
        draw.text((left - MARGIN + 2, top - 6), f"{high:.4g}", fill="black")
        draw.text((left - MARGIN + 2, top + height - 6), f"{low:.4g}", fill="black")
        draw.text((left + width / 2 - 30, top + height + 6), f"{unit} 1-{len(values)}", fill="black")
    return _png(image)


def figures(artifacts: dict[str, np.ndarray]) -> dict[str, dict[str, str]]:
    """PNG data URIs by check id, then by figure (each check's arrays are saved as
    ``<check id>/<name>``, so that two checks of one type keep their own figures): samples,
    reconstructions, paths, inpaintings, copied training images, the history's curves and the
    learning curve, whichever a check's arrays allow."""
    by_check: dict[str, dict[str, np.ndarray]] = {}
    for key, array in artifacts.items():
        check_id, _, name = key.rpartition("/")
        by_check.setdefault(check_id, {})[name] = array
    drawn = {check_id: _drawn(arrays) for check_id, arrays in by_check.items()}
    return {check_id: pictures for check_id, pictures in drawn.items() if pictures}


def _drawn(artifacts: dict[str, np.ndarray]) -> dict[str, str]:
    """The figures one check's arrays allow, by kind."""
    out = {}
    if "prior_samples" in artifacts:
        labels = artifacts.get("prior_sample_labels", np.full(len(artifacts["prior_samples"]), -1))
        out["samples"] = _image_grid(artifacts["prior_samples"], [f"classified {int(k)}" for k in labels], 8)
    if "reconstructions" in artifacts:
        pairs = np.stack([artifacts["reconstruction_inputs"], artifacts["reconstructions"]], axis=1)
        out["reconstructions"] = _image_grid(pairs, ["input", "decode(mu)"] * len(pairs), 10)
    if "interpolations" in artifacts:
        paths = artifacts["interpolations"]
        steps = paths.shape[1]
        out["interpolations"] = _image_grid(paths, ["start"] + [""] * (steps - 2) + ["end"], steps)
    if "inpaintings" in artifacts:
        pairs = artifacts["inpaintings"]
        out["inpaintings"] = _image_grid(pairs, ["masked", "completed"] * (len(pairs) // 2), 6)
    if "copied_samples" in artifacts:
        pairs = np.stack([artifacts["copied_samples"], artifacts["copied_from"]], axis=1)
        out["copies"] = _image_grid(pairs, ["sample", "copied from"] * len(pairs), 8)
    if "history_loss" in artifacts and artifacts["history_loss"].size:
        out["curves"] = _curves({f"{key} (nats per example)": artifacts[f"history_{key}"].reshape(-1)
                                 for key in ("loss", "recon", "kl") if f"history_{key}" in artifacts})
    if "curve" in artifacts and artifacts["curve"].size:
        out["learning"] = _curves({"training loss at every step": artifacts["curve"].reshape(-1)}, unit="step")
    return out


def render(template: str, result: object, artifacts: dict[str, np.ndarray], links: list[tuple[str, str]] = ()) -> str:
    """HTML of ``template`` for a result (a :class:`SubmissionResult`, or self-check's), its
    figures and ``links`` (label, relative address) to the pages and files beside it."""
    return HTML_TEMPLATES.get_template(template).render(result=result, figures=figures(artifacts), links=links)


def write_feedback(result: SubmissionResult, artifacts: dict[str, np.ndarray], path: Path,
                   links: list[tuple[str, str]] = ()) -> None:
    """Render ``feedback.html`` for one submission."""
    path.write_text(render("feedback.html.j2", result, artifacts, links), encoding="utf-8")


#: The files a graded submission's folder may hold beside its page, by the label its links give them.
BESIDE = {"the executed notebook": "executed.ipynb", "the kernel's log": "kernel.log"}


def publish(row: Row, destination: Path, overview: bool = False) -> None:
    """Write ``result.json``, ``artifacts.npz`` and ``feedback.html`` for one stored result, the
    page linking back to the class overview (``overview``: ``../index.html``, a batch's) and to the
    executed notebook and the kernel's log when they are beside it.

    A page that cannot be drawn (a vaegrade bug) loses nothing: the result is written first, the
    page then says what failed and where the result is, and the problem is logged."""
    destination.mkdir(parents=True, exist_ok=True)
    (destination / "artifacts.npz").write_bytes(row.figures_npz)
    (destination / "result.json").write_text(row.result.model_dump_json(indent=2), encoding="utf-8")
    try:
        with np.load(io.BytesIO(row.figures_npz), allow_pickle=False) as stored:
            figures = {name: stored[name] for name in stored.files}
        links = [("the class overview", "../index.html")] if overview else []
        links += [(label, name) for label, name in BESIDE.items() if (destination / name).exists()]
        write_feedback(row.result, figures, destination / "feedback.html", links)
    except Exception as exc:  # noqa: BLE001  (the grade is kept whatever the page's problem)
        logging.getLogger("vaegrade").error("%s: the feedback page could not be drawn (%s: %s); the result is in %s",
                                            row.result.submission, type(exc).__name__, exc, destination / "result.json")
        (destination / "feedback.html").write_text(
            f"<!doctype html><title>{html.escape(row.result.submission)}</title><p>Score {row.result.score:g} / "
            f"{row.result.max_score:g}. This page could not be drawn (a vaegrade bug: {html.escape(type(exc).__name__)}); "
            "the full result is in result.json beside it.</p>", encoding="utf-8")
