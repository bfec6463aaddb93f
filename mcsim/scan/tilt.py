"""Importance sampling of the meson momentum for refinement passes: a tilt towards the momenta
that fill a task's decisive cells, learnt from the first pass's own events."""

from __future__ import annotations

import numpy as np

from mcsim.detector.propagate import decay_probability, in_energy_window
from mcsim.models.registry import Model
from mcsim.runtime.defaults import (
    BLOCK_SIZE,
)
from mcsim.scan.sums import Task, selected_samples, selection
from mcsim.sources import spectra
from mcsim.sources.base import block_sizes

__all__ = [
    "momentum_tilt",
]


#: Events of the first pass the momentum tilt learns from (its first blocks, regenerated).
_TILT_EVENTS = 2 * BLOCK_SIZE


#: ... and at most this many of those whose photon reaches the calorimeter.
_TILT_HITS = 500


#: ... regenerated first as a prefix of this many events, enough when most events hit.
_TILT_PROBE = 640


#: Decisive couplings per target the tilt is learnt for (spread over them: neighbouring
#: couplings have nearly the same momentum density).
_TILT_COUPLINGS = 4


def _tilt_cells(decisive: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """At most _TILT_COUPLINGS of the decisive (target, coupling) cells per target, spread over
    its decisive couplings (first and last included)."""
    out = []
    for t in sorted({t for t, _ in decisive}):
        ks = sorted(k for tt, k in decisive if tt == t)
        pick = np.unique(np.linspace(0, len(ks) - 1, _TILT_COUPLINGS).round().astype(int))
        out += [(t, ks[i]) for i in pick]
    return out


def _tilt_sample(task: Task, model: Model, channel, source) -> dict[int, tuple]:
    """Per target with decisive cells: (acc_intervals, beta*gamma / P, E_gamma / P) of the
    first _TILT_HITS events among the first pass's first min(n_events, _TILT_EVENTS) whose
    photon reaches the calorimeter, regenerated (a shorter block is a prefix of a longer one,
    :func:`mcsim.sources.base.block_rngs`): first _TILT_PROBE events, all of them only if those hold
    too few hits -- the same sample either way."""
    wanted = {t for t, _ in task.decisive}
    cap = min(task.n_events, _TILT_EVENTS)
    for n in sorted({min(_TILT_PROBE, cap), cap}):
        learnt: dict[int, list[tuple]] = {t: [] for t in wanted}
        for _, per_target in selected_samples(
            task, model, channel, source, block_sizes(n), wanted=wanted
        ):
            for t in wanted:
                hits = per_target[t][0]
                learnt[t].append(
                    (
                        hits.acc_intervals.copy(),
                        hits.beta_gamma / hits.p_meson,
                        hits.e_photon / hits.p_meson,
                    )
                )
        sample = {
            t: tuple(np.concatenate(x)[:_TILT_HITS] for x in zip(*blocks))
            for t, blocks in learnt.items()
        }
        if all(rho.size == _TILT_HITS for _, rho, _ in sample.values()):
            break
    return sample


def momentum_tilt(task: Task, model: Model, channel, source, ratios) -> np.ndarray | None:
    """Importance factors q/p per momentum bin of the channel's spectrum table, towards the
    meson momenta that fill the decisive cells.  Learnt from the first pass's first events
    (regenerated: the same streams) whose photon reaches the calorimeter: the same event at
    meson momentum P has, to a good approximation (ultra-relativistic scaling, angles kept), its
    LLP's beta*gamma and its photon energy times P / p, so its contribution to cell (t, k) at
    any P follows (energy window x exact decay probability in its accepted intervals).  g_k(P),
    the mean over those events, is the cell's yield density per meson; q = p (1 + g / <g>) / 2
    with g the sum of the cells' g_k normalised to their spectrum average (importance weights
    <= 2, unbiased whatever g is).  None when the tilt would not halve the cells' summed
    variance under that model (the selection is not in a tail)."""
    table = spectra.load_table(channel.mother, task.beam)
    centres = 10.0 ** (0.5 * (table.log10p_edges[1:] + table.log10p_edges[:-1]))
    p_marginal = table.counts.sum(axis=1) / table.counts.sum()
    learnt = _tilt_sample(task, model, channel, source)
    plain = tilted = 0.0
    density = np.zeros(centres.size)
    cells = []
    live = np.flatnonzero(p_marginal > 0)
    moved: dict[int, tuple] = {}  # per target: its events moved to each live momentum bin
    for t, k in _tilt_cells(task.decisive):
        if t not in moved:
            acc, rho, eps = learnt[t]
            e_min, e_max, _ = selection(task.targets[t])
            # (bin, event) pairs whose photon energy is inside the window: only they add
            rows, cols = np.nonzero(in_energy_window(np.outer(centres[live], eps), e_min, e_max))
            moved[t] = (rho.size, rows, acc[cols], centres[live][rows] * rho[cols])
        n, rows, acc_moved, beta_gamma = moved[t]
        if n == 0:
            continue
        prob = decay_probability(acc_moved, beta_gamma, model.ctau / ratios[k])
        g = np.zeros(centres.size)  # 0 where the spectrum has no meson: never drawn
        g[live] = np.bincount(rows, weights=prob, minlength=live.size) / n
        norm = p_marginal @ g
        if norm > 0:
            cells.append(g / norm)
            density += g / norm
    if not cells:
        return None
    factor = 0.5 + 0.5 * density / (p_marginal @ density)
    for g in cells:  # per-meson variance ~ g^2 under p, g^2 / factor under q
        plain += p_marginal @ (g * g)
        tilted += p_marginal @ (g * g / factor)
    return factor if tilted < 0.5 * plain else None
