"""Directed sampling: spend the events on long-lived particles (LLPs) that can reach the
detector, with exact importance weights.

Two steps, each unbiased on its own, for a detector inside the cone of half-angle theta_w about
the beam axis (+z) -- the largest polar angle of its decay volume, so that no LLP outside the
cone can decay inside it:

1. The meson: its spectrum table is sampled with bin (p, theta) tilted by the chance r that its
   LLP points into the cone (:func:`reach_fraction`, estimated at the bin centre), floored at
   a fraction of the largest, and not at all in the bins from which no LLP can fly into the
   cone (:func:`can_reach`: the LLP's angle to the meson is at most asin(p*_max M / (m_LLP p)),
   any angle when that exceeds 1) -- they give zero weight at every coupling.  Each meson
   carries the weight p/q of its bin.
2. The production decay, in the meson's rest frame, about its flight direction: the LLP's
   lab angle alpha to the meson follows from cos(theta*) alone, and its lab direction can lie
   in the cone only for alpha in [theta_m - theta_w, theta_m + theta_w] (theta_m: the meson's
   polar angle).  cos(theta*) is drawn uniformly from the set S where it does (one or two
   intervals, from the roots of a quadratic), then the azimuth about the meson uniformly from
   the window |phi| <= half(alpha) that keeps the LLP in the cone (spherical law of cosines).
   The weight |S| / 2 x half / pi is the ratio of the isotropic density to this one, so that
   E[f w] = E[f 1_cone] for any f; every LLP drawn points into the cone (weight 0 only where
   S is empty).  It costs about as much as an isotropic draw.
3. The LLP's decay (:func:`photon_direction`): the photon's lab energy is
   gamma p* (1 + beta cos theta*), so only cos(theta*) in one interval passes the selection's
   photon-energy window; it is drawn uniformly there, with the weight half the interval's
   length (the chance of an isotropic photon to be in it).  Weight 0 where no photon can pass.
"""

from __future__ import annotations

import math

import numpy as np

from mcsim.physics.xoshiro import azimuth, direction, uniform
from mcsim.runtime.jit_cache import kernel

__all__ = ["can_reach", "llp_direction", "meson_tilt", "photon_direction", "reach_fraction"]


def can_reach(p_min, theta_min, *, window: float, m_parent: float, m_llp: float, p_star: float):
    """Whether an LLP of mass m_llp [GeV] with rest-frame momentum <= p_star [GeV] from a meson
    of mass m_parent [GeV], momentum >= p_min [GeV] and polar angle >= theta_min [rad] can fly
    within ``window`` [rad] of the beam axis (arrays broadcast)."""
    s = p_star * m_parent / (m_llp * np.asarray(p_min, dtype=np.float64))
    angle_to_meson = np.where(s >= 1.0, np.pi, np.arcsin(np.minimum(s, 1.0)))
    return np.asarray(theta_min) - angle_to_meson <= window


@kernel(inline="always")
def _add_roots(cos_x, sin_x, a, b, gam, points, n):
    """Append to ``points`` (from index n) the roots in (-1, 1) of
    gam^2 sin^2(x) (a c + b)^2 - cos^2(x) a^2 (1 - c^2): the cos(theta*) = c at which the LLP's
    lab angle to its parent can cross x (a = p*, b = beta_parent e* [GeV]); returns the count."""
    g = gam * gam * sin_x * sin_x
    k2 = cos_x * cos_x * a * a
    qa = g * a * a + k2
    qb = 2.0 * g * a * b
    qc = g * b * b - k2
    disc = qb * qb - 4.0 * qa * qc
    if qa <= 0.0 or disc < 0.0:
        return n
    q = -0.5 * (qb + math.copysign(math.sqrt(disc), qb))  # no cancellation
    for r in (q / qa, qc / q if q != 0.0 else 2.0):
        if -1.0 < r < 1.0:
            points[n] = r
            n += 1
    return n


@kernel(inline="always")
def _in_range(c, a, b, gam, cos_lo, sin_lo, cos_hi, sin_hi):
    """Whether the LLP's lab angle alpha to its parent lies in [lo, hi] for cos(theta*) = c:
    sin(hi - alpha) >= 0 and sin(alpha - lo) >= 0, times the LLP's lab momentum."""
    p_par = gam * (a * c + b)
    p_perp = a * math.sqrt(max(1.0 - c * c, 0.0))
    return sin_hi * p_par - cos_hi * p_perp >= 0.0 and cos_lo * p_perp - sin_lo * p_par >= 0.0


