"""Compare two reach-grid files cell by cell (e.g. regenerated figures against the shipped ones).

    python analysis/compare_grids.py analysis/figures/figure2_grids.json new/figure2_grids.json

Per grid (matched by label): whether the yields are identical, else the pulls
(a - b) / sqrt(sigma_a^2 + sigma_b^2) over the cells where either yield is non-zero -- their
count, the fractions within 1, 2 and 3 sigma (68%, 95%, 99.7% for honest errors) and the
largest |pull|.  Exit status 1 if a grid is missing or a |pull| exceeds --max-pull.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from mcsim.scan.reach import read_grids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference")
    parser.add_argument("other")
    parser.add_argument("--max-pull", type=float, default=5.0)
    args = parser.parse_args()
    ref = {g.label: g for g in read_grids(args.reference)}
    new = {g.label: g for g in read_grids(args.other)}
    bad = sorted(set(ref) ^ set(new))
    for label in bad:
        print(f"{label}: in one file only")
    for label in sorted(set(ref) & set(new)):
        a, b = ref[label], new[label]
        if np.array_equal(a.events, b.events):
            print(f"{label}: identical")
            continue
        live = (a.events > 0) | (b.events > 0)
        sigma = np.hypot(a.stat_error, b.stat_error)[live]
        diff = (a.events - b.events)[live]
        pull = np.divide(diff, sigma, out=np.zeros_like(diff), where=sigma > 0)
        pull[(sigma == 0) & (diff != 0)] = np.inf
        within = [float(np.mean(np.abs(pull) <= k)) for k in (1, 2, 3)]
        worst = float(np.max(np.abs(pull)))
        print(
            f"{label}: {pull.size} cells, within 1/2/3 sigma {within[0]:.3f} / {within[1]:.3f} / "
            f"{within[2]:.3f}, max |pull| {worst:.2f}"
        )
        if worst > args.max_pull:
            bad.append(label)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
