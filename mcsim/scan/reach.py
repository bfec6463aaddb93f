"""Sensitivity reach: expected signal events over a (mass, coupling) grid, N = 3 contours, and
the 95% CL limits of past experiments (paper Sec. 4.1-4.2).

One Monte Carlo sample per mass and channel is re-weighted over every coupling d [GeV^-1]:
BR scales as d^2 and c*tau as 1/d^2, so with r = (d / d_ref)^2

    N(d) = efficiency x sum_channels N_M x BR(d_ref) x r / n_generated
                     x sum_{selected events} P_decay(accepted intervals; beta_gamma c*tau_ref / r)

(:mod:`mcsim.weights`, computed by :mod:`mcsim.scan.tasks`), each grid cell with its Monte Carlo error.
Contours are the level lines of log10 N on the (log10 mass, log10 d) grid, with a band from the
level lines of N -+ one standard deviation.  Recast limits use the CLs method
(:func:`signal_upper_limit`).
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from mcsim.io import jsonio
from mcsim.runtime.defaults import DISCOVERY_LEVEL

__all__ = [
    "DISCOVERY_LEVEL",
    "ReachGrid",
    "contour_lines",
    "log_grid",
    "min_coupling",
    "read_grids",
    "recast_upper_limit",
    "signal_upper_limit",
    "write_contours",
    "write_grids",
]


def log_grid(lo: float, hi: float, n: int, *, name: str) -> np.ndarray:
    """n log-spaced values from lo to hi (both > 0, lo < hi, n >= 2) for the grid axis ``name``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"{name} grid: need at least 2 points, got {n!r}")
    if not (0.0 < lo < hi and math.isfinite(hi)):
        raise ValueError(f"{name} grid: need 0 < low < high < inf, got [{lo!r}, {hi!r}]")
    return np.geomspace(lo, hi, int(n))


def contour_lines(
    masses: np.ndarray, couplings: np.ndarray, events: np.ndarray, level: float = DISCOVERY_LEVEL
) -> list[np.ndarray]:
    """The N = level lines of events (n_masses, n_couplings) as a list of (k, 2) arrays of
    (mass [GeV], d [GeV^-1]), interpolated linearly in (log10 mass, log10 d, log10 N)."""
    import contourpy  # contourpy: only when contours are traced

    if not level > 0:
        raise ValueError(f"contour level must be > 0 events, got {level!r}")
    events = np.asarray(events, dtype=np.float64)
    if events.shape != (len(masses), len(couplings)):
        raise ValueError(
            f"events must have shape {(len(masses), len(couplings))}, got {events.shape}"
        )
    z = np.log10(np.maximum(events, 1e-300)).T  # (n_d, n_m): y down the rows
    gen = contourpy.contour_generator(np.log10(masses), np.log10(couplings), z)
    # the serial algorithm's default line type, LineType.Separate: a list of (k, 2) arrays
    lines = cast("list[np.ndarray]", gen.lines(math.log10(level)))
    return [10.0**line for line in lines if len(line) > 1]


