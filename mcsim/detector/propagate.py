"""The numba propagator: LLP path through the decay volume, exact decay weights, photon to the
calorimeter.

The long-lived particle (LLP) starts at the interaction point (the origin) and flies along its
unit direction u; s [m] is the distance along the path.  For each LLP, in one pass:

1. the path [s_in, s_out] inside the decay volume;
2. the decay chi2 -> chi1 gamma (N -> nu gamma), isotropic in the rest frame -- or, for
   directed sampling, inside the photon-energy window with importance weight ``w_photon``
   (:func:`mcsim.physics.directed.photon_direction`).  The photon 4-momentum does not depend on where
   the LLP decays, so it is drawn once per event;
3. the accepted set: the decay positions s in [s_in, s_out] from which the photon (direction t)
   hits the calorimeter face, at most two intervals (a1, b1, a2, b2) (see
   :func:`mcsim.detector.geometry.calo_intervals`);
4. exact probabilities for the decay length lambda = beta*gamma*c*tau:
   P([a, b]) = exp(-a/lambda) - exp(-b/lambda), for the whole path (``p_decay_volume``) and the
   accepted set (``p_decay_accepted``).  Nothing here is sampled, so re-weighting to another
   c*tau is exact: recompute with :func:`decay_probability`;
5. a decay vertex drawn from the exponential truncated to the accepted set (or to [s_in, s_out]
   when the set is empty, or to [0, inf) when the path misses the volume), and the photon's
   impact point on the calorimeter plane (NaN if it does not reach the plane).

Modes: ``full`` uses the card's decay volume and calorimeter face; ``cone`` is the paper's
selection as written (Sec. 3, Eq. 4.3): polar angle of the LLP below theta_max, decay between
L_i and L_f, no photon geometry (accepted set = [L_i, L_f]).  Both apply the photon energy window.
Scalar helpers are ``inline="always"`` (see :mod:`mcsim.detector.geometry`).

The reach scans need only steps 1-3 and the photon energy: :mod:`mcsim.scan.fused` runs
:func:`decay_in_detector` (same random streams, same values) in one pass with the meson and its
decay, and skips the LLPs that miss the decay volume altogether.  So that it can, the photon and
the vertex of such an LLP are drawn here from a stream of their own.
"""

from __future__ import annotations

import math

import numpy as np

from mcsim.detector.geometry import calo_intervals, plane_crossing, volume_path
from mcsim.physics.directed import photon_direction
from mcsim.physics.kinematics import two_body_along, two_body_momentum
from mcsim.physics.xoshiro import stream, uniform
from mcsim.runtime.defaults import MODES
from mcsim.runtime.jit_cache import kernel

__all__ = [
    "KERNEL_OUTPUTS",
    "MODES",
    "decay_probability",
    "exp_neg",
    "interval_probability",
    "observe",
    "one_minus_exp_neg",
    "propagate",
    "propagate_kernel",
    "remap_vertices",
]


#: The arrays :func:`propagate_kernel` returns, in order, by their names in the event schema.
KERNEL_OUTPUTS = (
    "p4_decay_invisible",
    "p4_photon",
    "vertex",
    "impact",
    "s_in",
    "s_out",
    "acc_intervals",
    "beta_gamma",
    "p_decay_volume",
    "p_decay_accepted",
    "in_volume",
    "photon_hits_calo",
    "above_threshold",
    "w_photon",
)


# exp(-y) by range reduction, y = m ln 2 - r with |r| <= ln 2 / 2, and the Taylor series of
# exp(r) to r^13 / 13! (the first term left out, r^14 / 14!, is 4e-18 of the sum): branch-free,
# so that numba vectorises the loops over couplings (mcsim.weights) and events
# (decay_probability) into SIMD lanes; glibc's exp is a scalar call.  ln 2 in two parts
# (fdlibm's): m x _LN2_HI is exact for |m| < 2^20.
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_EXP_TAYLOR = tuple(1.0 / math.factorial(n) for n in range(13, -1, -1))  # 1/13!, ..., 1/0!
# exp(-y) is returned as 0 above this y: exp(-708) = 3.3e-308 is the smallest normal double
# that 2^m x (poly in [0.7, 1.42]) reaches.
_EXP_UNDERFLOW = 708.0
# 1 - exp(-u) is its Taylor series below u = 1/4, to u^12 / 12! (the first term left out is
# 1e-17 of the sum); above, 1 - exp(-u) loses at most 1 ulp / (1 - e^(-1/4)) = 5e-16 of it.
_ONE_MINUS_EXP_SERIES_LIMIT = 0.25
_ONE_MINUS_EXP_TAYLOR = tuple((-1.0) ** (n + 1) / math.factorial(n) for n in range(12, 0, -1))


