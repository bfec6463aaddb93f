"""Generate an events file: the full chain run chunk by chunk into a ROOT TTree.

What ``n_events`` means: the TOTAL number of events in the file.  It is split equally over the
production channels (the first ``n_events % n_channels`` channels get one more), and each
channel's share is written in chunks of about ``chunk_size`` events (rounded up to whole
blocks), channel after channel.
The events of a channel come in fixed blocks of :data:`BLOCK` events, each one call of
:func:`mcsim.chain.simulate` for that channel alone, seeded by :func:`block_rng` from ``seed``,
the mother PDG ID and the block's index; a chunk is made of whole blocks.  So the same seed gives
the same file content bit for bit, whatever the chunk size (a memory setting), and a channel's
events do not depend on the other channels.

Normalisation: ``w_norm = N_M x BR / N_generated(channel)`` with N_generated the channel's TOTAL
over all its chunks, so the weights of the file sum to the expected number of signal events.
Memory stays bounded by one chunk; the file appears at its path only when complete.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from . import __version__, spectra
from .chain import SpectraSource, event_weight, run_metadata, select_channels, simulate
from .detector import Detector, load_detector
from .models import Model
from .production import Channel
from .propagate import MODES
from .rootio import NtupleWriter
from .validate import CHUNK, ENERGY, EVENTS, SEED

__all__ = ["generate", "split_events", "block_sizes", "blocks_per_chunk", "block_rng",
           "BLOCK", "CHUNK_SIZE"]

#: Default number of events per chunk (one basket per branch).
CHUNK_SIZE = 100_000

#: Events per random-number block of a channel: the unit the events are keyed to.
BLOCK = 2**15


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def split_events(n_events: int, n_channels: int) -> list[int]:
    """Events per channel: ``n_events`` split equally, the remainder to the first channels."""
    n_events = _positive_int("n_events", n_events)
    n_channels = _positive_int("number of channels", n_channels)
    if n_events < n_channels:
        raise ValueError(f"--events must be at least the number of channels ({n_channels}), "
                         f"got {n_events}")
    base, extra = divmod(n_events, n_channels)
    return [base + (i < extra) for i in range(n_channels)]


def block_sizes(n: int) -> list[int]:
    """A channel's ``n`` events cut into blocks of :data:`BLOCK` (the last one shorter)."""
    full, rest = divmod(n, BLOCK)
    return [BLOCK] * full + ([rest] if rest else [])


