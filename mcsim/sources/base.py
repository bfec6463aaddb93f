"""What every event source answers (:class:`EventSource`) and shares: the seeding of event
blocks and the window of directed sampling.

A source makes the long-lived states of one model for one detector, channel by channel: their
4-momenta and those of what is produced with them, with sampling weights.  The detector then
propagates and selects them (:func:`mcsim.detector.propagate.observe`) and
:mod:`mcsim.weights` normalises them: w_norm = exposure x rate / N_generated x w_sampling.  A
new production mechanism is one module with one such class, named by the detectors it feeds
(:mod:`mcsim.sources.registry`).

Events come in blocks of :data:`mcsim.runtime.defaults.BLOCK_SIZE`, each with its own random
streams keyed by (seed, channel key, block), so that the same seed gives the same events
whatever the chunking, the worker count or the command that asks for them.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from mcsim.runtime.defaults import BLOCK_SIZE, SAMPLINGS

__all__ = [
    "STREAMS",
    "EventSource",
    "ProductionChannel",
    "block_rng",
    "block_rngs",
    "block_sizes",
    "master_seed",
    "window",
]


class ProductionChannel(Protocol):
    """One production channel of a source: ``mother`` its key (the meson's positive PDG ID,
    0 for e+ e- collisions; it keys the random streams), ``name``, ``kind``, and ``rate`` --
    what multiplies the source's exposure (a BR, a cross section in fb)."""

    @property
    def mother(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def rate(self) -> float: ...


class EventSource(Protocol):
    """A production mechanism of the long-lived state (LLP) for one model and one detector.

    ``name``, ``exposure_label`` and ``rate_label`` say what it is and what its numbers count
    (they go into the events files); ``allocatable``: whether the events may be shared over its
    channels by their contribution (:mod:`mcsim.generation.allocation`); ``fused_scan``: whether
    the reach scans run it through a fused kernel (:mod:`mcsim.scan.fused`) and refine it."""

    name: str
    exposure_label: str
    rate_label: str
    allocatable: bool
    fused_scan: bool

    def channels(self, mothers: list[int] | None = None) -> list:
        """Its open channels (:class:`ProductionChannel`), or those of the given keys (either
        sign); ValueError for a requested key it does not have."""
        ...

    def exposure(self, channel) -> float:
        """What the channel's rate multiplies: mesons produced, luminosity [fb^-1], ..."""
        ...

    def produce(self, channel, n: int, rng, rng_charge, window: float = 0.0) -> dict:
        """n events of the channel: mother_pdgid, is_antiparticle, p4_meson (the produced
        system), p4_llp, p4_invisible, p4_prompt_photon, p4_lepton [GeV, lab] and w_sampling;
        ``window`` [rad] > 0 asks for LLPs directed within it of the beam axis (a source that
        cannot direct them ignores it; w_sampling keeps the sums unbiased)."""
        ...

    def why_closed(self) -> str:
        """Why it has no open channel for the model (one line, for the user)."""
        ...

    def metadata(self, channels: list) -> dict:
        """What an events file records about the source (spectra tables, beams)."""
        ...


def master_seed(seed: int | np.random.Generator) -> int:
    """The integer master seed of a sample: ``seed`` itself (0 <= seed < 2^63), or 63 bits
    drawn from a Generator."""
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(2**63))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be an integer in [0, 2^63), got {seed!r}")
    return int(seed)


#: The streams of an event block, in the order of :func:`block_rngs`.
STREAMS = ("production", "charge", "propagation")


def block_rngs(seed: int, mother: int, block: int) -> tuple[np.random.Generator, ...]:
    """The three streams of event block ``block`` of the channel of ``mother`` (positive PDG
    ID): production (meson and its decay), charge (N or N-bar) and propagation (LLP decay and
    vertex), the children of ``SeedSequence(seed, spawn_key=(mother, block))``.  Each kernel
    draws a fixed 256 bits from its Generator, so a shorter block is a prefix of a longer one."""
    return tuple(block_rng(seed, mother, block, name) for name in STREAMS)


def block_rng(seed: int, mother: int, block: int, stream: str) -> np.random.Generator:
    """One stream of :func:`block_rngs` (``stream`` one of :data:`STREAMS`), made alone: the
    reach scans need two of the three, many times."""
    # child i of SeedSequence(seed, spawn_key=(mother, block)), made without its siblings
    child = (int(mother), int(block), STREAMS.index(stream))
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=child))


def block_sizes(n: int, first_block: int = 0) -> list[tuple[int, int]]:
    """(block index, events) of ``n`` events in blocks of :data:`BLOCK_SIZE` from
    ``first_block`` on (the last block shorter)."""
    full, rest = divmod(int(n), BLOCK_SIZE)
    out = [(first_block + b, BLOCK_SIZE) for b in range(full)]
    return out + ([(first_block + full, rest)] if rest else [])


def window(detector, mode: str, sampling: str) -> float:
    """The angular window [rad] of directed sampling: the largest polar angle of the decay
    volume ('full') or the cone ('cone') -- no LLP outside it can decay inside -- or 0 for
    plain sampling."""
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {', '.join(SAMPLINGS)}, got {sampling!r}")
    if sampling == "plain":
        return 0.0
    return detector.directed_window(mode)
