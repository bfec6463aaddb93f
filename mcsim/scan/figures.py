"""The paper's Figures 2-4 and the cone-vs-full validation, from reach scans.

Each figure is a set of scan jobs (model family x detector selections, see :mod:`mcsim.scan.tasks`)
and a plot of their N = 3 contours on log-log axes (x: M1 or M_N [GeV], y: d [GeV^-1]):
NA62 1e18 solid, 1e17 dotted, recast limits of past experiments shaded (BaBar dotted), and in
Figure 2 the thermal-relic line of each panel (dashed black).  Which model family each panel
scans is data (``mcsim/data/paper_figures.toml``); this module knows no model by name.
matplotlib is imported only when plotting.
"""

from __future__ import annotations

import csv
import functools
import math
import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np

from mcsim.models.relic import write_relic_lines
from mcsim.runtime.defaults import FIRST_PASS_EVENTS
from mcsim.scan.family import Family
from mcsim.scan.reach import ReachGrid, log_grid, write_contours, write_grids
from mcsim.scan.reach_plot import draw_uncertainty, finish_reach_axes, plot_relic
from mcsim.scan.refinement import Refinement
from mcsim.scan.runner import scan_set
from mcsim.scan.sums import Target

#: The scan options of the paper's figures unless given (:func:`mcsim.scan.runner.scan_set`).
SCAN_DEFAULTS = {"n_events": FIRST_PASS_EVENTS, "seed": 1, "refinement": Refinement()}

__all__ = [
    "CONE_EXPERIMENTS",
    "SCAN_DEFAULTS",
    "FigureSpec",
    "dark_targets",
    "figure_spec",
    "make_figure",
    "plot_reach",
    "validate_cone",
]

# label -> (card, colour, line style)
_EXPERIMENTS = {
    "NA62 1e18 POT": ("na62:1e18", "C0", "-"),
    "NA62 1e17 POT": ("na62:1e17", "C0", ":"),
    "HIKE": ("hike", "C1", "-"),
    "SHiP": ("ship", "C2", "-"),
    "FASER 2": ("faser2", "C3", "-"),
}
# label -> (card, colour, edge line style)
_RECASTS = {
    "CHARM-II": ("charm2", "0.55", "-"),
    "BEBC": ("bebc", "tab:orange", "-."),
    "NuCal": ("nucal", "tab:purple", "--"),
    "BaBar": ("babar", "tab:olive", ":"),
}
# recasts shaded with a hatch as well (the paper's BaBar region is dotted)
_HATCHES = {"BaBar": ".."}
_THRESHOLD_STYLES = {0.5: "--", 1.0: "-", 2.0: ":"}
# validate-cone maps the ratio where N >= _MAP_FLOOR x the contour level
_MAP_FLOOR = 0.1

#: Experiments of the cone-vs-full validation (label -> card).
CONE_EXPERIMENTS = {
    "NA62": "na62:1e18",
    "SHiP": "ship",
    "FASER 2": "faser2",
    "BEBC": "bebc",
    "CHARM-II": "charm2",
    "NuCal": "nucal",
}


def dark_targets(*, recasts: bool = True) -> list[Target]:
    """Figure 2 selections: the five configurations (E_gamma > 1 GeV) [and the recasts]."""
    out = [Target(label, card) for label, (card, _, _) in _EXPERIMENTS.items()]
    if recasts:
        out += [Target(label, card) for label, (card, _, _) in _RECASTS.items()]
    return out


def _threshold_targets(thresholds: list[float]) -> list[Target]:
    """Figure 3 selections: NA62 1e18, SHiP and FASER 2 at each E_gamma threshold [GeV]."""
    return [
        Target(f"{label}, E > {thr:g} GeV", _EXPERIMENTS[label][0], threshold=thr)
        for label in ("NA62 1e18 POT", "SHiP", "FASER 2")
        for thr in thresholds
    ]


@dataclass(frozen=True)
class FigureSpec:
    """One figure: panels (title, family, targets), grid ranges [GeV], [coupling unit], the
    x-axis label, and whether each panel shows its model's thermal-relic line."""

    number: int
    panels: tuple[tuple[str, Family, tuple[Target, ...]], ...]
    mass_range: tuple[float, float]
    coupling_range: tuple[float, float]
    xlabel: str
    relic: bool = False


