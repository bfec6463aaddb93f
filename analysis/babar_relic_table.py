"""BaBar line (10 events) and thermal-relic line (Omega h^2 = 0.12) of the dark dipole at the
masses of the paper's discussion, next to the NA62 reach read from the Figure 2 grids.

    python analysis/babar_relic_table.py [--events 100000] [--grids analysis/figures/figure2_grids.json]

For each delta = 0.1, 0.01, 0.005 and M1 = 0.05, 0.1, 0.3, 1 GeV: d_BaBar (the smallest d with
10 expected events: BaBar excludes d above it), its Monte Carlo uncertainty (from the sum of
squared weights, propagated through the local slope of N(d)), d_relic, and the range of d that
NA62 (1e17 and 1e18 POT) reaches with N >= 3 in the grids file.  Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from mcsim.detector.cards import load_detector
from mcsim.generation.simulate import simulate
from mcsim.models.dipoles import DarkDipole
from mcsim.models.relic import relic_coupling
from mcsim.scan.reach import read_grids
from mcsim.weights import coupling_at

DELTAS = (0.1, 0.01, 0.005)
MASSES = (0.05, 0.1, 0.3, 1.0)


def reach_range(grid, mass: float) -> tuple[float, float]:
    """(lowest, highest) d [GeV^-1] with N >= level on the grid column nearest to ``mass``."""
    j = int(np.argmin(np.abs(np.log(grid.masses / mass))))
    above = np.nonzero(grid.events[j] >= grid.level)[0]
    if above.size == 0:
        return math.nan, math.nan
    return float(grid.couplings[above[0]]), float(grid.couplings[above[-1]])


def babar_line(m1: float, delta: float, n_events: int, seed: int) -> tuple[float, float]:
    """d with 10 events at BaBar and its relative Monte Carlo uncertainty."""
    det = load_detector("babar")
    batch = simulate(DarkDipole(m1=m1, delta=delta, d=1e-4), det, n_events=n_events, seed=seed)
    d = coupling_at(batch.arrays, batch.metadata, det.sensitivity_events)
    n0, n1 = batch.expected_events(d), batch.expected_events(d * 1.01)
    slope = math.log(n1 / n0) / math.log(1.01)  # dlnN / dln d
    return d, n0.stat_error / n0 / slope


def main() -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--grids", default=str(here / "figures" / "figure2_grids.json"))
    args = parser.parse_args()
    grids = {g.label: g for g in read_grids(args.grids)} if Path(args.grids).exists() else {}
    print("| delta | M1 [GeV] | d BaBar (N = 10) | d relic | NA62 1e17 reach | NA62 1e18 reach |")
    print("|---|---|---|---|---|---|")
    for delta in DELTAS:
        for m1 in MASSES:
            d_b, rel = babar_line(m1, delta, args.events, args.seed)
            d_r = relic_coupling(m1, delta)
            cells = []
            for pot in ("1e17", "1e18"):
                g = grids.get(f"delta={delta:g} | NA62 {pot} POT")
                lo, hi = reach_range(g, m1) if g is not None else (math.nan, math.nan)
                cells.append("--" if math.isnan(lo) else f"{lo:.2g} - {hi:.2g}")
            print(
                f"| {delta:g} | {m1:g} | {d_b:.3g} (+- {100 * rel:.1f}%) | {d_r:.3g} | "
                f"{cells[0]} | {cells[1]} |"
            )


if __name__ == "__main__":
    main()
