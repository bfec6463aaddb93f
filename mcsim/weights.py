"""Expected signal events and their Monte Carlo uncertainty: the one place where a sample's
weights are summed, for simulate(), the events file, the cutflow and the reach scans.

An event i of a channel carries the normalisation w_i = N_M x BR(d_ref) / n_generated x
(importance weight, 1 for plain sampling) [events], the decay lengths beta_gamma_i x c*tau and
the accepted decay intervals (a1, b1, a2, b2) [m].  At the coupling d = d_ref sqrt(r),
BR scales as r and c*tau as 1 / r, so its weight is

    W_i(r) = efficiency x w_i x r x P_i(beta_gamma_i c*tau_ref / r),

P_i the probability to decay inside the accepted intervals (exact, no series).  The expected
number of events is N = sum_i W_i; its Monte Carlo variance, for the N_c independent events of
each channel c, is sum_c [sum_i W_i^2 - (sum_i W_i)^2 / N_c] (:func:`stat_error`), exact under
re-weighting.
"""

from __future__ import annotations

import math

import numpy as np

from mcsim.detector.cards import Detector
from mcsim.detector.interaction_point import InteractionPointDetector
from mcsim.detector.propagate import (
    decay_probability,
    exp_neg,
    one_minus_exp_neg,
    remap_vertices,
)
from mcsim.models.registry import Model
from mcsim.runtime.jit_cache import kernel
from mcsim.sources.base import EventSource

__all__ = ["Estimate", "estimate", "stat_error", "yield_sums"]

# P_decay = exp(-a/lam) (...) is below exp(-700) ~ 1e-304 once a > 700 lam: nothing left.
_NEGLIGIBLE_EXPONENT = 700.0
# Below b / lam = 1e-3 the decay probability is its Taylor series to x^5 (x = 1 / lam): the
# first term left out is < 6 (b x)^5 / 720 ~ 1e-17 of the sum, below double-precision rounding.
_SERIES_LIMIT = 1e-3


class Estimate(float):
    """A Monte Carlo estimate: a float (the value) that also carries ``stat_error``, its
    standard deviation sqrt(sum of squared weights).  Arithmetic gives plain floats."""

    stat_error: float

    def __new__(cls, value: float, stat_error: float) -> Estimate:
        self = super().__new__(cls, value)
        self.stat_error = float(stat_error)
        return self

    @property
    def value(self) -> float:
        return float(self)

    @property
    def relative_error(self) -> float:
        """stat_error / value (inf for a zero estimate)."""
        return self.stat_error / float(self) if float(self) else math.inf

    def __repr__(self) -> str:
        return f"Estimate({float(self)!r}, stat_error={self.stat_error!r})"

    def __format__(self, spec: str) -> str:
        spec = spec or ".4g"
        return f"{format(float(self), spec)} +- {format(self.stat_error, spec)}"

    def __reduce__(self):
        return (Estimate, (float(self), self.stat_error))


def stat_error(sum_w, sum_w2, n_generated) -> float:
    """Monte Carlo error of a weighted count, from its per-channel sums of weights ``sum_w`` and
    of squared weights ``sum_w2`` over ``n_generated`` events per channel (scalars or arrays):

        sqrt( sum_c [ sum_w2_c - sum_w_c^2 / N_c ] ).

    Each channel's count is a sum over N_c independent events, so its variance is N_c times the
    variance of one event's contribution; this is its estimate.  For a rare selection it is
    sqrt(sum w^2); for all events of equal weight it is 0.  Re-weighting to another d re-weights
    the sums, so the error follows exactly."""
    var = np.asarray(sum_w2, dtype=float) - np.square(np.asarray(sum_w, dtype=float)) / np.asarray(
        n_generated, dtype=float
    )
    return float(math.sqrt(float(np.sum(np.maximum(var, 0.0)))))


def estimate(sum_w, sum_w2, n_generated) -> Estimate:
    """The Estimate of a weighted count from its per-channel sums (see :func:`stat_error`)."""
    return Estimate(float(np.sum(sum_w)), stat_error(sum_w, sum_w2, n_generated))


@kernel(inline="always")
def _series_coefficients(a, b, c):
    """Adds (b^n - a^n) / n! for n = 1..5 to c[0..4], as (b - a) x sum_j b^(n-1-j) a^j / n!
    (no cancellation for a short interval far away)."""
    h = 1.0  # sum_{j<n} b^(n-1-j) a^j
    an = 1.0  # a^(n-1)
    factorial = 1.0
    for n in range(1, 6):
        factorial *= n
        c[n - 1] += (b - a) * h / factorial
        an *= a
        h = b * h + an