@functools.cache
def _paper_figures() -> dict:
    """``mcsim/data/paper_figures.toml``: the families and selections of the paper's figures."""
    text = resources.files("mcsim.data").joinpath("paper_figures.toml").read_text()
    return tomllib.loads(text)


def figure_spec(number: int) -> FigureSpec:
    """The scan jobs of the paper's Figure 2, 3 or 4 (from ``paper_figures.toml``)."""
    spec = _paper_figures()["figure"].get(str(number))
    if spec is None:
        raise ValueError(f"figure must be 2, 3 or 4 (the paper's reach figures), got {number!r}")
    targets = tuple(
        {
            "experiments": lambda: dark_targets(recasts=False),
            "experiments+recasts": dark_targets,
            "thresholds": lambda: _threshold_targets(spec["thresholds"]),
        }[spec["targets"]]()
    )
    panels = tuple(
        (panel["title"], Family.of(spec["model"], panel["fixed"]), targets)
        for panel in spec["panels"]
    )
    return FigureSpec(
        number,
        panels,
        tuple(spec["masses"]),
        tuple(spec["couplings"]),
        spec["xlabel"],
        spec.get("relic", False),
    )


def _style(label: str, threshold: float | None = None) -> dict:
    for name, (_, colour, ls) in _EXPERIMENTS.items():
        if label.startswith(name):
            if threshold is not None and ", E >" in label:
                ls = _THRESHOLD_STYLES.get(threshold, "-")
            return {"color": colour, "ls": ls}
    return {"color": "k", "ls": "-"}


def _is_empty(grid: ReachGrid) -> bool:
    return not np.any(grid.events > 0)


def plot_reach(
    ax, grids: list[ReachGrid], *, title: str = "", xlabel: str = "mass [GeV]", legend: bool = True
) -> list[str]:
    """Draw grids on ``ax``: recast limits (level != 3 or a [recast] card) shaded where
    N > N_up, sensitivities as their N = 3 lines, each with its one-sigma Monte Carlo band and x
    marks where the contour's Monte Carlo error misses the refinement target.  Returns notes on
    grids left out (no open channel with a spectrum table)."""
    notes = []
    flagged = False
    for g in grids:
        if _is_empty(g):
            miss = ", ".join(g.metadata.get("missing_tables", [])) or "no signal"
            notes.append(f"{g.label}: not shown ({miss})")
            continue
        # a recast by its figure label, or by its card (``mcsim reach --detector babar``)
        name = (
            g.label
            if g.label in _RECASTS
            else next((k for k, v in _RECASTS.items() if v[0] == g.metadata.get("detector")), None)
        )
        if name is not None:
            colour, ls = _RECASTS[name][1:]
            ax.contourf(
                g.masses,
                g.couplings,
                g.events.T,
                levels=[g.level, np.inf],
                colors=[colour],
                alpha=0.35,
                hatches=[_HATCHES.get(name)],
            )
            for line in g.contours():
                ax.plot(line[:, 0], line[:, 1], color=colour, ls=ls, lw=1.0)
            ax.plot(
                [], [], color=colour, ls=ls, lw=6, alpha=0.5, label=f"{g.label} (N > {g.level:.3g})"
            )
            flagged |= draw_uncertainty(ax, g, colour)
            continue
        style = _style(g.label, g.metadata.get("photon_energy_min_GeV"))
        for j, line in enumerate(g.contours()):
            ax.plot(line[:, 0], line[:, 1], lw=1.6, label=g.label if j == 0 else None, **style)
        flagged |= draw_uncertainty(ax, g, style["color"])
    finish_reach_axes(
        ax,
        grids,
        flagged,
        xlabel=xlabel,
        ylabel="$d$ [GeV$^{-1}$]",
        flag_label="MC error at contour above target",
    )
    ax.set_title(title)
    if legend:
        ax.legend(fontsize=7, loc="upper right")
    return notes


def _panel_grids(spec: FigureSpec, results: list[list[ReachGrid]]) -> list[ReachGrid]:
    """All grids with labels prefixed by their panel (for the data files)."""
    out = []
    for (_title, family, _), grids in zip(spec.panels, results):
        out += [replace(g, label=f"{family.tag} | {g.label}") for g in grids]
    return out