@kernel(inline="always")
def _across(bx, by, bz, sin_b):
    """Unit vectors e1, e2 across the unit vector b (sin_b = its sine to +z): e1 in the plane of
    b and +z, towards +z (x if b is along z), e2 = b x e1."""
    if sin_b > 0.0:
        e1x, e1y, e1z = -bz * bx / sin_b, -bz * by / sin_b, sin_b
    else:
        e1x, e1y, e1z = 1.0, 0.0, 0.0
    return (e1x, e1y, e1z), (by * e1z - bz * e1y, bz * e1x - bx * e1z, bx * e1y - by * e1x)


@kernel(inline="always")
def _parent_frame(e, px, py, pz, m_parent, p_star, e_star):
    """The parent's unit flight direction b, the sine of its polar angle theta_m, its Lorentz
    factor, and a = p*, b = beta_parent e* [GeV] of the LLP: (bx, by, bz, sin_m, gam, a, b)."""
    p = math.sqrt(px * px + py * py + pz * pz)
    bx, by, bz = (px / p, py / p, pz / p) if p > 0.0 else (0.0, 0.0, 1.0)
    return bx, by, bz, math.sqrt(bx * bx + by * by), e / m_parent, p_star, p / e * e_star


@kernel(inline="always")
def _cone_set(bz, sin_m, gam, a, b, one_minus_cos_w, points):
    """S: the cos(theta*) whose LLP's lab angle to its parent lies in [theta_m - theta_w,
    theta_m + theta_w], as the sorted ``points`` [0, n) and a bit mask ``inside`` (bit j:
    sub-interval j in S); returns (n, inside, total), total the length of S."""
    cos_w = 1.0 - one_minus_cos_w
    sin_w = math.sqrt(one_minus_cos_w * (2.0 - one_minus_cos_w))
    # [lo, hi] = [theta_m - theta_w, theta_m + theta_w] within [0, pi], as cosines and sines
    cos_lo, sin_lo = 1.0, 0.0
    if bz < cos_w:  # theta_m > theta_w
        cos_lo, sin_lo = bz * cos_w + sin_m * sin_w, sin_m * cos_w - bz * sin_w
    cos_hi, sin_hi = bz * cos_w - sin_m * sin_w, sin_m * cos_w + bz * sin_w
    if sin_hi < 0.0:  # theta_m + theta_w > pi
        cos_hi, sin_hi = -1.0, 0.0
    points[0], points[1] = -1.0, 1.0
    n = _add_roots(cos_lo, sin_lo, a, b, gam, points, 2)
    n = _add_roots(cos_hi, sin_hi, a, b, gam, points, n)
    if a > 0.0 and -1.0 < -b / a < 1.0:  # where the angle passes 90 degrees
        points[n] = -b / a
        n += 1
    for i in range(1, n):  # insertion sort of at most 7 points
        x, j = points[i], i - 1
        while j >= 0 and points[j] > x:
            points[j + 1] = points[j]
            j -= 1
        points[j + 1] = x
    total, inside = 0.0, 0
    for j in range(n - 1):
        mid = 0.5 * (points[j] + points[j + 1])
        if points[j + 1] > points[j] and _in_range(mid, a, b, gam, cos_lo, sin_lo, cos_hi, sin_hi):
            total += points[j + 1] - points[j]
            inside |= 1 << j
    return n, inside, total


@kernel(inline="always")
def _in_set(points, n, inside, t):
    """The cos(theta*) at length t (0 <= t < total) along the set S of :func:`_cone_set`."""
    for j in range(n - 1):
        if inside >> j & 1:
            width = points[j + 1] - points[j]
            if t < width:
                return points[j] + t
            t -= width
    return points[n - 1]


