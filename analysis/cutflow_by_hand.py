"""The cutflow of `mcsim cutflow`, written by hand with uproot + awkward, as a start for your
own selection.

    mcsim generate --model dark-dipole --m1 0.1 --delta 0.1 --d 1e-6 --events 1e6 --seed 1 \
        --keep all -o na62.root
    python analysis/cutflow_by_hand.py na62.root            # at the file's coupling
    python analysis/cutflow_by_hand.py na62.root --d 3e-6   # re-weighted to another d

What the file holds per event (TTree `events`): the normalisation w_norm = N_M x BR / N_generated
[events], the decay probabilities p_decay_volume and p_decay_accepted, their product with the
flags `weight`, the CUMULATIVE flags in_volume / photon_hits_calo / selected (each implies the
one before, so one flag alone is a row of the cutflow), and what re-weighting needs: the path
in the decay volume (s_in, s_out), the accepted decay intervals (acc_a1, acc_b1, acc_a2, acc_b2)
[m] and beta*gamma.  BR scales as d^2 and c*tau as 1/d^2.  (With the default --keep selected
only the selected events are in `events`: the rows before the selection then need the
`crossing` tree too, as `mcsim cutflow` does.)
"""

from __future__ import annotations

import argparse
import json

import awkward as ak
import numpy as np
import uproot


def decay_probability(a, b, lam):
    """P(decay in [a, b]) = exp(-a/lam) - exp(-b/lam), written without cancellation."""
    return ak.where(b > a, np.exp(-a / lam) * -np.expm1(-(b - a) / lam), 0.0)


def cutflow_by_hand(path: str, d: float | None = None) -> list[tuple[str, int, float]]:
    """(cut, raw events, expected events) for each cut of the paper's selection after row 0
    (the LLPs produced, N_M x BR), for a file written with --keep all or --keep crossing."""
    with uproot.open(path) as file:
        meta = json.loads(str(file["mcsim_metadata"]))  # run metadata, a JSON TObjString
        if meta.get("keep") == "selected":
            raise ValueError(
                f"{path} keeps only the selected events: generate it with "
                f"--keep all (or crossing) for the rows before the selection"
            )
        events = file["events"].arrays(
            [
                "in_volume",
                "photon_hits_calo",
                "selected",
                "w_norm",
                "p_decay_volume",
                "p_decay_accepted",
                "weight",
                "s_in",
                "s_out",
                "acc_a1",
                "acc_b1",
                "acc_a2",
                "acc_b2",
                "beta_gamma",
            ]
        )
    w_norm, p_volume, p_accepted = events.w_norm, events.p_decay_volume, events.p_decay_accepted
    weight = events.weight
    if d is not None:  # exact re-weighting: recompute the decay probabilities at the new c*tau
        r = (d / meta["d"]) ** 2
        lam = events.beta_gamma * meta["ctau"] / r
        w_norm = w_norm * r
        p_volume = decay_probability(events.s_in, events.s_out, lam)
        p_accepted = decay_probability(events.acc_a1, events.acc_b1, lam) + decay_probability(
            events.acc_a2, events.acc_b2, lam
        )
        weight = w_norm * p_accepted * events.selected * meta["efficiency"]

    in_volume, hits, selected = events.in_volume, events.photon_hits_calo, events.selected
    return [
        ("LLP crosses the decay volume", int(ak.sum(in_volume)), float(ak.sum(w_norm[in_volume]))),
        (
            "LLP decays inside the decay volume",
            int(ak.sum(in_volume)),
            float(ak.sum((w_norm * p_volume)[in_volume])),
        ),
        (
            "photon reaches the calorimeter",
            int(ak.sum(hits)),
            float(ak.sum((w_norm * p_accepted)[hits])),
        ),
        ("photon energy window", int(ak.sum(selected)), float(ak.sum(weight[selected]))),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--d", type=float, help="re-weight to this d [GeV^-1]")
    args = parser.parse_args()
    rows = cutflow_by_hand(args.file, args.d)
    print(f"{'cut':<36} {'raw':>10} {'weighted':>12}")
    for name, raw, weighted in rows:
        print(f"{name:<36} {raw:>10d} {weighted:>12.5g}")
    print(f"expected signal events: {rows[-1][2]:.6g}")


if __name__ == "__main__":
    main()