@kernel(inline="always", fastmath={"contract"})
def exp_neg(y):
    """exp(-y) for y <= 708 to 1 ulp (0 above: exp(-708) = 3.3e-308); vectorisable in numba
    loops, unlike math.exp (see _LOG2E)."""
    t = -min(y, _EXP_UNDERFLOW)
    m = np.floor(t * _LOG2E + 0.5)
    r = (t - m * _LN2_HI) - m * _LN2_LO
    p = 0.0
    for c in _EXP_TAYLOR:
        p = c + r * p
    two_m = np.int64((np.int64(m) + 1023) << 52).view(np.float64)  # 2^m from its bits
    return p * two_m if y <= _EXP_UNDERFLOW else 0.0


@kernel(inline="always", fastmath={"contract"})
def one_minus_exp_neg(u):
    """1 - exp(-u) = -expm1(-u) for u >= 0 (inf included) to 5e-16 relative; vectorisable."""
    s = 0.0
    for c in _ONE_MINUS_EXP_TAYLOR:
        s = c + u * s
    far = 1.0 - exp_neg(u)
    return u * s if u < _ONE_MINUS_EXP_SERIES_LIMIT else far


@kernel(inline="always")
def interval_probability(a: float, b: float, lam: float) -> float:
    """exp(-a/lam) - exp(-b/lam) for a <= b (0 for an empty interval), without cancellation:
    exp(-a/lam) * (-expm1(-(b - a)/lam)); b may be inf."""
    if b <= a:
        return 0.0
    return math.exp(-a / lam) * -math.expm1(-(b - a) / lam)


# error_model="numpy": numba's zero-division check before each a / lambda kept the loop scalar
@kernel(nogil=True, fastmath={"contract"}, error_model="numpy")
def _decay_probability(columns, beta_gamma, ctau):
    n = beta_gamma.size
    out = np.zeros(n)
    for k in range(0, columns.shape[0], 2):
        a, b = columns[k], columns[k + 1]
        for i in range(n):  # one branch-free loop per interval: numba vectorises it
            lam = beta_gamma[i] * ctau
            w = max(b[i] - a[i], 0.0)  # an empty interval adds 0
            out[i] += exp_neg(a[i] / lam) * one_minus_exp_neg(w / lam)
    return out


def decay_probability(intervals: np.ndarray, beta_gamma: np.ndarray, ctau: float) -> np.ndarray:
    """Probability (n,) to decay inside the intervals (n, 2k) [m], e.g. (a1, b1, a2, b2) or
    (s_in, s_out), for decay length beta_gamma * ctau [m]."""
    if not (ctau > 0.0 and math.isfinite(ctau)):
        raise ValueError(f"ctau must be a finite length > 0 m, got {ctau!r}")
    intervals = np.ascontiguousarray(intervals, dtype=np.float64)
    if intervals.ndim != 2 or intervals.shape[1] % 2:
        raise ValueError(f"intervals must have shape (n, 2k), got {intervals.shape}")
    return _decay_probability(  # the intervals' ends as contiguous columns
        np.ascontiguousarray(intervals.T),
        np.ascontiguousarray(beta_gamma, dtype=np.float64),
        float(ctau),
    )


# ------------------------------------------------------------------ vertex sampling (inverse CDF)


@kernel(inline="always")
def _vertex_intervals(a1, b1, a2, b2, s_in, s_out):
    """Where the vertex is drawn: the accepted set, else the volume path, else [0, inf)."""
    if b1 > a1:
        return a1, b1, a2, b2
    if s_out > s_in:
        return s_in, s_out, 0.0, 0.0
    return 0.0, math.inf, 0.0, 0.0


@kernel(inline="always")
def _weights(a1, b1, a2, b2, lam):
    """Probabilities of the two intervals relative to exp(-a1/lam) (no underflow), and the
    factor exp(-(a2 - a1)/lam)."""
    q1 = -math.expm1(-(b1 - a1) / lam)
    if b2 <= a2:
        return q1, 0.0, 0.0
    f2 = math.exp(-(a2 - a1) / lam)
    return q1, f2 * -math.expm1(-(b2 - a2) / lam), f2


