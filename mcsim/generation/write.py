"""Generate an events file: the full chain run chunk by chunk into a ROOT TTree.

What ``n_events`` means: the TOTAL number of events in the file.  It is split equally over the
production channels (the first ``n_events % n_channels`` channels get one more), and each
channel's share is generated in chunks of whole random-number blocks
(:data:`mcsim.runtime.defaults.BLOCK_SIZE` events; ``chunk_size`` is rounded up to a multiple), channel
after channel.  Every chunk is one call of :func:`mcsim.generation.simulate.simulate` for that channel alone,
from its first block on, so the events depend on the seed alone: not on the chunk size, and a
channel's events not on the other channels; they are the events ``simulate`` gives for the same
seed and number of events per channel.

Normalisation: ``w_norm = N_M x BR / N_generated(channel)`` with N_generated the channel's TOTAL
over all its chunks, so the weights of the file sum to the expected number of signal events.
The control histograms of the selected events (:mod:`mcsim.io.histograms`) are written into the
file too (directory ``histograms``, TH1D/TH2D).  Memory stays bounded by one chunk; the file
appears at its path only when complete.

What is kept (``keep``): ``all`` events; ``crossing``: events whose LLP crosses the decay volume;
``selected`` (the default): events that can contribute at SOME coupling -- the LLP crosses the
volume, its photon can reach the calorimeter and passes the energy window (every other event
has weight 0 at every d).  Dropping events never changes the weights: N_generated counts every
event generated.  With ``selected`` the LLPs that cross the volume in dropped events go to the
small ``crossing`` tree, so that the cutflow's rows before the selection stay exact at any d.
"""

from __future__ import annotations

import functools
import math
import os
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mcsim import __version__
from mcsim.detector.cards import Detector, load_detector
from mcsim.detector.interaction_point import InteractionPointDetector
from mcsim.generation.allocation import ALLOCATIONS, from_pilots
from mcsim.generation.simulate import channel_events, channel_metadata
from mcsim.io import histograms
from mcsim.io.rootio import NtupleWriter, check_output
from mcsim.io.schema import concatenate
from mcsim.models.registry import Model
from mcsim.runtime.defaults import BLOCK_SIZE, FORMATS, KEEP, MODES
from mcsim.runtime.executor import in_threads
from mcsim.runtime.validate import CHUNK, ENERGY, EVENTS, SEED
from mcsim.sources.base import EventSource, window
from mcsim.sources.registry import source_for
from mcsim.weights import normalise, run_metadata, stat_error

if TYPE_CHECKING:
    from mcsim.io.hepmc import HepMCWriter

__all__ = [
    "CHUNK_SIZE",
    "FORMATS",
    "KEEP",
    "chunk_sizes",
    "keep_mask",
    "output_format",
    "split_events",
    "write_events",
]

#: Layout version of the events files (3: per-channel exposure and rate, the source named).
FORMAT_VERSION = "mcsim-events-3"


#: Default number of events per chunk (one basket per branch).
CHUNK_SIZE = 100_000

#: Threads generating chunks while this one writes them (the kernels release the GIL).
GENERATE_THREADS = min(2, os.cpu_count() or 1)


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def split_events(n_events: int, n_channels: int) -> list[int]:
    """Events per channel: ``n_events`` split equally, the remainder to the first channels."""
    n_events = _positive_int("n_events", n_events)
    n_channels = _positive_int("number of channels", n_channels)
    if n_events < n_channels:
        raise ValueError(
            f"--events must be at least the number of channels ({n_channels}), got {n_events}"
        )
    base, extra = divmod(n_events, n_channels)
    return [base + (i < extra) for i in range(n_channels)]


