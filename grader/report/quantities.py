"""Numbers as people write them in reports, and as notebooks print them.

    0.127   1,234.5   1.2e-3   1.2 × 10^-3   1.2·10⁻³   12.5%   2m 41.4s   3 min 48 s   1 h 5 min

A rubric's ``claim`` and ``output`` patterns may use the placeholders ``{number}``,
``{percent}`` and ``{duration}``: each stands for a capture group matching that kind of
quantity (the pattern then needs no group of its own). :func:`parse` reads any of them into a
value in base units (durations in seconds, percentages in percent) and the rounding of its
last digit, so that a quoted ``2m 41.4s`` equals a printed ``161.43``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_NUMBER = (r"[-+\u2212]?(?:\d{1,3}(?:[,\u2009\u202f]\d{3})+|\d+)(?:\.\d+)?|[-+\u2212]?\.\d+")
_EXPONENT = r"(?:[eE][-+]?\d+|\s*[×x·*]\s*10\s*(?:\^\s*\{?\s*[-+\u2212]?\d+\s*\}?|[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+))"
_UNIT = r"(?:hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)(?![a-zA-Z])"
PLACEHOLDERS = {
    "{number}": f"((?:{_NUMBER}){_EXPONENT}?)",
    "{percent}": rf"((?:{_NUMBER})\s*%)",
    "{duration}": rf"((?:\d+(?:\.\d+)?\s*{_UNIT}\s*)+)",
}
_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0}
_PART = re.compile(rf"(\d+(?:\.\d+)?)\s*({_UNIT})")
_SCIENTIFIC = re.compile(rf"^({_NUMBER})\s*[×x·*]\s*10\s*(?:\^\s*\{{?\s*([-+\u2212]?\d+)\s*\}}?|([⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+))$")


def expand(pattern: str) -> str:
    """A claim or output pattern with its placeholders replaced by their capture groups."""
    for name, group in PLACEHOLDERS.items():
        pattern = pattern.replace(name, group)
    return pattern


@dataclass(frozen=True)
class Quantity:
    """A parsed number: ``value`` in base units (seconds for durations), ``rounding`` half a
    unit of its last written digit in the same units, ``percent`` when written with ``%``."""

    value: float
    rounding: float
    percent: bool = False


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def parse(text: str) -> Quantity | None:
    """Read a quoted or printed number, or None when it does not parse.

    >>> parse("2m 41.4s")
    Quantity(value=161.4, rounding=0.05, percent=False)
    """
    text = text.strip()
    parts = _PART.findall(text)
    if parts and _PART.sub("", text).strip() == "":
        value = sum(float(amount) * _SECONDS[unit[0]] for amount, unit in parts)
        amount, unit = parts[-1]
        return Quantity(value, 0.5 * 10.0 ** -_decimals(amount) * _SECONDS[unit[0]])
    percent = text.endswith("%")
    plain = text.rstrip("%").strip().replace(",", "").replace("\u2009", "").replace("\u202f", "").replace("\u2212", "-")
    scientific = _SCIENTIFIC.match(plain)
    try:
        if scientific:
            mantissa, exponent = scientific.group(1), int((scientific.group(2) or scientific.group(3)).translate(_SUPERSCRIPTS))
            return Quantity(float(mantissa) * 10.0 ** exponent, 0.5 * 10.0 ** (exponent - _decimals(mantissa)))
        value = float(plain)
    except ValueError:
        return None
    mantissa, _, exponent = plain.lower().partition("e")
    return Quantity(value, 0.5 * 10.0 ** ((int(exponent) if exponent else 0) - _decimals(mantissa)), percent)


def agree(claimed: Quantity, printed: Quantity, tolerance: float) -> bool:
    """Whether a quoted quantity states the printed one: equal within ``tolerance`` (relative to
    the printed value) or within the rounding of the quote; a percentage also agrees with the
    printed fraction (``12.5%`` with ``0.125``)."""
    readings = [(claimed.value, claimed.rounding)]
    if claimed.percent and not printed.percent:
        readings.append((claimed.value / 100, claimed.rounding / 100))
    return any(abs(value - printed.value) <= max(tolerance * abs(printed.value), rounding) for value, rounding in readings)
