"""The in-kernel random numbers: xoshiro256++ against a pure-Python transcription of the
reference C code, seeding from a Generator, and the uniform, azimuth and direction draws
against their distributions (KS tests with fixed seeds)."""

import math

import numba as nb
import numpy as np
import pytest
from scipy import stats

from mcsim.physics.xoshiro import azimuth, direction, stream, uniform

MASK = (1 << 64) - 1


def reference_next(s):
    """xoshiro256++ next() of Blackman and Vigna, on Python ints; returns the 64-bit output."""

    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK

    result = (rotl((s[0] + s[3]) & MASK, 23) + s[0]) & MASK
    t = (s[1] << 17) & MASK
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = rotl(s[3], 45)
    return result


@nb.njit
def _draw(state, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = uniform(state)
    return out


@nb.njit
def _draws(rng, n):
    """n directions (n, 3) and n azimuths (cos, sin) (n, 2) from one stream."""
    state = stream(rng)
    directions = np.empty((n, 3))
    azimuths = np.empty((n, 2))
    for i in range(n):
        directions[i, 0], directions[i, 1], directions[i, 2] = direction(state)
        azimuths[i, 0], azimuths[i, 1] = azimuth(state)
    return directions, azimuths


def test_uniform_matches_the_reference_algorithm():
    seed = [0x0123456789ABCDEF, 0xFEDCBA9876543210, 0x0F1E2D3C4B5A6978, 0x1]
    state = np.array(seed, dtype=np.uint64)
    got = _draw(state, 1000)
    ref_state = list(seed)
    want = np.array([(reference_next(ref_state) >> 11) * 2.0**-53 for _ in range(1000)])
    assert np.array_equal(got, want)
    assert [int(x) for x in state] == ref_state  # the state advanced in place


def test_stream_is_seeded_by_the_generator():
    a, b = stream(np.random.default_rng(5)), stream(np.random.default_rng(5))
    assert np.array_equal(a, b) and a.dtype == np.uint64
    rng = np.random.default_rng(5)
    first, second = stream(rng), stream(rng)  # the Generator advances: a new stream each call
    assert not np.array_equal(first, second)
    assert not np.array_equal(stream(np.random.default_rng(6)), a)


def test_uniform_distribution():
    x = _draw(stream(np.random.default_rng(1)), 200_000)
    assert x.min() >= 0.0 and x.max() < 1.0
    assert stats.kstest(x, "uniform").pvalue > 1e-3
    # neighbouring draws are uncorrelated
    assert abs(np.corrcoef(x[:-1], x[1:])[0, 1]) < 5 / math.sqrt(x.size)


def test_direction_is_isotropic_and_unit():
    u = _draws(np.random.default_rng(2), 200_000)[0]
    assert np.max(np.abs(np.sum(u * u, axis=1) - 1.0)) < 1e-15
    assert stats.kstest(u[:, 2], "uniform", args=(-1, 2)).pvalue > 1e-3
    phi = np.arctan2(u[:, 1], u[:, 0])
    assert stats.kstest(phi, "uniform", args=(-np.pi, 2 * np.pi)).pvalue > 1e-3


def test_direction_fails_a_wrong_shape():
    """The KS test above has power: cos theta squared is not uniform."""
    u = _draws(np.random.default_rng(2), 200_000)[0]
    assert stats.kstest(u[:, 2] ** 2 * np.sign(u[:, 2]), "uniform", args=(-1, 2)).pvalue < 1e-6


@pytest.mark.parametrize("seed", [3, 4])
def test_azimuth_is_uniform(seed):
    c, s = _draws(np.random.default_rng(seed), 200_000)[1].T
    assert np.max(np.abs(c * c + s * s - 1.0)) < 1e-15
    phi = np.arctan2(s, c)
    assert stats.kstest(phi, "uniform", args=(-np.pi, 2 * np.pi)).pvalue > 1e-3
