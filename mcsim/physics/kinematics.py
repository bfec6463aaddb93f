"""Numba kernels for relativistic kinematics: boosts, isotropic two-body decays, Dalitz sampling.

Conventions: a 4-momentum array has shape (n, 4) with columns (E, px, py, pz) in GeV.  The
per-event kernels take and return scalars (4-tuples for 4-vectors) and are inlined into the loops
that call them: passing array views to a helper costs more than the arithmetic.  Every array
kernel that draws random numbers takes an explicit ``numpy.random.Generator`` and seeds its
:mod:`mcsim.physics.xoshiro` stream from it; the same seed gives the same numbers.
"""

from __future__ import annotations

import math

import numpy as np

from mcsim.physics.directed import llp_direction
from mcsim.physics.xoshiro import azimuth, direction, stream
from mcsim.runtime.jit_cache import kernel

__all__ = [
    "boost",
    "dalitz_momenta",
    "dalitz_range",
    "decay_to_llp",
    "decay_two_body",
    "decay_two_body_one",
    "kallen",
    "two_body_along",
    "two_body_momentum",
]


@kernel(inline="always")
def kallen(a: float, b: float, c: float) -> float:
    """Kallen function lambda(a, b, c) = a^2 + b^2 + c^2 - 2ab - 2ac - 2bc."""
    return a * a + b * b + c * c - 2.0 * (a * b + a * c + b * c)


@kernel(inline="always")
def two_body_momentum(m: float, m1: float, m2: float) -> float:
    """Daughter momentum [GeV] in the rest frame of a mass-m parent decaying to m1 + m2."""
    lam = kallen(m * m, m1 * m1, m2 * m2)
    return math.sqrt(max(lam, 0.0)) / (2.0 * m)


@kernel(inline="always")
def boost(q0, q1, q2, q3, e, px, py, pz, m):
    """Boost the rest-frame 4-vector q to the frame where the parent of mass m [GeV] has
    4-momentum (e, px, py, pz); returns the 4-tuple.  Uses (gamma - 1)/beta^2 = gamma^2/(gamma + 1),
    exact and stable for a parent at rest."""
    g = e / m
    bx, by, bz = px / e, py / e, pz / e
    bq = bx * q1 + by * q2 + bz * q3
    k = g * g / (g + 1.0) * bq + g * q0
    return g * (q0 + bq), q1 + k * bx, q2 + k * by, q3 + k * bz


@kernel(inline="always")
def two_body_along(e, px, py, pz, m, p_star, e_a_star, ux, uy, uz):
    """Decay of a parent (mass m, lab 4-momentum (e, px, py, pz)) into a + b with a along the
    rest-frame unit vector u (rest-frame momentum p_star, energy e_a_star [GeV]).  Returns the
    lab 4-tuples (a, b).  a is boosted; b = parent - a, so 4-momentum is conserved to rounding.
    A massless a (e_a_star == p_star) gets E = |p|, exactly on its mass shell: boosting a soft,
    backward photon loses ~gamma^2 x 1e-16 of its E - |p|, and the massive b absorbs it."""
    ae, ax, ay, az = boost(e_a_star, p_star * ux, p_star * uy, p_star * uz, e, px, py, pz, m)
    if e_a_star == p_star:
        ae = math.sqrt(ax * ax + ay * ay + az * az)
    return (ae, ax, ay, az), (e - ae, px - ax, py - ay, pz - az)


@kernel(inline="always")
def decay_two_body_one(e, px, py, pz, m, p_star, e_a_star, state):
    """One isotropic (rest frame) decay of a parent into a + b (see :func:`two_body_along`).
    ``state``: the kernel's :mod:`mcsim.physics.xoshiro` state."""
    ux, uy, uz = direction(state)
    return two_body_along(e, px, py, pz, m, p_star, e_a_star, ux, uy, uz)


