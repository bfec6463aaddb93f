"""``mcsim reach``, ``mcsim figure N`` and ``mcsim validate-cone``."""

from __future__ import annotations

from pathlib import Path

import click

from .models import FLAVOURS
from .partfiles import check_directory, removed_on_failure
from .reach import log_grid, write_contours, write_grids
from .scan import Family, Target, scan
from .validate import (COUPLING, DELTA, ENERGY, GRID_POINTS, MASS, SCAN_EVENTS, SEED, WORKERS,
                       click_type)

__all__ = ["reach", "figure", "validate_cone_command"]


def _scan_options(f):
    """Monte Carlo and execution options shared by the three commands."""
    options = [
        click.option("--events", "n_events", type=click_type(SCAN_EVENTS), default=100_000,
                     show_default=True,
                     help="Monte Carlo events per mass and channel."),
        click.option("--seed", type=click_type(SEED), default=1, show_default=True),
        click.option("--workers", type=click_type(WORKERS), default=2, show_default=True,
                     help="Local worker processes (1: run in this process)."),
        click.option("--scheduler", default=None, metavar="ADDRESS",
                     help="Run the tasks on the Dask cluster at ADDRESS instead."),
        click.option("--progress/--no-progress", default=True, show_default=True),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@click.command()
@click.option("--model", type=click.Choice(["dark-dipole", "neutrino-dipole"]),
              default="dark-dipole", show_default=True)
@click.option("--delta", type=click_type(DELTA), default=0.1, show_default=True,
              help="Dark dipole: relative splitting (M2 - M1) / M1.")
@click.option("--flavour", type=click.Choice(FLAVOURS), default="mu", show_default=True,
              help="Neutrino dipole: flavour of the active neutrino.")
@click.option("--detector", "detectors", multiple=True, required=True,
              help="Detector card name (na62, na62:1e17, ship, ...) or path; repeatable.")
@click.option("--mass-range", nargs=2, type=click_type(MASS), default=(0.01, 5.0),
              show_default=True,
              help="M1 or M_N range [GeV].")
@click.option("--masses", "n_masses", type=click_type(GRID_POINTS), default=40,
              show_default=True)
@click.option("--d-range", nargs=2, type=click_type(COUPLING), default=None,
              help="Coupling range [GeV^-1]; default 1e-8 1e-2 (dark), 1e-9 1e-3 (neutrino).")
@click.option("--couplings", "n_couplings", type=click_type(GRID_POINTS), default=100,
              show_default=True)
@click.option("--threshold", type=click_type(ENERGY), default=None,
              help="Minimum photon energy [GeV] (default: each card's).")
@click.option("--mode", type=click.Choice(["full", "cone"]), default="full", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reach"), show_default=True)
@_scan_options
def reach(model, delta, flavour, detectors, mass_range, n_masses, d_range, n_couplings,
          threshold, mode, out_dir, n_events, seed, workers, scheduler, progress):
    """Expected signal events over a (mass, d) grid and the N = 3 contours (N_up for a recast
    card): writes grid.{csv,json}, contours.{csv,json} and reach.png to --out."""
    check_directory(out_dir, "--out")
    family = (Family(model, delta=delta) if model == "dark-dipole"
              else Family(model, flavour=flavour))
    if d_range is None:
        d_range = (1e-8, 1e-2) if model == "dark-dipole" else (1e-9, 1e-3)
    masses = log_grid(*mass_range, n_masses, name="mass")
    couplings = log_grid(*d_range, n_couplings, name="coupling")
    targets = [Target(d, d, mode, threshold) for d in detectors]
    grids = scan(family, masses, couplings, targets, n_events=n_events, seed=seed,
                 workers=workers, scheduler=scheduler, progress=progress)
    with removed_on_failure(out_dir):  # all of the outputs or none
        files = write_grids(grids, out_dir / "grid") + write_contours(grids, out_dir / "contours")
        files.append(_plot(grids, out_dir / "reach.png", family))
    for g in grids:
        lines = g.contours()
        click.echo(f"{g.label}: {len(lines)} contour line(s) at N = {g.level:.4g}; max N = "
                   f"{g.events.max():.3g}")
        if g.metadata["missing_tables"]:
            click.echo(f"  warning: channels skipped, no spectrum table: "
                       f"{', '.join(g.metadata['missing_tables'])}", err=True)
    click.echo("wrote " + ", ".join(str(f) for f in files))


def _plot(grids, path: Path, family: Family) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .figures import plot_reach

    fig, ax = plt.subplots(figsize=(6, 4.6), constrained_layout=True)
    plot_reach(ax, grids, title=family.name,
               xlabel="$M_1$ [GeV]" if family.delta is not None else "$M_N$ [GeV]")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


@click.command()
@click.argument("number", type=int)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("figures"), show_default=True)
@click.option("--masses", "n_masses", type=click_type(GRID_POINTS), default=40,
              show_default=True)
@click.option("--couplings", "n_couplings", type=click_type(GRID_POINTS), default=100,
              show_default=True)
@_scan_options
def figure(number, out_dir, n_masses, n_couplings, n_events, seed, workers, scheduler,
           progress):
    """The paper's Figure NUMBER (2, 3 or 4): scan, plot, and write the grids and contours."""
    from .figures import make_figure

    result = make_figure(number, out_dir, n_masses=n_masses, n_couplings=n_couplings,
                         n_events=n_events, seed=seed, workers=workers, scheduler=scheduler,
                         progress=progress)
    for note in result["notes"]:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {result['png']}, {result['grids']}, "
               + ", ".join(str(p) for p in result["contours"]))


@click.command("validate-cone")
@click.option("--delta", type=click_type(DELTA), default=0.1, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("figures"), show_default=True)
@click.option("--masses", "n_masses", type=click_type(GRID_POINTS), default=30,
              show_default=True)
@click.option("--couplings", "n_couplings", type=click_type(GRID_POINTS), default=80,
              show_default=True)
@_scan_options
def validate_cone_command(delta, out_dir, n_masses, n_couplings, n_events, seed, workers,
                          scheduler, progress):
    """Full geometry vs the paper's cone approximation: yield ratio over the (M1, d) plane and
    both N = 3 contours per experiment (validate_cone.png) and a table (.csv, .md)."""
    from .figures import validate_cone

    result = validate_cone(out_dir, delta=delta, n_masses=n_masses, n_couplings=n_couplings,
                           n_events=n_events, seed=seed, workers=workers, scheduler=scheduler,
                           progress=progress)
    if result["skipped"]:
        click.echo(f"note: not computed (no spectrum tables): {', '.join(result['skipped'])}",
                   err=True)
    click.echo(result["table"][1].read_text())
    click.echo(f"wrote {result['png']}, " + ", ".join(str(p) for p in result["table"]))
