"""Reach-scan tasks, run on local processes or on a Dask cluster (:mod:`mcsim.runtime.executor`).

One task = (model family point: mass and its fixed parameters, beam).  For a source with a
fused scan kernel (the meson decays) it samples each open channel ONCE -- the production does
not depend on the detector -- propagates the sample through every distinct geometry fed by that
beam (NA62 1e17/1e18 and HIKE share one propagation), applies every photon selection and sums
over the whole coupling grid (:mod:`mcsim.scan.sums`).  Other sources (e+ e-) sum the events of
:func:`mcsim.generation.simulate.channel_events` per target.  Events come in the random-number
blocks of :func:`mcsim.sources.base.block_rngs`: a grid cell is the expected number of events
that :func:`mcsim.generation.simulate.simulate` gives for the same seed and events per channel
(to rounding), whatever runs the tasks.
"""

from __future__ import annotations

import math

import numpy as np

from mcsim.generation.simulate import channel_events
from mcsim.models.channels import open_channels
from mcsim.runtime import executor
from mcsim.runtime.defaults import (
    MODES,
    SAMPLINGS,
    SCAN_SAMPLING,
    UNREFINED_EVENTS_FACTOR,
)
from mcsim.scan.family import D_REF, Family
from mcsim.scan.sums import (
    ChannelSums,
    Target,
    Task,
    TaskResult,
    channel_sums,
    detector_of,
    fixed_target,
    fused,
    has_table,
    ratios_of,
)
from mcsim.scan.tilt import momentum_tilt
from mcsim.sources import spectra
from mcsim.sources.base import block_sizes
from mcsim.sources.mesons import SpectraSource
from mcsim.sources.registry import SOURCES, source_for
from mcsim.weights import yield_sums

__all__ = ["make_tasks", "run_task", "run_tasks", "warm_up"]


def _events_task(task: Task) -> TaskResult:
    """The sums of a task whose source has no fused scan kernel: per target, each channel's
    events as :func:`mcsim.generation.simulate.simulate` makes them for the same seed
    (:func:`mcsim.generation.simulate.channel_events`), summed by
    :func:`mcsim.weights.yield_sums`; channel c of target t under the key -1 - t - n_targets c."""
    model = task.family.at(task.mass, D_REF)
    ratios = ratios_of(model, task.couplings)
    out = TaskResult({}, [])
    n_targets = len(task.targets)
    for t, target in enumerate(task.targets):
        det = detector_of(target.detector)
        source = source_for(model, det)
        for c, channel in enumerate(source.channels()):
            a = channel_events(
                source,
                model,
                det,
                channel,
                task.n_events,
                seed=task.seed,
                mode=target.mode,
                threshold=target.threshold,
            )
            s1, s2 = yield_sums(
                a["w_sampling"] * a["w_photon"] * a["above_threshold"],
                a["acc_intervals"],
                a["beta_gamma"],
                model.ctau,
                ratios,
            )
            rows = np.zeros((3, n_targets, ratios.size))
            rows[:, t] = s1, s2, s1**2 / task.n_events
            produced = source.exposure(channel) * channel.rate
            # mypy assumes *rows may fill every field (python/mypy#14648); rows holds s1, s2, m2
            out.channels[-1 - t - n_targets * c] = ChannelSums(  # type: ignore[misc]
                task.n_events, *rows, production=produced
            )
    return out


def run_task(task: Task) -> TaskResult:
    """The channel sums of ``task`` (see :class:`Task`).  Mesons the beam's normalisation does
    not list (not produced there) are left out without a note."""
    if not fused(task):
        return _events_task(task)
    model = task.family.at(task.mass, D_REF)
    ratios = ratios_of(model, task.couplings)
    source = SpectraSource(fixed_target(task.targets[0].detector))
    plan = {m: (n, b) for m, n, b in task.plan}
    out = TaskResult({}, [])
    for channel in open_channels(model):
        if not source.produces(channel.mother):
            continue  # e.g. Upsilon at 70 GeV: below threshold, no normalisation, no table
        if not has_table(channel.mother, task.beam):
            out.missing.append(f"{task.beam}/{spectra.table_name(channel.mother)}")
            continue
        if task.plan and channel.mother not in plan:
            continue
        n, first_block = plan.get(channel.mother, (task.n_events, 0))
        tilt = momentum_tilt(task, model, channel, source, ratios) if task.importance else None
        sums = channel_sums(task, model, channel, source, block_sizes(n, first_block), ratios, tilt)
        sums.br = channel.br
        out.channels[channel.mother] = sums
    return out