@kernel(inline="always")
def to_llp_one(e, px, py, pz, m_parent, p_star, e_inv, e_llp, one_minus_cos_w, state, points):
    """One production decay parent (e, px, py, pz) [GeV] -> invisible + LLP with rest-frame
    momentum p_star, the LLP's direction isotropic or directed into the window cone
    (:func:`mcsim.physics.directed.llp_direction`, scratch ``points``).  Returns (invisible, LLP,
    weight): the invisible partner boosted (exactly on shell when massless), the LLP the rest."""
    nx, ny, nz, weight = llp_direction(
        e, px, py, pz, m_parent, p_star, e_llp, one_minus_cos_w, state, points
    )
    a, b = two_body_along(e, px, py, pz, m_parent, p_star, e_inv, -nx, -ny, -nz)
    return a, b, weight


@kernel(nogil=True)
def decay_to_llp(parents, m_parent: float, m_inv: float, m_llp: float, one_minus_cos_w: float, rng):
    """Two-body production decays parent -> invisible + LLP of parents (n, 4) (:func:`to_llp_one`,
    one stream of ``rng``), the LLP's rest-frame direction isotropic (one_minus_cos_w <= 0) or
    directed into the window cone 1 - cos(theta) <= one_minus_cos_w about +z
    (:mod:`mcsim.physics.directed`).  Returns (p_inv, p_llp, weight): (n, 4), (n, 4) and the
    importance weights (n,) (1 for plain sampling)."""
    n = parents.shape[0]
    p_inv = np.empty((n, 4))
    p_llp = np.empty((n, 4))
    weight = np.empty(n)
    p_star = two_body_momentum(m_parent, m_inv, m_llp)
    e_inv = math.sqrt(p_star * p_star + m_inv * m_inv)
    e_llp = math.sqrt(p_star * p_star + m_llp * m_llp)
    state = stream(rng)
    points = np.empty(8)  # scratch of llp_direction
    for i in range(n):
        e, px, py, pz = parents[i, 0], parents[i, 1], parents[i, 2], parents[i, 3]
        a, b, weight[i] = to_llp_one(
            e, px, py, pz, m_parent, p_star, e_inv, e_llp, one_minus_cos_w, state, points
        )
        p_inv[i, 0], p_inv[i, 1], p_inv[i, 2], p_inv[i, 3] = a
        p_llp[i, 0], p_llp[i, 1], p_llp[i, 2], p_llp[i, 3] = b
    return p_inv, p_llp, weight


@kernel(nogil=True)
def decay_two_body(parents, m_parent: float, m_a: float, m_b: float, rng):
    """Vectorised isotropic two-body decays of parents (n, 4); returns (p_a, p_b), each (n, 4)."""
    n = parents.shape[0]
    pa = np.empty((n, 4))
    pb = np.empty((n, 4))
    p_star = two_body_momentum(m_parent, m_a, m_b)
    e_a_star = math.sqrt(p_star * p_star + m_a * m_a)
    state = stream(rng)
    for i in range(n):
        a, b = decay_two_body_one(
            parents[i, 0],
            parents[i, 1],
            parents[i, 2],
            parents[i, 3],
            m_parent,
            p_star,
            e_a_star,
            state,
        )
        pa[i, 0], pa[i, 1], pa[i, 2], pa[i, 3] = a
        pb[i, 0], pb[i, 1], pb[i, 2], pb[i, 3] = b
    return pa, pb


@kernel(inline="always")
def dalitz_range(s_bc: float, big_m: float, m_a: float, m_b: float, m_c: float):
    """Range (lo, hi) of s_ab = m_ab^2 at fixed s_bc = m_bc^2 for big_m -> a b c (PDG kinematics)."""
    m_bc = math.sqrt(s_bc)
    e_b = (s_bc - m_c * m_c + m_b * m_b) / (2.0 * m_bc)
    e_a = (big_m * big_m - s_bc - m_a * m_a) / (2.0 * m_bc)
    p_b = math.sqrt(max(e_b * e_b - m_b * m_b, 0.0))
    p_a = math.sqrt(max(e_a * e_a - m_a * m_a, 0.0))
    s = (e_a + e_b) ** 2
    return s - (p_a + p_b) ** 2, s - (p_a - p_b) ** 2


