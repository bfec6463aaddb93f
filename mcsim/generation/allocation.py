"""Events over production channels: equally, or by what each channel contributes (Neyman).

A channel c estimates its yield Y_c as the mean of n_c independent per-event contributions of
spread s_c (their standard deviation), so Var(Y) = sum_c s_c^2 / n_c.  For a fixed total the
variance is smallest with n_c proportional to s_c (Neyman allocation): rho, which carries most of
NA62's yield, gets many events; Upsilon(1S), 1e-5 of it, few.  s_c is measured on a pilot --
the channel's first random-number block, which stays part of the sample -- and every channel
keeps at least its pilot (the floor), so none is left unsampled.  The allocation is a function
of the pilot, hence of the seed: the same seed gives the same events.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: How ``simulate`` and ``write_events`` share events over the channels.
ALLOCATIONS = ("equal", "neyman")


def spread(sum_w: float, sum_w2: float, n: int) -> float:
    """The standard deviation of one event's contribution to a channel's yield, from the sums
    of the weights and squared weights of ``n`` events normalised to that yield (each weight
    carries 1/n): sqrt(n sum_w2 - sum_w^2) [expected events]."""
    return math.sqrt(max(n * sum_w2 - sum_w * sum_w, 0.0))


def neyman(total: int, spreads: Sequence[float], floor: Sequence[int]) -> list[int]:
    """Events per channel, summing to ``total``: proportional to ``spreads`` (Neyman) and never
    below ``floor``; channels of zero spread get their floor.  With every spread zero (no
    channel selected an event) the events are shared equally above the floors."""
    if len(spreads) != len(floor):
        raise ValueError("one spread and one floor per channel")
    if total < sum(floor):
        raise ValueError(f"total {total} is below the sum of the floors {sum(floor)}")
    if not any(s > 0.0 for s in spreads):
        spreads = [1.0] * len(floor)
    fixed = {c for c, s in enumerate(spreads) if not s > 0.0}
    while True:  # channels whose share falls below their floor are fixed at it
        free = total - sum(floor[c] for c in fixed)
        active = [c for c in range(len(floor)) if c not in fixed]
        norm = sum(spreads[c] for c in active)
        share = {c: free * spreads[c] / norm for c in active}
        low = {c for c in active if share[c] < floor[c]}
        if not low:
            break
        fixed |= low
    counts = [floor[c] if c in fixed else int(share[c]) for c in range(len(floor))]
    by_remainder = sorted(active, key=lambda c: int(share[c]) - share[c])
    for c in by_remainder[: total - sum(counts)]:  # largest remainders get the rounding
        counts[c] += 1
    return counts


def from_pilots(total: int, weights: Sequence[np.ndarray], n_pilot: int) -> list[int]:
    """Neyman counts of ``total`` events for channels whose pilots of ``n_pilot`` events each
    gave the event weights ``weights`` (normalised to the channel's yield); floor: the pilot."""
    spreads = [spread(float(w.sum()), float(np.square(w).sum()), n_pilot) for w in weights]
    return neyman(total, spreads, [n_pilot] * len(weights))
