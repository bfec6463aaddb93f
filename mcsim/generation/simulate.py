"""The full chain for one model point and one detector (paper Eq. 4.1):

    meson spectrum -> production decay -> propagation (decay in the volume, photon to the
    calorimeter) -> photon selection -> expected number of signal events.

:func:`simulate` runs it for every open production channel and returns an :class:`EventBatch`
of per-event arrays.  The weight of an event is

    weight = w_norm x w_photon x p_decay_accepted x above_threshold x efficiency,
    w_norm = N_M x BR(d) / N_generated(channel) x w_sampling        [expected events],

w_sampling and w_photon are the importance weights of directed sampling (1 for plain): of the
meson and the LLP's direction, and of the photon's (drawn inside the energy window).

with N_M = N_POT x f_M (fixed target) or sigma_inel x L x f_M (collider).  BR scales as d^2 and
c*tau as 1/d^2, and the decay probabilities are exact functions of c*tau, so :func:`reweight`
gives the sample at any other coupling exactly, without generating again.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from mcsim.detector.cards import Detector, load_detector
from mcsim.detector.propagate import propagate
from mcsim.generation.allocation import ALLOCATIONS, from_pilots
from mcsim.io.schema import ARRAYS, EventBatch, concatenate
from mcsim.models.channels import Channel
from mcsim.models.registry import Model
from mcsim.runtime.defaults import BLOCK_SIZE, MODES
from mcsim.sources.base import block_rngs, block_sizes, master_seed, window
from mcsim.sources.mesons import MesonSource, SpectraSource, _charges, produce, select_channels
from mcsim.weights import channel_normalisation, normalise, run_metadata

if TYPE_CHECKING:
    from mcsim.detector.collider import ColliderDetector

__all__ = ["simulate"]


# Optional, for directed sampling (used when present):
# def sample_directed(self, channel, n, rng, window) -> (momenta (n, 4), weights (n,)):
#     mothers of the channel drawn preferably where their LLP can fly within window [rad]
#     of the beam axis, with the importance weights that keep weighted sums unbiased.


def _run_block(
    index: int,
    channel: Channel,
    model: Model,
    detector: Detector,
    source,
    n: int,
    rngs,
    mode: str,
    threshold,
    angle: float,
) -> dict:
    rng_production, rng_charge, rng_propagation = rngs
    mothers, products = produce(channel, source, n, rng_production, angle)
    anti = _charges(model, channel, n, source, rng_charge)
    prop = propagate(
        products["llp"],
        m_llp=model.llp_mass,
        m_invisible=model.invisible_mass,
        detector=detector,
        mode=mode,
        ctau=model.ctau,
        rng=rng_propagation,
        threshold=threshold,
        directed=angle > 0.0,
    )
    sign = np.where(anti & (channel.kind == "charged"), -1, 1)
    return {
        "channel": np.full(n, index, dtype=np.int32),
        "mother_pdgid": (sign * channel.mother).astype(np.int32),
        "is_antiparticle": anti,
        "p4_meson": mothers,
        "p4_llp": products["llp"],
        "p4_invisible": products.get("invisible", np.zeros((n, 4))),
        "p4_prompt_photon": products.get("photon", np.zeros((n, 4))),
        "p4_lepton": products.get("lepton", np.zeros((n, 4))),
        **prop,
        "w_sampling": products["weight"],
    }


def _run_channel(
    index: int,
    channel: Channel,
    model: Model,
    detector: Detector,
    source,
    n: int,
    seed: int,
    first_block: int,
    mode: str,
    threshold,
    angle: float,
) -> tuple[dict, float]:
    n_m = source.n_mesons(channel.mother)
    blocks = [
        _run_block(
            index,
            channel,
            model,
            detector,
            source,
            size,
            block_rngs(seed, channel.mother, block),
            mode,
            threshold,
            angle,
        )
        for block, size in block_sizes(n, first_block)
    ]
    arrays = concatenate(blocks)
    normalise(arrays, channel_normalisation(n_m, channel.br, n), detector.efficiency)
    return arrays, n_m


def _empty(n: int = 0) -> dict:
    return {k: np.zeros((n, w) if w else n, dtype=t) for k, (t, w) in ARRAYS.items()}


def simulate(
    model: Model,
    detector: Detector | ColliderDetector | str,
    *,
    n_events: int,
    seed: int | np.random.Generator,
    mode: str = "full",
    threshold: float | None = None,
    channels: list[int] | None = None,
    source: MesonSource | None = None,
    first_block: int = 0,
    sampling: str = "plain",
    allocation: str = "equal",
) -> EventBatch:
    """Run the chain for ``model`` in ``detector`` (a Detector or a card name/path) with
    ``n_events`` Monte Carlo events in EACH open channel (or in those of the given mother PDG
    IDs).  ``mode`` 'full' (3-D geometry) or 'cone' (the paper's selection); ``threshold`` [GeV]
    replaces the card's minimum photon energy; ``source`` replaces the shipped spectra (tests).
    Events come in blocks of :data:`BLOCK_SIZE` with their own random streams
    (:func:`block_rngs`), from block ``first_block`` on: the same seed gives the same batch, bit
    for bit, and the same events as a reach scan or an events file of that seed.  ``sampling``
    'directed' points the LLPs into the detector (:data:`SAMPLINGS`, :func:`window`) and draws
    their photons inside the energy window; the importance weights are part of ``w_norm``
    (w_sampling) and ``w_photon``.  ``allocation`` 'neyman' shares the same total,
    n_events x channels, by each channel's contribution (:mod:`mcsim.generation.allocation`: at least one
    block per channel, the rest in proportion to the spread its first block measured).
    """
    if isinstance(detector, str):
        detector = load_detector(detector)
    if (
        detector.beam == "e+e-"
    ):  # a collider card: e+ e- -> gamma chi1 chi2 (mcsim.sources.collider)
        from mcsim.detector.collider import ColliderDetector
        from mcsim.sources.collider import simulate as simulate_collider

        assert isinstance(detector, ColliderDetector)
        block_seed = np.random.SeedSequence(master_seed(seed), spawn_key=(0, int(first_block)))
        return simulate_collider(
            model,
            detector,
            n_events=n_events,
            seed=np.random.default_rng(block_seed),
            mode=mode,
            threshold=threshold,
            channels=channels,
        )
    assert isinstance(detector, Detector)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if isinstance(n_events, bool) or not isinstance(n_events, (int, np.integer)) or n_events < 1:
        raise ValueError(f"n_events must be an integer >= 1, got {n_events!r}")
    if threshold is not None and not (threshold >= 0.0 and math.isfinite(threshold)):
        raise ValueError(f"threshold must be a finite energy >= 0 GeV, got {threshold!r}")
    seed = master_seed(seed)
    angle = window(detector, mode, sampling)
    source = SpectraSource(detector) if source is None else source
    chans = select_channels(model, source, channels)
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {', '.join(ALLOCATIONS)}, got {allocation!r}")

    def run(index: int, n: int, block: int) -> tuple[dict, float]:
        return _run_channel(
            index, chans[index], model, detector, source, n, seed, block, mode, threshold, angle
        )

    n_events, first_block = int(n_events), int(first_block)
    parts, n_mesons = [], []
    for index in range(len(chans)):
        arrays, n_m = run(index, min(n_events, BLOCK_SIZE), first_block)
        parts.append(arrays)
        n_mesons.append(n_m)
    counts = [n_events] * len(chans)
    if allocation == "neyman" and n_events > BLOCK_SIZE:
        counts = from_pilots(n_events * len(chans), [p["weight"] for p in parts], BLOCK_SIZE)
    for index, (channel, n) in enumerate(zip(chans, counts)):
        if n > BLOCK_SIZE:  # the events after the first block
            parts[index] = concatenate(
                [parts[index], run(index, n - BLOCK_SIZE, first_block + 1)[0]]
            )
            w_norm = channel_normalisation(n_mesons[index], channel.br, n)
            normalise(parts[index], w_norm, detector.efficiency)
    merged = concatenate(parts, ARRAYS) if parts else _empty()
    metadata = {
        **run_metadata(model, detector, mode, threshold, sampling),
        "seed": seed,
        "channels": [c.name for c in chans],
        "mother_pdgids": [c.mother for c in chans],
        "n_mesons": n_mesons,
        "br": [c.br for c in chans],
        "n_generated": counts,
    }
    return EventBatch(merged, metadata)
