"""Three-body decays drawn from the paper's |M|^2 over the Dalitz plot, and their widths.

Two matrix elements (paper Appendix A):

* ``ANOMALY`` -- Eq. (A.4), P0 -> gamma(1) Psi_M1(2) Psi_M2(3), in the paper's variables
  m12^2 (photon + lighter state) and m23^2 (the dark pair);
* ``CHARGED`` -- Eq. (A.7), P+ -> gamma(1) l+(2) N(3).

The sampler labels the daughters (a, b, c) and draws (s_bc, s_ab): s_bc from a proposal in
[s_bc_min, s_bc_max] (uniform, or log-uniform where |M|^2 has a pole near threshold), then s_ab
uniformly inside the Dalitz range at that s_bc.  The weight ``w = |M|^2 x (proposal Jacobian)`` is
both the accept-reject weight of the generator and the integrand of the width in the unit square,
so sampling and integration cannot disagree.

Labelling: ANOMALY uses (a, b, c) = (gamma, M1, M2), so s_ab = m12^2 and s_bc = m23^2.
CHARGED uses (a, b, c) = (l, gamma, N), so s_ab = m12^2 and s_bc = m13^2 (the virtual neutrino,
log-sampled), and the paper's m23^2 = M^2 + M_l^2 + M_N^2 - s_ab - s_bc.
Matrix elements here are without their coupling prefactor (d^2 e^4/(4 pi^4 F^2) for A.4,
16 d^2 G_F^2 f_P^2 |V|^2 for A.7); :mod:`mcsim.production` applies it.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .kinematics import dalitz_momenta_into, dalitz_range

__all__ = [
    "ANOMALY", "CHARGED", "msq_anomaly", "msq_charged", "dalitz_weight", "phase_space_integral",
    "max_weight", "sample_dalitz", "generate_three_body",
]

ANOMALY = 0
CHARGED = 1


@nb.njit(cache=True)
def msq_anomaly(m12sq: float, m23sq: float, mp: float, m1: float, m2: float) -> float:
    """Eq. (A.4) divided by d^2 e^4 / (4 pi^4 F_P^2): P0 -> gamma Psi_M1 Psi_M2 [GeV^0]."""
    mp2 = mp * mp
    m1s = m1 * m1
    m2s = m2 * m2
    br = (mp2 * mp2 * (m23sq * (m2s + 2.0 * m1 * m2 - m1s) - (m1s - m2s) ** 2)
          - m23sq * m23sq * (m1s * m1s - 2.0 * m1s * m12sq - m23sq * (m1 + m2) ** 2
                             + 2.0 * m12sq * m12sq - 2.0 * m12sq * m2s + 2.0 * m12sq * m23sq
                             + m2s * m2s)
          - 2.0 * m23sq * mp2 * ((m1s - m2s) * (m2s - m12sq) + m2 * m23sq * (2.0 * m1 + m2)
                                 - m12sq * m23sq))
    return br / (m23sq * m23sq)


@nb.njit(cache=True)
def msq_charged(m12sq: float, m23sq: float, mp: float, ml: float, mn: float) -> float:
    """Eq. (A.7) divided by 16 d^2 G_F^2 f_P^2 |V|^2: P+ -> gamma l+ N [GeV^-2 x GeV^2 = 1]."""
    mp2 = mp * mp
    ml2 = ml * ml
    mn2 = mn * mn
    den = mp2 + ml2 + mn2 - m23sq - m12sq
    x = mp2 + ml2 - m12sq - m23sq
    y = (m12sq ** 3
         - m12sq * m12sq * (2.0 * mp2 + 2.0 * mn2 + ml2 - 2.0 * m23sq)
         + m12sq * (mn2 * mn2 + 2.0 * mn2 * (mp2 + ml2 - m23sq) + m23sq * m23sq
                    - m23sq * (2.0 * mp2 + ml2) + mp2 * mp2)
         + ml2 * (-mn2 * mn2 - mp2 * (mn2 - ml2 + m23sq) + mn2 * m23sq + mp2 * mp2))
    return x * y / (den * den)


@nb.njit(cache=True)
def _labels(kind: int, mp: float, m_x: float, m_y: float):
    """Masses (m_a, m_b, m_c) in sampler order and whether s_bc is log-sampled."""
    if kind == ANOMALY:
        return 0.0, m_x, m_y, False  # gamma, M1, M2
    return m_x, 0.0, m_y, True  # l, gamma, N


@nb.njit(cache=True)
def dalitz_weight(kind: int, ux: float, uy: float, mp: float, m_x: float, m_y: float):
    """Weight of the point (ux, uy) in the unit square, with its (s_ab, s_bc).

    ``m_x, m_y`` are (M1, M2) for ANOMALY and (M_l, M_N) for CHARGED.  The integral of the weight
    over the unit square equals the integral of |M|^2 over the Dalitz plot in (m12^2, m23^2).
    """
    m_a, m_b, m_c, log_bc = _labels(kind, mp, m_x, m_y)
    lo = (m_b + m_c) ** 2
    hi = (mp - m_a) ** 2
    if log_bc:
        s_bc = lo * math.exp(ux * math.log(hi / lo))
        jac = s_bc * math.log(hi / lo)
    else:
        s_bc = lo + ux * (hi - lo)
        jac = hi - lo
    r_lo, r_hi = dalitz_range(s_bc, mp, m_a, m_b, m_c)
    s_ab = r_lo + uy * (r_hi - r_lo)
    jac *= r_hi - r_lo
    if kind == ANOMALY:
        m = msq_anomaly(s_ab, s_bc, mp, m_x, m_y)
    else:
        m23sq = mp * mp + m_x * m_x + m_y * m_y - s_ab - s_bc
        m = msq_charged(s_ab, m23sq, mp, m_x, m_y)
    return m * jac, s_ab, s_bc


@nb.njit(cache=True)
def _gauss_legendre_sum(kind, mp, m_x, m_y, nodes, wts):
    total = 0.0
    for i in range(nodes.size):
        for j in range(nodes.size):
            w, _, _ = dalitz_weight(kind, nodes[i], nodes[j], mp, m_x, m_y)
            total += wts[i] * wts[j] * w
    return total


def phase_space_integral(kind: int, mp: float, m_x: float, m_y: float, n_nodes: int = 256) -> float:
    """Integral of the (prefactor-free) |M|^2 over the Dalitz plot [GeV^4], Gauss-Legendre."""
    x, w = np.polynomial.legendre.leggauss(n_nodes)
    return float(_gauss_legendre_sum(kind, mp, m_x, m_y, 0.5 * (x + 1.0), 0.5 * w))


@nb.njit(cache=True)
def _grid_max(kind, mp, m_x, m_y, n):
    best = 0.0
    for i in range(n + 1):
        for j in range(n + 1):
            w, _, _ = dalitz_weight(kind, i / n, j / n, mp, m_x, m_y)
            best = max(best, w)
    return best


def max_weight(kind: int, mp: float, m_x: float, m_y: float, n_grid: int = 300,
               margin: float = 1.2) -> float:
    """Upper bound of the sampling weight: grid maximum times a safety margin."""
    return margin * float(_grid_max(kind, mp, m_x, m_y, n_grid))


@nb.njit(cache=True)
def sample_dalitz(n: int, kind: int, mp: float, m_x: float, m_y: float, w_max: float, rng):
    """Draw n Dalitz points (s_ab, s_bc) from |M|^2 by accept-reject.

    Returns (s_ab, s_bc, n_overflow); n_overflow counts trial weights above ``w_max`` (a biased
    sample: callers must treat a non-zero value as an error).
    """
    s_ab = np.empty(n)
    s_bc = np.empty(n)
    overflow = 0
    for i in range(n):
        while True:
            w, sab, sbc = dalitz_weight(kind, rng.random(), rng.random(), mp, m_x, m_y)
            if w > w_max:
                overflow += 1
            if rng.random() * w_max < w:
                s_ab[i] = sab
                s_bc[i] = sbc
                break
    return s_ab, s_bc, overflow


@nb.njit(cache=True)
def generate_three_body(parents, kind: int, mp: float, m_x: float, m_y: float, w_max: float, rng):
    """Three-body decays of parents (n, 4) drawn from |M|^2, boosted to the lab.

    Returns (p_a, p_b, p_c, n_overflow) in sampler order: ANOMALY (gamma, M1, M2),
    CHARGED (l, gamma, N); each (n, 4).
    """
    n = parents.shape[0]
    m_a, m_b, m_c, _ = _labels(kind, mp, m_x, m_y)
    s_ab, s_bc, overflow = sample_dalitz(n, kind, mp, m_x, m_y, w_max, rng)
    pa = np.empty((n, 4))
    pb = np.empty((n, 4))
    pc = np.empty((n, 4))
    for i in range(n):
        dalitz_momenta_into(pa[i], pb[i], pc[i], s_ab[i], s_bc[i], mp, m_a, m_b, m_c,
                            parents[i], rng)
    return pa, pb, pc, overflow
