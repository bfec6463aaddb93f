"""The full chain for one model point and one detector (paper Eq. 4.1):

    event source (meson decays, e+ e- collisions, ...) -> propagation (decay in the volume,
    photon to the calorimeter) -> the detector's selection -> expected number of signal events.

:func:`simulate` runs it for every open production channel of the detector's source and
returns an :class:`mcsim.io.schema.EventBatch` of per-event arrays, normalised by
:mod:`mcsim.weights`: w_norm = exposure x rate / N_generated x w_sampling and weight =
w_norm x w_photon x p_decay_accepted x above_threshold x efficiency (w_sampling and w_photon
the importance weights of directed sampling, 1 for plain).
"""

from __future__ import annotations

import numpy as np

from mcsim.detector.cards import Detector, load_detector
from mcsim.detector.interaction_point import InteractionPointDetector
from mcsim.detector.propagate import observe
from mcsim.generation.allocation import ALLOCATIONS, from_pilots
from mcsim.io.schema import ARRAYS, EventBatch, concatenate
from mcsim.models.registry import Model
from mcsim.runtime.defaults import BLOCK_SIZE
from mcsim.sources.base import EventSource, block_rngs, block_sizes, master_seed, window
from mcsim.sources.registry import source_for
from mcsim.weights import normalise, run_metadata

__all__ = ["channel_events", "simulate"]


def channel_events(
    source: EventSource,
    model: Model,
    detector,
    channel,
    n: int,
    *,
    seed: int,
    first_block: int = 0,
    mode: str = "full",
    threshold: float | None = None,
    angle: float = 0.0,
) -> dict[str, np.ndarray]:
    """``n`` events of one ``channel`` of ``source``, from random-number block ``first_block``
    on (:func:`mcsim.sources.base.block_rngs`: production, charge and propagation streams per
    block), propagated and selected in ``detector``; not yet normalised (no w_norm, weight)."""
    blocks = []
    for block, size in block_sizes(n, first_block):
        rng_production, rng_charge, rng_propagation = block_rngs(seed, channel.mother, block)
        production = source.produce(channel, size, rng_production, rng_charge, angle)
        observed = observe(
            production,
            model,
            detector,
            mode=mode,
            threshold=threshold,
            directed=angle > 0.0,
            rng=rng_propagation,
        )
        blocks.append({**production, **observed})
    return concatenate(blocks)


def _empty(n: int = 0) -> dict:
    return {k: np.zeros((n, w) if w else n, dtype=t) for k, (t, w) in ARRAYS.items()}


def simulate(
    model: Model,
    detector: Detector | InteractionPointDetector | str,
    *,
    n_events: int,
    seed: int | np.random.Generator,
    mode: str = "full",
    threshold: float | None = None,
    channels: list[int] | None = None,
    source: EventSource | None = None,
    first_block: int = 0,
    sampling: str = "plain",
    allocation: str = "equal",
) -> EventBatch:
    """Run the chain for ``model`` in ``detector`` (a detector or a card name/path) with
    ``n_events`` Monte Carlo events in EACH open channel of its source (or in those of the
    given channel keys: mother PDG IDs).  ``mode`` 'full' (3-D geometry) or 'cone' (the paper's
    selection); ``threshold`` [GeV] replaces the card's minimum photon energy; ``source``
    replaces the detector's own (:func:`mcsim.sources.registry.source_for`; tests).  Events
    come in blocks of :data:`mcsim.runtime.defaults.BLOCK_SIZE` with their own random streams,
    from block ``first_block`` on: the same seed gives the same batch, bit for bit, and the
    same events as a reach scan or an events file of that seed.  ``sampling`` 'directed' points
    the LLPs into the detector and draws their photons inside the energy window; the importance
    weights are part of ``w_norm`` (w_sampling) and ``w_photon``.  ``allocation`` 'neyman'
    shares the same total, n_events x channels, by each channel's contribution
    (:mod:`mcsim.generation.allocation`: at least one block per channel, the rest in proportion
    to the spread its first block measured)."""
    if isinstance(detector, str):
        detector = load_detector(detector)
    detector.propagation(mode, threshold)  # checks mode and threshold
    if isinstance(n_events, bool) or not isinstance(n_events, (int, np.integer)) or n_events < 1:
        raise ValueError(f"n_events must be an integer >= 1, got {n_events!r}")
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {', '.join(ALLOCATIONS)}, got {allocation!r}")
    seed = master_seed(seed)
    angle = window(detector, mode, sampling)
    source = source_for(model, detector) if source is None else source
    chans = source.channels(channels)
    exposures = [source.exposure(c) for c in chans]
    n_events, first_block = int(n_events), int(first_block)

    def run(index: int, n: int, block: int) -> dict:
        return channel_events(
            source,
            model,
            detector,
            chans[index],
            n,
            seed=seed,
            first_block=block,
            mode=mode,
            threshold=threshold,
            angle=angle,
        )

    parts = [run(index, min(n_events, BLOCK_SIZE), first_block) for index in range(len(chans))]
    counts = [n_events] * len(chans)
    if allocation == "neyman" and source.allocatable and n_events > BLOCK_SIZE:
        for index, chan in enumerate(chans):  # the pilots' own normalisation
            normalise(parts[index], exposures[index], chan.rate, BLOCK_SIZE, detector.efficiency)
        counts = from_pilots(n_events * len(chans), [p["weight"] for p in parts], BLOCK_SIZE)
    for index, (chan, n) in enumerate(zip(chans, counts)):
        if n > BLOCK_SIZE:  # the events after the first block
            rest = run(index, n - BLOCK_SIZE, first_block + 1)
            parts[index] = concatenate([parts[index], rest], list(rest))
        parts[index]["channel"] = np.full(n, index, dtype=np.int32)
        normalise(parts[index], exposures[index], chan.rate, n, detector.efficiency)
    merged = concatenate(parts, ARRAYS) if parts else _empty()
    metadata = {
        **run_metadata(model, detector, source, mode, threshold, sampling),
        "seed": seed,
        **channel_metadata(chans, exposures, counts),
        **source.metadata(chans),
    }
    return EventBatch(merged, metadata)


def channel_metadata(chans: list, exposures: list[float], counts: list[int]) -> dict:
    """The per-channel entries of a sample's metadata: names, keys, exposures, rates at the
    sample's coupling and events generated."""
    return {
        "channels": [c.name for c in chans],
        "mother_pdgids": [c.mother for c in chans],
        "exposure": exposures,
        "rate": [c.rate for c in chans],
        "n_generated": counts,
    }