def blocks_per_chunk(chunk_size: int) -> int:
    """Whole blocks in a chunk of about ``chunk_size`` events (rounded up, at least one)."""
    return -(-_positive_int("chunk_size", chunk_size) // BLOCK)


def block_rng(seed: int, mother: int, block: int) -> np.random.Generator:
    """The generator of block ``block`` of the channel of ``mother`` (positive PDG ID):
    ``SeedSequence(seed, spawn_key=(mother, block))``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(mother, block)))


def _concatenate(parts: list[dict]) -> dict:
    return parts[0] if len(parts) == 1 else {k: np.concatenate([p[k] for p in parts])
                                             for k in parts[0]}


def _renormalise(arrays: dict, index: int, w_norm: float, efficiency: float) -> dict:
    """Give a one-channel chunk its place in the file: channel index and the per-event
    normalisation of the whole channel, and the weight that follows from it."""
    n = len(arrays["weight"])
    arrays["channel"] = np.full(n, index, dtype=np.int32)
    arrays["w_norm"] = np.full(n, w_norm)
    arrays["weight"] = event_weight(arrays, efficiency)
    return arrays


def _spectrum_info(mother: int, beam: str) -> dict:
    """Provenance of the spectrum table a channel's mesons were drawn from."""
    table = spectra.load_table(mother, beam)
    meta = {k: v for k, v in table.meta.items() if k != "card_text"}
    return {"table": f"{beam}/{table.name}.npz", "multiplicity": table.multiplicity, **meta}


def _metadata(model: Model, detector: Detector, chans: list[Channel], counts: list[int],
              per_channel: list[dict], *, seed: int, mode: str, threshold: float,
              chunk_size: int, compression: str, expected: float) -> dict:
    e_max = detector.photon_energy_max
    return {
        "format": "mcsim-events-1",
        "mcsim_version": __version__,
        **run_metadata(model, detector, mode, threshold),
        "beam": detector.beam,
        "n_pot": detector.n_pot,
        "sigma_inel_mb": detector.sigma_inel_mb,
        "luminosity_inv_ab": detector.luminosity_inv_ab,
        "n_collisions": detector.n_collisions,
        "calorimeter_half_size_m": detector.calorimeter.half_size,
        "photon_energy_max": e_max if math.isfinite(e_max) else None,
        "seed": seed,
        "n_events": sum(counts),
        "chunk_size": chunk_size,
        "compression": compression,
        "events_split": "equal over channels",
        "channels": [c.name for c in chans],
        "mother_pdgids": [c.mother for c in chans],
        "n_mesons": [p["n_mesons"] for p in per_channel],
        "br": [c.br for c in chans],
        "n_generated": counts,
        "spectra": [_spectrum_info(c.mother, detector.beam) for c in chans],
        "expected_events": expected,
    }


def generate(model: Model, detector: Detector | str, path: str | Path, *, n_events: int,
             seed: int, mode: str = "full", threshold: float | None = None,
             channels=None, chunk_size: int = CHUNK_SIZE, overwrite: bool = False,
             compression: str = "zstd:1", progress: bool = False) -> dict:
    """Write ``n_events`` events (in total, split equally over the channels) of ``model`` in
    ``detector`` to the ROOT file ``path`` (layout: :mod:`mcsim.rootio`).  ``mode``, ``threshold``
    [GeV] and ``channels`` (mother PDG IDs) as in :func:`mcsim.chain.simulate`.  The output path
    is checked before anything is generated; ``overwrite`` allows replacing a file;
    ``compression`` as in :func:`mcsim.rootio.compression`.  Returns the metadata written."""
    n_events = EVENTS.check("n_events", n_events)
    chunk_size = CHUNK.check("chunk_size", chunk_size)
    seed = SEED.check("seed", seed)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if threshold is not None:
        threshold = ENERGY.check("threshold", threshold)
    if isinstance(detector, str):
        detector = load_detector(detector)
    chans = select_channels(model, SpectraSource(detector), channels)
    if not chans:
        point = ", ".join(f"{k} = {v:g}" for k, v in model.describe().items()
                          if isinstance(v, float))
        raise ValueError(f"every production channel is closed for the {model.kind} model at "
                         f"{point} (or the {detector.beam} beam makes none of its mesons): "
                         f"nothing to generate")
    counts = split_events(n_events, len(chans))
    e_min = detector.photon_energy_min if threshold is None else float(threshold)

    from tqdm import tqdm

    per_channel, expected = [], 0.0
    with NtupleWriter(path, overwrite=overwrite, compression_spec=compression) as writer, \
            tqdm(total=n_events, unit="ev", unit_scale=True, disable=not progress,
                 desc="mcsim generate") as bar:
        for index, (chan, n_total) in enumerate(zip(chans, counts)):
            info, parts = None, []
            sizes = block_sizes(n_total)
            for b, size in enumerate(sizes):
                batch = simulate(model, detector, n_events=size,
                                 seed=block_rng(int(seed), chan.mother, b), mode=mode,
                                 threshold=e_min, channels=[chan.mother])
                info = info or {"n_mesons": batch.metadata["n_mesons"][0]}
                parts.append(batch.arrays)
                if len(parts) == blocks_per_chunk(chunk_size) or b == len(sizes) - 1:
                    arrays = _renormalise(_concatenate(parts), index,
                                          info["n_mesons"] * chan.br / n_total,
                                          detector.efficiency)
                    writer.extend(arrays)
                    expected += float(arrays["weight"].sum())
                    bar.update(len(arrays["weight"]))
                    parts = []
            per_channel.append(info)
        metadata = _metadata(model, detector, chans, counts, per_channel, seed=int(seed),
                             mode=mode, threshold=e_min, chunk_size=chunk_size,
                             compression=compression, expected=expected)
        writer.finish(metadata)
    return metadata
