"""Random numbers inside the numba kernels: xoshiro256++ seeded from the caller's Generator.

Every kernel that draws random numbers takes the caller's ``numpy.random.Generator`` and calls
:func:`stream` once, which draws 256 bits from it to seed a private xoshiro256++ state (Blackman
and Vigna, "Scrambled linear pseudorandom number generators", ACM TOMS 47 (2021) 36; period
2^256 - 1, passes BigCrush).  The per-event draws then come from :func:`uniform`, inlined into the
kernel: about 1 ns each, against about 6 ns for a ``Generator.random()`` call from numba, which
goes through a function pointer.  The same Generator state gives the same numbers, and the
Generator is advanced, so successive kernel calls draw independent streams.
"""

from __future__ import annotations

import math

import numpy as np

from mcsim.runtime.jit_cache import kernel

__all__ = ["azimuth", "direction", "stream", "uniform"]

_U64 = np.uint64
_TWO_M53 = 2.0**-53


@kernel()
def stream(rng) -> np.ndarray:
    """A fresh xoshiro256++ state (4 uint64 words) seeded with 256 bits drawn from ``rng``."""
    state = rng.integers(_U64(0), _U64(2**64 - 1), size=4, dtype=np.uint64)
    if state[0] == 0 and state[1] == 0 and state[2] == 0 and state[3] == 0:
        state[0] = 1  # the one state xoshiro cannot leave (probability 2^-256)
    return state


@kernel(inline="always")
def _rotl(x, k: int):
    return (x << _U64(k)) | (x >> _U64(64 - k))


@kernel(inline="always")
def uniform(state) -> float:
    """The next double uniform in [0, 1) (53 random bits); advances ``state`` in place."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    result = _rotl(s0 + s3, 23) + s0
    t = s1 << _U64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    state[0], state[1], state[2], state[3] = s0, s1, s2, _rotl(s3, 45)
    return (result >> _U64(11)) * _TWO_M53


@kernel(inline="always")
def _unit_disc(state):
    """A point (u, v) uniform in the unit disc without its centre, and q = u^2 + v^2 (rejection
    from the square: on average 2.55 uniforms)."""
    while True:
        u = 2.0 * uniform(state) - 1.0
        v = 2.0 * uniform(state) - 1.0
        q = u * u + v * v
        if 0.0 < q <= 1.0:
            return u, v, q


@kernel(inline="always")
def azimuth(state):
    """(cos phi, sin phi) of an azimuth phi uniform in [0, 2 pi), without trigonometry: the
    doubled angle of a point uniform in the unit disc (von Neumann)."""
    u, v, q = _unit_disc(state)
    return (u * u - v * v) / q, 2.0 * u * v / q


@kernel(inline="always")
def direction(state):
    """A unit vector (x, y, z) uniform on the sphere (Marsaglia 1972): z = 1 - 2q and the
    transverse part along (u, v), for (u, v) uniform in the unit disc."""
    u, v, q = _unit_disc(state)
    r = 2.0 * math.sqrt(1.0 - q)
    return u * r, v * r, 1.0 - 2.0 * q