def chunk_sizes(n: int, chunk_size: int) -> list[tuple[int, int]]:
    """(first block, events) of the chunks of ``n`` events: ``chunk_size`` rounded up to whole
    blocks of :data:`mcsim.runtime.defaults.BLOCK_SIZE` events (the last chunk shorter)."""
    blocks = -(-_positive_int("chunk_size", chunk_size) // BLOCK_SIZE)
    size = blocks * BLOCK_SIZE
    full, rest = divmod(n, size)
    return [(k * blocks, size) for k in range(full)] + ([(full * blocks, rest)] if rest else [])


def output_format(path: str | Path, format: str | None = None) -> str:
    """The output format: the one of the suffix of ``path`` (.root; .hepmc3 or .hepmc), else
    ``format`` if given, else 'root'.  A ``format`` other than the suffix's is a ValueError."""
    if format is not None and format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    suffix = Path(path).suffix.lower()
    named = next((name for name, suffixes in FORMATS.items() if suffix in suffixes), None)
    if format is not None and named not in (None, format):
        raise ValueError(
            f"--format {format}: the output {path} has the suffix of {named}; "
            f"use {' or '.join(FORMATS[format])} for {format}, or leave --format out"
        )
    return named or format or "root"


def keep_mask(arrays: dict, keep: str) -> np.ndarray:
    """Events of a chunk kept in the events tree under the policy ``keep`` (:data:`KEEP`)."""
    if keep == "all":
        return np.ones(len(arrays["weight"]), dtype=bool)
    if keep == "crossing":
        return arrays["in_volume"].copy()
    if keep == "selected":
        return arrays["in_volume"] & arrays["photon_hits_calo"] & arrays["above_threshold"]
    raise ValueError(f"keep must be one of {', '.join(KEEP)}, got {keep!r}")


def _metadata(
    model: Model,
    detector: Detector | InteractionPointDetector,
    source: EventSource,
    chans: list,
    counts: list[int],
    exposures: list[float],
    settings: dict,
    n_kept: list[int],
    expected: list[float],
    sum_w2: list[float],
) -> dict:
    """The events file's metadata: the run (``settings``: the options of
    :func:`write_events` that made it), the source and detector, the channels and the yields."""
    e_max = detector.photon_energy_max
    out = {
        "format": FORMAT_VERSION,
        "mcsim_version": __version__,
        **run_metadata(
            model, detector, source, settings["mode"], settings["threshold"], settings["sampling"]
        ),
        "beam": detector.beam,
        "n_pot": detector.n_pot,
        "sigma_inel_mb": detector.sigma_inel_mb,
        "luminosity_inv_ab": detector.luminosity_inv_ab,
        "n_collisions": detector.n_collisions,
        "calorimeter_half_size_m": detector.calorimeter.half_size,
        "photon_energy_max": e_max if math.isfinite(e_max) else None,
        "n_events": sum(counts),
        "n_kept": sum(n_kept),
        **{k: settings[k] for k in ("seed", "keep", "float32", "chunk_size", "compression")},
        "allocation": settings["allocation"],
        **channel_metadata(chans, exposures, counts),
        "n_kept_by_channel": n_kept,
        "expected_by_channel": expected,
        "stat_error_by_channel": [stat_error(y, v, n) for y, v, n in zip(expected, sum_w2, counts)],
        "expected_events": sum(expected),
        "stat_error": stat_error(expected, sum_w2, counts),
    }
    return {**out, **source.metadata(chans)}


def write_events(
    model: Model,
    detector: Detector | InteractionPointDetector | str,
    path: str | Path,
    *,
    n_events: int,
    seed: int,
    mode: str = "full",
    threshold: float | None = None,
    channels=None,
    chunk_size: int = CHUNK_SIZE,
    overwrite: bool = False,
    compression: str = "zstd:1",
    keep: str = "selected",
    float32: bool = False,
    format: str | None = None,
    sampling: str = "plain",
    allocation: str = "neyman",
    progress: bool = False,
) -> dict:
    """Write ``n_events`` events (in total) of ``model`` in ``detector`` to the ROOT file
    ``path`` (layout: :mod:`mcsim.io.rootio`).  ``mode``, ``threshold`` [GeV], ``channels`` (mother
    PDG IDs) and ``sampling`` as in :func:`mcsim.generation.simulate.simulate`.  ``allocation`` 'neyman' shares
    the events over the channels by their contribution (:mod:`mcsim.generation.allocation`; the metadata's
    'allocation' says 'equal' where a channel would get less than one block of pilot events, and
    for a source of one channel), 'equal' equally.
    The output path
    is checked before anything is generated; ``overwrite`` allows replacing a file;
    ``compression`` as in :func:`mcsim.io.rootio.compression`; ``keep`` one of :data:`KEEP`;
    ``float32`` stores the kinematics in float32; ``format`` 'root' or 'hepmc3' (HepMC3 ASCII,
    :mod:`mcsim.io.hepmc`; default: from the suffix, see :func:`output_format`).  Returns the
    metadata written, with the expected signal events and their Monte Carlo error
    (:func:`mcsim.weights.stat_error`), in total and per channel."""
    n_events = int(EVENTS.check("n_events", n_events))
    chunk_size = int(CHUNK.check("chunk_size", chunk_size))
    seed = int(SEED.check("seed", seed))
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if threshold is not None:
        threshold = ENERGY.check("threshold", threshold)
    if keep not in KEEP:
        raise ValueError(f"keep must be one of {', '.join(KEEP)}, got {keep!r}")
    if isinstance(detector, str):
        detector = load_detector(detector)
    fmt = output_format(path, format)
    source = source_for(model, detector)
    chans = source.channels(channels)
    exposures = [source.exposure(c) for c in chans]
    if not chans:
        raise ValueError(f"{source.why_closed()}: nothing to generate")
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {', '.join(ALLOCATIONS)}, got {allocation!r}")
    check_output(path, overwrite=overwrite)  # before any event is generated
    e_min = detector.photon_energy_min if threshold is None else float(threshold)

    angle = window(detector, mode, sampling)

    def sample(chan, size: int, first_block: int) -> dict:
        return channel_events(
            source,
            model,
            detector,
            chan,
            size,
            seed=seed,
            first_block=first_block,
            mode=mode,
            threshold=e_min,
            angle=angle,
        )

    counts = split_events(n_events, len(chans))
    pilots: dict[int, dict] = {}  # first blocks, kept for the first chunk
    if allocation == "neyman" and source.allocatable and min(counts) > BLOCK_SIZE:
        pilot = functools.partial(sample, size=BLOCK_SIZE, first_block=0)
        pilots = dict(enumerate(in_threads(pilot, chans, GENERATE_THREADS)))
        for index, arrays in pilots.items():  # each pilot normalised on its own
            normalise(arrays, exposures[index], chans[index].rate, BLOCK_SIZE, detector.efficiency)
        counts = from_pilots(n_events, [p["weight"] for p in pilots.values()], BLOCK_SIZE)
    used = "neyman" if pilots else "equal"

    settings = {"seed": seed, "mode": mode, "threshold": e_min, "sampling": sampling}
    settings |= {"keep": keep, "float32": float32, "chunk_size": chunk_size}
    settings |= {"compression": compression, "allocation": used}

    def metadata_with(n_kept, expected, sum_w2):
        return _metadata(
            model, detector, source, chans, counts, exposures, settings, n_kept, expected, sum_w2
        )

    writer: HepMCWriter | NtupleWriter
    if fmt == "hepmc3":
        from mcsim.io.hepmc import HepMCWriter  # pyhepmc: only for HepMC3 output

        zeros = [0] * len(chans)
        writer = HepMCWriter(path, metadata_with(zeros, zeros, zeros), overwrite=overwrite)
    else:
        writer = NtupleWriter(
            path, overwrite=overwrite, compression_spec=compression, float32=float32
        )

    from tqdm import tqdm  # tqdm (0.1 s): only with a progress bar

    hists = histograms.book(
        {
            "calorimeter_half_size_m": detector.calorimeter.half_size,
            "calorimeter_z_m": detector.calorimeter.z_face,
        }
    )
    jobs = [
        (index, first_block, size)
        for index, n_total in enumerate(counts)
        for first_block, size in chunk_sizes(n_total, chunk_size)
    ]

    def chunk(job: tuple[int, int, int]) -> dict:
        """One chunk of a channel, normalised to the whole channel (runs in a thread)."""
        index, first_block, size = job
        chan = chans[index]
        if first_block == 0 and index in pilots:
            parts = [pilots.pop(index)]
            if size > BLOCK_SIZE:
                parts.append(sample(chan, size - BLOCK_SIZE, 1))
            arrays = concatenate(parts, list(parts[-1]))
        else:
            arrays = sample(chan, size, first_block)
        arrays["channel"] = np.full(len(arrays["w_sampling"]), index, dtype=np.int32)
        return normalise(arrays, exposures[index], chan.rate, counts[index], detector.efficiency)

    sums = np.zeros((len(chans), 3))  # per channel: kept, sum of weights, sum of squares
    first = 0  # number of the chunk's first event among all generated
    with (
        writer,
        tqdm(
            total=n_events, unit="ev", unit_scale=True, disable=not progress, desc="mcsim generate"
        ) as bar,
        closing(in_threads(chunk, jobs, GENERATE_THREADS)) as chunks,
    ):
        for (index, _, size), arrays in zip(jobs, chunks):
            numbers = np.arange(first, first + size, dtype=np.int64)
            mask = keep_mask(arrays, keep)
            for extend, rows in (
                (writer.extend, np.flatnonzero(mask)),
                (writer.extend_crossing, np.flatnonzero(arrays["in_volume"] & ~mask)),
            ):
                extend({k: v.take(rows, axis=0) for k, v in arrays.items()}, numbers[rows])
            histograms.fill(hists, arrays, arrays["weight"])
            w = arrays["weight"]
            sums[index] += (mask.sum(), w.sum(), np.square(w).sum())
            first += size
            bar.update(size)
        n_kept = [int(k) for k in sums[:, 0]]
        expected, sum_w2 = sums[:, 1].tolist(), sums[:, 2].tolist()
        metadata = metadata_with(n_kept, expected, sum_w2)
        writer.finish(metadata, hists)
    return metadata
