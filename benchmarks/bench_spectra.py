"""Throughput of the meson spectra: PYTHIA8 events per second per core for each shipped card
(one chunk in this process, initialisation excluded) and table samples per second per core.

Run: ``python benchmarks/bench_spectra.py [--events N] [--cards sps400_softqcd ...]``.
"""

from __future__ import annotations

import argparse
import time
from importlib import resources

import numpy as np

from mcsim.sources.pythia import read_card, run_chunk
from mcsim.sources.spectra import load_table, sample_momenta


def pythia_rate(card_name: str, n_events: int) -> float:
    """Events per CPU second of one chunk, with PYTHIA8's initialisation subtracted (measured
    as a 1-event chunk)."""
    card = read_card(card_name)
    cost = []
    for n in (1, n_events):
        start = time.process_time()
        run_chunk(card.settings, card.mesons, n, 12345, card.path)
        cost.append(time.process_time() - start)
    return (n_events - 1) / max(cost[1] - cost[0], 1e-9)


def sampler_rate(meson: str, beam: str, n: int = 10_000_000) -> float:
    """Samples per CPU second of sample_momenta (single thread, after numba compilation; CPU
    time, so that other jobs on a shared machine do not count)."""
    table = load_table(meson, beam)
    rng = np.random.default_rng(1)
    sample_momenta(table, 1000, rng)  # compile / load the cache
    start = time.process_time()
    for _ in range(n // 100_000):
        sample_momenta(table, 100_000, rng)
    return n / (time.process_time() - start)


def main() -> None:
    cards = sorted(
        p.name[:-5]
        for p in resources.files("mcsim.generators").iterdir()
        if p.name.endswith(".cmnd")
    )
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000, help="events per card")
    parser.add_argument("--cards", nargs="*", default=cards)
    args = parser.parse_args()
    for meson, beam in (("pi0", "sps400"), ("D+", "sps400"), ("pi0", "lhc14")):
        print(f"sampler {meson:4s} {beam:7s}: {sampler_rate(meson, beam):.3g} samples/s per core")
    for name in args.cards:
        print(f"PYTHIA8 {name:20s}: {pythia_rate(name, args.events):8.0f} events/s per core")


if __name__ == "__main__":
    main()