@kernel(inline="always")
def _quantile_w(u, a1, b1, a2, b2, lam, q1, q2, f2):
    """:func:`_quantile` with the interval weights of :func:`_weights` given."""
    t = u * (q1 + q2)
    if t <= q1 or q2 == 0.0:
        return min(max(a1 - lam * math.log1p(-t), a1), b1)
    return min(max(a2 - lam * math.log1p(-(t - q1) / f2), a2), b2)


@kernel(inline="always")
def _quantile(u, a1, b1, a2, b2, lam):
    """The s whose truncated-exponential CDF on [a1, b1] U [a2, b2] (a1 < b1 <= a2) is u."""
    q1, q2, f2 = _weights(a1, b1, a2, b2, lam)
    return _quantile_w(u, a1, b1, a2, b2, lam, q1, q2, f2)


@kernel(inline="always")
def _cdf(s, a1, b1, a2, b2, lam):
    """Inverse of :func:`_quantile`."""
    q1, q2, f2 = _weights(a1, b1, a2, b2, lam)
    if s <= b1 or q2 == 0.0:
        t = -math.expm1(-(min(s, b1) - a1) / lam)
    else:
        t = q1 + f2 * -math.expm1(-(s - a2) / lam)
    return t / (q1 + q2)


@kernel(inline="always")
def _impact(vx, vy, vz, tx, ty, tz, z_face):
    """Photon impact (x, y) on the plane z = z_face from (vx, vy, vz) along t; NaN if the
    photon does not get there."""
    _hit, x, y = plane_crossing(vx, vy, vz, tx, ty, tz, z_face)
    return x, y


@kernel(inline="always")
def _probabilities(s_in, s_out, a1, b1, a2, b2, lam):
    """(p_decay_volume, p_decay_accepted) and the weights (q1, q2, f2) of the set the vertex is
    drawn from, sharing the exponentials (the accepted set is often the whole path)."""
    if b1 > a1:
        q1, q2, f2 = _weights(a1, b1, a2, b2, lam)
        p_acc = math.exp(-a1 / lam) * (q1 + q2)
        if a1 == s_in and b1 == s_out and q2 == 0.0:
            return p_acc, p_acc, q1, q2, f2
        return interval_probability(s_in, s_out, lam), p_acc, q1, q2, f2
    if s_out > s_in:
        q1 = -math.expm1(-(s_out - s_in) / lam)
        return math.exp(-s_in / lam) * q1, 0.0, q1, 0.0, 0.0
    return 0.0, 0.0, 1.0, 0.0, 0.0


# ------------------------------------------------------------------------------------- kernel


@kernel(inline="always")
def decay_in_detector(
    e,
    px,
    py,
    pz,
    m_llp,
    p_star,
    vol_code,
    vol_params,
    calo_code,
    calo_params,
    use_calo,
    e_lo,
    e_hi,
    directed,
    state,
    miss_state,
    skip_outside,
):
    """Steps 1-3 of the module docstring for one LLP (lab 4-momentum (e, px, py, pz) [GeV]):
    returns (|p|, u, s_in, s_out, photon, invisible, a1, b1, a2, b2, w_photon).  The photon's
    rest-frame direction is isotropic or, if ``directed``, inside the photon-energy window
    [e_lo, e_hi] [GeV] with importance weight w_photon (:func:`mcsim.physics.directed.photon_direction`),
    drawn from ``state`` for an LLP that crosses the volume and from ``miss_state`` for one that
    misses; with ``skip_outside`` a miss is not decayed at all (photon and invisible zero, empty
    accepted set, nothing drawn), which changes no value of the LLPs that cross."""
    pabs = math.sqrt(px * px + py * py + pz * pz)
    ux, uy, uz = px / pabs, py / pabs, pz / pabs
    s_in, s_out = volume_path(vol_code, vol_params, 0.0, 0.0, 0.0, ux, uy, uz)
    if not s_out > s_in:
        if skip_outside:
            zero = (0.0, 0.0, 0.0, 0.0)
            return pabs, ux, uy, uz, s_in, s_out, zero, zero, 0.0, 0.0, 0.0, 0.0, 0.0
        state = miss_state
    dx, dy, dz, w_photon = photon_direction(
        e, pabs, ux, uy, uz, m_llp, p_star, e_lo, e_hi, directed, state
    )
    gam, inv = two_body_along(e, px, py, pz, m_llp, p_star, p_star, dx, dy, dz)
    if use_calo:
        tx, ty, tz = gam[1] / gam[0], gam[2] / gam[0], gam[3] / gam[0]
        a1, b1, a2, b2 = calo_intervals(
            calo_code, calo_params, 0.0, 0.0, 0.0, ux, uy, uz, tx, ty, tz, s_in, s_out
        )
    else:
        a1, b1, a2, b2 = s_in, s_out, 0.0, 0.0
    return pabs, ux, uy, uz, s_in, s_out, gam, inv, a1, b1, a2, b2, w_photon


