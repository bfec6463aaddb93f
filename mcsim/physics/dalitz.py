"""Three-body decays drawn from the paper's |M|^2 over the Dalitz plot, and their widths.

Two matrix elements (paper Appendix A):

* ``ANOMALY`` -- Eq. (A.4), P0 -> gamma(1) Psi_M1(2) Psi_M2(3), in the paper's variables
  m12^2 (photon + lighter state) and m23^2 (the dark pair);
* ``CHARGED`` -- Eq. (A.7), P+ -> gamma(1) l+(2) N(3);

and flat phase space (|M|^2 = 1, for model cards): ``FLAT_PHOTON`` M -> gamma(a) X(b) LLP(c)
with masses (0, m_x, m_y), ``FLAT_LEPTON`` M -> l(a) nu(b) LLP(c) with masses (m_x, 0, m_y).

The sampler labels the daughters (a, b, c) and maps the unit square (ux, uy) onto the Dalitz plot:
s_bc log-uniformly from ux (both |M|^2 peak like 1/s_bc near the s_bc threshold: the dark pair's
photon propagator in A.4, the virtual neutrino in A.7), then s_ab uniformly inside the Dalitz range
at that s_bc from uy.  The weight ``w = |M|^2 x (Jacobian)`` is both the
accept-reject weight of the generator (under a piecewise-constant envelope) and the integrand of the
width over the unit square, so sampling and integration cannot disagree.

Labelling: ANOMALY uses (a, b, c) = (gamma, M1, M2), so s_ab = m12^2 and s_bc = m23^2.
CHARGED uses (a, b, c) = (l, gamma, N), so s_ab = m12^2 and s_bc = m13^2 (the virtual neutrino),
and the paper's m23^2 = M^2 + M_l^2 + M_N^2 - s_ab - s_bc.
Matrix elements here are without their coupling prefactor (d^2 e^4/(4 pi^4 F^2) for A.4,
16 d^2 G_F^2 f_P^2 |V|^2 for A.7); :mod:`mcsim.models.channels` applies it.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from mcsim.physics.directed import llp_direction
from mcsim.physics.kinematics import dalitz_momenta, dalitz_range
from mcsim.physics.xoshiro import stream, uniform
from mcsim.runtime.jit_cache import kernel

__all__ = [
    "ANOMALY",
    "CHARGED",
    "FLAT_LEPTON",
    "FLAT_PHOTON",
    "dalitz_weight",
    "envelope",
    "generate_three_body",
    "msq_anomaly",
    "msq_charged",
    "phase_space_integral",
    "sample_dalitz",
]

ANOMALY = 0
CHARGED = 1
FLAT_PHOTON = 2
FLAT_LEPTON = 3


@kernel()
def msq_anomaly(m12sq: float, m23sq: float, mp: float, m1: float, m2: float) -> float:
    """Eq. (A.4) divided by d^2 e^4 / (4 pi^4 F_P^2): P0 -> gamma Psi_M1 Psi_M2 [GeV^0]."""
    mp2 = mp * mp
    m1s = m1 * m1
    m2s = m2 * m2
    br = (
        mp2 * mp2 * (m23sq * (m2s + 2.0 * m1 * m2 - m1s) - (m1s - m2s) ** 2)
        - m23sq
        * m23sq
        * (
            m1s * m1s
            - 2.0 * m1s * m12sq
            - m23sq * (m1 + m2) ** 2
            + 2.0 * m12sq * m12sq
            - 2.0 * m12sq * m2s
            + 2.0 * m12sq * m23sq
            + m2s * m2s
        )
        - 2.0
        * m23sq
        * mp2
        * ((m1s - m2s) * (m2s - m12sq) + m2 * m23sq * (2.0 * m1 + m2) - m12sq * m23sq)
    )
    return br / (m23sq * m23sq)


@kernel()
def msq_charged(m12sq: float, m23sq: float, mp: float, ml: float, mn: float) -> float:
    """Eq. (A.7) divided by 16 d^2 G_F^2 f_P^2 |V|^2: P+ -> gamma l+ N [GeV^-2 x GeV^2 = 1]."""
    mp2 = mp * mp
    ml2 = ml * ml
    mn2 = mn * mn
    den = mp2 + ml2 + mn2 - m23sq - m12sq
    x = mp2 + ml2 - m12sq - m23sq
    y = (
        m12sq**3
        - m12sq * m12sq * (2.0 * mp2 + 2.0 * mn2 + ml2 - 2.0 * m23sq)
        + m12sq
        * (
            mn2 * mn2
            + 2.0 * mn2 * (mp2 + ml2 - m23sq)
            + m23sq * m23sq
            - m23sq * (2.0 * mp2 + ml2)
            + mp2 * mp2
        )
        + ml2 * (-mn2 * mn2 - mp2 * (mn2 - ml2 + m23sq) + mn2 * m23sq + mp2 * mp2)
    )
    return x * y / (den * den)


@kernel()
def _labels(kind: int, m_x: float, m_y: float):
    """Masses (m_a, m_b, m_c) in sampler order."""
    if kind == ANOMALY or kind == FLAT_PHOTON:
        return 0.0, m_x, m_y  # gamma, M1, M2 (or invisible, LLP)
    return m_x, 0.0, m_y  # l, gamma, N (or l, nu, LLP)


@kernel()
def dalitz_weight(kind: int, ux: float, uy: float, mp: float, m_x: float, m_y: float):
    """Weight of the point (ux, uy) in the unit square, with its (s_ab, s_bc).

    ``m_x, m_y`` are (M1, M2) for ANOMALY and (M_l, M_N) for CHARGED.  The integral of the weight
    over the unit square equals the integral of |M|^2 over the Dalitz plot in (m12^2, m23^2).
    """
    m_a, m_b, m_c = _labels(kind, m_x, m_y)
    lo = (m_b + m_c) ** 2
    log_range = math.log((mp - m_a) ** 2 / lo)
    s_bc = lo * math.exp(ux * log_range)
    jac = s_bc * log_range
    r_lo, r_hi = dalitz_range(s_bc, mp, m_a, m_b, m_c)
    s_ab = r_lo + uy * (r_hi - r_lo)
    jac *= r_hi - r_lo
    if kind == ANOMALY:
        m = msq_anomaly(s_ab, s_bc, mp, m_x, m_y)
    elif kind == FLAT_PHOTON or kind == FLAT_LEPTON:
        m = 1.0
    else:
        m23sq = mp * mp + m_x * m_x + m_y * m_y - s_ab - s_bc
        m = msq_charged(s_ab, m23sq, mp, m_x, m_y)
    return m * jac, s_ab, s_bc


@kernel()
def _gauss_legendre_sum(kind, mp, m_x, m_y, nodes, wts):
    total = 0.0
    for i in range(nodes.size):
        for j in range(nodes.size):
            w, _, _ = dalitz_weight(kind, nodes[i], nodes[j], mp, m_x, m_y)
            total += wts[i] * wts[j] * w
    return total


@lru_cache(maxsize=4)
def _unit_gauss_legendre(n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1] (numpy's eigvalsh on one thread: threaded
    BLAS ran it ~50x slower, 0.5 s, in a scan's main process while its workers filled the cores)."""
    from threadpoolctl import threadpool_limits  # threadpoolctl: only around this BLAS call

    with threadpool_limits(1):
        x, w = np.polynomial.legendre.leggauss(n_nodes)
    return 0.5 * (x + 1.0), 0.5 * w


