"""Numbers with physical ranges: one check for the models, the command line and the cards.

Every number a user can give has a documented range; outside it (or not finite, or not a whole
number where one is needed) :meth:`Range.check` raises a ValueError naming the parameter, the
allowed range and the value.  The ranges keep every derived quantity finite and non-zero in
double precision (widths ~ d^2 M^3 and c*tau = hbar c / width; squared lengths in the ray
kernels), and they are wide enough for any beam-dump or forward experiment:

  masses M1, M_N              [1e-6, 100] GeV
  splitting delta             [1e-6, 1e6] (M1 -> 0 at fixed M2 is a large delta)
  dipole coefficient d        [1e-15, 100] GeV^-1
  photon energies, thresholds [0, 1e5] GeV
  lengths of a card           (0, 1e5] m
  events in a file            [1, 1e10] (an integer; 1e6 is accepted)
  events per mass, channel    [1, 1e7] (a reach scan holds them in memory at once)
  events per chunk            [1, 1e7]
  seed                        [0, 2^63 - 1]
  worker processes            [1, 256]
  grid points per axis        [2, 1e4]
  contour level N             (0, 1e9] events
  refinement target error     [0, 0.5] (relative; 0: no refinement)
  refinement budget           [0, 1000] x the first pass's events

Text is parsed strictly: ASCII digits with an optional sign, point and exponent (1e3, -0.5,
.5); no underscores, blanks, hexadecimal or other digits (Python's float() takes '1_0' as 10).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = [
    "CARD_RANGES",
    "CHUNK",
    "COUPLING",
    "DELTA",
    "ENERGY",
    "EVENTS",
    "GRID_POINTS",
    "LENGTH",
    "LEVEL",
    "MASS",
    "REFINE_EVENTS",
    "REFINE_TARGET",
    "SCAN_EVENTS",
    "SEED",
    "WORKERS",
    "Range",
    "card_range",
    "click_type",
]


#: A number as text: what :meth:`Range.check` parses (the rest is refused, not cleaned).
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def _fmt(x: float) -> str:
    if x == 2**63 - 1:
        return "2^63 - 1"
    return f"{x:g}"


@dataclass(frozen=True)
class Range:
    """Allowed values ``low`` .. ``high`` [``unit``]; ``low_open``: ``low`` itself excluded;
    ``integer``: whole numbers only (written as 1000 or 1e3)."""

    low: float
    high: float
    unit: str = ""
    integer: bool = False
    low_open: bool = False

    def describe(self) -> str:
        """The range as text, e.g. 'in [1e-06, 100] GeV' or 'an integer in [1, 1e+10]'."""
        span = f"{'(' if self.low_open else '['}{_fmt(self.low)}, {_fmt(self.high)}]"
        unit = f" {self.unit}" if self.unit else ""
        return f"{'an integer' if self.integer else 'a number'} in {span}{unit}"

    def message(self, value) -> str:
        """What is wrong with ``value``, without the parameter's name."""
        return f"must be {self.describe()}, got {value!r}"

    def check(self, name: str, value) -> float | int:
        """``value`` (a number or its text) as float (int if ``integer``), or a ValueError
        naming ``name``, the range and the value."""
        bad = ValueError(f"{name} {self.message(value)}")
        if isinstance(value, bool):
            raise bad
        text = value if isinstance(value, str) else None
        if text is not None and not _NUMBER.fullmatch(text):
            raise bad
        if isinstance(value, int) or (text is not None and text.lstrip("+-").isdigit()):
            number: float = int(value)  # exact, also beyond 2^53
        else:
            try:
                number = float(value)
            except (TypeError, ValueError, OverflowError):
                raise bad from None
            if not math.isfinite(number):
                raise bad
            if self.integer:
                if number != int(number):
                    raise bad
                number = int(number)
        below = number <= self.low if self.low_open else number < self.low
        if below or number > self.high:
            raise bad
        return int(number) if self.integer else float(number)


MASS = Range(1e-6, 100.0, "GeV")
DELTA = Range(1e-6, 1e6)
COUPLING = Range(1e-15, 100.0, "GeV^-1")
ENERGY = Range(0.0, 1e5, "GeV")
LENGTH = Range(0.0, 1e5, "m", low_open=True)
EVENTS = Range(1, 10**10, integer=True)
SCAN_EVENTS = Range(1, 10**7, integer=True)
CHUNK = Range(1, 10**7, integer=True)
SEED = Range(0, 2**63 - 1, integer=True)
WORKERS = Range(1, 256, integer=True)
GRID_POINTS = Range(2, 10**4, integer=True)
LEVEL = Range(0.0, 1e9, "events", low_open=True)
REFINE_TARGET = Range(0.0, 0.5)
REFINE_EVENTS = Range(0.0, 1e3)

#: Ranges of detector-card keys that are not lengths (keys ending in ``_m`` are lengths).
CARD_RANGES = {
    "proton_energy_GeV": Range(0.0, 1e5, "GeV", low_open=True),
    "target_A": Range(1.0, 300.0),
    "n_pot": Range(0.0, 1e25, low_open=True),
    "sigma_inel_mb": Range(0.0, 1e4, "mb", low_open=True),
    "luminosity_inv_ab": Range(0.0, 1e4, "ab^-1", low_open=True),
    "photon_energy_min_GeV": ENERGY,
    "photon_energy_max_GeV": ENERGY,
    "expected_background": Range(0.0, 1e9),
    "expected_background_uncertainty": Range(0.0, 1e9),
}


def card_range(key: str) -> Range | None:
    """The range of a numeric detector-card key (lengths: keys ending in ``_m``)."""
    if key.endswith("_m"):
        return LENGTH
    return CARD_RANGES.get(key)


def number_option(*decls: str, allowed: Range, **options):
    """A click option taking a number in ``allowed`` (:func:`click_type`); its default, if it
    has one, is shown in the help, as is "[integer]" for an integer range (1e6 is one)."""
    import click  # click: only for command-line types

    if allowed.integer and "help" in options:
        options["help"] += "  [integer]"
    return click.option(
        *decls, type=click_type(allowed), show_default="default" in options, **options
    )


def choice_option(*decls: str, choices, **options):
    """A click option taking one of ``choices``; its default, if it has one, is shown."""
    import click  # click: only for command-line types

    return click.option(
        *decls, type=click.Choice(tuple(choices)), show_default="default" in options, **options
    )


def click_type(allowed: Range):
    """A click parameter type that converts with ``allowed.check`` (usage error otherwise)."""
    import click  # click: only for command-line types

    class _Checked(click.ParamType):
        name = "NUMBER"  # integers too: 1e6 is accepted

        def convert(self, value, param, ctx):
            try:
                return allowed.check("value", value)
            except ValueError:
                self.fail(allowed.message(value), param, ctx)

    return _Checked()