@kernel(nogil=True)
def propagate_kernel(
    llp,
    m_llp,
    m_inv,
    vol_code,
    vol_params,
    calo_code,
    calo_params,
    use_calo,
    e_min,
    e_max,
    directed,
    ctau,
    rng,
):
    """Propagate LLPs llp (n, 4) [GeV] of mass m_llp decaying to (m_inv, photon).

    vol_code/vol_params: decay volume (or the cone); calo_code/calo_params: calorimeter face;
    use_calo False gives the cone mode (accepted set = path in the volume); ``directed``: the
    photon drawn inside the energy window [e_min, e_max] [GeV] (:func:`decay_in_detector`).
    Returns the arrays of :data:`KERNEL_OUTPUTS`, in that order.
    """
    n = llp.shape[0]
    p_inv = np.empty((n, 4))
    p_gam = np.empty((n, 4))
    vertex = np.empty((n, 3))
    impact = np.empty((n, 2))
    path_in = np.empty(n)
    path_out = np.empty(n)
    acc = np.empty((n, 4))
    beta_gamma = np.empty(n)
    p_vol = np.empty(n)
    p_acc = np.empty(n)
    in_vol = np.empty(n, dtype=np.bool_)
    hits = np.empty(n, dtype=np.bool_)
    above = np.empty(n, dtype=np.bool_)
    w_photon = np.empty(n)
    z_face = calo_params[0]
    p_star = two_body_momentum(m_llp, m_inv, 0.0)
    state = stream(rng)
    miss_state = stream(rng)  # the photon and vertex of LLPs that miss the volume
    for i in range(n):
        pabs, ux, uy, uz, s_in, s_out, gam, inv, a1, b1, a2, b2, w_photon[i] = decay_in_detector(
            llp[i, 0],
            llp[i, 1],
            llp[i, 2],
            llp[i, 3],
            m_llp,
            p_star,
            vol_code,
            vol_params,
            calo_code,
            calo_params,
            use_calo,
            e_min,
            e_max,
            directed,
            state,
            miss_state,
            False,
        )
        tx, ty, tz = gam[1] / gam[0], gam[2] / gam[0], gam[3] / gam[0]
        bg = pabs / m_llp
        lam = bg * ctau
        pv, pa, q1, q2, f2 = _probabilities(s_in, s_out, a1, b1, a2, b2, lam)
        c1, d1, c2, d2 = _vertex_intervals(a1, b1, a2, b2, s_in, s_out)
        u = uniform(state if s_out > s_in else miss_state)
        s = _quantile_w(u, c1, d1, c2, d2, lam, q1, q2, f2)
        x, y = _impact(s * ux, s * uy, s * uz, tx, ty, tz, z_face)
        p_inv[i, 0], p_inv[i, 1], p_inv[i, 2], p_inv[i, 3] = inv
        p_gam[i, 0], p_gam[i, 1], p_gam[i, 2], p_gam[i, 3] = gam
        vertex[i, 0] = s * ux
        vertex[i, 1] = s * uy
        vertex[i, 2] = s * uz
        impact[i, 0] = x
        impact[i, 1] = y
        path_in[i] = s_in
        path_out[i] = s_out
        acc[i, 0] = a1
        acc[i, 1] = b1
        acc[i, 2] = a2
        acc[i, 3] = b2
        beta_gamma[i] = bg
        p_vol[i] = pv
        p_acc[i] = pa
        in_vol[i] = s_out > s_in
        hits[i] = b1 > a1
        above[i] = e_min < gam[0] < e_max  # chain.in_energy_window
    return (
        p_inv,
        p_gam,
        vertex,
        impact,
        path_in,
        path_out,
        acc,
        beta_gamma,
        p_vol,
        p_acc,
        in_vol,
        hits,
        above,
        w_photon,
    )


