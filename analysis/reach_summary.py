"""The qualitative statements of the paper's Sec. 4.3, checked on the committed figure grids.

    python analysis/reach_summary.py        # after analysis/figure2.py, figure3.py, figure4.py

Reads analysis/figures/figure{2,3,4}_grids.json and writes analysis/figures/sec43_checks.md:
smallest d [GeV^-1] reached (N >= 3) per experiment at M1 (M_N) = 0.05-1 GeV with its
one-sigma Monte Carlo range (d_min of N + sigma and of N - sigma), the part of
the NA62 1e17 POT reach that no recast excludes, the threshold dependence (Fig. 3) and the
flavour dependence (Fig. 4).
"""

from pathlib import Path

import numpy as np

from mcsim.scan.reach import read_grids

FIGURES = Path(__file__).resolve().parent / "figures"
MASSES = (0.05, 0.1, 0.3, 1.0)


def _panels(number: int) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for g in read_grids(FIGURES / f"figure{number}_grids.json"):
        panel, label = g.label.split(" | ")
        out.setdefault(panel, {})[label] = g
    return out


def _fmt(x: float) -> str:
    return "--" if not np.isfinite(x) else f"{x:.2g}"


def _fmt_band(g, mass: float) -> str:
    """d_min with its one-sigma Monte Carlo range, e.g. '4.1e-06 (4.0-4.2)' in units of the
    central value's decade."""
    d = g.min_coupling(mass)
    if not np.isfinite(d):
        return "--"
    lo, hi = g.min_coupling_band(mass)
    scale = 10.0 ** np.floor(np.log10(d))
    rng = "-".join("?" if not np.isfinite(x) else f"{x / scale:.2g}" for x in (lo, hi))
    return f"{d:.2g} ({rng})"


def _reach_table(panels: dict, labels) -> list[str]:
    head = "| panel | experiment | " + " | ".join(f"d_min at {m:g} GeV" for m in MASSES) + " |"
    lines = [head, "|" + "---|" * (2 + len(MASSES))]
    for panel, grids in panels.items():
        for label in labels:
            if label in grids:
                g = grids[label]
                lines.append(
                    f"| {panel} | {label} | " + " | ".join(_fmt_band(g, m) for m in MASSES) + " |"
                )
    return lines


def _unexcluded(grids: dict, label: str) -> str:
    """Share of the grid points reached by ``label`` that no recast excludes."""
    reach = grids[label].events >= grids[label].level
    excluded = np.zeros_like(reach)
    for name in ("CHARM-II", "BEBC", "NuCal"):
        if name in grids:
            excluded |= grids[name].events > grids[name].level
    free = reach & ~excluded
    masses = grids[label].masses[free.any(axis=1)]
    span = f", M1 = {masses.min():.2g}-{masses.max():.2g} GeV" if masses.size else ""
    return f"{free.sum()} of {reach.sum()} reached grid points not excluded{span}"


def main() -> None:
    lines = ["# Sec. 4.3 statements checked on the mcsim grids", ""]
    fig2 = _panels(2)
    labels = [
        "NA62 1e17 POT",
        "NA62 1e18 POT",
        "HIKE",
        "SHiP",
        "FASER 2",
        "CHARM-II",
        "BEBC",
        "NuCal",
    ]
    lines += (
        [
            "## Figure 2 (E_gamma > 1 GeV): smallest d reached [GeV^-1] (recasts: excluded "
            "down to)",
            "",
            "In brackets: the one-sigma Monte Carlo range (d_min of N + sigma - d_min of "
            "N - sigma), in units of the central value's power of ten; '?' where N - sigma "
            "never reaches the level.",
            "",
        ]
        + _reach_table(fig2, labels)
        + [""]
    )
    lines += ["## NA62 1e17 POT beyond the recast limits", ""]
    lines += [f"* {panel}: {_unexcluded(grids, 'NA62 1e17 POT')}" for panel, grids in fig2.items()]
    lines += ["", "## Figure 3: threshold dependence, d_min(E > 2 GeV) / d_min(E > 0.5 GeV)", ""]
    fig3 = _panels(3)
    lines += [
        "| panel | experiment | " + " | ".join(f"M1 = {m:g}" for m in MASSES) + " |",
        "|" + "---|" * (2 + len(MASSES)),
    ]
    for panel, grids in fig3.items():
        for exp in ("NA62 1e18 POT", "SHiP", "FASER 2"):
            lo, hi = grids[f"{exp}, E > 0.5 GeV"], grids[f"{exp}, E > 2 GeV"]
            ratios = [hi.min_coupling(m) / lo.min_coupling(m) for m in MASSES]
            lines.append(f"| {panel} | {exp} | " + " | ".join(_fmt(r) for r in ratios) + " |")
    lines += ["", "## Figure 4 (neutrino dipole): smallest d reached [GeV^-1] per flavour", ""]
    lines += _reach_table(_panels(4), ["NA62 1e17 POT", "NA62 1e18 POT", "HIKE", "SHiP", "FASER 2"])
    text = "\n".join(lines) + "\n"
    (FIGURES / "sec43_checks.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