def make_figure(
    number: int, out_dir: str | Path, *, n_masses: int = 40, n_couplings: int = 100, **scan_options
) -> dict:
    """Scan and draw the paper's Figure ``number`` (2, 3 or 4) into ``out_dir``:
    figure<N>.png, figure<N>_grids.json, figure<N>_contours.{csv,json}; ``scan_options`` go to
    :func:`mcsim.scan.runner.scan_set` (defaults: :data:`SCAN_DEFAULTS`).  Returns the paths
    and the notes (grids not shown)."""
    import matplotlib.pyplot as plt  # matplotlib: only to draw

    spec = figure_spec(number)
    masses = log_grid(*spec.mass_range, n_masses, name="mass")
    couplings = log_grid(*spec.coupling_range, n_couplings, name="coupling")
    jobs = [(family, list(targets)) for _, family, targets in spec.panels]
    options = {**SCAN_DEFAULTS, **scan_options}
    results = scan_set(jobs, masses, couplings, **options)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(
        1, len(spec.panels), figsize=(5.0 * len(spec.panels), 4.6), constrained_layout=True
    )
    notes: list[str] = []
    relic: dict[str, np.ndarray] = {}
    for k, (ax, (title, family, _), grids) in enumerate(zip(axes, spec.panels, results)):
        if spec.relic and family.kind.relic is not None:
            relic[family.tag] = line = family.kind.relic(masses, family.fixed)
            plot_relic(ax, line, ls="--")  # dashed, as in the paper
        # notes go to the terminal: the family's plain-text name, not the LaTeX panel title
        notes += [
            f"{family.name}: {n}"
            for n in plot_reach(ax, grids, title=title, xlabel=spec.xlabel, legend=k == 0)
        ]
    fig.suptitle(
        f"mcsim: Figure {number} of the paper (N = 3 contours with 1-sigma MC bands; "
        f"{options['n_events']:.0e} MC events per mass and channel, contour cells refined to "
        f"{options['refinement'].target:.0%})",
        fontsize=10,
    )
    png = out_dir / f"figure{number}.png"
    fig.savefig(png, dpi=90)
    plt.close(fig)
    flat = _panel_grids(spec, results)
    grid_json = out_dir / f"figure{number}_grids.json"
    write_grids(flat, grid_json.with_suffix(""))
    grid_json.with_suffix(".csv").unlink()  # the long CSV of every grid point is large
    contour_files = write_contours(flat, out_dir / f"figure{number}_contours")
    if relic:
        contour_files += write_relic_lines(relic, out_dir / f"figure{number}_relic")
    return {"png": png, "grids": grid_json, "contours": contour_files, "notes": notes}


# --------------------------------------------------------------------- cone vs full validation


