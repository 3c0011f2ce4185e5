"""Formulas in written answers: LaTeX parsed with sympy, compared numerically with the
reference closed forms of :mod:`vaegrade.reference.kl` and :mod:`vaegrade.reference.sampling`.

An answer's LaTeX (``$...$``, ``$$...$$``) is split into equations; every right-hand side
whose symbols the rubric maps is evaluated at random non-degenerate parameter values
(locations away from 0, scales and rates in [0.3, 3]) and compared with the reference.
A formula *holds* when one of the student's expressions agrees at every point (relative
1e-6). Otherwise the verdict says how it fails: the KL's arguments swapped
(KL(prior || posterior)), the sign flipped, or plainly different, with both values at the
first point where they differ. A derivation that states its posterior and prior the wrong
way round (``posterior q(z) ~ Laplace(0, 1)``, ``prior p(z) ~ Laplace(mu_p, b_p)``) is
caught from that statement, even when its final expression is right.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np

from vaegrade.reference import function

if TYPE_CHECKING:  # annotations only: imported where used, so a rubric loads without it
    import sympy

Values = dict[str, float]


def _call(fn: str, *args: str | float) -> Callable[[Values], float]:
    """The reference function ``fn`` (``"kl.kl_normal"``) of float64 tensors, each argument a
    parameter's name or a constant."""
    def value(point: Values) -> float:
        import torch

        tensors = (torch.tensor([[point[a] if isinstance(a, str) else a]], dtype=torch.float64) for a in args)
        return float(function(fn)(*tensors).item())
    return value


@dataclass(frozen=True)
class Closed:
    """A reference closed form: its parameters, its value, and (for a KL) the value with the
    posterior and prior swapped, KL(p || q)."""

    params: tuple[str, ...]
    value: Callable[[Values], float]
    swapped: Callable[[Values], float] | None = None
    posterior: tuple[str, ...] = ()
    prior: tuple[str, ...] = ()


def _kl_family(fn: str, posterior: tuple[str, ...], prior: tuple[str, ...]) -> Closed:
    return Closed(posterior + prior, _call(fn, *posterior, *prior), _call(fn, *prior, *posterior), posterior, prior)


def _kl_standard(fn: str, posterior: tuple[str, ...], standard: tuple[float, ...]) -> Closed:
    return Closed(posterior, _call(fn, *posterior, *standard), _call(fn, *standard, *posterior), posterior, ())


REFERENCES: dict[str, Closed] = {
    "kl_normal": _kl_family("kl.kl_normal", ("mu", "logvar"), ("prior_mu", "prior_logvar")),
    "kl_normal_std": _kl_standard("kl.kl_normal", ("mu", "logvar"), (0.0, 0.0)),
    "kl_laplace": _kl_family("kl.kl_laplace", ("loc", "scale"), ("prior_loc", "prior_scale")),
    "kl_laplace_std": _kl_standard("kl.kl_laplace", ("loc", "scale"), (0.0, 1.0)),
    "kl_exponential": _kl_family("kl.kl_exponential", ("rate",), ("prior_rate",)),
    "kl_exponential_std": _kl_standard("kl.kl_exponential", ("rate",), (1.0,)),
    "laplace_icdf": Closed(("u", "loc", "scale"), _call("sampling.laplace_icdf", "u", "loc", "scale")),
    "exponential_icdf": Closed(("u", "rate"), _call("sampling.exponential_icdf", "u", "rate")),
}
"""Reference closed forms by name: KL(q || p) per latent dimension in nats (Gaussian, Laplace,
Exponential; ``_std`` against the standard prior N(0, 1), Laplace(0, 1), Exponential(1)),
and the inverse CDFs the reparameterized samplers use."""


def _domain(name: str) -> tuple[float, float]:
    if name == "u":
        return (0.02, 0.98)
    if name.endswith("logvar"):
        return (-2.0, 1.5)
    if name.endswith(("scale", "rate")):
        return (0.3, 3.0)
    return (0.3, 2.0)  # locations and means: magnitude, with a random sign (never near 0)


