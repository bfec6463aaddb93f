"""``mcsim generate``: write an events file (ROOT TTree) for one model point and detector."""

from __future__ import annotations

import time

import click

from mcsim.cli.info import model_options, warn_branching_ratios
from mcsim.cli.spectra import tables_option
from mcsim.generation.allocation import ALLOCATIONS
from mcsim.runtime.defaults import FORMATS, KEEP, MODES, SAMPLINGS
from mcsim.runtime.validate import (
    CHUNK,
    ENERGY,
    EVENTS,
    SEED,
    choice_option,
    number_option,
)

__all__ = ["generate_command"]


def _mothers(text: str | None) -> list[int] | None:
    """'113,223' or 'rho,omega' -> positive PDG IDs."""
    if text is None:
        return None
    # numba kernels: loaded when the command runs, not for --help
    from mcsim.sources.spectra import table_key

    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ValueError("--channels: give mother PDG IDs or names, e.g. 113,223 or rho,omega")
    return [table_key(int(t)) if t.lstrip("+-").isdigit() else table_key(t) for t in items]


@click.command("generate")
@model_options
@click.option(
    "--detector",
    default="na62",
    show_default=True,
    help="detector card: a shipped name (na62, na62:1e17, ship, ...; see `mcsim "
    "detectors list`) or a path",
)
@number_option(
    "--events",
    "n_events",
    allowed=EVENTS,
    required=True,
    help="total number of events in the file, shared over the channels as --allocation says "
    "(1 to 1e10, e.g. 1e6)",
)
@number_option(
    "--seed",
    allowed=SEED,
    required=True,
    help="master seed; the same seed gives the same file content",
)
@choice_option(
    "--mode", choices=MODES, default="full", help="full: 3-D geometry; cone: the paper's selection"
)
@number_option(
    "--threshold", allowed=ENERGY, help="minimum photon energy [GeV]  [default: the card's]"
)
@click.option(
    "--channels",
    help="only these production channels: mother PDG IDs or names, "
    "comma-separated (default: every open channel)",
)
@number_option(
    "--chunk-size",
    allowed=CHUNK,
    default=100_000,
    help="events per chunk, rounded up to whole random-number blocks of 16384 "
    "(memory scales with it, about 1 kB per event; the events do not depend "
    "on it)",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="output file: ROOT (TTree 'events'), or HepMC3 ASCII for a .hepmc3 or .hepmc name",
)
@choice_option(
    "--format",
    "fmt",
    choices=FORMATS,
    help="output format (default: from the suffix of --output; ROOT otherwise)",
)
@click.option(
    "--compression",
    default="zstd:1",
    show_default=True,
    help="ROOT compression: zstd|zlib|lz4|lzma[:LEVEL] or none (zlib:1 for ROOT older than 6.20)",
)
@choice_option(
    "--keep",
    choices=KEEP,
    default="selected",
    help="events written to the events tree: selected = those that can contribute at "
    "some coupling (LLP crosses the volume, photon accepted); crossing = LLP "
    "crosses the decay volume; all.  Weights and the cutflow do not depend on it",
)
@choice_option(
    "--sampling",
    choices=SAMPLINGS,
    default="plain",
    help="plain: LLPs isotropic in the meson's rest frame; directed: mesons and LLPs "
    "drawn towards the detector and photons inside the energy window, with exact importance "
    "weights (w_sampling, w_photon)",
)
@choice_option(
    "--allocation",
    choices=ALLOCATIONS,
    default="neyman",
    help="neyman: events over the channels in proportion to the spread of their contribution, "
    "measured on each channel's first 16384 events (kept; no channel gets fewer); equal: "
    "the same number in each channel",
)
@click.option(
    "--float32",
    is_flag=True,
    help="store 4-momenta, vertices and impact points in float32 (weights, paths and "
    "probabilities stay float64)",
)
@click.option("--overwrite", is_flag=True, help="replace an existing output file")
@click.option("--quiet", is_flag=True, help="no progress bar")
@tables_option
def generate_command(point, detector, output, channels, fmt, quiet, **options):
    """Generate events with the full chain and write them to a ROOT file (TTree 'events',
    metadata in 'mcsim_metadata', 'run', 'channels', control histograms in 'histograms') or a
    HepMC3 file (for detector simulation)."""
    # numba kernels: loaded when the command runs, not for --help
    from mcsim.generation.write import write_events as run
    from mcsim.runtime.jit_cache import compile_timer  # numba: as the line above

    warn_branching_ratios(point)
    start = time.perf_counter()
    try:
        with compile_timer() as compiling:
            meta = run(
                point,
                detector,
                output,
                channels=_mothers(channels),
                format=fmt,
                progress=not quiet,
                **options,
            )
    except OSError as err:
        if err.errno is None:  # mcsim's own message (an output path refused)
            raise
        raise OSError(f"cannot write {output}: {err.strerror}") from None  # e.g. disk full
    click.echo(
        f"wrote {output}: {meta['n_events']} events generated in "
        f"{len(meta['channels'])} channels, {meta['n_kept']} kept (--keep {meta['keep']}), "
        f"{timing(meta['n_events'], time.perf_counter() - start, compiling())}"
    )
    click.echo(summary(meta))


def timing(n_events: int, seconds: float, compiling: float) -> str:
    """'12.3 s (4.5e+04 events/s)': the wall time [s] and the rate without the ``compiling``
    seconds of numba kernels (first run), which are named when they count."""
    rate = n_events / max(seconds - compiling, 1e-9)
    if compiling < 0.05:
        return f"{seconds:.1f} s ({rate:.3g} events/s)"
    return (
        f"{seconds:.1f} s, {compiling:.1f} s of it compiling numerical kernels "
        f"({rate:.3g} events/s without them)"
    )


def summary(meta: dict) -> str:
    """Expected signal events with their Monte Carlo error, in total and per channel."""
    # numba kernels: loaded when the command runs, not for --help
    from mcsim.detector.cards import exposure
    from mcsim.models.card import coupling_name  # numba kernels: as the line above

    name, unit = coupling_name(meta["model"])
    width = max(len(c) for c in meta["channels"])
    lines = [
        f"expected signal events: {meta['expected_events']:.4g} +- {meta['stat_error']:.2g} "
        f"(MC) at {name} = {meta['d']:g} {unit} (c*tau = {meta['ctau']:.4g} m), "
        f"{meta['detector']}, {exposure(meta)}",
        f"  {'channel':<{width}}  {'MC events':>9}  {'kept':>7}  {'signal events':>13}  "
        f"{'MC error':>8}",
    ]
    for name, n, kept, y, err in zip(
        meta["channels"],
        meta["n_generated"],
        meta["n_kept_by_channel"],
        meta["expected_by_channel"],
        meta["stat_error_by_channel"],
    ):
        lines.append(f"  {name:<{width}}  {n:>9d}  {kept:>7d}  {y:>13.4g}  {err:>8.2g}")
    return "\n".join(lines)
