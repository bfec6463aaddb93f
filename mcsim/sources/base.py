"""What every event source shares: the seeding of event blocks and the window of directed
sampling.

Events come in blocks of :data:`mcsim.runtime.defaults.BLOCK_SIZE`, each with its own random
streams keyed by (seed, channel key, block), so that the same seed gives the same events
whatever the chunking, the worker count or the command that asks for them.
"""

from __future__ import annotations

import numpy as np

from mcsim.detector.cards import Detector
from mcsim.runtime.defaults import BLOCK_SIZE, SAMPLINGS

__all__ = ["STREAMS", "block_rng", "block_rngs", "block_sizes", "master_seed", "window"]


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


def window(detector: Detector, mode: str, sampling: str) -> float:
    """The angular window [rad] of directed sampling: the largest polar angle of the decay
    volume ('full') or the cone ('cone') -- no LLP outside it can decay inside -- or 0 for
    plain sampling."""
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {', '.join(SAMPLINGS)}, got {sampling!r}")
    if sampling == "plain":
        return 0.0
    return (detector.decay_volume if mode == "full" else detector.cone).max_polar_angle
