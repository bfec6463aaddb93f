"""Events files at scale: peak memory and throughput of `mcsim generate` and `mcsim cutflow`
(not part of the test run).

    python benchmarks/bench_ntuple.py [--events 1e7] [--compression zstd:1] [--dir DIR] [--keep]

1. Generation of --events events (NA62 default point: M1 = 0.1 GeV, delta = 0.1, d = 1e-6
   GeV^-1, all open channels) into a ROOT file: wall time, events/s, file size, and the peak
   resident memory of this process (ru_maxrss) after it.  Memory is bounded by one chunk.
2. Write throughput alone: one 1e5-event chunk written 20 times (2e6 events) with NtupleWriter.
3. The cutflow of the file (re-weighted to d = 3e-6, control histograms filled): time, events/s,
   peak memory after it.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from mcsim import DarkDipole
from mcsim.generation.cutflow import cutflow
from mcsim.generation.simulate import simulate
from mcsim.generation.write import write_events
from mcsim.io.rootio import NtupleWriter

POINT = DarkDipole(m1=0.1, delta=0.1, d=1e-6)


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far [GB] (ru_maxrss is in kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def bench_generate(path: Path, n_events: int, compression: str) -> None:
    start = time.perf_counter()
    meta = write_events(
        POINT,
        "na62",
        path,
        n_events=n_events,
        seed=1,
        compression=compression,
        keep="all",
        progress=True,
    )
    seconds = time.perf_counter() - start
    size = path.stat().st_size
    print(
        f"generate: {n_events:.3g} events in {seconds:.1f} s = {n_events / seconds:.3g} "
        f"events/s; file {size / 1e9:.2f} GB ({size / n_events:.0f} B/event, {compression}); "
        f"expected events {meta['expected_events']:.5g}; peak RSS {peak_rss_gb():.2f} GB"
    )


def bench_write(directory: Path, compression: str, repeats: int = 20) -> None:
    batch = simulate(POINT, "na62", n_events=100_000, seed=2, channels=[113])
    meta = dict(
        batch.metadata,
        n_events=repeats * len(batch),
        n_kept=repeats * len(batch),
        n_collisions=1e18,
        n_pot=1e18,
        luminosity_inv_ab=None,
        photon_energy_max=None,
        expected_events=0.0,
    )
    path = directory / "write_only.root"
    start = time.perf_counter()
    with NtupleWriter(path, overwrite=True, compression_spec=compression) as writer:
        for _ in range(repeats):
            writer.extend(batch.arrays)
        writer.finish(meta)
    seconds = time.perf_counter() - start
    n = repeats * len(batch)
    print(
        f"write only: {n:.3g} events in {seconds:.1f} s = {n / seconds:.3g} events/s "
        f"({path.stat().st_size / seconds / 1e6:.0f} MB/s written, {compression})"
    )
    path.unlink()


def bench_cutflow(path: Path, n_events: int) -> None:
    start = time.perf_counter()
    flow = cutflow(path, d=3e-6)
    seconds = time.perf_counter() - start
    print(
        f"cutflow (re-weighted to d = 3e-6, histograms): {seconds:.1f} s = "
        f"{n_events / seconds:.3g} events/s; expected events {flow.expected_events:.5g}; "
        f"peak RSS {peak_rss_gb():.2f} GB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, default=1e7)
    parser.add_argument("--compression", default="zstd:1")
    parser.add_argument("--dir", type=Path, help="where to write (default: a temporary dir)")
    parser.add_argument("--keep", action="store_true", help="keep the events file")
    args = parser.parse_args()
    directory = Path(args.dir or tempfile.mkdtemp(prefix="mcsim_bench_"))
    path = directory / "bench_na62.root"
    n_events = int(args.events)
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    try:
        bench_generate(path, n_events, args.compression)
        bench_write(directory, args.compression)
        bench_cutflow(path, n_events)
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
