"""``mcsim cutflow``: the paper's selection over an events file, control plots on request."""

from __future__ import annotations

from pathlib import Path

import click

from mcsim.io.partfiles import check_directory
from mcsim.runtime.validate import COUPLING, ENERGY, number_option

__all__ = ["cutflow"]

_NEXT_TO_FILE = ""  # --plots without a directory


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
    is_flag=False,
    flag_value=_NEXT_TO_FILE,
    type=click.Path(file_okay=False),
    metavar="[DIR]",
    help="also draw PNG control plots, into DIR (--plots DIR) or next to FILE (--plots "
    "alone, after FILE)",
)
def cutflow(file, d, threshold, by_channel, as_json, markdown, plots_dir):
    """Cutflow of FILE (written by `mcsim generate`): per cut, the Monte Carlo events passing
    (raw) and the expected events they carry (weighted) with its Monte Carlo error, relative
    and cumulative efficiency; with --plots, control plots of the selected events with error
    bars (PNG)."""
    # numba kernels: loaded when the command runs, not for --help
    from mcsim.generation.cutflow import cutflow as run
    from mcsim.io.histograms import HISTOGRAMS  # hist (0.3 s): only when histograms are filled

    if as_json and markdown:
        raise ValueError("choose one of --json and --markdown")
    path = Path(file)
    draw = plots_dir is not None
    if draw:
        plots_dir = path.parent if plots_dir == _NEXT_TO_FILE else Path(plots_dir)
        check_directory(plots_dir, "--plots", [f"{path.stem}_{name}.png" for name in HISTOGRAMS])
    flow = run(file, d=d, threshold=threshold, histograms=draw)
    click.echo(flow.json() if as_json else flow.markdown() if markdown else flow.table())
    if by_channel and not as_json:
        click.echo("\n" + flow.channel_table())
    if draw:
        from mcsim.io.plotting import control_plots  # matplotlib: only with --plots

        paths = control_plots(flow, plots_dir, stem=path.stem)
        click.echo(f"control plots: {', '.join(str(p) for p in paths)}", err=as_json or markdown)
