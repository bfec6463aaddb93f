"""``mcsim spectra``: generate, list and inspect the meson spectrum tables."""

from __future__ import annotations

from pathlib import Path

import click

from .spectra import BEAMS, available_tables, load_table, table_key, table_name

__all__ = ["spectra"]


@click.group()
def spectra() -> None:
    """Meson spectrum tables (PYTHIA8, lab frame)."""


@spectra.command()
@click.argument("card")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Table directory (default: the package's generators/tables).")
@click.option("--events", type=int, help="Number of events (default: the card's).")
@click.option("--seed", type=int, help="Master seed (default: the card's).")
@click.option("--chunk-events", type=int, help="Events per chunk (default: the card's).")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Local processes (1: run in this process).")
@click.option("--scheduler", metavar="ADDRESS", help="Run the chunks on this Dask scheduler.")
def generate(card, out_dir, events, seed, chunk_events, workers, scheduler) -> None:
    """Run PYTHIA8 on generator CARD (a path or a shipped name such as sps400_softqcd) and
    write one table per meson."""
    from .spectra_generate import generate as run

    paths = run(card, out_dir=out_dir, events=events, seed=seed, chunk_events=chunk_events,
                workers=workers, scheduler=scheduler, progress=True)
    for path in paths:
        click.echo(f"wrote {path}")


@spectra.command("list")
def list_tables() -> None:
    """List the shipped tables with their multiplicity per collision."""
    click.echo(f"{'beam':8s} {'meson':8s} {'pdgid':>6s} {'per coll.':>10s} {'events':>8s}  kind")
    for beam, pdgid in available_tables():
        t = load_table(pdgid, beam)
        click.echo(f"{beam:8s} {table_name(pdgid):8s} {pdgid:6d} {t.multiplicity:10.4g} "
                   f"{t.meta['events']:8d}  {t.meta['kind']}")


@spectra.command()
@click.argument("meson")
@click.option("--beam", required=True, type=click.Choice(list(BEAMS)))
@click.option("--png", type=click.Path(dir_okay=False),
              help="Output figure (default: <beam>_<meson>.png).")
def show(meson, beam, png) -> None:
    """Print the multiplicity of MESON for BEAM and draw its table as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    t = load_table(table_key(meson), beam)
    click.echo(f"{t.name} ({t.pdgid}), beam {beam}: {t.multiplicity:.4g} per collision "
               f"({t.meta['multiplicity_note']}); {t.meta['events']} events, "
               f"card {t.meta['card']}, PYTHIA {t.meta['pythia_version']}, seed {t.meta['seed']}")
    fig, ax = plt.subplots(figsize=(6, 4.5))
    counts = np.ma.masked_equal(t.counts.T, 0)
    mesh = ax.pcolormesh(t.log10p_edges, t.log10theta_edges, counts, norm="log")
    fig.colorbar(mesh, ax=ax, label="mesons per bin")
    ax.set_xlabel(r"$\log_{10}(p$ / GeV$)$")
    ax.set_ylabel(r"$\log_{10}(\theta$ / rad$)$")
    ax.set_title(f"{t.name}, {beam}: {t.multiplicity:.3g} per collision")
    out = Path(png or f"{beam}_{t.name}.png")
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    click.echo(f"wrote {out}")
