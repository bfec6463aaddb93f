"""Why the meson kernels write the alias draw out in their loop (not part of the test run).

    python benchmarks/bench_inline.py [--events 4000000]

Draws meson momenta from the rho0 table (SPS 400 GeV) three ways, side by side in one run,
best of 3, in ns per meson of user CPU: (a) the kernels' form -- the alias draw written out in
the loop, the rest in the inlined :func:`mcsim.sources.spectra.meson_in_bin`; (b) the same lines with the
alias draw moved into an ``inline="always"`` function; (c) :func:`mcsim.sources.spectra.sample_momenta`
(the kernel itself, with its (n, 4) output array).  All three draw the same numbers.
"""

from __future__ import annotations

import argparse
import math
import time

import numba as nb
import numpy as np

from mcsim.physics.xoshiro import stream, uniform
from mcsim.sources import spectra
from mcsim.sources.spectra import bin_geometry, meson_in_bin


@nb.njit(inline="always")
def _alias_draw(prob, alias, state):
    n_bins = prob.size
    x = uniform(state) * n_bins
    b = min(int(x), n_bins - 1)
    if x - b >= prob[b]:
        b = alias[b]
    return b


@nb.njit
def _written_out(n, prob, alias, p_edge, p_step, t_edge, t_step, n_theta, mass, rng):
    state = stream(rng)
    total = 0.0
    n_bins = prob.size
    for _ in range(n):
        x = uniform(state) * n_bins
        b = min(int(x), n_bins - 1)
        if x - b >= prob[b]:
            b = alias[b]
        e, px, py, pz = meson_in_bin(b, p_edge, p_step, t_edge, t_step, n_theta, mass, state)
        total += e + px + py + pz
    return total


@nb.njit
def _inlined(n, prob, alias, p_edge, p_step, t_edge, t_step, n_theta, mass, rng):
    state = stream(rng)
    total = 0.0
    for _ in range(n):
        b = _alias_draw(prob, alias, state)
        e, px, py, pz = meson_in_bin(b, p_edge, p_step, t_edge, t_step, n_theta, mass, state)
        total += e + px + py + pz
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4_000_000)
    n = parser.parse_args().events
    table = spectra.load_table(113, "sps400")
    prob, alias = table.alias
    args = (prob, alias, *bin_geometry(table))
    sums = {}
    ways = {
        "(a) alias draw in the loop": lambda k: _written_out(k, *args, np.random.default_rng(1)),
        "(b) alias draw inlined": lambda k: _inlined(k, *args, np.random.default_rng(1)),
        "(c) sample_momenta": lambda k: spectra.sample_momenta(table, k, np.random.default_rng(1)),
    }
    for name, run in ways.items():
        run(1000)  # compile
        best = math.inf
        for _ in range(3):
            start = time.process_time()
            out = run(n)
            best = min(best, time.process_time() - start)
        sums[name] = float(out) if np.ndim(out) == 0 else float(out.sum())
        print(f"{name:30s} {1e9 * best / n:6.1f} ns per meson")
    first = next(iter(sums.values()))
    print("same numbers:", all(math.isclose(v, first, rel_tol=1e-12) for v in sums.values()))


if __name__ == "__main__":
    main()