def _column_min_coupling(couplings, column, level: float) -> float:
    """Smallest d [GeV^-1] of one grid column with N >= level, interpolated in log between the
    grid couplings; NaN when none."""
    above = np.nonzero(column >= level)[0]
    if above.size == 0:
        return math.nan
    k = above[0]
    if k == 0:
        return float(couplings[0])
    lo, hi = max(column[k - 1], 1e-300), column[k]
    t = (math.log(level) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return float(np.exp(np.log(couplings[k - 1]) + t * np.log(couplings[k] / couplings[k - 1])))


def min_coupling(masses, couplings, events, mass: float, level: float = DISCOVERY_LEVEL) -> float:
    """Smallest d [GeV^-1] with N >= level at ``mass`` [GeV]: found on the two grid columns that
    bracket the mass (interpolated in log d) and interpolated between them in (log mass, log d);
    NaN outside the grid or where either column has no such d."""
    log_m = np.log(np.asarray(masses, dtype=np.float64))
    x = math.log(mass)
    if not log_m[0] <= x <= log_m[-1]:
        return math.nan
    events = np.asarray(events)
    j = min(max(int(np.searchsorted(log_m, x)), 1), log_m.size - 1) if log_m.size > 1 else 0
    if log_m.size == 1 or x == log_m[j]:
        return _column_min_coupling(couplings, events[j], level)
    d0 = _column_min_coupling(couplings, events[j - 1], level)
    d1 = _column_min_coupling(couplings, events[j], level)
    t = (x - log_m[j - 1]) / (log_m[j] - log_m[j - 1])
    return float(math.exp((1.0 - t) * math.log(d0) + t * math.log(d1)))


# ------------------------------------------------------------------------------ recast limits


def _cls(s: float, n_obs: int, background: float, sigma_b: float) -> float:
    """CLs = P(n <= n_obs | s + b) / P(n <= n_obs | b), with b Gaussian (mean ``background``,
    width ``sigma_b``, truncated at 0) integrated out when sigma_b > 0."""
    from scipy import stats  # recast cards only: 1.8 s to import, so not in every scan worker

    if sigma_b > 0:
        x, w = np.polynomial.hermite_e.hermegauss(40)
        b = background + sigma_b * x
        w = np.where(b >= 0, w, 0.0)
        b = np.maximum(b, 0.0)
        return float(
            np.sum(w * stats.poisson.cdf(n_obs, s + b)) / np.sum(w * stats.poisson.cdf(n_obs, b))
        )
    return float(stats.poisson.cdf(n_obs, s + background) / stats.poisson.cdf(n_obs, background))


@functools.lru_cache(maxsize=64)  # a scan asks again for every grid and round
def signal_upper_limit(
    n_obs: int, background: float = 0.0, background_uncertainty: float = 0.0, *, cl: float = 0.95
) -> float:
    """Upper limit on the expected signal events at confidence level ``cl``, by the CLs method
    (A. L. Read, J. Phys. G 28 (2002) 2693) for a counting experiment: the s with
    P(n <= n_obs | s + b) / P(n <= n_obs | b) = 1 - cl; a Gaussian background uncertainty is
    integrated out (Cousins-Highland).  With b = 0 this is the classical Poisson limit
    (n_obs = 0: 3.00 at 95% CL)."""
    if isinstance(n_obs, bool) or not isinstance(n_obs, (int, np.integer)) or n_obs < 0:
        raise ValueError(f"observed events must be an integer >= 0, got {n_obs!r}")
    if not (background >= 0 and math.isfinite(background)):
        raise ValueError(f"expected background must be >= 0, got {background!r}")
    if not (background_uncertainty >= 0 and math.isfinite(background_uncertainty)):
        raise ValueError(f"background uncertainty must be >= 0, got {background_uncertainty!r}")
    if not 0 < cl < 1:
        raise ValueError(f"confidence level must be in (0, 1), got {cl!r}")
    from scipy import optimize  # scipy (0.6 s): only for this computation

    alpha = 1.0 - cl
    f = lambda s: _cls(s, int(n_obs), background, background_uncertainty) - alpha  # noqa: E731
    hi = 10.0 + n_obs + 10.0 * math.sqrt(n_obs + background + 1.0)
    while f(hi) > 0:
        hi *= 2.0
    return float(optimize.brentq(f, 0.0, hi, xtol=1e-10, rtol=1e-12))


def recast_upper_limit(detector, *, cl: float = 0.95) -> float:
    """95% CL signal upper limit N_up of a recast card's [recast] table (the excluded region is
    N_sig > N_up).  Without an expected background (CHARM-II, whose 5429 events are all taken
    as Standard-Model neutrino scattering), the background is the observed count."""
    if detector.observed_events is None:
        raise ValueError(
            f"detector {detector.name!r} has no [recast] observed_events: it is "
            f"not a recast of a past experiment"
        )
    n = int(detector.observed_events)
    b = float(n) if detector.expected_background is None else detector.expected_background
    sb = detector.expected_background_uncertainty or 0.0
    return signal_upper_limit(n, b, sb, cl=cl)


# ------------------------------------------------------------------------------------- grids


@dataclass(frozen=True)
class ReachGrid:
    """Expected signal events ``events`` (n_masses, n_couplings) of one detector selection.

    masses: M1 (dark dipole) or M_N (neutrino dipole) [GeV]; couplings: d [GeV^-1], ascending;
    level: events that define the contour (3 for a sensitivity, N_up for a recast limit);
    metadata: model, detector, selection, Monte Carlo settings, missing spectrum tables,
    contour quality; stat_error: Monte Carlo standard deviation of each cell (zeros if unknown).
    """

    label: str
    masses: np.ndarray
    couplings: np.ndarray
    events: np.ndarray
    level: float = DISCOVERY_LEVEL
    metadata: dict = field(default_factory=dict)
    # None (the default) is replaced by zeros in __post_init__: never None afterwards
    stat_error: np.ndarray = None  # type: ignore[assignment]

    def __post_init__(self):
        if self.stat_error is None:
            object.__setattr__(self, "stat_error", np.zeros_like(self.events, dtype=float))

    def contours(self) -> list[np.ndarray]:
        """The N = level lines: list of (k, 2) arrays of (mass [GeV], d [GeV^-1])."""
        return contour_lines(self.masses, self.couplings, self.events, self.level)

    def contour_band(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The level lines of N - sigma and N + sigma: the contour's one-standard-deviation
        Monte Carlo band (inner, outer)."""
        return (
            contour_lines(self.masses, self.couplings, self.events - self.stat_error, self.level),
            contour_lines(self.masses, self.couplings, self.events + self.stat_error, self.level),
        )

    def min_coupling(self, mass: float) -> float:
        """Smallest d [GeV^-1] reached at ``mass`` [GeV] (interpolated); NaN if none."""
        return min_coupling(self.masses, self.couplings, self.events, mass, self.level)

    def min_coupling_band(self, mass: float) -> tuple[float, float]:
        """The smallest d [GeV^-1] reached by N + sigma and by N - sigma at ``mass`` [GeV]:
        the one-standard-deviation Monte Carlo range of :meth:`min_coupling`."""
        return (
            min_coupling(
                self.masses, self.couplings, self.events + self.stat_error, mass, self.level
            ),
            min_coupling(
                self.masses, self.couplings, self.events - self.stat_error, mass, self.level
            ),
        )

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "level": self.level,
            "metadata": self.metadata,
            "masses": self.masses.tolist(),
            "couplings": self.couplings.tolist(),
            "events": [[float(f"{v:.6g}") for v in row] for row in self.events],
            "stat_error": [[float(f"{v:.3g}") for v in row] for row in self.stat_error],
        }

    @classmethod
    def from_dict(cls, data: dict) -> ReachGrid:
        events = np.asarray(data["events"], dtype=np.float64)
        return cls(
            data["label"],
            np.asarray(data["masses"]),
            np.asarray(data["couplings"]),
            events,
            data["level"],
            data.get("metadata", {}),
            np.asarray(data.get("stat_error", np.zeros_like(events)), dtype=np.float64),
        )


def write_grids(grids: list[ReachGrid], stem: str | Path) -> list[Path]:
    """Write ``stem``.json (every grid, with metadata) and ``stem``.csv (label, mass_GeV,
    d_inv_GeV, events, stat_error).  Returns the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    js, cs = stem.with_suffix(".json"), stem.with_suffix(".csv")
    jsonio.write(js, [g.to_dict() for g in grids])
    with cs.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["label", "mass_GeV", "d_inv_GeV", "events", "stat_error"])
        for g in grids:
            for i, m in enumerate(g.masses):
                for k, d in enumerate(g.couplings):
                    w.writerow(
                        [
                            g.label,
                            f"{m:.6g}",
                            f"{d:.6g}",
                            f"{g.events[i, k]:.6g}",
                            f"{g.stat_error[i, k]:.3g}",
                        ]
                    )
    return [js, cs]


def read_grids(path: str | Path) -> list[ReachGrid]:
    """Grids written by :func:`write_grids` (the .json file)."""
    return [ReachGrid.from_dict(d) for d in jsonio.read(path)]


def write_contours(grids: list[ReachGrid], stem: str | Path) -> list[Path]:
    """Write the contours of ``grids`` with their Monte Carlo band to ``stem``.json ({label:
    {level, lines, band_minus, band_plus, unconverged_masses}}, each line [[m, d], ...]) and
    ``stem``.csv (label, level, curve, line, mass_GeV, d_inv_GeV; curve is 'central', or
    'minus_1sigma' / 'plus_1sigma' for the level lines of N -+ sigma).  Returns the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    js, cs = stem.with_suffix(".json"), stem.with_suffix(".csv")
    data = {}
    with cs.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["label", "level", "curve", "line", "mass_GeV", "d_inv_GeV"])
        for g in grids:
            curves = dict(
                zip(("central", "minus_1sigma", "plus_1sigma"), (g.contours(), *g.contour_band()))
            )
            rounded = {
                k: [[[float(f"{m:.6g}"), float(f"{d:.6g}")] for m, d in ln] for ln in lines]
                for k, lines in curves.items()
            }
            data[g.label] = {
                "level": g.level,
                "lines": rounded["central"],
                "band_minus": rounded["minus_1sigma"],
                "band_plus": rounded["plus_1sigma"],
                "unconverged_masses": g.metadata.get("unconverged_masses", []),
            }
            for curve, lines in curves.items():
                for j, ln in enumerate(lines):
                    for m, d in ln:
                        w.writerow([g.label, f"{g.level:.6g}", curve, j, f"{m:.6g}", f"{d:.6g}"])
    jsonio.write(js, data)
    return [js, cs]
