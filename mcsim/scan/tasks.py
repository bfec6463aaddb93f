"""Reach scans split into tasks, run on local processes or on a Dask cluster.

One task = (model family point: mass [, delta or flavour], beam).  It samples each open channel
ONCE (meson momenta and the production decay do not depend on the detector), propagates the
sample through every distinct geometry fed by that beam (NA62 1e17/1e18 and HIKE share one
propagation; SHiP and BEBC have their own), applies every photon selection (thresholds) to the
propagated events, and re-weights over the whole coupling grid with the sums of
:func:`mcsim.weights.yield_sums` -- the expected events AND their Monte Carlo variance, with the
normalisation of :func:`mcsim.weights.channel_normalisation`.  Events come in the random-number
blocks of :func:`mcsim.sources.base.block_rngs`, keyed by (seed, mother, block): a grid cell is the
expected number of events that :func:`mcsim.generation.simulate.simulate` gives for the same seed and events
per channel (to rounding), and the grids are the same, bit for bit, whatever runs the tasks
(:func:`mcsim.runtime.executor.run`: local processes, 2 by default, or a Dask cluster).  The first pass is followed by an adaptive refinement of
the cells that decide the contours (:class:`Refinement`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from mcsim.detector.cards import Detector, detector_exposure, load_detector
from mcsim.detector.interaction_point import InteractionPointDetector
from mcsim.detector.propagate import decay_probability, in_energy_window
from mcsim.generation.simulate import channel_events
from mcsim.models.channels import open_channels
from mcsim.models.registry import Model
from mcsim.runtime import executor
from mcsim.runtime.defaults import (
    BLOCK_SIZE,
    DISCOVERY_LEVEL,
    MODES,
    REFINE_BUDGET,
    SAMPLINGS,
    SCAN_SAMPLING,
    UNREFINED_EVENTS_FACTOR,
)
from mcsim.scan.family import D_REF, Family
from mcsim.scan.fused import Buffers, select_block
from mcsim.scan.reach import ReachGrid, recast_upper_limit
from mcsim.sources import spectra
from mcsim.sources.base import block_rng, block_sizes, window
from mcsim.sources.mesons import SpectraSource
from mcsim.sources.registry import SOURCES, source_for
from mcsim.weights import channel_normalisation, yield_sums

__all__ = [
    "NO_REFINEMENT",
    "ChannelSums",
    "Family",
    "Refinement",
    "Target",
    "Task",
    "TaskResult",
    "make_tasks",
    "run_task",
    "run_tasks",
    "scan",
    "scan_set",
]


@dataclass(frozen=True)
class Target:
    """One yield grid: ``detector`` (card name, ``card:config`` or path) in ``mode`` ('full' or
    'cone') with minimum photon energy ``threshold`` [GeV] (None: the card's) and contour
    ``level`` [events] (a card with a [recast] table keeps its 95% CL N_up)."""

    label: str
    detector: str
    mode: str = "full"
    threshold: float | None = None
    level: float = DISCOVERY_LEVEL


@dataclass(frozen=True)
class Task:
    """Masses x one beam: what one worker call computes (see the module docstring).

    First pass (``plan`` empty): ``n_events`` per open channel, from block 0.  Refinement:
    ``plan`` lists (mother, events, first block) of the channels to add events to and
    ``decisive`` the (target, coupling) cells whose yield the new events are for; with
    ``importance`` the meson momenta are drawn from a density tilted towards the momenta that
    fill those cells (learnt from the first pass's first events, defensively mixed 1:1 with the
    spectrum, so importance weights stay <= 2; see :func:`_momentum_tilt`)."""

    index: int
    family: Family
    mass: float
    beam: str
    targets: tuple[Target, ...]
    couplings: tuple[float, ...]
    n_events: int
    seed: int
    plan: tuple[tuple[int, int, int], ...] = ()
    decisive: tuple[tuple[int, int], ...] = ()
    importance: bool = False
    sampling: str = SCAN_SAMPLING


@dataclass
class ChannelSums:
    """Monte Carlo sums of one channel of a task: ``n`` events generated, ``s1`` and ``s2``
    (n_targets, n_couplings) the sums of w x r x P and of its square over the selected events
    (:func:`mcsim.weights.yield_sums`; w = 1, or the importance weight), and ``m2`` the sum over
    the passes (each of n_j independent events) of s1_j^2 / n_j: the variance of the channel's
    sum is s2 - m2 (:func:`mcsim.weights.stat_error`).  ``cells`` (n_targets, n_couplings): the
    events each cell's sums are over -- ``n`` after the first pass; a refinement pass sums its
    events only at the cells it is for, so the cells' estimates s1 / cells stay unbiased."""

    n: int
    s1: np.ndarray
    s2: np.ndarray
    m2: np.ndarray
    next_block: int = 0  # the first random-number block not used yet
    production: float | None = None  # LLPs produced (N_M x BR at d_ref) if not a meson's
    br: float = 0.0  # a meson channel's BR at d_ref
    cells: np.ndarray = None  # type: ignore[assignment]  # set in __post_init__

    def __post_init__(self):
        if self.cells is None:
            self.cells = np.full(self.s1.shape, float(self.n))

    @property
    def variance(self) -> np.ndarray:
        return np.maximum(self.s2 - self.m2, 0.0)

    def add(self, other: ChannelSums) -> None:
        self.n += other.n
        self.s1 += other.s1
        self.s2 += other.s2
        self.m2 += other.m2
        self.cells += other.cells
        self.next_block = max(self.next_block, other.next_block)


@dataclass
class TaskResult:
    """Sums per channel (mother PDG ID -> :class:`ChannelSums`), and the channels skipped for
    want of a spectrum table ('beam/meson')."""

    channels: dict[int, ChannelSums]
    missing: list[str]


@lru_cache(maxsize=64)
def _detector(spec: str) -> Detector | InteractionPointDetector:
    return load_detector(spec)


def _fixed_target(spec: str) -> Detector:
    """:func:`_detector` of a card fed by a source with a fused scan kernel (:func:`_fused`)."""
    det = _detector(spec)
    assert isinstance(det, Detector)
    return det


def _fused(task: Task) -> bool:
    """Whether the task's source has a fused scan kernel (:mod:`mcsim.scan.fused`; the meson
    decays) -- else the scan sums the events of simulate() and does not refine them."""
    return SOURCES[_detector(task.targets[0].detector).source].fused_scan


@lru_cache(maxsize=256)
def _n_mesons(spec: str, pdgid: int) -> float:
    return SpectraSource(_fixed_target(spec)).n_mesons(pdgid)


@lru_cache(maxsize=64)
def _has_table(pdgid: int, beam: str) -> bool:
    return (beam, pdgid) in set(spectra.available_tables())


def _selection(target: Target) -> tuple[float, float, float]:
    det = _detector(target.detector)
    e_min = det.photon_energy_min if target.threshold is None else float(target.threshold)
    return e_min, det.photon_energy_max, det.efficiency


def _geometry_key(target: Target) -> tuple:
    """Targets with equal keys share one propagation."""
    det = _fixed_target(target.detector)
    if target.mode == "cone":
        return ("cone", det.cone.code, tuple(det.cone.params))
    vol, calo = det.decay_volume, det.calorimeter
    return ("full", vol.code, tuple(vol.params), calo.code, tuple(calo.params))


def _geometry(target: Target) -> tuple:
    """(volume, calorimeter, use_calo) of a target for :func:`mcsim.scan.fused.select_block`."""
    det = _fixed_target(target.detector)
    if target.mode == "cone":
        return det.cone, det.calorimeter, False
    return det.decay_volume, det.calorimeter, True


def _selected_samples(
    task: Task, model: Model, channel, source, blocks, tilt=None, wanted: set[int] | None = None
):
    """For each block ((index, events) of ``blocks``) of ``channel``: yields the number of
    events and, per target, (hits, selected) -- the events whose photon reaches the
    calorimeter (:class:`mcsim.scan.fused.Hits`, valid until the next block) and which of them are
    in the target's photon-energy window -- or None for a target not in ``wanted`` (default:
    all).  Targets of one geometry share the propagation; every geometry uses the block's own
    propagation stream, so each target sees the events simulate() gives for the same seed (a
    directed photon is drawn in the loosest energy window of the geometry's targets).
    ``tilt``: importance factors of the meson momenta (:meth:`SpectraSource.sampling`)."""
    groups: dict[tuple, list[int]] = {}
    energies: dict[tuple, tuple[float, float]] = {}  # per geometry: its targets' loosest window
    for t, target in enumerate(task.targets):
        key = _geometry_key(target)
        e_min, e_max, _ = _selection(target)
        lo, hi = energies.get(key, (e_min, e_max))
        energies[key] = min(lo, e_min), max(hi, e_max)
        if wanted is None or t in wanted:
            groups.setdefault(key, []).append(t)
    geometries = [
        (*_geometry(task.targets[members[0]]), *energies[key]) for key, members in groups.items()
    ]
    angle = max(window(_fixed_target(t.detector), t.mode, task.sampling) for t in task.targets)
    sampling = source.sampling(channel, angle, tilt)
    buffers = Buffers(len(geometries), max((size for _, size in blocks), default=0))
    for block, size in blocks:
        all_hits = select_block(
            channel,
            sampling,
            model,
            geometries,
            size,
            block_rng(task.seed, channel.mother, block, "production"),
            block_rng(task.seed, channel.mother, block, "propagation"),
            angle,
            buffers,
        )
        per_target: list = [None] * len(task.targets)
        for hits, members in zip(all_hits, groups.values()):
            selected: dict[tuple[float, float], tuple] = {}
            for t in members:  # targets of one geometry and energy window: the same object
                e_min, e_max, _ = _selection(task.targets[t])
                if (e_min, e_max) not in selected:
                    keep = in_energy_window(hits.e_photon, e_min, e_max)
                    selected[e_min, e_max] = (hits, keep)
                per_target[t] = selected[e_min, e_max]
        yield size, per_target


#: A refinement pass sums its events at the decisive cells and at this many couplings on
#: either side (the contour moves little between rounds); other cells keep what they have.
_REFINED_MARGIN = 2


def _evaluated(task: Task, n_couplings: int) -> list[np.ndarray]:
    """Per target, the coupling indices the task's events are summed at: all of them in the
    first pass, the decisive ones +- _REFINED_MARGIN in a refinement (none for a target
    without a decisive cell)."""
    if not task.plan:
        return [np.arange(n_couplings)] * len(task.targets)
    out = []
    for t in range(len(task.targets)):
        near = {
            j
            for tt, k in task.decisive
            if tt == t
            for j in range(k - _REFINED_MARGIN, k + _REFINED_MARGIN + 1)
            if 0 <= j < n_couplings
        }
        out.append(np.array(sorted(near), dtype=np.int64))
    return out


def _channel_sums(
    task: Task, model: Model, channel, source, blocks, ratios, tilt=None
) -> ChannelSums:
    shape = (len(task.targets), ratios.size)
    cells = _evaluated(task, ratios.size)
    wanted = {t for t, ks in enumerate(cells) if ks.size}
    out = ChannelSums(0, np.zeros(shape), np.zeros(shape), np.zeros(shape), cells=np.zeros(shape))
    out.next_block = blocks[-1][0] + 1 if blocks else 0
    for size, per_target in _selected_samples(task, model, channel, source, blocks, tilt, wanted):
        out.n += size
        sums: dict[tuple, tuple] = {}  # targets sharing a selection (NA62 at two POT, HIKE)
        for t in sorted(wanted):
            hits, keep = per_target[t]
            ks = cells[t]
            key = (id(per_target[t]), ks.tobytes())
            if key not in sums:
                sums[key] = yield_sums(
                    hits.weight * keep, hits.acc_intervals, hits.beta_gamma, model.ctau, ratios[ks]
                )
            out.s1[t, ks] += sums[key][0]
            out.s2[t, ks] += sums[key][1]
    for t in wanted:
        out.cells[t, cells[t]] = out.n
    out.m2 = np.divide(out.s1**2, out.cells, out=np.zeros(shape), where=out.cells > 0)
    return out


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
        for _, per_target in _selected_samples(
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


def _momentum_tilt(task: Task, model: Model, channel, source, ratios) -> np.ndarray | None:
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
            e_min, e_max, _ = _selection(task.targets[t])
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


def _events_task(task: Task) -> TaskResult:
    """The sums of a task whose source has no fused scan kernel: per target, each channel's
    events as :func:`mcsim.generation.simulate.simulate` makes them for the same seed
    (:func:`mcsim.generation.simulate.channel_events`), summed by
    :func:`mcsim.weights.yield_sums`; channel c of target t under the key -1 - t - n_targets c."""
    model = task.family.at(task.mass, D_REF)
    ratios = _ratios(model, task.couplings)
    out = TaskResult({}, [])
    n_targets = len(task.targets)
    for t, target in enumerate(task.targets):
        det = _detector(target.detector)
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


def _ratios(model: Model, couplings) -> np.ndarray:
    """Re-weighting ratios r = (d / D_REF)^p of ``model`` (generated at D_REF) for ``couplings``:
    BR x r, c*tau / r."""
    return (np.asarray(couplings, dtype=np.float64) / D_REF) ** model.coupling_power


def run_task(task: Task) -> TaskResult:
    """The channel sums of ``task`` (see :class:`Task`).  Mesons the beam's normalisation does
    not list (not produced there) are left out without a note."""
    if not _fused(task):
        return _events_task(task)
    model = task.family.at(task.mass, D_REF)
    ratios = _ratios(model, task.couplings)
    source = SpectraSource(_fixed_target(task.targets[0].detector))
    plan = {m: (n, b) for m, n, b in task.plan}
    out = TaskResult({}, [])
    for channel in open_channels(model):
        if not source.produces(channel.mother):
            continue  # e.g. Upsilon at 70 GeV: below threshold, no normalisation, no table
        if not _has_table(channel.mother, task.beam):
            out.missing.append(f"{task.beam}/{spectra.table_name(channel.mother)}")
            continue
        if task.plan and channel.mother not in plan:
            continue
        n, first_block = plan.get(channel.mother, (task.n_events, 0))
        tilt = _momentum_tilt(task, model, channel, source, ratios) if task.importance else None
        sums = _channel_sums(
            task, model, channel, source, block_sizes(n, first_block), ratios, tilt
        )
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
        by_beam.setdefault(_detector(target.detector).beam, []).append(target)
    tasks: list[Task] = []
    for beam, beam_targets in by_beam.items():
        fused = SOURCES[_detector(beam_targets[0].detector).source].fused_scan
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


def _warm_up() -> None:
    """A worker's start-up done before its first task (:class:`mcsim.runtime.executor.Session`): numba's
    first call and the loading of the chain's kernels, by one tiny task (64 events of the
    dark dipole at NA62, both its two-body and Dalitz channels)."""
    family = Family("dark-dipole", delta=0.1)
    (task,) = make_tasks(family, [0.1], [D_REF], [Target("", "na62")], n_events=64, seed=0)
    run_task(task)


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
        workers=workers, scheduler=scheduler, warm_up=_warm_up if workers > 1 else None
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
        _check_open(jobs, tasks, results, masses)
        masses = np.asarray(masses, dtype=np.float64)
        couplings = np.asarray(couplings, dtype=np.float64)
        first_pass = sum(r.n for res in results for r in res.channels.values())
        added: list[int] = []  # events added per round
        spent = 0
        for round_ in range(refinement.rounds):
            grids = _grids(jobs, tasks, results, masses, couplings, n_events, seed)
            budget = (first_pass * refinement.budget - spent) / (refinement.rounds - round_)
            extra = _refinement_tasks(tasks, results, grids, jobs, masses, refinement, budget)
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
    grids = _grids(jobs, tasks, results, masses, couplings, n_events, seed)
    for job_grids in grids:
        for g in job_grids:
            g.metadata.update(_contour_quality(g, refinement.target))
            g.metadata["refinement"] = {
                "target": refinement.target,
                "events_first_pass": int(first_pass),
                "events_added": sum(added),
                "events_per_round": added,
            }
    return grids


def scan(
    family: Family,
    masses,
    couplings,
    targets: list[Target],
    *,
    n_events: int,
    seed: int,
    workers: int = 2,
    scheduler: str | None = None,
    progress: bool = True,
    refinement: Refinement = Refinement(),
    sampling: str = SCAN_SAMPLING,
) -> list[ReachGrid]:
    """Reach grids of ``targets`` for ``family`` (see :func:`scan_set`)."""
    return scan_set(
        [(family, targets)],
        masses,
        couplings,
        n_events=n_events,
        seed=seed,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        refinement=refinement,
        sampling=sampling,
    )[0]


def _of_job(family: Family, targets, tasks, results) -> list[tuple[Task, TaskResult]]:
    """The (task, result) pairs of the job (family, targets)."""
    return [
        (t, r) for t, r in zip(tasks, results) if t.family == family and t.targets[0] in targets
    ]


def _check_open(jobs, tasks, results, masses) -> None:
    """ValueError for a job whose first pass found no open production channel at any mass."""
    for family, targets in jobs:
        if not any(r.channels for _, r in _of_job(family, targets, tasks, results)):
            raise ValueError(
                f"{family.name}: every production channel is closed (or its meson not made by "
                f"the beam) for masses {masses[0]:g}-{masses[-1]:g} GeV; nothing to scan"
            )


def _grids(jobs, tasks, results, masses, couplings, n_events, seed) -> list[list[ReachGrid]]:
    out = []
    for family, targets in jobs:
        job = _of_job(family, targets, tasks, results)
        out.append(
            [_grid(family, target, masses, couplings, job, n_events, seed) for target in targets]
        )
    return out


def _cell_sums(target: Target, task: Task, result: TaskResult):
    """Yield and variance (n_couplings,) of ``target`` from one task, and the per-channel
    variances (mother -> array): sum_c norm_c s1_c and sum_c norm_c^2 (s2_c - m2_c), with
    norm_c = efficiency x N_M x BR(d_ref) / n_c (:func:`mcsim.weights.channel_normalisation`)."""
    t = task.targets.index(target)
    eff = _selection(target)[2]
    events = np.zeros(len(task.couplings))
    variance = np.zeros(len(task.couplings))
    per_channel = {}
    produced = _production(target, result)
    for mother, sums in result.channels.items():
        norm = eff * channel_normalisation(produced[mother], 1.0, sums.cells[t])
        events += norm * sums.s1[t]
        per_channel[mother] = norm * norm * sums.variance[t]
        variance += per_channel[mother]
    return events, variance, per_channel


def _grid(
    family: Family, target: Target, masses, couplings, job, n_events: int, seed: int
) -> ReachGrid:
    det = _detector(target.detector)
    events = np.zeros((masses.size, couplings.size))
    variance = np.zeros_like(events)
    missing: set[str] = set()
    for task, result in job:
        if target in task.targets:
            i = int(np.searchsorted(masses, task.mass))
            events[i], variance[i], _ = _cell_sums(target, task, result)
            missing.update(result.missing)
    level = (
        recast_upper_limit(det)
        if det.observed_events is not None
        else getattr(det, "sensitivity_events", target.level)
    )  # BaBar: 10 events
    e_min, e_max, eff = _selection(target)
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


def _decisive_cells(grid: ReachGrid) -> np.ndarray:
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


def _relative_error(grid: ReachGrid) -> np.ndarray:
    return np.divide(
        grid.stat_error, grid.events, out=np.full(grid.events.shape, np.inf), where=grid.events > 0
    )


def _contour_quality(grid: ReachGrid, target: float) -> dict:
    """Largest relative error of the decisive cells per mass, and the masses still above
    ``target`` (the contour pieces flagged as not converged)."""
    mask = _decisive_cells(grid)
    rel = np.where(mask, _relative_error(grid), 0.0)
    worst = rel.max(axis=1)
    return {
        "contour_rel_error": [
            float(f"{w:.3g}") if mask[i].any() else None for i, w in enumerate(worst)
        ],
        "unconverged_masses": [float(m) for m, w in zip(grid.masses, worst) if w > target],
    }


#: The fewest events a refinement adds to one channel of one mass: a channel that asks for fewer
#: gets this many (a cell 10% above the target needs only ~20% more events; when such requests
#: were dropped, those cells stayed above it); smaller shares of a budget too small for every
#: request go to the other channels.
_MIN_REFINEMENT = BLOCK_SIZE // 4


def _refinement_tasks(
    tasks, results, grids, jobs, masses, refinement: Refinement, budget: float
) -> list[Task]:
    """Tasks adding events where a decisive cell misses the target error: per (mass, beam)
    task, each channel gets the events that bring the worst such cell to the target (Neyman
    allocation n_c ~ sigma_c over channels), within the caps; the cheapest refinements first,
    so that the budget converges as many contour pieces as it can."""
    wanted: dict[int, dict] = {}
    tasks = [t for t in tasks if _fused(t)]
    by_index = {t.index: t for t in tasks}
    of = {(t.family, target, t.mass): t for t in tasks for target in t.targets}
    for (family, targets), job_grids in zip(jobs, grids):
        for target, grid in zip(targets, job_grids):
            rel = np.where(_decisive_cells(grid), _relative_error(grid), 0.0)
            for i, k in zip(*np.nonzero(rel > refinement.target)):
                task = of[family, target, masses[i]]
                res = results[task.index]
                t = task.targets.index(target)
                per_channel = {m: v[k] for m, v in _cell_sums(target, task, res)[2].items()}
                counts = {m: int(sums.cells[t, k]) for m, sums in res.channels.items()}
                need = _neyman(
                    per_channel,
                    counts,
                    grid.events[i, k] * refinement.target,
                    _production(target, res),
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
        shares = _shares(wanted[index]["need"], caps, budget)
        budget -= sum(shares.values())
        plan = [(m, n, res.channels[m].next_block) for m, n in shares.items()]
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


def _shares(need: dict[int, int], caps: dict[int, int], budget: float) -> dict[int, int]:
    """Events to add per channel of one task: what each channel ``need``s, at least
    _MIN_REFINEMENT, within its cap (``caps``; a channel without one is left out) -- or, if the
    ``budget`` left is smaller than all of that, the same fraction of it for each, a share
    below _MIN_REFINEMENT (smallest first) going to the others."""
    asks = {m: min(max(n, _MIN_REFINEMENT), caps[m]) for m, n in need.items() if m in caps}
    asking = sorted((n, m) for m, n in asks.items() if n > 0)
    asked = sum(n for n, _ in asking)
    allowance = min(budget, asked)
    out = {}
    for n, mother in asking:
        n_add = int(n * allowance / asked)
        asked -= n
        if n_add < _MIN_REFINEMENT:
            continue
        allowance -= n_add
        out[mother] = n_add
    return out


#: Channels without a selected event yet get this fraction of the largest allocation, if their
#: N_M x BR is at least _FLOOR_PRODUCTION of the largest channel's (their variance is unknown,
#: not zero: a channel the first pass missed may still carry much of the yield).
_FLOOR_FRACTION = 0.25
_FLOOR_PRODUCTION = 1e-3


def _production(target: Target, result: TaskResult) -> dict[int, float]:
    """LLPs produced at d_ref (N_M x BR for ``target``'s exposure; exposure x rate of a channel
    without a fused scan kernel) per channel of a task's ``result``."""
    return {
        mother: (
            sums.production
            if sums.production is not None
            else _n_mesons(target.detector, mother) * sums.br
        )
        for mother, sums in result.channels.items()
    }


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
