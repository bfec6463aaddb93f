"""Wall time of the full Figure 2 scan set (not part of the test run).

    python benchmarks/bench_reach.py [--masses 40] [--couplings 100] [--events 16384]
                                     [--workers 2] [--recasts]
                                     [--sampling plain|directed] [--no-refine]

3 deltas (0.1, 0.01, 0.005) x 5 configurations (NA62 1e17 and 1e18, HIKE, SHiP, FASER 2) x
masses (M1 = 0.01-5 GeV) x couplings (d = 1e-8-1e-2 GeV^-1), E_gamma > 1 GeV, full geometry,
one Monte Carlo sample of ``--events`` per mass and channel from the shipped spectra, then the
adaptive refinement of the contour cells (``--no-refine``: first pass only).  Reports the wall
time of the whole set (worker start-up included), the CPU time of the workers and of this
process, the load average of the machine, the events the refinement added and the largest
relative Monte Carlo error at each contour; ``--recasts`` adds CHARM-II, BEBC and NuCal.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import time

import numpy as np

from mcsim.runtime.defaults import FIRST_PASS_EVENTS, SAMPLINGS, SCAN_SAMPLING
from mcsim.scan.figures import dark_targets, figure_spec
from mcsim.scan.reach import log_grid
from mcsim.scan.refinement import NO_REFINEMENT, Refinement
from mcsim.scan.runner import scan_set


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--masses", type=int, default=40)
    ap.add_argument("--couplings", type=int, default=100)
    ap.add_argument("--events", type=int, default=FIRST_PASS_EVENTS)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--recasts", action="store_true")
    ap.add_argument("--no-refine", action="store_true")
    ap.add_argument(
        "--budget", type=float, default=Refinement.budget, help="refinement budget (x first pass)"
    )
    ap.add_argument("--sampling", choices=SAMPLINGS, default=SCAN_SAMPLING)
    args = ap.parse_args()
    spec = figure_spec(2)
    masses = log_grid(*spec.mass_range, args.masses, name="mass")
    couplings = log_grid(*spec.coupling_range, args.couplings, name="coupling")
    targets = dark_targets(recasts=args.recasts)
    jobs = [(family, targets) for _, family, _ in spec.panels]
    load0 = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    grids = scan_set(
        jobs,
        masses,
        couplings,
        n_events=args.events,
        seed=args.seed,
        workers=args.workers,
        sampling=args.sampling,
        progress=False,
        refinement=NO_REFINEMENT if args.no_refine else Refinement(budget=args.budget),
    )
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    deadline = time.monotonic() + 30.0
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)  # the workers exit after the scan returns; their CPU counts once reaped
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_workers = children.ru_utime + children.ru_stime
    print(
        f"Figure 2 set: {len(jobs)} panels x {len(targets)} configurations x "
        f"{args.masses} masses x {args.couplings} couplings, {args.events:.0e} events per mass "
        f"and channel ({args.sampling} sampling), {args.workers} workers"
    )
    print(
        f"wall {wall:.1f} s; CPU: workers {cpu_workers:.1f} s, this process {cpu:.1f} s; "
        f"load average "
        f"{load0:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    ref = grids[0][0].metadata["refinement"]
    print(
        f"events: first pass {ref['events_first_pass']:.3g}, added by the refinement "
        f"{ref['events_added']:.3g}"
    )
    for (_, family, _), job in zip(spec.panels, grids):
        reach = ", ".join(f"{g.label} {g.min_coupling(0.1):.2g}" for g in job)
        print(f"  {family.tag}: smallest d at M1 = 0.1 GeV: {reach}")
        for g in job:
            errors = [e for e in g.metadata["contour_rel_error"] if e is not None]
            print(
                f"    {g.label}: MC error at the contour: median "
                f"{np.median(errors) if errors else 0:.1%}, max {max(errors, default=0):.1%}; "
                f"{len(g.metadata['unconverged_masses'])} masses above the target"
            )


if __name__ == "__main__":
    main()
