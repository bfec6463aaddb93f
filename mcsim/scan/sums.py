"""What one scan task computes: its targets and task description, and the Monte Carlo sums of
its channels -- the events of a block run through the fused kernel (:mod:`mcsim.scan.fused`),
selected per target and summed over the coupling grid (:func:`mcsim.weights.yield_sums`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mcsim.detector.cards import Detector, load_detector
from mcsim.detector.interaction_point import InteractionPointDetector
from mcsim.detector.propagate import in_energy_window
from mcsim.models.registry import Model
from mcsim.runtime.defaults import (
    DISCOVERY_LEVEL,
    SCAN_SAMPLING,
)
from mcsim.scan.family import D_REF, Family
from mcsim.scan.fused import Buffers, select_block
from mcsim.sources import spectra
from mcsim.sources.base import block_rng, window
from mcsim.sources.mesons import SpectraSource
from mcsim.sources.registry import SOURCES
from mcsim.weights import yield_sums

__all__ = [
    "ChannelSums",
    "Target",
    "Task",
    "TaskResult",
    "channel_sums",
    "detector_of",
    "fixed_target",
    "fused",
    "has_table",
    "n_mesons",
    "ratios_of",
    "selected_samples",
    "selection",
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
    spectrum, so importance weights stay <= 2; see :func:`momentum_tilt`)."""

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
def detector_of(spec: str) -> Detector | InteractionPointDetector:
    return load_detector(spec)


def fixed_target(spec: str) -> Detector:
    """:func:`detector_of` of a card fed by a source with a fused scan kernel (:func:`fused`)."""
    det = detector_of(spec)
    assert isinstance(det, Detector)
    return det


def fused(task: Task) -> bool:
    """Whether the task's source has a fused scan kernel (:mod:`mcsim.scan.fused`; the meson
    decays) -- else the scan sums the events of simulate() and does not refine them."""
    return SOURCES[detector_of(task.targets[0].detector).source].fused_scan


@lru_cache(maxsize=256)
def n_mesons(spec: str, pdgid: int) -> float:
    return SpectraSource(fixed_target(spec)).n_mesons(pdgid)


@lru_cache(maxsize=64)
def has_table(pdgid: int, beam: str) -> bool:
    return (beam, pdgid) in set(spectra.available_tables())


def selection(target: Target) -> tuple[float, float, float]:
    det = detector_of(target.detector)
    e_min = det.photon_energy_min if target.threshold is None else float(target.threshold)
    return e_min, det.photon_energy_max, det.efficiency


def _geometry_key(target: Target) -> tuple:
    """Targets with equal keys share one propagation."""
    det = fixed_target(target.detector)
    if target.mode == "cone":
        return ("cone", det.cone.code, tuple(det.cone.params))
    vol, calo = det.decay_volume, det.calorimeter
    return ("full", vol.code, tuple(vol.params), calo.code, tuple(calo.params))


def _geometry(target: Target) -> tuple:
    """(volume, calorimeter, use_calo) of a target for :func:`mcsim.scan.fused.select_block`."""
    det = fixed_target(target.detector)
    if target.mode == "cone":
        return det.cone, det.calorimeter, False
    return det.decay_volume, det.calorimeter, True


def selected_samples(
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
        e_min, e_max, _ = selection(target)
        lo, hi = energies.get(key, (e_min, e_max))
        energies[key] = min(lo, e_min), max(hi, e_max)
        if wanted is None or t in wanted:
            groups.setdefault(key, []).append(t)
    geometries = [
        (*_geometry(task.targets[members[0]]), *energies[key]) for key, members in groups.items()
    ]
    angle = max(window(fixed_target(t.detector), t.mode, task.sampling) for t in task.targets)
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
                e_min, e_max, _ = selection(task.targets[t])
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


def channel_sums(
    task: Task, model: Model, channel, source, blocks, ratios, tilt=None
) -> ChannelSums:
    shape = (len(task.targets), ratios.size)
    cells = _evaluated(task, ratios.size)
    wanted = {t for t, ks in enumerate(cells) if ks.size}
    out = ChannelSums(0, np.zeros(shape), np.zeros(shape), np.zeros(shape), cells=np.zeros(shape))
    out.next_block = blocks[-1][0] + 1 if blocks else 0
    for size, per_target in selected_samples(task, model, channel, source, blocks, tilt, wanted):
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


def ratios_of(model: Model, couplings) -> np.ndarray:
    """Re-weighting ratios r = (d / D_REF)^p of ``model`` (generated at D_REF) for ``couplings``:
    BR x r, c*tau / r."""
    return (np.asarray(couplings, dtype=np.float64) / D_REF) ** model.coupling_power
