"""Cost of re-weighting selected events to other couplings (not part of the test run).

    python benchmarks/bench_yields.py [--events 65536] [--couplings 121] [--repeat 3]

Every reach scan sums each selected event's yield W = w x r x P_decay at every coupling of its
grid (:func:`mcsim.weights.yield_sums`); most cells need exponentials.  For directed dark-dipole
samples (delta = 0.1, M1 = 0.03, 0.3 and 1 GeV, all open channels) at NA62, SHiP and FASER 2,
with the couplings of Figure 2 (d = 1e-8 - 1e-2 GeV^-1), this times in one run, side by side:

- mcsim's kernel: Taylor series at long decay lengths, then a branch-free loop whose
  exponentials numba vectorises;
- the kernel it replaced (written out here): the same series, then glibc's exp and expm1,
  scalar calls, in every exponential cell,

and reports CPU nanoseconds per (event, coupling) cell, the speed-up and the largest relative
difference of the sums.  Then the same for the decay probability per event
(:func:`mcsim.detector.propagate.decay_probability`: the momentum tilt's, an events file's p_decay
columns) at c*tau x 1e-4, 1e-2, 1 and 100: one branch-free loop per interval against glibc's
exp and expm1 per event and interval.
"""

from __future__ import annotations

import argparse
import math
import time

import numba as nb
import numpy as np

from mcsim import DarkDipole
from mcsim.detector.propagate import decay_probability
from mcsim.weights import _NEGLIGIBLE_EXPONENT, _SERIES_LIMIT, _series_coefficients, yield_sums

DETECTORS = ("na62", "ship", "faser2")
MASSES = (0.03, 0.3, 1.0)  # M1 [GeV]
D_SAMPLE = 1e-5  # [GeV^-1]


@nb.njit(cache=True)
def _libm_sums(w, intervals, beta_gamma, ctau_ref, ratios):
    """The sums as mcsim computed them before: the same Taylor branch, then math.exp and
    math.expm1 in each exponential cell."""
    s1 = np.zeros(ratios.size)
    s2 = np.zeros(ratios.size)
    c = np.zeros(5)
    for i in range(intervals.shape[0]):
        a1, b1, a2, b2 = intervals[i, 0], intervals[i, 1], intervals[i, 2], intervals[i, 3]
        if not b1 > a1 or w[i] == 0.0:
            continue
        inv_lam_ref = 1.0 / (beta_gamma[i] * ctau_ref)
        b_max = b1
        c[:] = 0.0
        _series_coefficients(a1, b1, c)
        if b2 > a2:
            b_max = max(b1, b2)
            _series_coefficients(a2, b2, c)
        for k in range(ratios.size):
            x = ratios[k] * inv_lam_ref
            if x <= _SERIES_LIMIT / b_max:
                p = x * (c[0] - x * (c[1] - x * (c[2] - x * (c[3] - x * c[4]))))
            else:
                if a1 * x > _NEGLIGIBLE_EXPONENT:
                    break
                p = math.exp(-a1 * x) * -math.expm1(-(b1 - a1) * x)
                if b2 > a2:
                    p += math.exp(-a2 * x) * -math.expm1(-(b2 - a2) * x)
            y = w[i] * ratios[k] * p
            s1[k] += y
            s2[k] += y * y
    return s1, s2


@nb.njit(cache=True)
def _libm_decay_probability(intervals, beta_gamma, ctau):
    """P per event as mcsim computed it before: math.exp and math.expm1 per interval."""
    out = np.zeros(intervals.shape[0])
    for i in range(intervals.shape[0]):
        lam = beta_gamma[i] * ctau
        for k in range(0, intervals.shape[1], 2):
            a, b = intervals[i, k], intervals[i, k + 1]
            if b > a:
                out[i] += math.exp(-a / lam) * -math.expm1(-(b - a) / lam)
    return out


