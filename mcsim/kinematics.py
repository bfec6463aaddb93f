"""Numba kernels for relativistic kinematics: boosts, isotropic two-body decays, Dalitz sampling.

Conventions: a 4-momentum array has shape (n, 4) with columns (E, px, py, pz) in GeV; single
4-vectors are length-4 arrays in the same order.  Every kernel that draws random numbers takes an
explicit ``numpy.random.Generator``; the same seed gives the same numbers.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

__all__ = [
    "kallen",
    "two_body_momentum",
    "boost_into",
    "isotropic_direction",
    "decay_two_body_into",
    "decay_two_body",
    "dalitz_range",
    "dalitz_momenta_into",
]


@nb.njit(cache=True)
def kallen(a: float, b: float, c: float) -> float:
    """Kallen function lambda(a, b, c) = a^2 + b^2 + c^2 - 2ab - 2ac - 2bc."""
    return a * a + b * b + c * c - 2.0 * (a * b + a * c + b * c)


@nb.njit(cache=True)
def two_body_momentum(m: float, m1: float, m2: float) -> float:
    """Daughter momentum [GeV] in the rest frame of a mass-m parent decaying to m1 + m2."""
    lam = kallen(m * m, m1 * m1, m2 * m2)
    return math.sqrt(max(lam, 0.0)) / (2.0 * m)


@nb.njit(cache=True)
def boost_into(out, q, parent, m_parent: float) -> None:
    """Boost the rest-frame 4-vector ``q`` to the frame where the parent has 4-momentum ``parent``.

    Writes into ``out`` (may alias ``q``).  Uses (gamma - 1)/beta^2 = gamma^2/(gamma + 1), which is
    exact and stable for a parent at rest.
    """
    g = parent[0] / m_parent
    bx = parent[1] / parent[0]
    by = parent[2] / parent[0]
    bz = parent[3] / parent[0]
    bq = bx * q[1] + by * q[2] + bz * q[3]
    k = g * g / (g + 1.0) * bq + g * q[0]
    e = g * (q[0] + bq)
    out[1] = q[1] + k * bx
    out[2] = q[2] + k * by
    out[3] = q[3] + k * bz
    out[0] = e


@nb.njit(cache=True)
def isotropic_direction(rng):
    """A unit vector drawn uniformly on the sphere; returns (ux, uy, uz)."""
    cos_t = 2.0 * rng.random() - 1.0
    sin_t = math.sqrt(max(0.0, 1.0 - cos_t * cos_t))
    phi = 2.0 * math.pi * rng.random()
    return sin_t * math.cos(phi), sin_t * math.sin(phi), cos_t


@nb.njit(cache=True)
def decay_two_body_into(out_a, out_b, parent, m_parent: float, m_a: float, m_b: float, rng) -> None:
    """Isotropic (rest frame) decay parent -> a + b, boosted to the frame of ``parent``.

    ``out_a`` and ``out_b`` are length-4 arrays filled with the daughters' 4-momenta; b is
    obtained as parent - a, so 4-momentum is conserved to rounding.
    """
    p = two_body_momentum(m_parent, m_a, m_b)
    ux, uy, uz = isotropic_direction(rng)
    out_a[0] = math.sqrt(p * p + m_a * m_a)
    out_a[1] = p * ux
    out_a[2] = p * uy
    out_a[3] = p * uz
    boost_into(out_a, out_a, parent, m_parent)
    for k in range(4):
        out_b[k] = parent[k] - out_a[k]


@nb.njit(cache=True)
def decay_two_body(parents, m_parent: float, m_a: float, m_b: float, rng):
    """Vectorised isotropic two-body decays of parents (n, 4); returns (p_a, p_b), each (n, 4)."""
    n = parents.shape[0]
    pa = np.empty((n, 4))
    pb = np.empty((n, 4))
    for i in range(n):
        decay_two_body_into(pa[i], pb[i], parents[i], m_parent, m_a, m_b, rng)
    return pa, pb


@nb.njit(cache=True)
def dalitz_range(s_bc: float, big_m: float, m_a: float, m_b: float, m_c: float):
    """Range (lo, hi) of s_ab = m_ab^2 at fixed s_bc = m_bc^2 for big_m -> a b c (PDG kinematics)."""
    m_bc = math.sqrt(s_bc)
    e_b = (s_bc - m_c * m_c + m_b * m_b) / (2.0 * m_bc)
    e_a = (big_m * big_m - s_bc - m_a * m_a) / (2.0 * m_bc)
    p_b = math.sqrt(max(e_b * e_b - m_b * m_b, 0.0))
    p_a = math.sqrt(max(e_a * e_a - m_a * m_a, 0.0))
    s = (e_a + e_b) ** 2
    return s - (p_a + p_b) ** 2, s - (p_a - p_b) ** 2


@nb.njit(cache=True)
def dalitz_momenta_into(out_a, out_b, out_c, s_ab: float, s_bc: float, big_m: float,
                        m_a: float, m_b: float, m_c: float, parent, rng) -> None:
    """Rest-frame momenta of big_m -> a b c at the Dalitz point (s_ab, s_bc), randomly oriented
    (uniform over rotations) and boosted to the frame of ``parent``."""
    e_a = (big_m * big_m + m_a * m_a - s_bc) / (2.0 * big_m)
    e_c = (big_m * big_m + m_c * m_c - s_ab) / (2.0 * big_m)
    p_a = math.sqrt(max(e_a * e_a - m_a * m_a, 0.0))
    p_c = math.sqrt(max(e_c * e_c - m_c * m_c, 0.0))
    s_ac = big_m * big_m + m_a * m_a + m_b * m_b + m_c * m_c - s_ab - s_bc
    if p_a > 0.0 and p_c > 0.0:
        cos_ac = (2.0 * e_a * e_c - (s_ac - m_a * m_a - m_c * m_c)) / (2.0 * p_a * p_c)
        cos_ac = min(1.0, max(-1.0, cos_ac))
    else:
        cos_ac = 1.0
    sin_ac = math.sqrt(1.0 - cos_ac * cos_ac)
    # a along the random axis n, c in the plane spanned by n and a random perpendicular e1.
    nx, ny, nz = isotropic_direction(rng)
    # an orthonormal pair (e1, e2) perpendicular to n, rotated by a random azimuth
    if abs(nz) < 0.9:
        tx, ty, tz = -ny, nx, 0.0
    else:
        tx, ty, tz = 0.0, -nz, ny
    tn = math.sqrt(tx * tx + ty * ty + tz * tz)
    tx, ty, tz = tx / tn, ty / tn, tz / tn
    wx, wy, wz = ny * tz - nz * ty, nz * tx - nx * tz, nx * ty - ny * tx
    psi = 2.0 * math.pi * rng.random()
    cp, sp = math.cos(psi), math.sin(psi)
    e1x, e1y, e1z = cp * tx + sp * wx, cp * ty + sp * wy, cp * tz + sp * wz
    out_a[0] = e_a
    out_a[1] = p_a * nx
    out_a[2] = p_a * ny
    out_a[3] = p_a * nz
    out_c[0] = e_c
    out_c[1] = p_c * (cos_ac * nx + sin_ac * e1x)
    out_c[2] = p_c * (cos_ac * ny + sin_ac * e1y)
    out_c[3] = p_c * (cos_ac * nz + sin_ac * e1z)
    out_b[1] = -out_a[1] - out_c[1]
    out_b[2] = -out_a[2] - out_c[2]
    out_b[3] = -out_a[3] - out_c[3]
    out_b[0] = big_m - e_a - e_c
    boost_into(out_a, out_a, parent, big_m)
    boost_into(out_b, out_b, parent, big_m)
    boost_into(out_c, out_c, parent, big_m)
