"""``mcsim reach``, ``mcsim figure N`` and ``mcsim validate-cone``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mcsim.cli.info import ModelName
from mcsim.cli.spectra import tables_option
from mcsim.io.partfiles import check_directory, removed_on_failure
from mcsim.models import registry
from mcsim.runtime.defaults import (
    DISCOVERY_LEVEL,
    FIRST_PASS_EVENTS,
    REFINE_BUDGET,
    SAMPLINGS,
    SCAN_SAMPLING,
)
from mcsim.runtime.validate import (
    COUPLING,
    DELTA,
    ENERGY,
    GRID_POINTS,
    LEVEL,
    MASS,
    REFINE_EVENTS,
    REFINE_TARGET,
    SCAN_EVENTS,
    SEED,
    WORKERS,
    Range,
    choice_option,
    click_type,
    number_option,
)

if TYPE_CHECKING:  # the scan machinery loads when a command runs, not for --help
    from mcsim.scan.refinement import Refinement

__all__ = ["figure", "reach", "validate_cone_command"]

#: The files `mcsim reach` writes into --out.
_REACH_FILES = tuple(
    f"{stem}.{ext}" for stem in ("grid", "contours", "relic") for ext in ("json", "csv")
) + ("reach.png",)


def _out_option(default: str):
    return click.option(
        "--out",
        "out_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path(default),
        show_default=True,
        help="output directory",
    )


def _masses_option(default: int):
    return number_option(
        "--masses",
        "n_masses",
        allowed=GRID_POINTS,
        default=default,
        help="number of masses in the grid",
    )


def _couplings_option(default: int):
    return number_option(
        "--couplings",
        "n_couplings",
        allowed=GRID_POINTS,
        default=default,
        help="number of couplings in the grid",
    )


def _scan_options(f):
    """Monte Carlo and execution options shared by the three commands; the command receives
    them as ``scan_options`` (keywords of :func:`mcsim.scan.runner.scan_set`)."""
    options = [
        number_option(
            "--events",
            "n_events",
            allowed=SCAN_EVENTS,
            default=FIRST_PASS_EVENTS,
            help="Monte Carlo events per mass and production channel",
        ),
        number_option(
            "--seed",
            allowed=SEED,
            default=1,
            help="master seed; the same seed gives the same grids",
        ),
        number_option(
            "--workers",
            allowed=WORKERS,
            default=2,
            help="local worker processes (1: run in this process)",
        ),
        click.option(
            "--scheduler",
            default=None,
            metavar="ADDRESS",
            help="run the tasks on the Dask cluster at ADDRESS (tcp://HOST:8786) "
            "instead of local processes",
        ),
        click.option(
            "--progress/--no-progress",
            default=True,
            show_default=True,
            help="progress bar on the terminal",
        ),
        number_option(
            "--target-error",
            allowed=REFINE_TARGET,
            default=0.05,
            help="refine the cells that decide a contour until their relative Monte "
            "Carlo error is below this (0: no refinement)",
        ),
        number_option(
            "--refine-budget",
            allowed=REFINE_EVENTS,
            default=REFINE_BUDGET,
            help="events the refinement may add, as a multiple of the first pass",
        ),
        choice_option(
            "--sampling",
            choices=SAMPLINGS,
            default=SCAN_SAMPLING,
            help="plain: mesons, LLPs and photons as produced; directed: drawn towards the "
            "detectors and the photon-energy window with exact importance weights (about "
            "1.6x the CPU of plain per event, far smaller contour errors for the same time; "
            "benchmarks/bench_reach.py)",
        ),
        tables_option,
    ]

    @functools.wraps(f)
    def wrapper(**kwargs):
        refinement = _refinement(kwargs.pop("target_error"), kwargs.pop("refine_budget"))
        names = ("n_events", "seed", "workers", "scheduler", "progress", "sampling")
        kwargs["scan_options"] = {n: kwargs.pop(n) for n in names} | {"refinement": refinement}
        return f(**kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def _family_options(func: Callable) -> Callable:
    """--model (a registered kind or card:PATH) and the fixed parameters of the built-in kinds'
    reach families (derived from the registry; not given: the kind's scan default, another
    kind's is refused); the command receives the :class:`mcsim.scan.family.Family` as
    ``family``."""
    fixed_params: dict[str, tuple] = {}
    for kind in registry.kinds():
        for p in kind.parameters:
            if p.name != kind.mass_parameter:
                fixed_params.setdefault(p.name, (kind, p))

    @functools.wraps(func)
    def wrapper(**kwargs):
        # the scan: loaded when the command runs, not for --help
        from mcsim.scan.family import Family

        model = kwargs.pop("model")
        given = {k: v for k in fixed_params if (v := kwargs.pop(k)) is not None}
        kind = registry.get(model)
        kind.refuse_foreign(given)
        fixed = {
            p.name: given.get(p.name, p.scan_default)
            for p in kind.parameters
            if p.name != kind.mass_parameter
        }
        kwargs["family"] = Family.of(model, fixed)
        return func(**kwargs)

    default = registry.kinds()[0].name
    opts = [
        click.option(
            "--model",
            type=ModelName(),
            default=default,
            show_default=True,
            help="model family: " + ", ".join(registry.names()) + ", or card:PATH (a model card)",
        )
    ]
    for name, (kind, p) in fixed_params.items():
        kind_type = click.Choice(p.choices) if p.choices else click_type(p.range)
        opts.append(
            click.option(
                p.option,
                name,
                type=kind_type,
                show_default=str(p.scan_default),
                help=f"{kind.name}: {p.help}",
            )
        )
    for opt in reversed(opts):
        wrapper = opt(wrapper)
    return wrapper


@click.command()
@_family_options
@click.option(
    "--detector",
    "detectors",
    multiple=True,
    required=True,
    help="detector card name (na62, na62:1e17, ship, ...; see `mcsim detectors "
    "list`) or path; repeat for several",
)
@number_option(
    "--mass-range",
    allowed=MASS,
    nargs=2,
    default=(0.01, 5.0),
    help="mass range [GeV] of the family's mass parameter (M1, M_N, a card's LLP mass), log-spaced",
)
@_masses_option(40)
@number_option(
    "--d-range",
    allowed=COUPLING,
    nargs=2,
    default=None,
    help="coupling range [GeV^-1, or the card's unit], log-spaced  [default: the "
    "model's: 1e-8 1e-2 (dark), 1e-9 1e-3 (neutrino), a card's coupling_range]",
)
@_couplings_option(100)
@number_option(
    "--threshold",
    allowed=ENERGY,
    default=None,
    help="minimum photon energy [GeV]  [default: each card's]",
)
@choice_option(
    "--mode",
    choices=["full", "cone"],
    default="full",
    help="full: 3-D geometry; cone: the paper's cone approximation",
)
@number_option(
    "--level",
    allowed=LEVEL,
    default=DISCOVERY_LEVEL,
    help="expected signal events N of the contour (cards with a [recast] table "
    "keep their 95% CL N_up)",
)
@_out_option("reach")
@_scan_options
def reach(
    family,
    detectors,
    mass_range,
    n_masses,
    d_range,
    n_couplings,
    threshold,
    mode,
    level,
    out_dir,
    scan_options,
):
    """Expected signal events over a (mass, d) grid and the N = --level contours (N_up for a
    recast card, 10 events for BaBar): writes grid.{csv,json}, contours.{csv,json} and reach.png
    to --out, and for the dark dipole the thermal-relic line (relic.{csv,json}, dashed in the
    plot)."""
    # process pools: loaded when the command runs, not for --help
    from mcsim.runtime.executor import Helper

    # the scan: loaded when the command runs, not for --help
    from mcsim.scan.reach import (
        log_grid,
        write_contours,
        write_grids,
    )

    # matplotlib: loaded in the plotting helper, not for --help
    from mcsim.scan.reach_plot import (
        reach_png,
        warm_up,
    )

    check_directory(out_dir, "--out", _REACH_FILES)
    kind = family.kind
    if d_range is None:
        d_range = kind.coupling_range
    masses = log_grid(*mass_range, n_masses, name="mass")
    couplings = log_grid(*d_range, n_couplings, name="coupling")
    # the plotting process starts before the scan is imported: matplotlib's imports and first
    # figure run beside this process's own start-up, not beside the scan's workers
    with Helper(warm_up) as plotter:
        # numba and the scan: loaded when the command runs, not for --help
        from mcsim.scan.runner import scan

        # numba and the scan: loaded when the command runs, not for --help
        from mcsim.scan.sums import Target

        targets = [Target(d, d, mode, threshold, level) for d in detectors]
        grids = scan(family, masses, couplings, targets, **scan_options)
        # the thermal-relic line (the dark dipole's), plotted while the grids are written
        relic = None if kind.relic is None else kind.relic(masses, family.fixed)
        drawn = plotter.submit(reach_png, grids, family, relic)
        try:
            with removed_on_failure(out_dir):  # all of the outputs or none
                files = write_grids(grids, out_dir / "grid")
                files += write_contours(grids, out_dir / "contours")
                if relic is not None:
                    # scipy and numba: only for the relic line
                    from mcsim.models.relic import write_relic_lines

                    files += write_relic_lines({family.tag: relic}, out_dir / "relic")
                png = out_dir / "reach.png"
                png.write_bytes(drawn())
                files.append(png)
        except OSError as err:  # e.g. disk full: a failed write() names no file
            if err.errno is None:
                raise
            raise OSError(f"cannot write {err.filename or out_dir}: {err.strerror}") from None
    for g in grids:
        lines = g.contours()
        worst = [e for e in g.metadata["contour_rel_error"] if e is not None]
        click.echo(
            f"{g.label}: {len(lines)} contour line(s) at N = {g.level:.4g}; max N = "
            f"{g.events.max():.3g}; MC error at the contour <= "
            f"{max(worst, default=0.0):.1%}"
        )
        if g.metadata["unconverged_masses"]:
            click.echo(
                f"  note: {len(g.metadata['unconverged_masses'])} mass(es) above the "
                f"{g.metadata['refinement']['target']:.0%} target (marked x in the plot)",
                err=True,
            )
        if g.metadata["missing_tables"]:
            click.echo(
                f"  warning: channels skipped, no spectrum table: "
                f"{', '.join(g.metadata['missing_tables'])}",
                err=True,
            )
    click.echo("wrote " + ", ".join(str(f) for f in files))


def _refinement(target_error: float, budget: float) -> Refinement:
    """The --target-error and --refine-budget options (target 0: no refinement)."""
    # numba and the scan: loaded when the command runs, not for --help
    from mcsim.scan.refinement import Refinement

    if target_error == 0:
        return Refinement(rounds=0)
    return Refinement(target=target_error, budget=budget)


@click.command()
@click.argument("number", type=click_type(Range(2, 4, integer=True)))
@_out_option("figures")
@_masses_option(40)
@_couplings_option(100)
@_scan_options
def figure(
    number,
    out_dir,
    n_masses,
    n_couplings,
    scan_options,
):
    """The paper's Figure NUMBER (2, 3 or 4): scan, plot, and write the grids and contours."""
    # numba and the scan: loaded when the command runs, not for --help
    from mcsim.scan.figures import make_figure

    result = make_figure(
        number, out_dir, n_masses=n_masses, n_couplings=n_couplings, **scan_options
    )
    for note in result["notes"]:
        click.echo(f"note: {note}", err=True)
    click.echo(
        f"wrote {result['png']}, {result['grids']}, "
        + ", ".join(str(p) for p in result["contours"])
    )


@click.command("validate-cone")
@number_option(
    "--delta", allowed=DELTA, default=0.1, help="dark dipole: relative splitting (M2 - M1) / M1"
)
@_out_option("figures")
@_masses_option(30)
@_couplings_option(80)
@_scan_options
def validate_cone_command(
    delta,
    out_dir,
    n_masses,
    n_couplings,
    scan_options,
):
    """Full geometry vs the paper's cone approximation: yield ratio over the (M1, d) plane and
    both N = 3 contours per experiment (validate_cone.png) and a table (.csv, .md)."""
    # numba and the scan: loaded when the command runs, not for --help
    from mcsim.scan.figures import validate_cone

    result = validate_cone(
        out_dir, delta=delta, n_masses=n_masses, n_couplings=n_couplings, **scan_options
    )
    if result["skipped"]:
        click.echo(
            f"note: not computed (no spectrum tables): {', '.join(result['skipped'])}", err=True
        )
    click.echo(result["table"][1].read_text())
    click.echo(f"wrote {result['png']}, " + ", ".join(str(p) for p in result["table"]))