@kernel(fastmath={"contract"})
def _add_exponential_cells(ratios, inv_lam_ref, a1, w1, a2, w2, weight, s1, s2):
    """Adds W = weight x r x P(x) and W^2 to s1, s2 for each coupling ratio r (x = r x
    inv_lam_ref), P = exp(-a1 x) (1 - exp(-w1 x)) + the same for (a2, w2) if w2 > 0.  One
    branch-free loop over slices: numba vectorises it."""
    for k in range(ratios.size):
        x = ratios[k] * inv_lam_ref
        p = exp_neg(a1 * x) * one_minus_exp_neg(w1 * x)
        if w2 > 0.0:
            p += exp_neg(a2 * x) * one_minus_exp_neg(w2 * x)
        y = weight * ratios[k] * p
        s1[k] += y
        s2[k] += y * y


@kernel()
def _yield_sums(w, intervals, beta_gamma, ctau_ref, ratios):
    n_d = ratios.size
    s1 = np.zeros(n_d)
    s2 = np.zeros(n_d)
    c = np.zeros(5)
    for i in range(intervals.shape[0]):
        a1, b1, a2, b2 = intervals[i, 0], intervals[i, 1], intervals[i, 2], intervals[i, 3]
        if not b1 > a1 or w[i] == 0.0:
            continue
        inv_lam_ref = 1.0 / (beta_gamma[i] * ctau_ref)
        b_max = b1
        c[:] = 0.0
        _series_coefficients(a1, b1, c)
        w2 = 0.0
        if b2 > a2:
            b_max = max(b1, b2)
            w2 = b2 - a2
            _series_coefficients(a2, b2, c)
        # long decay lengths, x <= x_series: sum_n (-1)^(n+1) c_n x^n
        x_series = _SERIES_LIMIT / b_max  # 0 for an interval reaching to infinity
        k = 0
        while k < n_d and ratios[k] * inv_lam_ref <= x_series:
            x = ratios[k] * inv_lam_ref
            y = w[i] * ratios[k] * x * (c[0] - x * (c[1] - x * (c[2] - x * (c[3] - x * c[4]))))
            s1[k] += y
            s2[k] += y * y
            k += 1
        # then the exponentials, up to the first coupling (ratios ascend) where a1 x > 700
        end = k
        while end < n_d and a1 * (ratios[end] * inv_lam_ref) <= _NEGLIGIBLE_EXPONENT:
            end += 1
        _add_exponential_cells(
            ratios[k:end], inv_lam_ref, a1, b1 - a1, a2, w2, w[i], s1[k:end], s2[k:end]
        )
    return s1, s2


def yield_sums(
    w: np.ndarray, intervals: np.ndarray, beta_gamma: np.ndarray, ctau_ref: float, ratios
) -> tuple[np.ndarray, np.ndarray]:
    """(sum_i W_i, sum_i W_i^2) for each coupling ratio r_k = (d_k / d_ref)^2 (ascending), with
    W_i = w_i x r_k x P_i (module docstring; multiply by the efficiency and its square).
    ``w`` (n,) [events]: normalisation of each SELECTED event (0 for the others);
    ``intervals`` (n, 4) [m]: accepted decay intervals (a1, b1, a2, b2); ``beta_gamma`` (n,);
    ``ctau_ref`` [m]: c*tau at d_ref.  Events whose decay probability underflows
    (a1 / lambda > 700) add nothing."""
    ratios = np.atleast_1d(np.ascontiguousarray(ratios, dtype=np.float64))
    if ratios.ndim != 1 or np.any(np.diff(ratios) <= 0) or np.any(ratios <= 0):
        raise ValueError("coupling ratios must be positive and strictly ascending")
    if not (ctau_ref > 0.0 and math.isfinite(ctau_ref)):
        raise ValueError(f"ctau_ref must be a finite length > 0 m, got {ctau_ref!r}")
    intervals = np.ascontiguousarray(intervals, dtype=np.float64).reshape(-1, 4)
    return _yield_sums(
        np.ascontiguousarray(w, dtype=np.float64),
        intervals,
        np.ascontiguousarray(beta_gamma, dtype=np.float64),
        float(ctau_ref),
        ratios,
    )


def channel_normalisation(n_mesons: float, br: float, n_generated: int) -> float:
    """w_norm of every event of a channel: N_M x BR / N_generated [expected events]."""
    return n_mesons * br / n_generated


def normalise(
    arrays: dict, exposure: float, rate: float, n_generated: int, efficiency: float
) -> dict:
    """Give a channel's events its normalisation w_norm = exposure x rate / N_generated
    (:func:`channel_normalisation`) times each event's importance weight w_sampling, and the
    weight that follows from it."""
    arrays["w_norm"] = channel_normalisation(exposure, rate, n_generated) * arrays["w_sampling"]
    arrays["weight"] = event_weight(arrays, efficiency)
    return arrays


def event_weight(arrays: dict, efficiency: float) -> np.ndarray:
    """Expected signal events per event: w_norm x w_photon x p_decay_accepted x above_threshold
    x efficiency."""
    return (
        arrays["w_norm"]
        * arrays["w_photon"]
        * arrays["p_decay_accepted"]
        * arrays["above_threshold"]
        * efficiency
    )


