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
2. The production decay: TRIALS isotropic rest-frame directions of the LLP are tried; the LLP
   takes one of the m whose lab direction lies in the cone (uniformly among them) and the
   weight m / TRIALS, so that E[f w] = E[f 1_cone] for any f (m = 0: weight 0).  The trials
   cost a boost each, far less than the propagation the wasted events would cost.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .xoshiro import direction, uniform

__all__ = ["TRIALS", "can_reach", "llp_direction", "meson_tilt", "reach_fraction"]

#: Rest-frame directions tried per event.
TRIALS = 16


def can_reach(p_min, theta_min, *, window: float, m_parent: float, m_llp: float, p_star: float):
    """Whether an LLP of mass m_llp [GeV] with rest-frame momentum <= p_star [GeV] from a meson
    of mass m_parent [GeV], momentum >= p_min [GeV] and polar angle >= theta_min [rad] can fly
    within ``window`` [rad] of the beam axis (arrays broadcast)."""
    s = p_star * m_parent / (m_llp * np.asarray(p_min, dtype=np.float64))
    angle_to_meson = np.where(s >= 1.0, np.pi, np.arcsin(np.minimum(s, 1.0)))
    return np.asarray(theta_min) - angle_to_meson <= window


@nb.njit(cache=True, inline="always")
def llp_direction(e, px, py, pz, m_parent, p_star, e_star, one_minus_cos_w, state):
    """The LLP's rest-frame unit direction and its importance weight, for a parent (mass
    m_parent) of lab 4-momentum (e, px, py, pz) and an LLP of rest-frame momentum p_star and
    energy e_star [GeV]: isotropic with weight 1 when one_minus_cos_w <= 0 (plain sampling),
    else the TRIALS draw of the module docstring for the cone 1 - cos(theta) <= one_minus_cos_w.
    Returns (nx, ny, nz, weight)."""
    if one_minus_cos_w <= 0.0:
        nx, ny, nz = direction(state)
        return nx, ny, nz, 1.0
    gam = e / m_parent
    bx, by, bz = px / e, py / e, pz / e
    hits = 0
    cx, cy, cz = 0.0, 0.0, 1.0
    for _ in range(TRIALS):
        nx, ny, nz = direction(state)
        k = gam * gam / (gam + 1.0) * p_star * (bx * nx + by * ny + bz * nz) + gam * e_star
        lx, ly, lz = p_star * nx + k * bx, p_star * ny + k * by, p_star * nz + k * bz
        lp = math.sqrt(lx * lx + ly * ly + lz * lz)
        if lp - lz <= one_minus_cos_w * lp:
            hits += 1
            if hits == 1 or uniform(state) * hits < 1.0:  # reservoir: uniform among the hits
                cx, cy, cz = nx, ny, nz
    return cx, cy, cz, hits / TRIALS


@nb.njit(cache=True)
def _reach_fraction(p, theta, needed, m_parent, p_star, e_star, one_minus_cos_w, n_trials):
    out = np.zeros((p.size, theta.size))
    state = np.array(
        [0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 1], dtype=np.uint64
    )  # a fixed stream: r is a deterministic function
    for i in range(p.size):
        e = math.sqrt(p[i] * p[i] + m_parent * m_parent)
        for j in range(theta.size):
            if not needed[i, j]:
                continue
            px, pz = p[i] * math.sin(theta[j]), p[i] * math.cos(theta[j])
            hits = 0.0
            for _ in range(n_trials // TRIALS):
                hits += llp_direction(
                    e, px, 0.0, pz, m_parent, p_star, e_star, one_minus_cos_w, state
                )[3]
            out[i, j] = hits / (n_trials // TRIALS)
    return out


def reach_fraction(
    p,
    theta,
    *,
    window: float,
    m_parent: float,
    p_star: float,
    m_llp: float,
    n_trials: int = 256,
    needed=None,
) -> np.ndarray:
    """The chance (len(p), len(theta)) that an LLP (mass m_llp, rest-frame momentum p_star
    [GeV], isotropic) from a meson (mass m_parent) of momentum p [GeV] at polar angle theta
    [rad] flies within ``window`` [rad] of the beam axis, by n_trials rest-frame directions;
    only where the boolean mask ``needed`` (len(p), len(theta)) is true (0 elsewhere)."""
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
        int(n_trials),
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