@kernel(inline="always")
def _perpendicular(nx, ny, nz, cp, sp):
    """The unit vector perpendicular to n at azimuth psi about n, given (cos psi, sin psi)."""
    if abs(nz) < 0.9:
        tx, ty, tz = -ny, nx, 0.0
    else:
        tx, ty, tz = 0.0, -nz, ny
    tn = math.sqrt(tx * tx + ty * ty + tz * tz)
    tx, ty, tz = tx / tn, ty / tn, tz / tn
    wx, wy, wz = ny * tz - nz * ty, nz * tx - nx * tz, nx * ty - ny * tx
    return cp * tx + sp * wx, cp * ty + sp * wy, cp * tz + sp * wz


@kernel(inline="always")
def _to_lab(q, m, e, px, py, pz, big_m):
    """The rest-frame 4-vector q of a daughter of mass m boosted to the lab (parent (e, px, py,
    pz) of mass big_m); a massless daughter gets E = |p|, exactly on its mass shell."""
    le, lx, ly, lz = boost(q[0], q[1], q[2], q[3], e, px, py, pz, big_m)
    if m == 0.0:
        le = math.sqrt(lx * lx + ly * ly + lz * lz)
    return le, lx, ly, lz


@kernel(inline="always")
def _recoil(e, px, py, pz, x, y):
    """The parent (e, px, py, pz) minus the 4-tuples x and y."""
    return e - x[0] - y[0], px - x[1] - y[1], py - x[2] - y[2], pz - x[3] - y[3]


@kernel(inline="always")
def dalitz_momenta(s_ab, s_bc, big_m, m_a, m_b, m_c, e, px, py, pz, nx, ny, nz, state):
    """Momenta of big_m -> a b c at the Dalitz point (s_ab, s_bc), with c along the rest-frame
    unit vector n and a at a random azimuth about it (uniform over rotations when n is
    isotropic), boosted to the lab, where the parent has 4-momentum (e, px, py, pz).  Returns the
    lab 4-tuples (a, b, c).  The two lighter daughters are boosted (a massless one gets
    E = |p|, see :func:`two_body_along`) and the heaviest is the parent minus them, so
    4-momentum is conserved to rounding and a soft photon stays on its mass shell.
    ``state``: the kernel's :mod:`mcsim.physics.xoshiro` state."""
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
    # c along n; a at angle acos(cos_ac) from n, at a random azimuth about n
    cos_psi, sin_psi = azimuth(state)
    ex, ey, ez = _perpendicular(nx, ny, nz, cos_psi, sin_psi)
    qc = (e_c, p_c * nx, p_c * ny, p_c * nz)
    qa = (
        e_a,
        p_a * (cos_ac * nx + sin_ac * ex),
        p_a * (cos_ac * ny + sin_ac * ey),
        p_a * (cos_ac * nz + sin_ac * ez),
    )
    qb = (big_m - e_a - e_c, -qa[1] - qc[1], -qa[2] - qc[2], -qa[3] - qc[3])
    if m_b >= m_a and m_b >= m_c:
        a = _to_lab(qa, m_a, e, px, py, pz, big_m)
        c = _to_lab(qc, m_c, e, px, py, pz, big_m)
        b = _recoil(e, px, py, pz, a, c)
    elif m_a >= m_c:
        b = _to_lab(qb, m_b, e, px, py, pz, big_m)
        c = _to_lab(qc, m_c, e, px, py, pz, big_m)
        a = _recoil(e, px, py, pz, b, c)
    else:
        a = _to_lab(qa, m_a, e, px, py, pz, big_m)
        b = _to_lab(qb, m_b, e, px, py, pz, big_m)
        c = _recoil(e, px, py, pz, a, b)
    return a, b, c