def run_metadata(
    model: Model,
    detector: Detector | InteractionPointDetector,
    source: EventSource,
    mode: str,
    threshold: float | None,
    sampling: str = "plain",
) -> dict:
    """What a sample's re-weighting and selection need to know of its model point, source and
    detector: model parameters, d and c*tau, what the source's exposure and rates count, the
    card, the calorimeter plane, the photon selection and how the events were sampled."""
    return {
        "sampling": sampling,
        "source": {
            "name": source.name,
            "exposure": source.exposure_label,
            "rate": source.rate_label,
        },
        "model": model.describe(),
        "particles": model.particles.as_dict(),
        "llp_mass": model.llp_mass,
        "invisible_mass": model.invisible_mass,
        "d": model.d,
        "coupling_power": model.coupling_power,
        "ctau": model.ctau,
        "detector": detector.name,
        "card_path": detector.card_path,
        "card_text": detector.card_text,
        "calorimeter_z_m": detector.calorimeter.z_face,
        "mode": mode,
        "threshold": detector.propagation(mode, threshold)[3],
        "photon_energy_max": detector.photon_energy_max,
        "efficiency": detector.efficiency,
    }


def coupling_ratio(d, metadata: dict):
    """r = (d / d_sample)^p: BR x r and c*tau / r at coupling d (scalar or array), p the
    model's coupling power (metadata 'coupling_power'; 2, the dipoles', if absent)."""
    return (np.asarray(d, dtype=np.float64) / metadata["d"]) ** metadata.get("coupling_power", 2.0)


def _ratio(metadata: dict, d: float) -> float:
    if not (d > 0.0 and math.isfinite(d)):
        raise ValueError(f"d must be a finite coupling > 0 GeV^-1, got {d!r}")
    return float(coupling_ratio(d, metadata))


def expected_events(arrays: dict, metadata: dict, d: float) -> Estimate:
    """Expected signal events of a sample (per-event ``arrays`` and its ``metadata``) at
    coupling d with their Monte Carlo error, exactly: BR x r and c*tau / r with
    r = (d / d_sample)^p (:func:`coupling_ratio`), decay probabilities recomputed
    (:func:`yield_sums` per channel, as the reach scans do)."""
    r = _ratio(metadata, d)
    a = arrays
    n_channels = len(metadata["n_generated"])
    sums = np.zeros((2, n_channels))
    for c in range(n_channels):
        mine = a["channel"] == c
        s1, s2 = yield_sums(
            a["w_norm"][mine] * a["w_photon"][mine] * a["above_threshold"][mine],
            a["acc_intervals"][mine],
            a["beta_gamma"][mine],
            metadata["ctau"],
            [r],
        )
        sums[:, c] = s1[0], s2[0]
    eff = metadata["efficiency"]
    return estimate(eff * sums[0], eff * eff * sums[1], metadata["n_generated"])


def rescaled(arrays: dict, metadata: dict, d: float) -> dict:
    """The columns every kept event has, at coupling d: w_norm x r and the decay probabilities
    p_decay_volume, p_decay_accepted at c*tau / r (r = (d / d_sample)^p), exactly."""
    r = _ratio(metadata, d)
    ctau = metadata["ctau"] / r
    a = dict(arrays)
    a["w_norm"] = a["w_norm"] * r
    a["p_decay_volume"] = decay_probability(
        np.column_stack([a["s_in"], a["s_out"]]), a["beta_gamma"], ctau
    )
    a["p_decay_accepted"] = decay_probability(a["acc_intervals"], a["beta_gamma"], ctau)
    return a


def reweighted(arrays: dict, metadata: dict, d: float) -> tuple[dict, dict]:
    """The sample at coupling d: :func:`rescaled`, the decay vertices (and photon impacts)
    moved by the quantile map so that they follow the new decay length, and the weights; the
    metadata's d, c*tau and rates follow.  Kinematics and flags are kept."""
    r = _ratio(metadata, d)
    meta = metadata
    ctau = meta["ctau"] / r
    a = rescaled(arrays, metadata, d)
    if len(a["w_norm"]):
        a["vertex"], a["impact"] = remap_vertices(a, meta["ctau"], ctau, meta["calorimeter_z_m"])
    a["weight"] = event_weight(a, meta["efficiency"])
    model = dict(meta["model"], d=float(d))
    new_meta = dict(meta, model=model, d=float(d), ctau=ctau, rate=[b * r for b in meta["rate"]])
    return a, new_meta


def coupling_at(arrays: dict, metadata: dict, level: float) -> float:
    """The d [GeV^-1] with ``level`` expected events (the lower edge of the reach: the yield
    grows monotonically with d), by bisection in log d on the exact re-weighting; NaN if even
    d = 1 GeV^-1 stays below."""
    from scipy import optimize  # scipy (0.6 s): only for this computation

    def f(log_d):
        return math.log(max(expected_events(arrays, metadata, math.exp(log_d)), 1e-300) / level)

    lo, hi = math.log(1e-12), math.log(1.0)
    if f(hi) < 0:
        return math.nan
    return math.exp(optimize.brentq(f, lo, hi, xtol=1e-6))
