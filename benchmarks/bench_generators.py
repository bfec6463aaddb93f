"""Generation throughput per production channel (events per second on one core, after JIT).

Each decay starts from a mother with a random lab momentum and includes the boost to the lab.
Run:  python benchmarks/bench_generators.py [n_events]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from mcsim.models.channels import channels, decay_mothers, llp_decay
from mcsim.models.dipoles import DarkDipole, NeutrinoDipole


def _mothers(rng, mass, n):
    p = rng.uniform(0.0, 300.0, n)
    out = np.zeros((n, 4))
    out[:, 3] = p
    out[:, 0] = np.sqrt(p**2 + mass**2)
    return out


def _rate(func, n, repeats=3):
    func(1000)  # JIT and caches
    best = min(_timed(func, n) for _ in range(repeats))
    return n / best


def _timed(func, n):
    t0 = time.perf_counter()
    func(n)
    return time.perf_counter() - t0


def main(n: int = 2_000_000) -> None:
    rng = np.random.default_rng(1)
    cases = [
        (DarkDipole(0.1, 0.1, 1e-4), (113, 443, 221)),
        (DarkDipole(0.01, 0.1, 1e-4), (111,)),
        (NeutrinoDipole(0.1, 1e-6, "mu"), (321, 431, 521)),
    ]
    print(f"{'channel':<40s} {'model point':<38s} {'events/s/core':>14s}")
    for model, mothers in cases:
        by_id = {c.mother: c for c in channels(model)}
        for pdgid in mothers:
            chan = by_id[pdgid]
            moms = _mothers(rng, chan.mother_mass, n)
            rate = _rate(lambda k, chan=chan, moms=moms: decay_mothers(chan, moms[:k], rng), n)
            print(f"{chan.name:<40s} {model.describe()!s:<38s} {rate:14.3e}")
    model = DarkDipole(0.1, 0.1, 1e-4)
    llp = _mothers(rng, model.llp_mass, n)
    rate = _rate(lambda k: llp_decay(model, llp[:k], rng), n)
    print(f"{'chi2 -> chi1 gamma (LLP decay)':<40s} {model.describe()!s:<38s} {rate:14.3e}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000)
