"""``mcsim spectra``: generate, list and inspect the meson spectrum tables."""

from __future__ import annotations

import os
from pathlib import Path

import click

from mcsim.runtime.defaults import BEAMS, TABLES_ENV, user_tables_directory
from mcsim.runtime.validate import (
    CHUNK,
    EVENTS,
    SEED,
    WORKERS,
    choice_option,
    number_option,
)

__all__ = ["spectra", "tables_option"]


def _use_tables(ctx, param, value):
    if value is not None:
        os.environ[TABLES_ENV] = str(Path(value).resolve())
    return value


#: ``--tables DIR`` for every command that samples or reads meson spectra.
tables_option = click.option(
    "--tables",
    type=click.Path(exists=True, file_okay=False),
    expose_value=False,
    callback=_use_tables,
    is_eager=True,
    help="directory of spectrum tables written by `mcsim spectra generate` (DIR/<beam>/"
    "<meson>.npz), used instead of the shipped ones where it has a table  [default: "
    f"${TABLES_ENV} if set, else only the shipped tables]",
)


@click.group()
def spectra() -> None:
    """Meson spectrum tables (PYTHIA8, lab frame)."""


@spectra.command("generate")
@click.argument("card")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help=f"table directory; tables go to DIR/<beam>/<meson>.npz  [default: "
    f"{user_tables_directory()}; never the installed package]",
)
@number_option("--events", allowed=EVENTS, help="number of PYTHIA8 events  [default: the card's]")
@number_option("--seed", allowed=SEED, help="master seed  [default: the card's]")
@number_option(
    "--chunk-events", allowed=CHUNK, help="PYTHIA8 events per chunk  [default: the card's]"
)
@number_option(
    "--workers", allowed=WORKERS, default=1, help="local processes (1: run in this process)"
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="run the chunks on the Dask scheduler at ADDRESS (tcp://HOST:8786)",
)
def generate_tables_command(card, **options) -> None:
    """Run PYTHIA8 on generator CARD (a path or a shipped name such as sps400_softqcd) and
    write one table per meson; use them with --tables DIR on the other commands."""
    # PYTHIA8 (optional extra): only to generate tables
    from mcsim.sources.pythia import generate_tables as run

    paths = run(card, progress=True, **options)
    for path in paths:
        click.echo(f"wrote {path}")
    if paths:
        click.echo(f"use them with --tables {paths[0].parent.parent}")


@spectra.command("list")
@tables_option
def list_tables() -> None:
    """List the tables (shipped, and those of --tables).  per coll.: mesons per collision of a
    physical (SoftQCD) table; a shape table (hard process) gives the (p, theta) shape alone
    and says "shape", its meson counts come from generators/normalisation.toml."""
    click.echo(f"{'beam':8s} {'meson':10s} {'pdgid':>6s} {'per coll.':>10s} {'events':>8s}  kind")
    # numba kernels: loaded when the command runs, not for --help
    from mcsim.sources.spectra import (
        available_tables,
        load_table,
        table_name,
    )

    for beam, pdgid in available_tables():
        t = load_table(pdgid, beam)
        kind = t.meta["kind"]
        per_collision = f"{t.multiplicity:.4g}" if kind == "physical" else "shape"
        click.echo(
            f"{beam:8s} {table_name(pdgid):10s} {pdgid:6d} {per_collision:>10s} "
            f"{t.meta['events']:8d}  {kind}"
        )
    click.echo(
        "per coll.: mesons per collision (physical: PYTHIA8 SoftQCD); shape: a hard-process "
        "table, used for its (p, theta) shape only (meson counts: generators/normalisation.toml)"
    )


@spectra.command()
@click.argument("meson")
@choice_option(
    "--beam", choices=list(BEAMS), required=True, help="beam the table was generated for"
)
@click.option(
    "--png", type=click.Path(dir_okay=False), help="output figure  [default: <beam>_<meson>.png]"
)
@tables_option
def show(meson, beam, png) -> None:
    """Print the multiplicity of MESON for BEAM and draw its table as a PNG."""
    import matplotlib.pyplot as plt  # matplotlib: only to draw
    import numpy as np  # numpy: loaded when the command runs, not for --help

    # numba kernels: loaded when the command runs, not for --help
    from mcsim.sources.spectra import (
        load_table,
        table_key,
    )

    t = load_table(table_key(meson), beam)
    click.echo(
        f"{t.name} ({t.pdgid}), beam {beam}: {t.multiplicity:.4g} per collision "
        f"({t.meta['multiplicity_note']}); {t.meta['events']} events, "
        f"card {t.meta['card']}, PYTHIA {t.meta['pythia_version']}, seed {t.meta['seed']}"
    )
    fig, ax = plt.subplots(figsize=(6, 4.5))
    counts = np.ma.masked_equal(t.counts.T, 0)
    mesh = ax.pcolormesh(t.log10p_edges, t.log10theta_edges, counts, norm="log")
    fig.colorbar(mesh, ax=ax, label="mesons per bin")
    ax.set_xlabel("log10(p / GeV)")
    ax.set_ylabel("log10(theta / rad)")
    ax.set_title(f"{t.name}, {beam}: {t.multiplicity:.3g} per collision")
    out = Path(png or f"{beam}_{t.name}.png")
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    click.echo(f"wrote {out}")
