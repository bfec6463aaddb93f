"""Reach scans: the first pass of tasks over (mass, beam), the refinement rounds, the grids
(:mod:`mcsim.scan.tasks`, :mod:`mcsim.scan.refinement`, :mod:`mcsim.scan.grid`)."""

from __future__ import annotations

import numpy as np

from mcsim.runtime import executor
from mcsim.runtime.defaults import (
    SCAN_SAMPLING,
)
from mcsim.scan.family import Family
from mcsim.scan.grid import check_open, contour_quality, make_grids
from mcsim.scan.reach import ReachGrid
from mcsim.scan.refinement import Refinement, refinement_tasks
from mcsim.scan.sums import Target, Task
from mcsim.scan.tasks import make_tasks, run_tasks, warm_up

__all__ = [
    "scan",
    "scan_set",
]


def scan_set(
    jobs: list[tuple[Family, list[Target]]],
    masses,
    couplings,
    *,
    n_events: int,
    seed: int,
    workers: int = 2,
    scheduler: str | None = None,
    progress: bool = True,
    refinement: Refinement = Refinement(),
    sampling: str = SCAN_SAMPLING,
) -> list[list[ReachGrid]]:
    """Several scans over the same masses [GeV] x couplings [GeV^-1] run as one set of tasks
    (one pool): for each (family, targets) job, one :class:`mcsim.scan.reach.ReachGrid` per target,
    in order, with per-cell Monte Carlo errors.  A target whose card has a [recast] table gets
    the 95% CL limit N_up as its contour level, the others N = 3.  After the first pass
    (``n_events`` per mass and channel, ``sampling`` as in :func:`mcsim.generation.simulate.simulate`) the
    contour cells are refined (:class:`Refinement`)."""
    if not jobs:
        raise ValueError("no scan requested")
    with executor.Session(
        workers=workers, scheduler=scheduler, warm_up=warm_up if workers > 1 else None
    ) as session:
        tasks: list[Task] = []
        for family, targets in jobs:
            tasks += make_tasks(
                family,
                masses,
                couplings,
                targets,
                n_events=n_events,
                seed=seed,
                start=len(tasks),
                sampling=sampling,
            )
        results = run_tasks(tasks, session=session, progress=progress)
        check_open(jobs, tasks, results, masses)
        masses = np.asarray(masses, dtype=np.float64)
        couplings = np.asarray(couplings, dtype=np.float64)
        first_pass = sum(r.n for res in results for r in res.channels.values())
        added: list[int] = []  # events added per round
        spent = 0
        for round_ in range(refinement.rounds):
            grids = make_grids(jobs, tasks, results, masses, couplings, n_events, seed)
            budget = (first_pass * refinement.budget - spent) / (refinement.rounds - round_)
            extra = refinement_tasks(tasks, results, grids, jobs, masses, refinement, budget)
            if not extra:
                break
            more = run_tasks(
                extra, session=session, progress=progress, desc=f"refinement {round_ + 1}"
            )
            added.append(0)
            for task, res in zip(extra, more):
                into = results[task.index]
                for mother, sums in res.channels.items():
                    into.channels[mother].add(sums)
                    added[-1] += sums.n
                spent += sum(n for _, n, _ in task.plan)
    grids = make_grids(jobs, tasks, results, masses, couplings, n_events, seed)
    for job_grids in grids:
        for g in job_grids:
            g.metadata.update(contour_quality(g, refinement.target))
            g.metadata["refinement"] = {
                "target": refinement.target,
                "events_first_pass": int(first_pass),
                "events_added": sum(added),
                "events_per_round": added,
            }
    return grids


def scan(family: Family, masses, couplings, targets: list[Target], **options) -> list[ReachGrid]:
    """Reach grids of ``targets`` for ``family`` (see :func:`scan_set`, which takes
    ``options``)."""
    return scan_set([(family, targets)], masses, couplings, **options)[0]