@kernel(nogil=True)
def _remap(llp, photon, vertex_old, path, acc, beta_gamma, ctau_old, ctau_new, z_face):
    n = llp.shape[0]
    vertex = np.empty((n, 3))
    impact = np.empty((n, 2))
    for i in range(n):
        px, py, pz = llp[i, 1], llp[i, 2], llp[i, 3]
        pabs = math.sqrt(px * px + py * py + pz * pz)
        ux, uy, uz = px / pabs, py / pabs, pz / pabs
        c1, d1, c2, d2 = _vertex_intervals(
            acc[i, 0], acc[i, 1], acc[i, 2], acc[i, 3], path[i, 0], path[i, 1]
        )
        vx, vy, vz = vertex_old[i, 0], vertex_old[i, 1], vertex_old[i, 2]
        u = _cdf(math.sqrt(vx * vx + vy * vy + vz * vz), c1, d1, c2, d2, beta_gamma[i] * ctau_old)
        s = _quantile(u, c1, d1, c2, d2, beta_gamma[i] * ctau_new)
        e = photon[i, 0]
        x, y = _impact(
            s * ux, s * uy, s * uz, photon[i, 1] / e, photon[i, 2] / e, photon[i, 3] / e, z_face
        )
        vertex[i, 0] = s * ux
        vertex[i, 1] = s * uy
        vertex[i, 2] = s * uz
        impact[i, 0] = x
        impact[i, 1] = y
    return vertex, impact


def remap_vertices(arrays: dict, ctau_old: float, ctau_new: float, z_face: float):
    """Move the decay vertices of a propagated sample from c*tau_old to c*tau_new [m] by the
    quantile map s -> F_new^-1(F_old(s)) on each event's sampling intervals: if the old vertices
    follow the truncated exponential at c*tau_old, the new ones follow it at c*tau_new (exactly,
    up to rounding).  Returns (vertex (n, 3), impact (n, 2)) [m]."""
    return _remap(
        arrays["p4_llp"],
        arrays["p4_photon"],
        arrays["vertex"],
        np.column_stack([arrays["s_in"], arrays["s_out"]]),
        arrays["acc_intervals"],
        arrays["beta_gamma"],
        float(ctau_old),
        float(ctau_new),
        float(z_face),
    )


def propagate(
    llp: np.ndarray,
    *,
    m_llp: float,
    m_invisible: float,
    detector,
    mode: str,
    ctau: float,
    rng: np.random.Generator,
    threshold: float | None = None,
    directed: bool = False,
) -> dict:
    """Run :func:`propagate_kernel` for LLPs llp (n, 4) [GeV] in ``detector`` in ``mode``
    ('full' or 'cone', :meth:`mcsim.detector.cards.Detector.propagation`) at proper decay length
    ``ctau`` [m].  ``threshold`` [GeV] replaces the card's minimum photon energy; ``directed``
    draws the photon inside the energy window (weight ``w_photon``).  Returns the per-event
    arrays under the names of :data:`mcsim.io.schema.ARRAYS` (the propagator's selection:
    :func:`observe` adds the detector's own)."""
    if not (ctau > 0.0 and math.isfinite(ctau)):
        raise ValueError(f"ctau must be a finite length > 0 m, got {ctau!r}")
    volume, calo, use_calo, e_min, e_max = detector.propagation(mode, threshold)
    out = propagate_kernel(
        np.ascontiguousarray(llp, dtype=np.float64),
        float(m_llp),
        float(m_invisible),
        volume.code,
        volume.params,
        calo.code,
        calo.params,
        use_calo,
        e_min,
        e_max,
        bool(directed),
        float(ctau),
        rng,
    )
    return dict(zip(KERNEL_OUTPUTS, out))


def observe(
    production: dict,
    model,
    detector,
    *,
    mode: str,
    threshold: float | None,
    directed: bool,
    rng: np.random.Generator,
) -> dict:
    """What ``detector`` sees of the produced events (``production``: per-event arrays of an
    event source, with ``p4_llp``): the LLP's path, decay and photon (:func:`propagate`), then
    the detector's own selection (``detector.select``)."""
    observed = propagate(
        production["p4_llp"],
        m_llp=model.llp_mass,
        m_invisible=model.invisible_mass,
        detector=detector,
        mode=mode,
        ctau=model.ctau,
        rng=rng,
        threshold=threshold,
        directed=directed,
    )
    detector.select(production, observed)
    return observed


def in_energy_window(energy: np.ndarray, e_min: float, e_max: float) -> np.ndarray:
    """The photon selection E_min < E < E_max [GeV] (as applied by the propagator)."""
    return (e_min < energy) & (energy < e_max)
