"""Reach grids from task results: per target the expected events and their Monte Carlo
variance at every (mass, coupling) cell, the cells that decide the contours, and their
quality."""

from __future__ import annotations

import numpy as np

from mcsim.detector.cards import detector_exposure
from mcsim.scan.family import Family
from mcsim.scan.reach import ReachGrid, recast_upper_limit
from mcsim.scan.sums import Target, Task, TaskResult, detector_of, n_mesons, selection
from mcsim.weights import channel_normalisation

__all__ = [
    "cell_sums",
    "check_open",
    "contour_quality",
    "decisive_cells",
    "make_grids",
    "of_job",
    "production",
    "relative_error",
]


def of_job(family: Family, targets, tasks, results) -> list[tuple[Task, TaskResult]]:
    """The (task, result) pairs of the job (family, targets)."""
    return [
        (t, r) for t, r in zip(tasks, results) if t.family == family and t.targets[0] in targets
    ]


def check_open(jobs, tasks, results, masses) -> None:
    """ValueError for a job whose first pass found no open production channel at any mass."""
    for family, targets in jobs:
        if not any(r.channels for _, r in of_job(family, targets, tasks, results)):
            raise ValueError(
                f"{family.name}: every production channel is closed (or its meson not made by "
                f"the beam) for masses {masses[0]:g}-{masses[-1]:g} GeV; nothing to scan"
            )


def make_grids(jobs, tasks, results, masses, couplings, n_events, seed) -> list[list[ReachGrid]]:
    out = []
    for family, targets in jobs:
        job = of_job(family, targets, tasks, results)
        out.append(
            [_grid(family, target, masses, couplings, job, n_events, seed) for target in targets]
        )
    return out


def cell_sums(target: Target, task: Task, result: TaskResult):
    """Yield and variance (n_couplings,) of ``target`` from one task, and the per-channel
    variances (mother -> array): sum_c norm_c s1_c and sum_c norm_c^2 (s2_c - m2_c), with
    norm_c = efficiency x N_M x BR(d_ref) / n_c (:func:`mcsim.weights.channel_normalisation`)."""
    t = task.targets.index(target)
    eff = selection(target)[2]
    events = np.zeros(len(task.couplings))
    variance = np.zeros(len(task.couplings))
    per_channel = {}
    produced = production(target, result)
    for mother, sums in result.channels.items():
        norm = eff * channel_normalisation(produced[mother], 1.0, sums.cells[t])
        events += norm * sums.s1[t]
        per_channel[mother] = norm * norm * sums.variance[t]
        variance += per_channel[mother]
    return events, variance, per_channel


def _grid(
    family: Family, target: Target, masses, couplings, job, n_events: int, seed: int
) -> ReachGrid:
    det = detector_of(target.detector)
    events = np.zeros((masses.size, couplings.size))
    variance = np.zeros_like(events)
    missing: set[str] = set()
    for task, result in job:
        if target in task.targets:
            i = int(np.searchsorted(masses, task.mass))
            events[i], variance[i], _ = cell_sums(target, task, result)
            missing.update(result.missing)
    level = (
        recast_upper_limit(det)
        if det.observed_events is not None
        else getattr(det, "sensitivity_events", target.level)
    )  # BaBar: 10 events
    e_min, e_max, eff = selection(target)
    meta = {
        "family": family.name,
        "model": family.model,
        "fixed": family.fixed,
        "detector": det.name,
        "exposure": detector_exposure(det),
        "mode": target.mode,
        "photon_energy_min_GeV": e_min,
        "photon_energy_max_GeV": e_max,
        "efficiency": eff,
        "n_events_per_channel": int(job[0][0].n_events if job else n_events),
        "seed": int(seed),
        "missing_tables": sorted(missing),
    }
    return ReachGrid(
        target.label, masses, couplings, events, level, meta, stat_error=np.sqrt(variance)
    )


def decisive_cells(grid: ReachGrid) -> np.ndarray:
    """Mask (n_masses, n_couplings) of the cells that decide the contour: cells next to a cell
    on the other side of the level (along d or along the mass), with a non-zero yield."""
    above = grid.events >= grid.level
    mask = np.zeros_like(above)
    for axis in (0, 1):
        flip = np.diff(above.astype(np.int8), axis=axis) != 0
        lo = [slice(None)] * 2
        hi = [slice(None)] * 2
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        mask[tuple(lo)] |= flip
        mask[tuple(hi)] |= flip
    return mask & (grid.events > 0)


def relative_error(grid: ReachGrid) -> np.ndarray:
    return np.divide(
        grid.stat_error, grid.events, out=np.full(grid.events.shape, np.inf), where=grid.events > 0
    )


def contour_quality(grid: ReachGrid, target: float) -> dict:
    """Largest relative error of the decisive cells per mass, and the masses still above
    ``target`` (the contour pieces flagged as not converged)."""
    mask = decisive_cells(grid)
    rel = np.where(mask, relative_error(grid), 0.0)
    worst = rel.max(axis=1)
    return {
        "contour_rel_error": [
            float(f"{w:.3g}") if mask[i].any() else None for i, w in enumerate(worst)
        ],
        "unconverged_masses": [float(m) for m, w in zip(grid.masses, worst) if w > target],
    }


def production(target: Target, result: TaskResult) -> dict[int, float]:
    """LLPs produced at d_ref (N_M x BR for ``target``'s exposure; exposure x rate of a channel
    without a fused scan kernel) per channel of a task's ``result``."""
    return {
        mother: (
            sums.production
            if sums.production is not None
            else n_mesons(target.detector, mother) * sums.br
        )
        for mother, sums in result.channels.items()
    }