def _ratio(full: np.ndarray, cone: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """full / cone where both are > 0 and either reaches ``floor`` events; NaN elsewhere."""
    with np.errstate(divide="ignore", invalid="ignore"):
        shown = (full > 0) & (cone > 0) & (np.maximum(full, cone) >= floor)
        return np.where(shown, full / cone, np.nan)


def validate_cone(
    out_dir: str | Path,
    *,
    delta: float = 0.1,
    n_masses: int = 30,
    n_couplings: int = 80,
    experiments: dict[str, str] | None = None,
    **scan_options,
) -> dict:
    """Full geometry vs the paper's cone (the family of ``paper_figures.toml``'s
    ``validate_cone``, the dark dipole, at ``delta``): for each experiment the ratio of yields
    full/cone over the (M1, d) plane with both N = 3 contours overlaid
    (validate_cone.png), and a table (validate_cone.csv / .md) of the smallest d reached at
    M1 = 0.05, 0.1, 0.3, 1 GeV and the median ratio where both yields are >= 3."""
    import matplotlib.pyplot as plt  # matplotlib: only to draw
    from matplotlib.colors import LogNorm  # matplotlib: only to draw

    experiments = CONE_EXPERIMENTS if experiments is None else experiments
    masses = log_grid(0.01, 5.0, n_masses, name="mass")
    couplings = log_grid(1e-8, 1e-2, n_couplings, name="coupling")
    targets = []
    for label, card in experiments.items():
        targets += [Target(f"{label} full", card, "full"), Target(f"{label} cone", card, "cone")]
    spec = _paper_figures()["validate_cone"]
    family = Family.of(spec["model"], {spec["parameter"]: delta})
    grids = scan_set([(family, targets)], masses, couplings, **{**SCAN_DEFAULTS, **scan_options})[0]
    pairs = [(label, grids[2 * i], grids[2 * i + 1]) for i, label in enumerate(experiments)]
    pairs = [p for p in pairs if not (_is_empty(p[1]) and _is_empty(p[2]))]
    skipped = [label for label in experiments if label not in {p[0] for p in pairs}]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ncol = min(3, len(pairs))
    nrow = math.ceil(len(pairs) / ncol)
    fig, axes = plt.subplots(
        nrow, ncol, figsize=(5.0 * ncol, 4.3 * nrow), squeeze=False, constrained_layout=True
    )
    rows = []
    mesh = None
    for ax, (label, full, cone) in zip(axes.ravel(), pairs):
        # recast cards are compared at their own N_up, the others at N = 3
        level = full.level
        ratio = _ratio(full.events, cone.events)
        # the map where the yields matter (>= 10% of the level): elsewhere a few Monte Carlo
        # events of weight ~exp(-L/lambda) make the ratio pure noise
        shown = _ratio(full.events, cone.events, _MAP_FLOOR * level)
        mesh = ax.pcolormesh(
            masses, couplings, shown.T, norm=LogNorm(0.5, 2), cmap="RdBu_r", shading="nearest"
        )
        for g, ls, name in ((full, "-", "full"), (cone, "--", "cone")):
            for j, line in enumerate(g.contours()):
                ax.plot(
                    line[:, 0],
                    line[:, 1],
                    "k",
                    ls=ls,
                    lw=1.4,
                    label=f"{name} N = {level:.3g}" if j == 0 else None,
                )
        both = (full.events >= level) & (cone.events >= level)
        median = float(np.nanmedian(ratio[both])) if both.any() else math.nan
        row = {
            "experiment": label,
            "card": full.metadata["detector"],
            "level": level,
            "median_ratio_full_over_cone": median,
        }
        for m in (0.05, 0.1, 0.3, 1.0):
            row[f"dmin_full_M1={m:g}"] = full.min_coupling(m)
            row[f"dmin_cone_M1={m:g}"] = cone.min_coupling(m)
        rows.append(row)
        ax.set(
            xscale="log",
            yscale="log",
            xlabel=spec["xlabel"],
            ylabel="$d$ [GeV$^{-1}$]",
            title=f"{label}: full / cone (median {median:.2f})",
        )
        ax.legend(fontsize=7, loc="upper right")
    for ax in axes.ravel()[len(pairs) :]:
        ax.axis("off")
    if mesh is not None:
        fig.colorbar(mesh, ax=axes, label="N(full) / N(cone)", shrink=0.8)
    fig.suptitle(
        f"Full geometry vs cone approximation, {family.name} "
        f"(ratio shown where N >= {_MAP_FLOOR:g} x the contour level)",
        fontsize=10,
    )
    png = out_dir / "validate_cone.png"
    fig.savefig(png, dpi=80)
    plt.close(fig)
    table_csv, table_md = out_dir / "validate_cone.csv", out_dir / "validate_cone.md"
    with table_csv.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["experiment"])
        w.writeheader()
        for row in rows:
            w.writerow({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in row.items()})
    table_md.write_text(_markdown(rows, family.name, skipped))
    write_grids(grids, out_dir / "validate_cone_grids")
    (out_dir / "validate_cone_grids.csv").unlink()
    return {"png": png, "table": [table_csv, table_md], "rows": rows, "skipped": skipped}


def _markdown(rows: list[dict], family_name: str, skipped: list[str]) -> str:
    head = ["experiment", "level", "median full/cone"]
    masses = (0.05, 0.1, 0.3, 1.0)
    head += [f"d_min full / cone, M1 = {m:g} GeV" for m in masses]
    lines = [
        f"{family_name[0].upper()}{family_name[1:]}: yields full geometry / cone approximation.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        cells = [r["experiment"], f"{r['level']:.3g}", f"{r['median_ratio_full_over_cone']:.3g}"]
        cells += [
            f"{r[f'dmin_full_M1={m:g}']:.3g} / {r[f'dmin_cone_M1={m:g}']:.3g}" for m in masses
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if skipped:
        lines += ["", f"Not computed (no spectrum table for the beam): {', '.join(skipped)}."]
    return "\n".join(lines) + "\n"