@kernel(inline="always")
def _azimuth_window(c, bz, sin_m, gam, a, b, one_minus_cos_w):
    """half: the azimuths |phi| <= half about the parent that keep an LLP at cos(theta*) = c in
    the cone, by the spherical law of cosines in haversines, hav(theta) = hav(alpha - theta_m)
    + sin alpha sin theta_m hav(phi) <= hav(theta_w), with hav(x) = sin^2(x / 2) (exact for
    small angles); returns (half, sin(theta*))."""
    s = math.sqrt(max(1.0 - c * c, 0.0))
    p_par, p_perp = gam * (a * c + b), a * s
    p_lab = math.sqrt(p_par * p_par + p_perp * p_perp)
    cos_a, sin_a = (p_par / p_lab, p_perp / p_lab) if p_lab > 0.0 else (1.0, 0.0)
    sin_d, cos_d = sin_a * bz - cos_a * sin_m, cos_a * bz + sin_a * sin_m  # of alpha - theta_m
    hav_d = sin_d * sin_d / (2.0 * (1.0 + cos_d)) if cos_d > 0.0 else 0.5 * (1.0 - cos_d)
    num, den = 0.5 * one_minus_cos_w - hav_d, sin_a * sin_m
    if num >= den:
        return math.pi, s
    if num <= 0.0:
        return 0.0, s
    return 2.0 * math.asin(math.sqrt(num / den)), s


@kernel(inline="always")
def llp_direction(e, px, py, pz, m_parent, p_star, e_star, one_minus_cos_w, state, points):
    """The LLP's rest-frame unit direction and its importance weight, for a parent (mass
    m_parent) of lab 4-momentum (e, px, py, pz) and an LLP of rest-frame momentum p_star and
    energy e_star [GeV]: isotropic with weight 1 when one_minus_cos_w <= 0 (plain sampling),
    else drawn into the cone 1 - cos(theta) <= one_minus_cos_w about +z as the module docstring
    says.  ``points``: scratch space of 8 doubles.  Returns (nx, ny, nz, weight)."""
    if one_minus_cos_w <= 0.0:
        nx, ny, nz = direction(state)
        return nx, ny, nz, 1.0
    bx, by, bz, sin_m, gam, a, b = _parent_frame(e, px, py, pz, m_parent, p_star, e_star)
    n, inside, total = _cone_set(bz, sin_m, gam, a, b, one_minus_cos_w, points)
    if not total > 0.0:  # no direction reaches the cone
        nx, ny, nz = direction(state)
        return nx, ny, nz, 0.0
    c = _in_set(points, n, inside, uniform(state) * total)
    half, s = _azimuth_window(c, bz, sin_m, gam, a, b, one_minus_cos_w)
    phi = (2.0 * uniform(state) - 1.0) * half
    (e1x, e1y, e1z), (e2x, e2y, e2z) = _across(bx, by, bz, sin_m)
    cp, sp = s * math.cos(phi), s * math.sin(phi)
    return (
        c * bx + cp * e1x + sp * e2x,
        c * by + cp * e1y + sp * e2y,
        c * bz + cp * e1z + sp * e2z,
        0.5 * total * half / math.pi,
    )


@kernel(inline="always")
def photon_direction(e, pabs, ux, uy, uz, m_llp, p_star, e_lo, e_hi, directed, state):
    """The photon's rest-frame unit direction in LLP -> X gamma (rest-frame photon energy
    p_star [GeV]) for an LLP of lab energy e and momentum pabs [GeV] along the unit vector u,
    and its importance weight: isotropic with weight 1 unless ``directed``; then as step 3 of
    the module docstring, for the photon-energy window [e_lo, e_hi] [GeV].  Returns
    (dx, dy, dz, weight)."""
    if not directed:
        dx, dy, dz = direction(state)
        return dx, dy, dz, 1.0
    return _photon_in_window(e, pabs, ux, uy, uz, m_llp, p_star, e_lo, e_hi, state)


@kernel()  # a call, not inlined: the plain kernels' loops stay as lean as before
def _photon_in_window(e, pabs, ux, uy, uz, m_llp, p_star, e_lo, e_hi, state):
    k = e / m_llp * p_star  # the photon's lab energy is k (1 + beta cos theta*)
    beta = pabs / e
    c_lo, c_hi = -1.0, 1.0
    if beta > 0.0:
        c_lo = max((e_lo / k - 1.0) / beta, -1.0)
        c_hi = min((e_hi / k - 1.0) / beta, 1.0)
    elif not e_lo <= k <= e_hi:
        c_lo = c_hi
    width = c_hi - c_lo
    if not width > 0.0:  # no photon of this LLP passes the selection
        dx, dy, dz = direction(state)
        return dx, dy, dz, 0.0
    c = c_lo + uniform(state) * width
    cos_phi, sin_phi = azimuth(state)
    s = math.sqrt(max(1.0 - c * c, 0.0))
    (e1x, e1y, e1z), (e2x, e2y, e2z) = _across(ux, uy, uz, math.sqrt(ux * ux + uy * uy))
    return (  # the azimuth counted from -e1
        c * ux - s * (cos_phi * e1x + sin_phi * e2x),
        c * uy - s * (cos_phi * e1y + sin_phi * e2y),
        c * uz - s * (cos_phi * e1z + sin_phi * e2z),
        0.5 * width,
    )


