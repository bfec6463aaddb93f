"""ROOT files of events: flat TTree branches written with uproot, metadata next to them.

File layout (every object readable by ROOT and by uproot):

  events          TTree, one entry per event, flat branches (:data:`BRANCHES`)
  run             TTree, one entry: numeric run parameters (d, ctau, N_POT, seed, ...)
  channels        TTree, one entry per production channel (index, mother PDG ID, N_M, BR,
                  number generated)
  mcsim_metadata  TObjString: the complete metadata as one JSON document
  detector_card   TObjString: the detector card (TOML) the events were generated with

Branches of ``events`` follow :data:`mcsim.chain.ARRAYS`: a 4-momentum ``p4_<name>`` becomes
``<name>_E, <name>_px, <name>_py, <name>_pz`` [GeV]; ``vertex`` -> ``vertex_x/y/z`` [m];
``impact`` -> ``impact_x/y`` [m]; ``acc_intervals`` -> ``acc_a1, acc_b1, acc_a2, acc_b2`` [m];
every other array keeps its name.  ``event`` numbers the entries from 0.

Files are written to a temporary name in the output directory and renamed when complete
(:class:`NtupleWriter`), so a crash, Ctrl-C, SIGTERM or SIGHUP never leaves a partial file at the
output path; the ``.part`` file of a writer killed outright is removed by the next writer
(:mod:`mcsim.partfiles`).  Reading a file that is not a complete events file (empty, truncated,
no ``events`` tree) raises a ValueError naming it.
Trees are written with ``mktree``/``extend`` (never ``file[name] = ...``, which would make an
RNTuple).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import uproot

from . import jsonio, partfiles
from .chain import ARRAYS

__all__ = ["BRANCHES", "EVENTS_TREE", "METADATA_KEY", "COMPRESSIONS", "branches_of", "flatten",
           "unflatten", "compression", "check_output", "NtupleWriter", "read_metadata",
           "read_arrays", "iterate"]

EVENTS_TREE = "events"
RUN_TREE = "run"
CHANNELS_TREE = "channels"
METADATA_KEY = "mcsim_metadata"
CARD_KEY = "detector_card"

_COMPONENTS = {4: ("E", "px", "py", "pz")}
_SPECIAL = {"vertex": ("vertex_x", "vertex_y", "vertex_z"),
            "impact": ("impact_x", "impact_y"),
            "acc_intervals": ("acc_a1", "acc_b1", "acc_a2", "acc_b2")}


def branches_of(key: str) -> tuple[str, ...]:
    """Branch names holding the array ``key`` of :data:`mcsim.chain.ARRAYS` (or ``event``)."""
    if key == "event":
        return ("event",)
    if key not in ARRAYS:
        raise ValueError(f"unknown event array {key!r}; known: event, {', '.join(ARRAYS)}")
    if key in _SPECIAL:
        return _SPECIAL[key]
    if key.startswith("p4_"):
        return tuple(f"{key[3:]}_{c}" for c in _COMPONENTS[4])
    return (key,)


#: Branch name -> numpy dtype of the ``events`` tree, in file order.
BRANCHES: dict[str, np.dtype] = {"event": np.dtype(np.int64)}
for _key, (_dtype, _) in ARRAYS.items():
    for _name in branches_of(_key):
        BRANCHES[_name] = np.dtype(_dtype)


def flatten(arrays: dict[str, np.ndarray], first_event: int) -> dict[str, np.ndarray]:
    """Per-event arrays (names of :data:`mcsim.chain.ARRAYS`) -> flat branch columns, with
    ``event`` numbered from ``first_event``."""
    n = len(arrays["weight"])
    out = {"event": np.arange(first_event, first_event + n, dtype=np.int64)}
    for key in ARRAYS:
        names = branches_of(key)
        value = arrays[key]
        if len(names) == 1:
            out[names[0]] = np.ascontiguousarray(value, dtype=BRANCHES[names[0]])
        else:
            for col, name in enumerate(names):
                out[name] = np.ascontiguousarray(value[:, col], dtype=BRANCHES[name])
    return out


def unflatten(columns: dict[str, np.ndarray], keys=None) -> dict[str, np.ndarray]:
    """Flat branch columns -> per-event arrays under the names of :data:`mcsim.chain.ARRAYS`
    (only ``keys`` if given; all of them by default)."""
    out = {}
    for key in ARRAYS if keys is None else keys:
        names = branches_of(key)
        if len(names) == 1:
            out[key] = np.asarray(columns[names[0]])
        else:
            out[key] = np.column_stack([np.asarray(columns[n], dtype=np.float64) for n in names])
    return out


#: Compression algorithms of ROOT files (uproot compresses with cramjam).  zstd level 1, the
#: default, writes ~10x faster than zlib level 1 with a slightly smaller file; ROOT reads it
#: from 6.20 on (older ROOT: use zlib).
COMPRESSIONS = {"zlib": uproot.ZLIB, "lzma": uproot.LZMA, "lz4": uproot.LZ4, "zstd": uproot.ZSTD}


def compression(spec: str):
    """uproot compression from ``'zstd:1'`` (algorithm:level, level 1-9), ``'zlib'`` (level 1)
    or ``'none'``."""
    name, _, level = spec.lower().partition(":")
    if name == "none" and not level:
        return None
    if name not in COMPRESSIONS or (level and not level.isdigit()) or not 1 <= int(level or 1) <= 9:
        raise ValueError(f"compression must be 'none' or ALGORITHM[:LEVEL] with ALGORITHM one of "
                         f"{', '.join(COMPRESSIONS)} and LEVEL 1-9, got {spec!r}")
    return COMPRESSIONS[name](int(level or 1))


def check_output(path: str | Path, *, overwrite: bool) -> Path:
    """Refuse an output path before any work is done: its directory must exist and be
    writable, and the file must not exist unless ``overwrite``.  Returns the absolute path."""
    path = Path(path).absolute()
    parent = path.parent
    if not parent.is_dir():
        problem = "is not a directory" if parent.exists() else "does not exist"
        raise FileNotFoundError(f"cannot write {path}: {parent} {problem}")
    if path.is_dir():
        raise FileExistsError(f"cannot write {path}: it is a directory")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; use --overwrite to replace it")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {path}: directory {parent} is not writable")
    return path


def _run_columns(meta: dict) -> dict[str, np.ndarray]:
    """The numeric run parameters of the ``run`` tree (one entry)."""
    nan = float("nan")
    values = {
        "d": meta["d"], "ctau": meta["ctau"], "llp_mass": meta["llp_mass"],
        "invisible_mass": meta["invisible_mass"], "n_collisions": meta["n_collisions"],
        "n_pot": meta["n_pot"] if meta["n_pot"] is not None else nan,
        "luminosity_inv_ab": (meta["luminosity_inv_ab"]
                              if meta["luminosity_inv_ab"] is not None else nan),
        "threshold": meta["threshold"],
        "photon_energy_max": (meta["photon_energy_max"]
                              if meta["photon_energy_max"] is not None else math.inf),
        "efficiency": meta["efficiency"], "calorimeter_z_m": meta["calorimeter_z_m"],
        "expected_events": meta["expected_events"],
    }
    out = {k: np.array([v], dtype=np.float64) for k, v in values.items()}
    out["seed"] = np.array([meta["seed"]], dtype=np.int64)
    out["n_generated"] = np.array([meta["n_events"]], dtype=np.int64)
    return out


def _channel_columns(meta: dict) -> dict[str, np.ndarray]:
    """Per-channel numbers of the ``channels`` tree (one entry per channel)."""
    return {
        "index": np.arange(len(meta["channels"]), dtype=np.int32),
        "mother_pdgid": np.asarray(meta["mother_pdgids"], dtype=np.int32),
        "n_mesons": np.asarray(meta["n_mesons"], dtype=np.float64),
        "br": np.asarray(meta["br"], dtype=np.float64),
        "n_generated": np.asarray(meta["n_generated"], dtype=np.int64),
    }


def _write_tree(file, name: str, title: str, columns: dict[str, np.ndarray]) -> None:
    tree = file.mktree(name, {k: v.dtype for k, v in columns.items()}, title=title)
    tree.extend(columns)


class NtupleWriter:
    """Context manager writing one events file.

    On entry, checks ``path`` (:func:`check_output`) and opens a temporary file next to it; each
    :meth:`extend` appends one chunk of events (a basket per branch: pass ~1e5 events);
    :meth:`finish` writes the metadata.  On a clean exit after :meth:`finish` the temporary file
    is renamed to ``path``; on any exception (KeyboardInterrupt included) it is removed.
    ``compression_spec``: see :func:`compression`.
    """

    def __init__(self, path: str | Path, *, overwrite: bool = False,
                 compression_spec: str = "zstd:1"):
        self.compression = compression(compression_spec)
        self.path = check_output(path, overwrite=overwrite)
        self.overwrite = overwrite
        self.n_written = 0
        self._tmp: Path | None = None
        self._file = None
        self._tree = None
        self._finished = False

    def __enter__(self) -> NtupleWriter:
        try:
            self._tmp = partfiles.create(self.path)
        except OSError as err:
            raise PermissionError(f"cannot write {self.path}: {err.strerror}") from None
        try:
            self._file = uproot.recreate(self._tmp, compression=self.compression)
            self._tree = self._file.mktree(EVENTS_TREE, dict(BRANCHES),
                                           title="mcsim events (one entry per MC event)")
        except BaseException:
            self._discard()
            raise
        return self

    def extend(self, arrays: dict[str, np.ndarray]) -> None:
        """Append one chunk of per-event arrays (names of :data:`mcsim.chain.ARRAYS`)."""
        columns = flatten(arrays, self.n_written)
        self._tree.extend(columns)
        self.n_written += len(columns["event"])

    def finish(self, metadata: dict) -> None:
        """Write the metadata (JSON-serialisable dict; see :func:`mcsim.ntuple.generate`)."""
        if metadata["n_events"] != self.n_written:
            raise ValueError(f"metadata says {metadata['n_events']} events, "
                             f"{self.n_written} were written")
        self._file[METADATA_KEY] = jsonio.dumps(metadata, sort_keys=True)
        self._file[CARD_KEY] = metadata["card_text"]
        _write_tree(self._file, RUN_TREE, "mcsim run parameters", _run_columns(metadata))
        _write_tree(self._file, CHANNELS_TREE, "mcsim production channels",
                    _channel_columns(metadata))
        self._finished = True

    def _discard(self) -> None:
        try:
            if self._file is not None:
                self._file, file = None, self._file
                file.close()
        except OSError:
            pass  # e.g. disk full while flushing: the file goes anyway
        finally:
            if self._tmp is not None:
                self._tmp.unlink(missing_ok=True)
                self._tmp = None

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or not self._finished:
            self._discard()
            if exc_type is None:
                raise RuntimeError(f"{self.path}: NtupleWriter closed without finish(); "
                                   f"nothing written")
            return
        try:
            self._file.close()
        except BaseException:
            self._file = None
            self._discard()
            raise
        self._file = None
        if self.path.exists() and not self.overwrite:
            self._discard()
            raise FileExistsError(f"{self.path} appeared while generating; nothing written")
        os.replace(self._tmp, self.path)
        self._tmp = None


def read_metadata(path: str | Path) -> dict:
    """The metadata dict of an events file (``photon_energy_max`` null in the JSON, i.e. no
    upper cut, comes back as ``inf`` as in :class:`mcsim.chain.EventBatch` metadata)."""
    with _opened(path) as file:
        for key in (METADATA_KEY, EVENTS_TREE):
            if key not in file:
                raise NotEventsFile(f"{path}: no {key!r} in the file; not a complete mcsim "
                                    f"events file")
        meta = jsonio.loads(str(file[METADATA_KEY]))
        file[EVENTS_TREE].num_entries  # noqa: B018 -- reads the tree's header
    if meta["photon_energy_max"] is None:
        meta["photon_energy_max"] = math.inf
    return meta


class NotEventsFile(ValueError):
    """The file is not a complete, readable mcsim events file."""


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else "no details"


@contextmanager
def _opened(path: str | Path):
    """``uproot.open(path)``, with a damaged or non-ROOT file reported as a ValueError that
    names it (reads inside the block included)."""
    try:
        file = uproot.open(path)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as err:  # uproot meets a damaged file in many ways
        raise NotEventsFile(f"{path}: not a ROOT file or damaged ({type(err).__name__}: "
                            f"{_first_line(err)})") from None
    with file:
        end, size = getattr(file.file, "fEND", 0), os.path.getsize(path)
        if size < end:
            raise NotEventsFile(f"{path}: truncated ({size} of {end} bytes)")
        try:
            yield file
        except NotEventsFile:
            raise
        except Exception as err:
            raise NotEventsFile(f"{path}: damaged events file ({type(err).__name__}: "
                                f"{_first_line(err)})") from None


def _branch_list(keys) -> list[str]:
    if keys is None:
        return list(BRANCHES)
    return [name for key in keys for name in branches_of(key)]


def read_arrays(path: str | Path, keys=None, *, entry_start: int | None = None,
                entry_stop: int | None = None) -> dict[str, np.ndarray]:
    """Per-event arrays (names of :data:`mcsim.chain.ARRAYS`, all or ``keys``) of an events
    file, in memory at once: use :func:`iterate` for large files."""
    with _opened(path) as file:
        columns = file[EVENTS_TREE].arrays(_branch_list(keys), library="np",
                                           entry_start=entry_start, entry_stop=entry_stop)
    return unflatten(columns, keys)


def iterate(path: str | Path, keys=None, *, step_size: int = 200_000
            ) -> Iterator[dict[str, np.ndarray]]:
    """Per-event arrays of an events file, ``step_size`` events at a time (bounded memory)."""
    with _opened(path) as file:
        tree = file[EVENTS_TREE]
        for columns in tree.iterate(_branch_list(keys), step_size=step_size, library="np"):
            yield unflatten(columns, keys)