def phase_space_integral(kind: int, mp: float, m_x: float, m_y: float, n_nodes: int = 128) -> float:
    """Integral of the (prefactor-free) |M|^2 over the Dalitz plot [GeV^4], Gauss-Legendre.
    The error falls as n_nodes^-3 (the square-root edges of the Dalitz plot): against 1024
    nodes, 128 are within 5e-7 for pi0, eta, eta' at M1 up to 0.4 m_P (256: 6e-8)."""
    nodes, weights = _unit_gauss_legendre(n_nodes)
    return float(_gauss_legendre_sum(kind, mp, m_x, m_y, nodes, weights))


@kernel(nogil=True)
def _cell_bounds(kind, mp, m_x, m_y, n_cells, n_sub):
    """Largest weight on an (n_sub + 1)^2 grid (edges included) of each of n_cells^2 cells: the
    weights on the whole (n_cells n_sub + 1)^2 lattice once (cells share their edges), then
    each cell's maximum."""
    n = n_cells * n_sub + 1
    step = 1.0 / (n_cells * n_sub)
    lattice = np.empty((n, n))
    for a in range(n):
        for b in range(n):
            lattice[a, b] = dalitz_weight(kind, a * step, b * step, mp, m_x, m_y)[0]
    out = np.zeros(n_cells * n_cells)
    for i in range(n_cells):
        for j in range(n_cells):
            best = 0.0
            for a in range(i * n_sub, (i + 1) * n_sub + 1):
                for b in range(j * n_sub, (j + 1) * n_sub + 1):
                    best = max(best, lattice[a, b])
            out[i * n_cells + j] = best
    return out


def envelope(
    kind: int,
    mp: float,
    m_x: float,
    m_y: float,
    n_cells: int = 32,
    n_sub: int = 4,
    margin: float = 1.15,
) -> np.ndarray:
    """Piecewise-constant upper bound of the weight on an n_cells x n_cells grid of the unit square
    (cell maximum on a sub-grid times a safety margin), flattened row-major (ux index first).
    The 5 x 5 sub-grid of a cell misses its maximum on a 33 x 33 one by at most 1.1% (pi0, eta,
    eta' -> gamma chi1 chi2 and K, D, Ds, B -> l N gamma from threshold to 0.5 m_P): far inside
    the margin; sampling counts any weight above its bound as an error."""
    return margin * _cell_bounds(kind, mp, m_x, m_y, n_cells, n_sub)