def sample_points(params: tuple[str, ...], domain: dict[str, tuple[float, float]], count: int,
                  rng: np.random.Generator) -> list[Values]:
    """``count`` random parameter values; locations get a random sign so |loc| >= 0.3."""
    points = []
    for _ in range(count):
        point = {}
        for name in params:
            low, high = domain.get(name, _domain(name))
            value = rng.uniform(low, high)
            signed = name not in domain and not name.endswith(("logvar", "scale", "rate")) and name != "u"
            point[name] = float(value * rng.choice([-1.0, 1.0]) if signed else value)
        points.append(point)
    return points


def symbol_of(latex: str) -> sympy.Symbol:
    """The sympy symbol a LaTeX symbol (``\\mu_p``, ``b_p``, ``\\lambda_q``) parses to.

    Raises:
        ValueError: ``latex`` is not a single symbol.
    """
    import sympy
    expr = parse(latex)
    if not isinstance(expr, sympy.Symbol):
        raise ValueError(f"{latex!r} is not a single symbol")
    return expr


def parse_symbol_map(symbols: dict[str, str], params: tuple[str, ...]) -> dict[sympy.Symbol, sympy.Expr]:
    """The rubric's ``symbols``: student symbol -> sympy expression in the reference's ``params``.

    Raises:
        ValueError: a key is not one LaTeX symbol, or a value is not an expression in ``params``.
    """
    import sympy
    names = {p: sympy.Symbol(p) for p in params}
    mapping = {}
    for student, expression in symbols.items():
        try:
            value = sympy.sympify(expression, locals=names)
        except (sympy.SympifyError, SyntaxError, TypeError) as exc:
            raise ValueError(f"symbols.{student}: {expression!r} is not an expression ({exc})") from exc
        stray = sorted(str(s) for s in value.free_symbols if str(s) not in names)
        if stray:
            raise ValueError(f"symbols.{student}: {expression!r} uses {stray}, not parameters {list(params)}")
        mapping[symbol_of(student)] = value
    return mapping


# ---- LaTeX -> sympy ---------------------------------------------------------------------

_CLEAN = [
    (re.compile(r"\\(left|right|big|Big|bigg|Bigg)(?![a-zA-Z])"), ""),
    (re.compile(r"\\[,;!:]|\\q?quad"), " "),
    (re.compile(r"\\[dt]frac"), r"\\frac"),
    # text extracted from PDFs loses the underscores of sums: "\sum j = 1^d" -> "\sum_{j=1}^{d}"
    (re.compile(r"\\sum\s+([a-zA-Z])\s*=\s*(\w+)\s*\^\s*(\{[^{}]*\}|\w+)"), r"\\sum_{\1=\2}^{\3}"),
    (re.compile(r"\\operatorname\{(\w+)\}"), r"\\\1"),
]


def clean_latex(latex: str) -> str:
    """Drop sizing and spacing commands and repair a text-extraction artefact of sums."""
    for pattern, replacement in _CLEAN:
        latex = pattern.sub(replacement, latex)
    return latex.strip().rstrip(".,;")


def parse(latex: str) -> sympy.Expr:
    """sympy's LaTeX parser (ANTLR backend) on cleaned LaTeX; ``e`` stands for Euler's number
    and a sum over a dimension index is reduced to its summand (a per-dimension formula).

    Raises:
        ValueError: the LaTeX does not parse.
    """
    import sympy
    from sympy.parsing.latex import LaTeXParsingError, parse_latex

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expr = parse_latex(clean_latex(latex))
    except (LaTeXParsingError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"cannot parse {latex!r}: {exc}") from exc
    if not isinstance(expr, sympy.Basic) or isinstance(expr, sympy.core.relational.Relational):
        raise ValueError(f"{latex!r} is not an expression")
    expr = expr.replace(lambda e: isinstance(e, sympy.Sum), lambda e: e.function)
    return expr.subs(sympy.Symbol("e"), sympy.E)


