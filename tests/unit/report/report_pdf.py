"""A student's PDF report, built by the tests with matplotlib (text layer and an embedded image)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

PAGES = [
    ["Question 1: Why does the VAE need the reparameterization trick?",
     "Answer: Sampling z directly blocks the gradient, because sampling is not differentiable.",
     "Writing z = mu + sigma * eps with eps drawn from N(0, I) moves the noise outside, so",
     "gradients flow to mu and sigma (Kingma and Welling, 2014). The figure shows samples.",
     "Question 2: Derive the KL term.",
     "Answer: $$D_{KL} = \\frac{1}{2}(\\mu^2 + \\sigma^2 - 1 - \\log \\sigma^2)$$ per dimension.",
     "Question 3: Results",
     "Answer: after training, the model reached a final loss of 123.4 nats.",
     "References", "[1] D. P. Kingma and M. Welling. Auto-Encoding Variational Bayes. ICLR 2014."],
]


def write_report_pdf(path: Path, with_image: bool = True, pages: list[list[str]] = PAGES) -> Path:
    """One A4 page per entry of ``pages`` (lines of text); a 28 x 28 image drawn on each if ``with_image``."""
    with matplotlib.rc_context({"pdf.fonttype": 42}), PdfPages(path) as pdf:
        for lines in pages:
            figure = plt.figure(figsize=(8.27, 11.69))
            for row, line in enumerate(lines):
                figure.text(0.06, 0.95 - row * 0.04, line, fontsize=9, usetex=False, parse_math=False)
            if with_image:
                figure.figimage(np.random.default_rng(0).random((28, 28)), xo=400, yo=500, cmap="gray")
            pdf.savefig(figure)
            plt.close(figure)
    return path