@kernel()
def _reach_fraction(p, theta, needed, m_parent, p_star, e_star, one_minus_cos_w, n_nodes):
    out = np.zeros((p.size, theta.size))
    points = np.empty(8)
    for i in range(p.size):
        e = math.sqrt(p[i] * p[i] + m_parent * m_parent)
        for j in range(theta.size):
            if not needed[i, j]:
                continue
            px, pz = p[i] * math.sin(theta[j]), p[i] * math.cos(theta[j])
            _, _, bz, sin_m, gam, a, b = _parent_frame(e, px, 0.0, pz, m_parent, p_star, e_star)
            n, inside, total = _cone_set(bz, sin_m, gam, a, b, one_minus_cos_w, points)
            if not total > 0.0:
                continue
            halves = 0.0  # r = the integral of half(c) / (2 pi) over S, by the midpoint rule
            for k in range(n_nodes):
                c = _in_set(points, n, inside, (k + 0.5) / n_nodes * total)
                halves += _azimuth_window(c, bz, sin_m, gam, a, b, one_minus_cos_w)[0]
            out[i, j] = total / n_nodes * halves / (2.0 * math.pi)
    return out


def reach_fraction(
    p,
    theta,
    *,
    window: float,
    m_parent: float,
    p_star: float,
    m_llp: float,
    n_nodes: int = 4,
    needed=None,
) -> np.ndarray:
    """The chance (len(p), len(theta)) that an LLP (mass m_llp, rest-frame momentum p_star
    [GeV], isotropic) from a meson (mass m_parent) of momentum p [GeV] at polar angle theta
    [rad] flies within ``window`` [rad] of the beam axis: the integral over the set S of
    cos(theta*) that can (module docstring, step 2) of the azimuth window about the meson, by
    the midpoint rule with n_nodes nodes; only where the boolean mask ``needed`` (len(p),
    len(theta)) is true (0 elsewhere)."""
    e_star = math.sqrt(p_star * p_star + m_llp * m_llp)
    p = np.ascontiguousarray(p, dtype=np.float64)
    theta = np.ascontiguousarray(theta, dtype=np.float64)
    if needed is None:
        needed = np.ones((p.size, theta.size), dtype=np.bool_)
    return _reach_fraction(
        p,
        theta,
        np.ascontiguousarray(needed, dtype=np.bool_),
        float(m_parent),
        float(p_star),
        e_star,
        2.0 * math.sin(0.5 * window) ** 2,
        int(n_nodes),
    )


#: Floor of the meson tilt, as a fraction of the largest reach fraction of the table.
TILT_FLOOR = 0.02


def meson_tilt(
    log10p_edges,
    log10theta_edges,
    counts,
    *,
    window: float,
    m_parent: float,
    m_llp: float,
    p_star: float,
) -> np.ndarray | None:
    """The factor q/p (n_p, n_theta) over the bins of a spectrum table for directed sampling
    (module docstring, step 1); None when no bin can send its LLP into the window."""
    p_lo, t_lo = 10.0 ** log10p_edges[:-1], 10.0 ** log10theta_edges[:-1]
    p_mid = 10.0 ** (0.5 * (log10p_edges[1:] + log10p_edges[:-1]))
    t_mid = 10.0 ** (0.5 * (log10theta_edges[1:] + log10theta_edges[:-1]))
    ok = can_reach(
        p_lo[:, None], t_lo[None, :], window=window, m_parent=m_parent, m_llp=m_llp, p_star=p_star
    )
    prob = counts / counts.sum()
    r = reach_fraction(
        p_mid,
        t_mid,
        window=window,
        m_parent=m_parent,
        p_star=p_star,
        m_llp=m_llp,
        needed=ok & (prob > 0),
    )  # empty bins are never drawn
    if not np.any(ok & (prob > 0)):
        return None
    tilt = np.where(ok, np.maximum(r, TILT_FLOOR * r.max()), 0.0)
    if not tilt.max() > 0:
        tilt = ok.astype(np.float64)
    return tilt / np.sum(prob * tilt)
