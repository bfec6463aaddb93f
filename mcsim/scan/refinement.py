"""Adaptive refinement of the cells that decide a contour: more events for their masses and
channels (Neyman allocation), within a budget, in rounds."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from mcsim.runtime.defaults import (
    BLOCK_SIZE,
    REFINE_BUDGET,
)
from mcsim.scan.grid import cell_sums, decisive_cells, production, relative_error
from mcsim.scan.sums import Task, fused

__all__ = [
    "MIN_REFINEMENT",
    "NO_REFINEMENT",
    "Refinement",
    "refinement_tasks",
    "shares",
]


@dataclass(frozen=True)
class Refinement:
    """Adaptive statistics after the first pass: cells that decide a contour (adjacent cells on
    either side of its level) are refined until the relative Monte Carlo error of their yield
    is below ``target`` -- more events for their mass and channels (Neyman allocation over the
    channels), with importance sampling of the meson momentum where the selection sits in a tail
    of the spectrum -- in at most ``rounds`` rounds, adding at most ``budget`` x the first
    pass's events in all, ``per_round`` x n_events to one channel of one mass in one round and
    ``max_factor`` x n_events in all.  A round spends at most the budget left over the rounds
    left: the error estimates of a round steer the next (importance sampling often needs far
    fewer events than the first pass's variance predicts); spent at once, the budget went to
    the cheapest masses of the first round (docs/performance.md)."""

    target: float = 0.05
    rounds: int = 5
    budget: float = REFINE_BUDGET
    per_round: int = 8
    max_factor: int = 64

    def __post_init__(self):
        if not (0 < self.target < 1):
            raise ValueError(
                f"refinement target must be a relative error in (0, 1), got {self.target!r}"
            )
        if self.rounds < 0 or self.budget < 0 or self.max_factor < 1 or self.per_round < 1:
            raise ValueError(
                "refinement rounds and budget must be >= 0, per_round and max_factor >= 1"
            )


#: No refinement: the first pass only.
NO_REFINEMENT = Refinement(rounds=0)


#: The fewest events a refinement adds to one channel of one mass: a channel that asks for fewer
#: gets this many (a cell 10% above the target needs only ~20% more events; when such requests
#: were dropped, those cells stayed above it); smaller shares of a budget too small for every
#: request go to the other channels.
MIN_REFINEMENT = BLOCK_SIZE // 4


def refinement_tasks(
    tasks, results, grids, jobs, masses, refinement: Refinement, budget: float
) -> list[Task]:
    """Tasks adding events where a decisive cell misses the target error: per (mass, beam)
    task, each channel gets the events that bring the worst such cell to the target (Neyman
    allocation n_c ~ sigma_c over channels), within the caps; the cheapest refinements first,
    so that the budget converges as many contour pieces as it can."""
    wanted: dict[int, dict] = {}
    tasks = [t for t in tasks if fused(t)]
    by_index = {t.index: t for t in tasks}
    of = {(t.family, target, t.mass): t for t in tasks for target in t.targets}
    for (family, targets), job_grids in zip(jobs, grids):
        for target, grid in zip(targets, job_grids):
            rel = np.where(decisive_cells(grid), relative_error(grid), 0.0)
            for i, k in zip(*np.nonzero(rel > refinement.target)):
                task = of[family, target, masses[i]]
                res = results[task.index]
                t = task.targets.index(target)
                per_channel = {m: v[k] for m, v in cell_sums(target, task, res)[2].items()}
                counts = {m: int(sums.cells[t, k]) for m, sums in res.channels.items()}
                need = _neyman(
                    per_channel,
                    counts,
                    grid.events[i, k] * refinement.target,
                    production(target, res),
                )
                entry = wanted.setdefault(task.index, {"need": {}, "cells": set()})
                entry["cells"].add((t, int(k)))
                for mother, n in need.items():
                    entry["need"][mother] = max(entry["need"].get(mother, 0), n)
    extra = []
    for index in sorted(wanted, key=lambda j: sum(wanted[j]["need"].values())):
        task, res = by_index[index], results[index]
        caps = {
            mother: min(
                refinement.per_round * task.n_events,
                refinement.max_factor * task.n_events - res.channels[mother].n,
            )
            for mother in wanted[index]["need"]
            if mother in res.channels  # no spectrum table: left out of the first pass too
        }
        given = shares(wanted[index]["need"], caps, budget)
        budget -= sum(given.values())
        plan = [(m, n, res.channels[m].next_block) for m, n in given.items()]
        plan.sort()
        if plan:
            extra.append(
                replace(
                    task,
                    plan=tuple(plan),
                    decisive=tuple(sorted(wanted[index]["cells"])),
                    importance=True,
                )
            )
    return extra


def shares(need: dict[int, int], caps: dict[int, int], budget: float) -> dict[int, int]:
    """Events to add per channel of one task: what each channel ``need``s, at least
    MIN_REFINEMENT, within its cap (``caps``; a channel without one is left out) -- or, if the
    ``budget`` left is smaller than all of that, the same fraction of it for each, a share
    below MIN_REFINEMENT (smallest first) going to the others."""
    asks = {m: min(max(n, MIN_REFINEMENT), caps[m]) for m, n in need.items() if m in caps}
    asking = sorted((n, m) for m, n in asks.items() if n > 0)
    asked = sum(n for n, _ in asking)
    allowance = min(budget, asked)
    out = {}
    for n, mother in asking:
        n_add = int(n * allowance / asked)
        asked -= n
        if n_add < MIN_REFINEMENT:
            continue
        allowance -= n_add
        out[mother] = n_add
    return out


#: Channels without a selected event yet get this fraction of the largest allocation, if their
#: N_M x BR is at least _FLOOR_PRODUCTION of the largest channel's (their variance is unknown,
#: not zero: a channel the first pass missed may still carry much of the yield).
_FLOOR_FRACTION = 0.25


_FLOOR_PRODUCTION = 1e-3


def _neyman(
    per_channel: dict, counts: dict[int, int], sigma_goal: float, production: dict[int, float]
) -> dict[int, int]:
    """Events to ADD per channel that bring a cell's summed variance to sigma_goal^2 at least
    cost: with v_c the channel's variance at the cell's n_c events (``counts``), sigma_c^2 =
    v_c n_c and the goal n_c ~ sigma_c; channels with no selected event get the floor (see
    _FLOOR_FRACTION)."""
    sigma = {m: math.sqrt(v * counts[m]) for m, v in per_channel.items() if v > 0}
    total = sum(sigma.values())
    need = {m: int(math.ceil(s * total / sigma_goal**2)) for m, s in sigma.items()}
    floor = int(_FLOOR_FRACTION * max(need.values(), default=0))
    big = _FLOOR_PRODUCTION * max(production.get(m, 0.0) for m in counts)
    for m in counts:
        if m not in need and production.get(m, 0.0) >= big:
            need[m] = max(floor, counts[m])
    return {m: n - counts[m] for m, n in need.items() if n > counts[m]}