def _probabilities(fn, samples, repeat: int) -> tuple[float, list]:
    """Best CPU time of ``fn`` over every sample at the four c*tau, and its results."""
    best, results = math.inf, []
    for _ in range(repeat):
        t0 = time.process_time()
        results = [
            fn(iv, bg, ctau * f) for _, _, iv, bg, ctau in samples for f in (1e-4, 1e-2, 1.0, 1e2)
        ]
        best = min(best, time.process_time() - t0)
    return best, results


def _max_rel_diff(new: list, old: list) -> float:
    """Largest |new / old - 1| over the arrays, away from the underflow."""
    diff = 0.0
    for n, o in zip(new, old):
        nz = o > 1e-290
        if nz.any():
            diff = max(diff, float(np.max(np.abs(n[nz] / o[nz] - 1.0))))
    return diff


def _samples(n_events: int) -> list[tuple]:
    """(w, intervals, beta_gamma, ctau) of each (detector, mass, channel): selected events."""
    from mcsim.generation.simulate import simulate

    out = []
    for det in DETECTORS:
        for m1 in MASSES:
            model = DarkDipole(m1=m1, delta=0.1, d=D_SAMPLE)
            batch = simulate(model, det, n_events=n_events, seed=1, sampling="directed")
            a = batch.arrays
            w = a["w_norm"] * a["w_photon"] * a["above_threshold"]
            for c in np.unique(a["channel"]):
                mine = a["channel"] == c
                args = (w[mine], a["acc_intervals"][mine], a["beta_gamma"][mine])
                out.append((det, *(np.ascontiguousarray(x) for x in args), model.ctau))
    return out


def _best_cpu(fn, samples, ratios, repeat: int) -> tuple[float, list]:
    best, results = math.inf, []
    for _ in range(repeat):
        t0 = time.process_time()
        results = [fn(w, iv, bg, ctau, ratios) for _, w, iv, bg, ctau in samples]
        best = min(best, time.process_time() - t0)
    return best, results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=65536, help="events per channel and mass")
    ap.add_argument("--couplings", type=int, default=121)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    samples = _samples(args.events)
    ratios = (np.geomspace(1e-8, 1e-2, args.couplings) / D_SAMPLE) ** 2
    for _, w, iv, bg, ctau in samples[:1]:  # compile / load both kernels
        yield_sums(w, iv, bg, ctau, ratios)
        _libm_sums(w, iv, bg, ctau, ratios)
    print(
        f"{'detector':9s} {'cells':>10s} {'mcsim ns/cell':>14s} {'libm ns/cell':>13s} "
        f"{'speed-up':>9s} {'max rel diff':>13s}"
    )
    for det in DETECTORS:
        mine = [s for s in samples if s[0] == det]
        cells = sum(int(np.count_nonzero(s[1])) for s in mine) * ratios.size
        t_new, new = _best_cpu(yield_sums, mine, ratios, args.repeat)
        t_old, old = _best_cpu(_libm_sums, mine, ratios, args.repeat)
        diff = _max_rel_diff([x for pair in new for x in pair], [x for pair in old for x in pair])
        print(
            f"{det:9s} {cells:10d} {t_new / cells * 1e9:14.2f} {t_old / cells * 1e9:13.2f} "
            f"{t_old / t_new:8.2f}x {diff:13.1e}"
        )
    for _, _, iv, bg, ctau in samples[:1]:
        decay_probability(iv, bg, ctau)
        _libm_decay_probability(iv, bg, ctau)
    print(
        f"\n{'detector':9s} {'rows':>10s} {'mcsim ns/row':>14s} {'libm ns/row':>13s} "
        f"{'speed-up':>9s} {'max rel diff':>13s}"
    )
    for det in DETECTORS:
        mine = [s for s in samples if s[0] == det]
        rows = sum(len(s[2]) for s in mine) * 4
        t_new, new = _probabilities(decay_probability, mine, args.repeat)
        t_old, old = _probabilities(_libm_decay_probability, mine, args.repeat)
        print(
            f"{det:9s} {rows:10d} {t_new / rows * 1e9:14.2f} {t_old / rows * 1e9:13.2f} "
            f"{t_old / t_new:8.2f}x {_max_rel_diff(new, old):13.1e}"
        )


if __name__ == "__main__":
    main()