@kernel(inline="always")
def dalitz_point(cdf, bounds, kind: int, mp: float, m_x: float, m_y: float, state):
    """One Dalitz point (s_ab, s_bc) drawn from |M|^2 by accept-reject under the envelope
    ``bounds`` (``cdf`` its cumulative sum): a cell with probability proportional to its bound,
    a point uniformly inside it, accepted with probability w / bound.  Returns (s_ab, s_bc,
    n_overflow): n_overflow counts trial weights above their cell bound (a biased sample)."""
    n_cells = int(round(math.sqrt(bounds.size)))
    total = cdf[-1]
    overflow = 0
    while True:
        k = min(np.searchsorted(cdf, uniform(state) * total, side="right"), bounds.size - 1)
        ux = (k // n_cells + uniform(state)) / n_cells
        uy = (k % n_cells + uniform(state)) / n_cells
        w, sab, sbc = dalitz_weight(kind, ux, uy, mp, m_x, m_y)
        if w > bounds[k]:
            overflow += 1
        if uniform(state) * bounds[k] < w:
            return sab, sbc, overflow


@kernel(nogil=True)
def sample_dalitz(n: int, kind: int, mp: float, m_x: float, m_y: float, bounds, rng):
    """Draw n Dalitz points (s_ab, s_bc) from |M|^2 (:func:`dalitz_point`, one stream of
    ``rng``).  Returns (s_ab, s_bc, n_overflow); callers treat a non-zero n_overflow as an
    error."""
    cdf = np.cumsum(bounds)
    s_ab = np.empty(n)
    s_bc = np.empty(n)
    overflow = 0
    state = stream(rng)
    for i in range(n):
        s_ab[i], s_bc[i], over = dalitz_point(cdf, bounds, kind, mp, m_x, m_y, state)
        overflow += over
    return s_ab, s_bc, overflow


@kernel(inline="always")
def three_body_one(s_ab, s_bc, kind, mp, m_x, m_y, e, px, py, pz, one_minus_cos_w, state, points):
    """The lab momenta (a, b, c) of the decay at Dalitz point (s_ab, s_bc) of a parent (e, px,
    py, pz) [GeV], the LLP c's rest-frame direction isotropic or directed into the window cone
    (:func:`mcsim.physics.directed.llp_direction`, scratch ``points``), and its importance weight."""
    m_a, m_b, m_c = _labels(kind, m_x, m_y)
    e_c = (mp * mp + m_c * m_c - s_ab) / (2.0 * mp)
    p_c = math.sqrt(max(e_c * e_c - m_c * m_c, 0.0))
    nx, ny, nz, weight = llp_direction(e, px, py, pz, mp, p_c, e_c, one_minus_cos_w, state, points)
    a, b, c = dalitz_momenta(s_ab, s_bc, mp, m_a, m_b, m_c, e, px, py, pz, nx, ny, nz, state)
    return a, b, c, weight


@kernel(nogil=True)
def generate_three_body(
    parents, kind: int, mp: float, m_x: float, m_y: float, bounds, rng, one_minus_cos_w: float = 0.0
):
    """Three-body decays of parents (n, 4) drawn from |M|^2, boosted to the lab; the LLP's
    (c's) rest-frame direction isotropic, or directed into the window cone
    1 - cos(theta) <= one_minus_cos_w about +z (:mod:`mcsim.physics.directed`).

    Returns (p_a, p_b, p_c, weight, n_overflow) in sampler order: ANOMALY (gamma, M1, M2),
    CHARGED (l, gamma, N); each (n, 4); weight (n,): the importance weights (1: plain).
    """
    n = parents.shape[0]
    s_ab, s_bc, overflow = sample_dalitz(n, kind, mp, m_x, m_y, bounds, rng)
    pa = np.empty((n, 4))
    pb = np.empty((n, 4))
    pc = np.empty((n, 4))
    weight = np.empty(n)
    state = stream(rng)
    points = np.empty(8)  # scratch of llp_direction
    for i in range(n):
        a, b, c, weight[i] = three_body_one(
            s_ab[i],
            s_bc[i],
            kind,
            mp,
            m_x,
            m_y,
            parents[i, 0],
            parents[i, 1],
            parents[i, 2],
            parents[i, 3],
            one_minus_cos_w,
            state,
            points,
        )
        pa[i, 0], pa[i, 1], pa[i, 2], pa[i, 3] = a
        pb[i, 0], pb[i, 1], pb[i, 2], pb[i, 3] = b
        pc[i, 0], pc[i, 1], pc[i, 2], pc[i, 3] = c
    return pa, pb, pc, weight, overflow