def make_tasks(
    family: Family,
    masses,
    couplings,
    targets,
    *,
    n_events: int,
    seed: int,
    start: int = 0,
    sampling: str = SCAN_SAMPLING,
) -> list[Task]:
    """One task per (mass, beam) for ``targets`` over the grid (masses [GeV], couplings
    [GeV^-1], both ascending), numbered from ``start``, each with ``n_events`` per open
    channel (sources without a fused scan kernel: UNREFINED_EVENTS_FACTOR x that, as they
    are not refined).  Raises
    ValueError on an empty grid or an unknown detector or mode.  Nothing here computes a
    width, so the main process of a scan does not load the numba kernels."""
    masses = np.asarray(masses, dtype=np.float64)
    couplings = np.asarray(couplings, dtype=np.float64)
    if masses.ndim != 1 or masses.size == 0:
        raise ValueError("empty mass grid: give at least one mass")
    if couplings.ndim != 1 or couplings.size == 0:
        raise ValueError("empty coupling grid: give at least one coupling")
    for name, axis in (("mass", masses), ("coupling", couplings)):
        if not np.all(np.isfinite(axis)) or np.any(axis <= 0) or np.any(np.diff(axis) <= 0):
            raise ValueError(f"{name} grid must be finite, > 0 and strictly ascending")
    if not targets:
        raise ValueError("no detector given")
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {', '.join(SAMPLINGS)}, got {sampling!r}")
    if isinstance(n_events, bool) or not isinstance(n_events, (int, np.integer)) or n_events < 1:
        raise ValueError(f"n_events must be an integer >= 1, got {n_events!r}")
    by_beam: dict[str, list[Target]] = {}
    for target in targets:
        if target.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {target.mode!r}")
        if target.threshold is not None and not (
            target.threshold >= 0 and math.isfinite(target.threshold)
        ):
            raise ValueError(
                f"threshold must be a finite energy >= 0 GeV, got {target.threshold!r}"
            )
        by_beam.setdefault(detector_of(target.detector).beam, []).append(target)
    tasks: list[Task] = []
    for beam, beam_targets in by_beam.items():
        fused = SOURCES[detector_of(beam_targets[0].detector).source].fused_scan
        n = int(n_events) * (1 if fused else UNREFINED_EVENTS_FACTOR)
        for m in masses:
            tasks.append(
                Task(
                    start + len(tasks),
                    family,
                    float(m),
                    beam,
                    tuple(beam_targets),
                    tuple(couplings.tolist()),
                    n,
                    int(seed),
                    sampling=sampling,
                )
            )
    return tasks


def run_tasks(
    tasks: list[Task],
    *,
    workers: int = 2,
    scheduler: str | None = None,
    progress: bool = True,
    desc: str = "reach scan",
    timeout: float | None = None,
    session: executor.Session | None = None,
) -> list[TaskResult]:
    """Results of :func:`run_task` for every task, in task order, in ``session`` (an open
    :class:`mcsim.runtime.executor.Session`) or in one of its own: in this process, on ``workers``
    local processes or on the Dask cluster at ``scheduler``."""
    if session is None:
        with executor.Session(workers=workers, scheduler=scheduler, timeout=timeout) as own:
            return own.run(run_task, tasks, progress=progress, desc=desc)
    return session.run(run_task, tasks, progress=progress, desc=desc)


def warm_up() -> None:
    """A worker's start-up done before its first task (:class:`mcsim.runtime.executor.Session`): numba's
    first call and the loading of the chain's kernels, by one tiny task (64 events of the
    dark dipole at NA62, both its two-body and Dalitz channels)."""
    family = Family("dark-dipole", delta=0.1)
    (task,) = make_tasks(family, [0.1], [D_REF], [Target("", "na62")], n_events=64, seed=0)
    run_task(task)
