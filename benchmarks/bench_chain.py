"""Throughput of the two-body chain and full/cone yield ratios (not part of the test run).

    python benchmarks/bench_chain.py [--events 2000000] [--per-channel 100000]

1. Throughput after JIT, one core: sample meson momenta (rho0, shipped SPS 400 GeV table),
   decay rho0 -> chi1 chi2, propagate (chi2 -> chi1 gamma, path, decay weight, photon to the NA62
   calorimeter).  Reported per user-CPU second of this process (the per-core figure, insensitive
   to other jobs on the machine), with the system time (page faults on the fresh output arrays,
   slow on a loaded machine) and per wall-clock second; also for the whole ``simulate`` call
   (with the per-event arrays assembled).  Measured first with glibc's default malloc, then
   after :func:`mcsim.runtime.memory.keep_freed_memory` (what the ``mcsim`` command and the scan workers
   run with), which removes most of the page faults.
2. Ratio of expected events full / cone for SHiP and NA62 at M1 = 0.05, 0.3, 1 GeV, delta = 0.1,
   at c*tau = 100 m (long-lifetime regime) and 1 m, from one sample re-weighted in d.

Meson momenta come from the shipped SPS 400 GeV tables.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from mcsim import DarkDipole
from mcsim.detector.cards import load_detector
from mcsim.detector.propagate import propagate
from mcsim.generation.simulate import simulate
from mcsim.models.channels import decay_mothers, open_channels
from mcsim.runtime.defaults import BLOCK_SIZE
from mcsim.runtime.memory import keep_freed_memory
from mcsim.scan.fused import Buffers, select_block
from mcsim.sources import spectra
from mcsim.sources.base import window
from mcsim.sources.mesons import SpectraSource


def _cpu() -> tuple[float, float]:
    """(user, system) CPU seconds of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def throughput(n_events: int) -> None:
    model = DarkDipole(m1=0.1, delta=0.1, d=1e-5)
    det = load_detector("na62")
    rho = next(c for c in open_channels(model) if c.mother == 113)
    table = spectra.load_table(113, "sps400")
    rng = np.random.default_rng(1)
    stages = {
        "sample meson": lambda x, n: spectra.sample_momenta(table, n, rng),
        "production decay": lambda x, n: decay_mothers(rho, x, rng)["llp"],
        "propagate": lambda x, n: propagate(
            x,
            m_llp=model.llp_mass,
            m_invisible=model.invisible_mass,
            detector=det,
            mode="full",
            ctau=model.ctau,
            rng=rng,
        ),
    }
    chunk = min(n_events, 500_000)
    user = dict.fromkeys(stages, 0.0)
    system = dict.fromkeys(stages, 0.0)
    wall = time.perf_counter()
    # the first round is not timed: the JIT (or cache loading) and the process's memory growing
    # once to the size of a chunk, as in any long run
    for k in range(n_events // chunk + 1):
        x = None
        for name, stage in stages.items():
            u0, s0 = _cpu()
            x = stage(x, chunk)
            u1, s1 = _cpu()
            if k:
                user[name] += u1 - u0
                system[name] += s1 - s0
        if not k:
            wall = time.perf_counter()
    wall = time.perf_counter() - wall
    n = chunk * (n_events // chunk)
    u, s = sum(user.values()), sum(system.values())
    print(f"two-body chain (rho0 -> chi1 chi2, M1 = 0.1 GeV, NA62 full geometry), {n:.1e} events:")
    print(
        f"  {n / u:.3e} events per user-CPU second (per core); {n / (u + s):.3e} counting the "
        f"system time (page faults of the fresh output arrays); {n / wall:.3e} per wall second"
    )
    print(
        "  per stage, user + system ns/event: "
        + ", ".join(f"{k} {1e9 * user[k] / n:.0f} + {1e9 * system[k] / n:.0f}" for k in stages)
    )
    # untimed: the JIT, and the process's memory growing once to the size of a chunk
    simulate(model, det, n_events=chunk, seed=1, channels=[113])
    u0, s0 = _cpu()
    for k in range(n_events // chunk):
        simulate(model, det, n_events=chunk, seed=k, channels=[113])
    u1, s1 = _cpu()
    print(
        f"  simulate() with all per-event arrays: {n / (u1 - u0):.3e} events per user-CPU "
        f"second, {n / (u1 - u0 + s1 - s0):.3e} with system time"
    )


def fused(n_events: int) -> None:
    """Events per user-CPU second of :func:`mcsim.scan.fused.select_block` (NA62, full geometry)."""
    model = DarkDipole(m1=0.1, delta=0.1, d=1e-5)
    det = load_detector("na62")
    source = SpectraSource(det)
    geometry = [
        (det.decay_volume, det.calorimeter, True, det.photon_energy_min, det.photon_energy_max)
    ]
    buffers = Buffers(1, BLOCK_SIZE)
    blocks = max(n_events // BLOCK_SIZE, 1)
    print(
        f"one-pass kernel (mcsim.scan.fused), NA62 full geometry, {blocks * BLOCK_SIZE:.1e} events:"
    )
    for mother in (113, 221):
        channel = next(c for c in open_channels(model) if c.mother == mother)
        for sampling in ("plain", "directed"):
            angle = window(det, "full", sampling)
            table = source.sampling(channel, angle)
            rng = np.random.default_rng(1)
            select_block(channel, table, model, geometry, 1000, rng, rng, angle, buffers)  # JIT
            u0, s0 = _cpu()
            for _ in range(blocks):
                select_block(channel, table, model, geometry, BLOCK_SIZE, rng, rng, angle, buffers)
            u1, s1 = _cpu()
            n = blocks * BLOCK_SIZE
            print(
                f"  {channel.name:24s} {sampling:8s}: {n / (u1 - u0):.3e} events per user-CPU "
                f"second, {n / (u1 - u0 + s1 - s0):.3e} with system time"
            )


def ratios(n_per_channel: int) -> None:
    print("\nexpected events, full geometry / cone (delta = 0.1; all open channels):")
    print(
        f"{'detector':10s} {'M1 [GeV]':>8s} {'c*tau [m]':>10s} {'d [1/GeV]':>10s} "
        f"{'N full':>10s} {'N cone':>10s} {'full/cone':>9s}"
    )
    for det_name in ("ship", "na62"):
        det = load_detector(det_name)
        for m1 in (0.05, 0.3, 1.0):
            model = DarkDipole(m1=m1, delta=0.1, d=1e-4)
            batches = {
                mode: simulate(model, det, n_events=n_per_channel, seed=7, mode=mode)
                for mode in ("full", "cone")
            }
            for ctau in (100.0, 1.0):
                d = model.d * np.sqrt(model.ctau / ctau)
                n = {mode: b.reweight(d).expected_events() for mode, b in batches.items()}
                ratio = n["full"] / n["cone"] if n["cone"] > 0 else float("nan")
                print(
                    f"{det.name:10s} {m1:8.2f} {ctau:10.3g} {d:10.3e} {n['full']:10.3e} "
                    f"{n['cone']:10.3e} {ratio:9.3f}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--per-channel", type=int, default=100_000)
    parser.add_argument("--fused-only", action="store_true", help="only the one-pass kernel")
    args = parser.parse_args()
    if args.fused_only:
        keep_freed_memory()
        fused(args.events)
        return
    print("glibc malloc defaults:")
    throughput(args.events)
    print(f"after keep_freed_memory() (applied: {keep_freed_memory()}):")
    throughput(args.events)
    fused(args.events)
    ratios(args.per_channel)


if __name__ == "__main__":
    main()
