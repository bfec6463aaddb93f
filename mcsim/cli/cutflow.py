"""``mcsim cutflow``: the paper's selection over an events file, with control plots."""

from __future__ import annotations

from pathlib import Path

import click

from mcsim.io.partfiles import check_directory, unwritable
from mcsim.runtime.validate import COUPLING, ENERGY, number_option

__all__ = ["cutflow"]


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@number_option(
    "--d",
    "d",
    allowed=COUPLING,
    help="re-weight exactly to this dipole coefficient [GeV^-1] (default: the file's)",
)
@number_option(
    "--threshold",
    allowed=ENERGY,
    help="minimum photon energy [GeV] (default: the file's; files written with "
    "--keep selected allow only a higher one)",
)
@click.option("--by-channel", is_flag=True, help="also print the yields of each production channel")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="print JSON (every row with its stat_error; per-channel rows included)",
)
@click.option("--markdown", is_flag=True, help="print a Markdown table")
@click.option(
    "--plots",
    "plots_dir",
    type=click.Path(file_okay=False),
    help="directory of the PNG control plots (default: next to FILE, skipped with "
    "a warning if that directory is not writable)",
)
@click.option("--no-plots", is_flag=True, help="do not draw control plots")
def cutflow(file, d, threshold, by_channel, as_json, markdown, plots_dir, no_plots):
    """Cutflow of FILE (written by `mcsim generate`): per cut, the Monte Carlo events passing
    (raw) and the expected events they carry (weighted) with its Monte Carlo error, relative
    and cumulative efficiency; control plots of the selected events with error bars."""
    # numba kernels: loaded when the command runs, not for --help
    from mcsim.generation.cutflow import cutflow as run
    from mcsim.io.histograms import HISTOGRAMS  # hist (0.3 s): only when histograms are filled

    if as_json and markdown:
        raise ValueError("choose one of --json and --markdown")
    path = Path(file)
    plots = [f"{path.stem}_{name}.png" for name in HISTOGRAMS]
    if plots_dir is not None and not no_plots:
        check_directory(plots_dir, "--plots", plots)
    elif not no_plots and (problem := unwritable(path.parent.absolute())):
        click.echo(
            f"mcsim: warning: no control plots ({problem}); choose a directory with "
            f"--plots DIR, or --no-plots",
            err=True,
        )
        no_plots = True
    elif not no_plots:
        check_directory(path.parent, "control plots", plots)
    flow = run(file, d=d, threshold=threshold, histograms=not no_plots)
    click.echo(flow.json() if as_json else flow.markdown() if markdown else flow.table())
    if by_channel and not as_json:
        click.echo("\n" + flow.channel_table())
    if not no_plots:
        from mcsim.io.plotting import control_plots  # matplotlib: only with --plots

        paths = control_plots(flow, plots_dir or path.parent, stem=path.stem)
        click.echo(f"control plots: {', '.join(str(p) for p in paths)}", err=as_json or markdown)
