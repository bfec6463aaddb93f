"""``mcsim generate``: write an events file (ROOT TTree) for one model point and detector."""

from __future__ import annotations

import time

import click

from .info_cli import model_options
from .models import model_from_options
from .propagate import MODES
from .validate import CHUNK, ENERGY, EVENTS, SEED, click_type

__all__ = ["generate"]


def _mothers(text: str | None) -> list[int] | None:
    """'113,223' or 'rho,omega' -> positive PDG IDs."""
    if text is None:
        return None
    from .spectra import table_key

    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ValueError("--channels: give mother PDG IDs or names, e.g. 113,223 or rho,omega")
    return [table_key(int(t)) if t.lstrip("+-").isdigit() else table_key(t) for t in items]


@click.command()
@model_options
@click.option("--detector", default="na62", show_default=True,
              help="detector card: a shipped name (na62, na62:1e17, ship, ...) or a path")
@click.option("--events", "n_events", type=click_type(EVENTS), required=True,
              help="total number of events in the file, split equally over the channels "
                   "(1 to 1e10)")
@click.option("--seed", type=click_type(SEED), required=True,
              help="master seed; the same seed gives the same file content")
@click.option("--mode", type=click.Choice(MODES), default="full", show_default=True,
              help="full: 3-D geometry; cone: the paper's selection")
@click.option("--threshold", type=click_type(ENERGY),
              help="minimum photon energy [GeV] (default: the card's)")
@click.option("--channels", help="only these production channels: mother PDG IDs or names, "
                                 "comma-separated (default: every open channel)")
@click.option("--chunk-size", type=click_type(CHUNK), default=100_000, show_default=True,
              help="events per chunk, rounded up to whole blocks of 32768 (memory scales "
                   "with it; the events do not depend on it)")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="output ROOT file")
@click.option("--compression", default="zstd:1", show_default=True,
              help="ROOT compression: zstd|zlib|lz4|lzma[:LEVEL] or none (zlib:1 for ROOT "
                   "older than 6.20)")
@click.option("--overwrite", is_flag=True, help="replace an existing output file")
@click.option("--quiet", is_flag=True, help="no progress bar")
def generate(model, m1, delta, m_n, flavour, d, detector, n_events, seed, mode, threshold,
             channels, chunk_size, output, compression, overwrite, quiet):
    """Generate events with the full chain and write them to a ROOT file (TTree 'events',
    metadata in 'mcsim_metadata', 'run', 'channels')."""
    from .ntuple import generate as run

    point = model_from_options(model, d=d, m1=m1, delta=delta, m_n=m_n, flavour=flavour)
    start = time.perf_counter()
    try:
        meta = run(point, detector, output, n_events=n_events, seed=seed, mode=mode,
                   threshold=threshold, channels=_mothers(channels), chunk_size=chunk_size,
                   overwrite=overwrite, compression=compression, progress=not quiet)
    except OSError as err:
        if err.errno is None:  # mcsim's own message (an output path refused)
            raise
        raise OSError(f"cannot write {output}: {err.strerror}") from None  # e.g. disk full
    seconds = time.perf_counter() - start
    click.echo(f"wrote {output}: {meta['n_events']} events in {len(meta['channels'])} channels, "
               f"{seconds:.1f} s ({meta['n_events'] / seconds:.3g} events/s)")
    click.echo(f"expected signal events: {meta['expected_events']:.6g} "
               f"(d = {meta['d']:g} GeV^-1, c*tau = {meta['ctau']:.4g} m, {meta['detector']})")
