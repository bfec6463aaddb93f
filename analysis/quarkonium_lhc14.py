"""LHC quarkonia: the measured normalisation against PYTHIA8's own, and what it does to FASER 2.

    python analysis/quarkonium_lhc14.py                 # normalisation table (seconds)
    python analysis/quarkonium_lhc14.py --faser2 1e5    # + FASER 2 event shares (a minute)
    python analysis/quarkonium_lhc14.py --faser2 1e5 --d 1e-6 1e-5 1e-4

For each quarkonium at lhc14: mesons per inelastic collision from PYTHIA8's leading-order cross
section (the old rule f = "pythia") and from the LHCb cross sections (generators/normalisation.toml),
the resulting cross section in LHCb's region, and the fractions of the table in that region and at
FASER 2's angles.  With --faser2 N: the dark-dipole default point (M1 = 0.1 GeV, delta = 0.1) in
FASER 2 with N events per channel, generated at d = 1e-6 GeV^-1 and re-weighted exactly to each
--d: expected events per mother with their Monte Carlo uncertainty sqrt(sum w^2), for the new
normalisation and for the old one (the same events, J/psi and Upsilon(1S) re-weighted by
f_old / f_new; the excited states did not exist before).
"""

from __future__ import annotations

import argparse
import tomllib
from importlib import resources

import numpy as np

from mcsim.sources.spectra import acceptance_fraction, load_table, mesons_per_pot

MESONS = ("jpsi", "psi2S", "upsilon", "upsilon2S", "upsilon3S")


def normalisation_table() -> dict[str, dict[str, float]]:
    """Per meson: f_pythia (LO, per inelastic collision), f (shipped), sigma in the fiducial
    region [ub] from the table and f, the measured value x energy_scale, and table fractions."""
    data = tomllib.loads(
        resources.files("mcsim.generators").joinpath("normalisation.toml").read_text()
    )["lhc14"]
    sigma_inel_ub = data["sigma_inel_mb"] * 1e3
    rows = {}
    for meson in MESONS:
        entry, table = data[meson], load_table(meson, "lhc14")
        fid = acceptance_fraction(table, y=tuple(entry["y"]), pt=tuple(entry["pt_GeV"]))
        f = mesons_per_pot(meson, "lhc14", 1.0)
        rows[meson] = {
            "f_pythia_LO": table.multiplicity * table.meta["sigma_gen_mb"] * 1e3 / sigma_inel_ub,
            "f": f,
            "sigma_fiducial_ub": f * sigma_inel_ub * fid,
            "measured_x_scale_ub": entry["sigma_ub"]
            / entry.get("br_mumu", 1.0)
            * data["energy_scale"],
            "fraction_fiducial": fid,
            "fraction_theta_lt_1.6mrad": table.fraction(theta_max=1.6e-3),
            "entries": table.n_entries,
        }
    return rows


def faser2_shares(n_events: int, rows: dict, couplings: list[float]) -> None:
    from mcsim import DarkDipole
    from mcsim.generation.simulate import simulate
    from mcsim.runtime.memory import keep_freed_memory

    keep_freed_memory()
    batch = simulate(DarkDipole(m1=0.1, delta=0.1, d=1e-6), "faser2", n_events=n_events, seed=1)
    for d in couplings:
        _shares(batch.reweight(d), n_events, rows, d)


def _shares(batch, n_events: int, rows: dict, d: float) -> None:
    w, mother = batch.arrays["weight"], np.abs(batch.arrays["mother_pdgid"])
    old_scale = {
        443: rows["jpsi"]["f_pythia_LO"] / rows["jpsi"]["f"],
        553: rows["upsilon"]["f_pythia_LO"] / rows["upsilon"]["f"],
    }
    new_only = {100443, 100553, 200553}
    for label, scale in (("new (measured)", {}), ("old (PYTHIA8 LO)", old_scale)):
        factor = np.array([0.0 if m in new_only and scale else scale.get(m, 1.0) for m in mother])
        ww = w * factor
        total, total_err = ww.sum(), np.sqrt(np.sum(ww**2))
        print(
            f"\nFASER 2, M1 = 0.1 GeV, delta = 0.1, d = {d:g}, {n_events:g} events/channel, "
            f"{label}: N = {total:.4g} +- {total_err:.2g}"
        )
        for m in sorted(set(mother)):
            sel = mother == m
            n, err = ww[sel].sum(), np.sqrt(np.sum(ww[sel] ** 2))
            if n > 0:
                share = n / total
                share_err = (
                    np.sqrt(np.sum((ww[sel] * (1 - share)) ** 2) + share**2 * np.sum(ww[~sel] ** 2))
                    / total
                )
                print(f"  {m:7d}: {n:10.4g} +- {err:8.2g}  share {share:6.3f} +- {share_err:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faser2", type=float, metavar="N", help="also run FASER 2, N events")
    parser.add_argument(
        "--d",
        type=float,
        nargs="+",
        default=[1e-6],
        metavar="D",
        help="couplings [GeV^-1] for the FASER 2 shares (default 1e-6)",
    )
    args = parser.parse_args()
    rows = normalisation_table()
    keys = list(next(iter(rows.values())))
    print(f"{'meson':10s}" + "".join(f"{k:>27s}" for k in keys))
    for meson, row in rows.items():
        print(f"{meson:10s}" + "".join(f"{row[k]:27.4g}" for k in keys))
    if args.faser2:
        faser2_shares(int(args.faser2), rows, args.d)


if __name__ == "__main__":
    main()