_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.DOTALL)
_BREAKS = re.compile(r"\\implies|\\Rightarrow|\\Longrightarrow|\\iff|\\to(?![a-zA-Z])|,?\s*\\q?quad|\\text\{\s*(?:where|for|if)\b")


def math_spans(text: str) -> list[str]:
    """The LaTeX inside ``$$...$$`` and ``$...$`` in ``text``, in order."""
    return [(m.group(1) or m.group(2)).strip() for m in _MATH.finditer(text)]


def equations(latex: str) -> list[tuple[str, str]]:
    """(left side, right side) pairs of a LaTeX formula: chains ``a = b = c`` give (a, b) and
    (a, c); ``\\implies`` and ``\\quad`` separate statements."""
    pairs = []
    for statement in _BREAKS.split(clean_latex(latex)):
        sides = [s.strip() for s in _split_top_level(statement or "", "=") if s.strip()]
        pairs += [(sides[0], rhs.rstrip(".,; ")) for rhs in sides[1:]]
    return pairs


def _split_top_level(text: str, separator: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += char in "{([" and 1 or char in "})]" and -1 or 0
        if char == separator and depth == 0 and text[index - 1:index] not in ("<", ">", "!", "\\"):
            parts.append(text[start:index])
            start = index + 1
    return parts + [text[start:]]


# ---- verdicts --------------------------------------------------------------------------

@dataclass
class Candidate:
    """One expression of the student's: its LaTeX, and how it compares with the reference."""

    latex: str
    verdict: str  # holds | swapped | sign | differs
    point: Values = field(default_factory=dict)
    student: float = float("nan")
    reference: float = float("nan")


@dataclass
class FormulaFinding:
    """The verdict on one rubric formula: ``holds``, ``swapped`` (KL(p || q) instead of
    KL(q || p)), ``sign`` (the negative of the reference), ``differs``, or ``missing`` (no
    expression with the mapped symbols); ``roles`` is ``swapped`` when the answer states the
    posterior and the prior the wrong way round."""

    name: str
    verdict: str
    message: str
    candidates: list[Candidate] = field(default_factory=list)
    roles: str = "not stated"

    @property
    def fraction(self) -> float:
        if self.verdict != "holds":
            return 0.0
        return 0.5 if self.roles == "swapped" else 1.0


def _close(a: float, b: float) -> bool:
    return bool(np.isfinite(a) and np.isfinite(b) and abs(a - b) <= 1e-6 * max(1.0, abs(b)))


def _evaluate(expr: sympy.Expr, mapping: dict[sympy.Symbol, sympy.Expr], point: Values) -> float:
    import sympy
    values = {sympy.Symbol(k): v for k, v in point.items()}
    result = complex(expr.subs({s: m.subs(values) for s, m in mapping.items()}).evalf())
    return result.real if abs(result.imag) < 1e-12 else float("nan")


def judge(name: str, reference: str, symbols: dict[str, str], text: str, lhs: str | None = None,
          domain: dict[str, tuple[float, float]] | None = None, seed: int = 0, points: int = 8) -> FormulaFinding:
    """Compare the formulas in ``text`` with ``REFERENCES[reference]``.

    Args:
        symbols: the rubric's map from the student's LaTeX symbols to expressions in the
            reference's parameters (see :func:`parse_symbol_map`).
        lhs: a pattern the left-hand side must match (case-insensitive); None: any equation.
        domain: per-parameter (low, high) ranges overriding the defaults.
    Returns:
        The finding; values in its candidates are per latent dimension (nats for a KL).
    """
    closed = REFERENCES[reference]
    mapping = parse_symbol_map(symbols, closed.params)
    wanted = re.compile(lhs, re.IGNORECASE) if lhs else None
    grid = sample_points(closed.params, domain or {}, points, np.random.default_rng(seed))
    candidates = []
    for latex in math_spans(text):
        for left, right in equations(latex):
            if wanted and not wanted.search(left):
                continue
            try:
                expr = parse(right)
            except ValueError:
                continue
            if not expr.free_symbols or not expr.free_symbols <= set(mapping):
                continue
            candidates.append(_compare(right, expr, mapping, closed, grid))
    roles = stated_roles(text, mapping, closed)
    return _finding(name, reference, candidates, roles, list(symbols), points)


def _compare(latex: str, expr: sympy.Expr, mapping: dict, closed: Closed, grid: list[Values]) -> Candidate:
    """The first verdict (holds, swapped, sign) that agrees at every point; else ``differs`` at
    the first point where the expression and the reference part."""
    student = [_evaluate(expr, mapping, point) for point in grid]
    reference = [closed.value(point) for point in grid]
    verdicts = {"holds": reference, "swapped": closed.swapped and [closed.swapped(p) for p in grid],
                "sign": [-value for value in reference]}
    for verdict, expected in verdicts.items():
        if expected and all(_close(s, e) for s, e in zip(student, expected)):
            return Candidate(latex, verdict, grid[0], student[0], reference[0])
    miss = next(i for i, (s, r) in enumerate(zip(student, reference)) if not _close(s, r))
    return Candidate(latex, "differs", grid[miss], student[miss], reference[miss])


def _finding(name: str, reference: str, candidates: list[Candidate], roles: str, symbols: list[str],
             points: int) -> FormulaFinding:
    if not candidates:
        return FormulaFinding(name, "missing", f"no formula in the answer is an expression in {', '.join(symbols)} "
                                               f"alone, so none could be compared with {reference}", roles=roles)
    best = next((c for c in candidates if c.verdict == "holds"), None) or candidates[-1]
    at = ", ".join(f"{k}={v:.3g}" for k, v in best.point.items())
    messages = {
        "holds": f"`{best.latex}` agrees with {reference} at {points} random points",
        "swapped": f"`{best.latex}` is KL(prior || posterior): the arguments are swapped "
                   f"(at {at}: yours {best.student:.4g}, {reference} {best.reference:.4g})",
        "sign": f"`{best.latex}` is the negative of {reference} (at {at}: yours {best.student:.4g}, "
                f"reference {best.reference:.4g})",
        "differs": f"`{best.latex}` disagrees with {reference} at {at}: yours {best.student:.4g}, "
                   f"reference {best.reference:.4g}",
    }
    message = messages[best.verdict]
    if roles == "swapped":
        message += "; the answer states the posterior and the prior the wrong way round"
    return FormulaFinding(name, best.verdict, message, candidates, roles)


_ROLE = re.compile(r"\b(posterior|prior)\b[^.;\n]{0,60}?\b(Laplace|Exponential|Exp|Normal|Gaussian|N)\b\}?\s*\(([^()]*)\)",
                   re.IGNORECASE)


def stated_roles(text: str, mapping: dict[sympy.Symbol, sympy.Expr], closed: Closed) -> str:
    """``swapped`` when a distribution the answer calls the posterior has only the prior's (or
    constant) parameters while the one it calls the prior has the posterior's; ``consistent``
    when the statements agree with the rubric's roles; ``not stated`` otherwise."""
    if not closed.posterior:
        return "not stated"
    posterior_symbols = {s for s, m in mapping.items() if {str(f) for f in m.free_symbols} & set(closed.posterior)}
    stated: dict[str, set] = {}
    for role, _, args in _ROLE.findall(text):
        found = set()
        for arg in args.split(","):
            try:
                found |= parse(arg).free_symbols
            except ValueError:
                continue
        stated.setdefault(role.lower(), set()).update(found)
    if "posterior" not in stated or "prior" not in stated:
        return "not stated"
    if stated["prior"] & posterior_symbols and not stated["posterior"] & posterior_symbols:
        return "swapped"
    return "consistent"
