"""ROOT files of events: flat TTree branches written with uproot, metadata next to them.

File layout (every object readable by ROOT and by uproot)::

  events          TTree, one entry per kept event, flat branches (:data:`BRANCHES`); every
                  branch's ROOT title says what it holds and in which unit (:data:`TITLES`)
  crossing        TTree, one entry per LLP that crosses the decay volume in an event that was
                  NOT kept (``--keep selected``): what the cutflow needs at any coupling
                  (:data:`CROSSING_BRANCHES`); empty for ``--keep all`` or ``crossing``
  run             TTree, one entry: numeric run parameters (d, ctau, N_POT, seed, ...)
  channels        TTree, one entry per production channel (index, mother PDG ID, N_M, BR,
                  number generated)
  mcsim_metadata  TObjString: the complete metadata as one JSON document
  detector_card   TObjString: the detector card (TOML) the events were generated with
  histograms/     control histograms of the selected events (TH1D, TH2D; mcsim.io.histograms)

Branches of ``events`` follow :data:`mcsim.io.schema.ARRAYS`: a 4-momentum ``p4_<name>`` becomes
``<name>_E, <name>_px, <name>_py, <name>_pz`` [GeV]; ``vertex`` -> ``vertex_x/y/z`` [m];
``impact`` -> ``impact_x/y`` [m]; ``acc_intervals`` -> ``acc_a1, acc_b1, acc_a2, acc_b2`` [m];
every other array keeps its name, except the photon-energy flag: the file's three selection
flags are CUMULATIVE, so that a cut on any one of them alone is the cutflow's row::

  in_volume         the LLP path crosses the decay volume (cone mode: it is inside the cone)
  photon_hits_calo  in_volume, and some decay position on the path sends the photon onto the
                    calorimeter (cone mode: equal to in_volume)
  selected          photon_hits_calo, and the photon energy is inside the window

(``selected`` is stored for the chain's ``above_threshold`` and read back under that name: the
weight ``w_norm x w_photon x p_decay_accepted x above_threshold x efficiency`` is the same, since
p_decay_accepted = 0 without photon_hits_calo).  ``event`` is the event's index among all
events GENERATED (0, 1, ...), so it has gaps where events were not kept.

Storage: float64 everywhere, or with ``float32`` the kinematics (4-momenta, vertex, impact) in
float32; the numbers the weights are computed from (w_norm, w_photon, probabilities, paths,
intervals, beta*gamma) always stay float64, so re-weighting is exact either way.

Files are written to a temporary name in the output directory and renamed when complete
(:class:`NtupleWriter`), so a crash, Ctrl-C, SIGTERM or SIGHUP never leaves a partial file at the
output path; the ``.part`` file of a writer killed outright is removed by the next writer
(:mod:`mcsim.io.partfiles`).  Reading a file that is not a complete events file (empty, truncated,
no ``events`` tree) raises a ValueError naming it.
Trees are written with ``mktree``/``extend`` (never ``file[name] = ...``, which would make an
RNTuple).
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from mcsim.io import histograms as control
from mcsim.io import jsonio, partfiles
from mcsim.io.schema import ARRAYS, concatenate

__all__ = [
    "BRANCHES",
    "COMPRESSIONS",
    "CROSSING_BRANCHES",
    "CROSSING_KEYS",
    "CROSSING_TREE",
    "EVENTS_TREE",
    "HISTOGRAM_DIR",
    "METADATA_KEY",
    "TITLES",
    "NtupleWriter",
    "branch_types",
    "branches_of",
    "check_output",
    "compression",
    "flatten",
    "iterate",
    "iterate_crossing",
    "read_arrays",
    "read_metadata",
    "schema_markdown",
    "unflatten",
]

EVENTS_TREE = "events"
CROSSING_TREE = "crossing"
RUN_TREE = "run"
CHANNELS_TREE = "channels"
METADATA_KEY = "mcsim_metadata"
CARD_KEY = "detector_card"
HISTOGRAM_DIR = "histograms"

_COMPONENTS = {4: ("E", "px", "py", "pz")}
_SPECIAL = {
    "vertex": ("vertex_x", "vertex_y", "vertex_z"),
    "impact": ("impact_x", "impact_y"),
    "acc_intervals": ("acc_a1", "acc_b1", "acc_a2", "acc_b2"),
    "above_threshold": ("selected",),
}
#: Arrays stored in float32 with ``float32=True`` (kinematics only; never what weights use).
_KINEMATICS = tuple(k for k in ARRAYS if k.startswith("p4_")) + ("vertex", "impact")

_PARTICLES = {
    "meson": "decaying meson (from the target)",
    "llp": "long-lived particle (chi2 or N)",
    "invisible": "invisible partner from the production decay (chi1 or nu; 0 if none)",
    "prompt_photon": "photon of a three-body production decay (0 if none)",
    "lepton": "charged lepton of P+ -> l+ N gamma (0 if none)",
    "decay_invisible": "invisible daughter of the LLP decay (chi1 or nu)",
    "photon": "signal photon from the LLP decay",
}
_COMPONENT_WORDS = {"E": "energy", "px": "momentum x", "py": "momentum y", "pz": "momentum z"}


def _titles() -> dict[str, str]:
    titles = {
        "event": "index of the event among all generated events (gaps: events not kept)",
        "channel": "production channel: index into the 'channels' tree",
        "mother_pdgid": "signed PDG ID of the decaying meson",
        "is_antiparticle": "true for an anti-N (neutrino dipole); always false for chi2",
        "vertex_x": "LLP decay vertex x [m] (target at the origin, beam along +z)",
        "vertex_y": "LLP decay vertex y [m]",
        "vertex_z": "LLP decay vertex z [m]",
        "impact_x": "photon impact x on the calorimeter plane [m] (NaN: misses the plane)",
        "impact_y": "photon impact y on the calorimeter plane [m] (NaN: misses the plane)",
        "s_in": "path length where the LLP enters the decay volume [m] (= s_out: misses it)",
        "s_out": "path length where the LLP leaves the decay volume [m]",
        "acc_a1": "start of accepted decay interval 1 along the LLP path [m]",
        "acc_b1": "end of accepted decay interval 1 [m] (photon reaches the calorimeter)",
        "acc_a2": "start of accepted decay interval 2 [m] (empty if a2 = b2)",
        "acc_b2": "end of accepted decay interval 2 [m]",
        "beta_gamma": "|p| / m of the LLP",
        "in_volume": "cut 1 (cumulative): the LLP crosses the decay volume (cone: in the cone)",
        "photon_hits_calo": "cut 2 (cumulative): in_volume and the photon can reach the "
        "calorimeter",
        "selected": "cut 3 (cumulative): photon_hits_calo and photon energy in the window",
        "w_sampling": "importance weight of directed sampling (1 for plain sampling)",
        "w_photon": "importance weight of the directed photon: the chance that its energy is "
        "in the window (1 for plain sampling)",
        "w_norm": "N_M x BR(d) / N_generated(channel) x w_sampling [LLPs per MC event]",
        "p_decay_volume": "probability that the LLP decays inside the decay volume",
        "p_decay_accepted": "probability that the LLP decays where its photon is accepted",
        "weight": "expected signal events: w_norm x w_photon x p_decay_accepted x selected x "
        "efficiency",
    }
    for name, what in _PARTICLES.items():
        for comp, word in _COMPONENT_WORDS.items():
            titles[f"{name}_{comp}"] = f"{what}: {word} [GeV], lab frame"
    return titles


#: Branch name -> ROOT title (meaning and unit) of every branch of the trees.
TITLES: dict[str, str] = _titles()


def branches_of(key: str) -> tuple[str, ...]:
    """Branch names holding the array ``key`` of :data:`mcsim.io.schema.ARRAYS` (or ``event``)."""
    if key == "event":
        return ("event",)
    if key not in ARRAYS:
        raise ValueError(f"unknown event array {key!r}; known: event, {', '.join(ARRAYS)}")
    if key in _SPECIAL:
        return _SPECIAL[key]
    if key.startswith("p4_"):
        return tuple(f"{key[3:]}_{c}" for c in _COMPONENTS[4])
    return (key,)


def branch_types(float32: bool = False) -> dict[str, np.dtype]:
    """Branch name -> numpy dtype of the ``events`` tree, in file order."""
    out: dict[str, np.dtype] = {"event": np.dtype(np.int64)}
    for key, (dtype, _) in ARRAYS.items():
        if float32 and key in _KINEMATICS:
            dtype = np.float32
        for name in branches_of(key):
            out[name] = np.dtype(dtype)
    return out


#: Branch name -> numpy dtype of the ``events`` tree (float64 storage), in file order.
BRANCHES: dict[str, np.dtype] = branch_types()

#: Arrays of the ``crossing`` tree (besides ``event``): the cutflow's volume rows need them.
CROSSING_KEYS = (
    "channel",
    "w_norm",
    "beta_gamma",
    "s_in",
    "s_out",
    "acc_intervals",
    "photon_hits_calo",
)
CROSSING_BRANCHES: dict[str, np.dtype] = {
    name: BRANCHES[name] for key in ("event",) + CROSSING_KEYS for name in branches_of(key)
}


def flatten(arrays: dict[str, np.ndarray], events, keys=None) -> dict[str, np.ndarray]:
    """Per-event arrays (names of :data:`mcsim.io.schema.ARRAYS`) -> flat branch columns (of
    ``keys`` only, if given), with ``event`` the given event numbers (an array) or numbered
    from ``events`` (an int).  The photon-energy flag is stored cumulatively as ``selected``."""
    n = len(arrays["weight"])
    if np.ndim(events) == 0:
        events = np.arange(events, events + n, dtype=np.int64)
    out = {"event": np.asarray(events, dtype=np.int64)}
    for key in ARRAYS if keys is None else keys:
        names = branches_of(key)
        value = arrays[key]
        if key == "above_threshold":
            value = value & arrays["photon_hits_calo"] & arrays["in_volume"]
        if len(names) == 1:
            out[names[0]] = np.ascontiguousarray(value, dtype=BRANCHES[names[0]])
        else:
            for col, name in enumerate(names):
                out[name] = np.ascontiguousarray(value[:, col], dtype=BRANCHES[name])
    return out


def unflatten(columns: dict[str, np.ndarray], keys=None) -> dict[str, np.ndarray]:
    """Flat branch columns -> per-event arrays under the names of :data:`mcsim.io.schema.ARRAYS`
    (only ``keys`` if given; all of them by default), in float64 whatever the storage."""
    out = {}
    for key in ARRAYS if keys is None else keys:
        names = branches_of(key)
        if len(names) == 1:
            out[key] = np.asarray(columns[names[0]])
        else:
            out[key] = np.column_stack([np.asarray(columns[n], dtype=np.float64) for n in names])
        if key in _KINEMATICS:
            out[key] = out[key].astype(np.float64, copy=False)
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
        raise ValueError(
            f"compression must be 'none' or ALGORITHM[:LEVEL] with ALGORITHM one of "
            f"{', '.join(COMPRESSIONS)} and LEVEL 1-9, got {spec!r}"
        )
    return COMPRESSIONS[name](int(level or 1))


def check_output(path: str | Path, *, overwrite: bool) -> Path:
    """Refuse an output path before any work is done: its directory must exist and be
    writable, the file must not exist unless ``overwrite``, and never be a directory, device,
    FIFO or socket (:func:`mcsim.io.partfiles.not_regular`).  Returns the absolute path."""
    path = Path(path).absolute()
    parent = path.parent
    if not parent.is_dir():
        problem = "is not a directory" if parent.exists() else "does not exist"
        raise FileNotFoundError(f"cannot write {path}: {parent} {problem}")
    special = partfiles.not_regular(path)
    if special:
        raise FileExistsError(f"output {special}; give a new file name")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; use --overwrite to replace it")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {path}: directory {parent} is not writable")
    return path


_RUN_TITLES = {
    "d": "dipole coefficient d [GeV^-1] the events were generated at",
    "ctau": "proper decay length c*tau of the LLP [m]",
    "llp_mass": "LLP mass [GeV]",
    "invisible_mass": "mass of the invisible LLP daughter [GeV]",
    "n_collisions": "protons on target, inelastic pp collisions (LHC) or luminosity [fb^-1] (e+ e-)",
    "n_pot": "protons on target (NaN without a fixed target)",
    "luminosity_inv_ab": "integrated luminosity [ab^-1] (NaN for a fixed target)",
    "threshold": "minimum photon energy [GeV]",
    "photon_energy_max": "maximum photon energy [GeV] (inf: no upper cut)",
    "efficiency": "photon detection efficiency applied to the weight",
    "calorimeter_z_m": "z of the calorimeter face [m]",
    "expected_events": "expected signal events: the sum of the weights",
    "seed": "master seed",
    "n_generated": "number of events generated (the events tree may keep fewer)",
    "n_kept": "number of entries of the events tree",
}
_CHANNEL_TITLES = {
    "index": "channel index (the events tree's 'channel')",
    "mother_pdgid": "the channel key: PDG ID of the decaying meson (positive), 0 for e+ e-",
    "exposure": "what the rate multiplies: N_M mesons produced, or luminosity [fb^-1]",
    "rate": "BR of the production decay, or cross section [fb], at the generated d",
    "n_generated": "MC events generated in this channel",
}


def _run_columns(meta: dict) -> dict[str, np.ndarray]:
    """The numeric run parameters of the ``run`` tree (one entry)."""
    nan = float("nan")
    values = {
        "d": meta["d"],
        "ctau": meta["ctau"],
        "llp_mass": meta["llp_mass"],
        "invisible_mass": meta["invisible_mass"],
        "n_collisions": meta["n_collisions"],
        "n_pot": meta["n_pot"] if meta["n_pot"] is not None else nan,
        "luminosity_inv_ab": (
            meta["luminosity_inv_ab"] if meta["luminosity_inv_ab"] is not None else nan
        ),
        "threshold": meta["threshold"],
        "photon_energy_max": (
            meta["photon_energy_max"] if meta["photon_energy_max"] is not None else math.inf
        ),
        "efficiency": meta["efficiency"],
        "calorimeter_z_m": meta["calorimeter_z_m"],
        "expected_events": meta["expected_events"],
    }
    out = {k: np.array([v], dtype=np.float64) for k, v in values.items()}
    out["seed"] = np.array([meta["seed"]], dtype=np.int64)
    out["n_generated"] = np.array([meta["n_events"]], dtype=np.int64)
    out["n_kept"] = np.array([meta["n_kept"]], dtype=np.int64)
    return out


def _channel_columns(meta: dict) -> dict[str, np.ndarray]:
    """Per-channel numbers of the ``channels`` tree (one entry per channel)."""
    return {
        "index": np.arange(len(meta["channels"]), dtype=np.int32),
        "mother_pdgid": np.asarray(meta["mother_pdgids"], dtype=np.int32),
        "exposure": np.asarray(meta["exposure"], dtype=np.float64),
        "rate": np.asarray(meta["rate"], dtype=np.float64),
        "n_generated": np.asarray(meta["n_generated"], dtype=np.int64),
    }


def _make_tree(file, name: str, title: str, types: dict, titles: dict):
    """An empty TTree whose branches carry ``titles`` (meaning and unit) as their ROOT titles.

    uproot (5.7) writes each branch's leaf list ("name/D") as its title and has no argument for
    another; as in CMS NanoAOD, the branch title holds the description here (the leaves keep
    their own names and types, which is what ROOT and uproot read the data with).  The titles
    are set in uproot's branch records and the tree's metadata is written again before any
    basket (uproot's own relocation step; tests/test_rootio.py reads the titles back)."""
    tree = file.mktree(name, types, title=title)
    cascading = tree._cascading
    if not hasattr(cascading, "_relocate"):  # another uproot: keep its leaf-list titles
        return tree
    for datum in cascading._branch_data:
        datum["fTitle"] = titles[datum["fName"]]
    cascading._relocate(file._file, file._file.sink)
    return tree


def _write_tree(
    file, name: str, title: str, columns: dict[str, np.ndarray], titles: dict[str, str]
) -> None:
    _make_tree(file, name, title, {k: v.dtype for k, v in columns.items()}, titles).extend(columns)


#: Events per basket of the events files: chunks are collected until they hold this many
#: (fewer, larger baskets: less uproot overhead per event, better compression).
BASKET_EVENTS = 100_000


class _Pending:
    """Branch columns collected for one tree until they fill a basket."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []
        self.n = 0

    def add(self, columns: dict[str, np.ndarray]) -> int:
        """Collect ``columns``; returns their number of events."""
        n = len(columns["event"])
        if n:
            self.parts.append(columns)
            self.n += n
        return n

    def take(self, at_least: int) -> dict[str, np.ndarray] | None:
        """All collected columns joined, if there are ``at_least`` events (and any), else None."""
        if self.n < max(at_least, 1):
            return None
        parts, self.parts, self.n = self.parts, [], 0
        return concatenate(parts)


class NtupleWriter:
    """Context manager writing one events file.

    On entry, checks ``path`` (:func:`check_output`) and opens a temporary file next to it; each
    :meth:`extend` appends one chunk of kept events (collected into baskets of
    :data:`BASKET_EVENTS`),
    :meth:`extend_crossing` the crossing LLPs of events not kept; :meth:`finish` writes the
    metadata.  On a clean exit after :meth:`finish` the temporary file is renamed to ``path``;
    on any exception (KeyboardInterrupt included) it is removed.  ``compression_spec``: see
    :func:`compression`; ``float32``: store the kinematics in float32.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        overwrite: bool = False,
        compression_spec: str = "zstd:1",
        float32: bool = False,
    ):
        self.compression = compression(compression_spec)
        self.path = check_output(path, overwrite=overwrite)
        self.overwrite = overwrite
        self.types = branch_types(float32)
        self.n_written = 0
        self.n_crossing = 0
        self._tmp: Path | None = None
        # uproot's file and trees (untyped); set on __enter__, used only inside the block
        self._file: Any = None
        self._tree: Any = None
        self._crossing: Any = None
        self._finished = False
        self._pending = {EVENTS_TREE: _Pending(), CROSSING_TREE: _Pending()}

    def __enter__(self) -> NtupleWriter:
        try:
            self._tmp = partfiles.create(self.path)
        except OSError as err:
            raise PermissionError(f"cannot write {self.path}: {err.strerror}") from None
        try:
            self._file = uproot.recreate(self._tmp, compression=self.compression)
            self._tree = _make_tree(
                self._file,
                EVENTS_TREE,
                "mcsim events (one entry per kept MC event)",
                self.types,
                TITLES,
            )
            self._crossing = _make_tree(
                self._file,
                CROSSING_TREE,
                "LLPs crossing the decay volume in events not kept",
                CROSSING_BRANCHES,
                TITLES,
            )
        except BaseException:
            self._discard()
            raise
        return self

    def extend(self, arrays: dict[str, np.ndarray], events=None) -> None:
        """Append one chunk of per-event arrays (names of :data:`mcsim.io.schema.ARRAYS`) with
        their event numbers ``events`` (default: consecutive after the last one written)."""
        columns = flatten(arrays, self.n_written if events is None else events)
        columns = {k: v.astype(self.types[k], copy=False) for k, v in columns.items()}
        self.n_written += self._pending[EVENTS_TREE].add(columns)
        self._flush(BASKET_EVENTS)

    def extend_crossing(self, arrays: dict[str, np.ndarray], events) -> None:
        """Append LLPs crossing the decay volume (arrays of :data:`CROSSING_KEYS`) of events
        not kept in the events tree, with their event numbers."""
        if len(events):
            self.n_crossing += self._pending[CROSSING_TREE].add(
                flatten(arrays, events, CROSSING_KEYS)
            )
            self._flush(BASKET_EVENTS)

    def _flush(self, at_least: int = 1) -> None:
        """Write the pending events of each tree that has ``at_least`` of them, as one basket."""
        for name, tree in ((EVENTS_TREE, self._tree), (CROSSING_TREE, self._crossing)):
            columns = self._pending[name].take(at_least)
            if columns is not None:
                tree.extend(columns)

    def finish(self, metadata: dict, histograms: dict | None = None) -> None:
        """Write the metadata (JSON-serialisable dict; see :func:`mcsim.generation.write.write_events`) and
        the ``histograms`` (name -> ``hist.Hist``, written as TH1D/TH2D with ROOT's statistics
        and titles: :func:`mcsim.io.histograms.to_root`)."""
        if metadata["n_kept"] != self.n_written:
            raise ValueError(
                f"metadata says {metadata['n_kept']} events kept, {self.n_written} were written"
            )
        self._flush()
        self._file[METADATA_KEY] = jsonio.dumps(metadata, sort_keys=True)
        self._file[CARD_KEY] = metadata["card_text"]
        _write_tree(
            self._file, RUN_TREE, "mcsim run parameters", _run_columns(metadata), _RUN_TITLES
        )
        _write_tree(
            self._file,
            CHANNELS_TREE,
            "mcsim production channels",
            _channel_columns(metadata),
            _CHANNEL_TITLES,
        )
        for name, hist in (histograms or {}).items():
            self._file[f"{HISTOGRAM_DIR}/{name}"] = control.to_root(name, hist)
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
                raise RuntimeError(
                    f"{self.path}: NtupleWriter closed without finish(); nothing written"
                )
            return
        try:
            self._file.close()
        except BaseException:
            self._file = None
            self._discard()
            raise
        self._file = None
        tmp, self._tmp = self._tmp, None
        assert tmp is not None  # created on __enter__
        partfiles.commit(tmp, self.path, overwrite=self.overwrite)


def read_metadata(path: str | Path) -> dict:
    """The metadata dict of an events file (``photon_energy_max`` null in the JSON, i.e. no
    upper cut, comes back as ``inf`` as in :class:`mcsim.io.schema.EventBatch` metadata)."""
    with _opened(path) as file:
        for key in (METADATA_KEY, EVENTS_TREE):
            if key not in file:
                raise NotEventsFile(
                    f"{path}: no {key!r} in the file; not a complete mcsim events file"
                )
        meta = jsonio.loads(str(file[METADATA_KEY]))
        file[EVENTS_TREE].num_entries  # noqa: B018 -- reads the tree's header
    if meta.get("format") in ("mcsim-events-1", "mcsim-events-2"):
        raise ValueError(
            f"{path} was written by an older mcsim (format {meta['format']}): generate it again"
        )
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
        raise NotEventsFile(
            f"{path}: not a ROOT file or damaged ({type(err).__name__}: {_first_line(err)})"
        ) from None
    with file:
        end, size = getattr(file.file, "fEND", 0), os.path.getsize(path)
        if size < end:
            raise NotEventsFile(f"{path}: truncated ({size} of {end} bytes)")
        try:
            yield file
        except NotEventsFile:
            raise
        except Exception as err:
            raise NotEventsFile(
                f"{path}: damaged events file ({type(err).__name__}: {_first_line(err)})"
            ) from None


def _branch_list(keys) -> list[str]:
    if keys is None:
        return list(BRANCHES)
    return [name for key in keys for name in branches_of(key)]


def read_arrays(
    path: str | Path, keys=None, *, entry_start: int | None = None, entry_stop: int | None = None
) -> dict[str, np.ndarray]:
    """Per-event arrays (names of :data:`mcsim.io.schema.ARRAYS`, all or ``keys``) of an events
    file, in memory at once: use :func:`iterate` for large files."""
    with _opened(path) as file:
        columns = file[EVENTS_TREE].arrays(
            _branch_list(keys), library="np", entry_start=entry_start, entry_stop=entry_stop
        )
    return unflatten(columns, keys)


def iterate(
    path: str | Path, keys=None, *, step_size: int = 200_000
) -> Iterator[dict[str, np.ndarray]]:
    """Per-event arrays of an events file, ``step_size`` events at a time (bounded memory)."""
    with _opened(path) as file:
        tree = file[EVENTS_TREE]
        for columns in tree.iterate(_branch_list(keys), step_size=step_size, library="np"):
            yield unflatten(columns, keys)


def iterate_crossing(
    path: str | Path, *, step_size: int = 200_000
) -> Iterator[dict[str, np.ndarray]]:
    """The ``crossing`` tree (LLPs crossing the decay volume in events not kept) as arrays of
    :data:`CROSSING_KEYS`, ``step_size`` entries at a time; nothing for files without one."""
    with uproot.open(path) as file:
        if CROSSING_TREE not in file:
            return
        tree = file[CROSSING_TREE]
        for columns in tree.iterate(list(CROSSING_BRANCHES), step_size=step_size, library="np"):
            out = unflatten(columns, CROSSING_KEYS)
            out["in_volume"] = np.ones(len(out["w_norm"]), dtype=bool)
            yield out


def schema_markdown() -> str:
    """The layout of an events file as Markdown tables (branch, type, ROOT title): the
    documentation's ntuple schema page is generated from this."""
    float32 = branch_types(float32=True)
    run = {k: v.dtype for k, v in _run_columns(defaultdict(float)).items()}
    empty: dict = {
        "channels": [],
        "mother_pdgids": [],
        "exposure": [],
        "rate": [],
        "n_generated": [],
    }
    channels = {k: v.dtype for k, v in _channel_columns(empty).items()}
    sections = [
        (EVENTS_TREE, "one entry per kept event", BRANCHES, TITLES),
        (
            CROSSING_TREE,
            "one entry per LLP crossing the decay volume in an event not kept (--keep selected)",
            CROSSING_BRANCHES,
            TITLES,
        ),
        (RUN_TREE, "one entry: the run", run, _RUN_TITLES),
        (CHANNELS_TREE, "one entry per production channel", channels, _CHANNEL_TITLES),
    ]
    out = []
    for name, what, types, titles in sections:
        out += [
            f"## TTree `{name}`",
            "",
            f"{what[0].upper()}{what[1:]}.",
            "",
            "| branch | type | title (meaning and unit) |",
            "|---|---|---|",
        ]
        for branch in types:
            dtype = types[branch]
            kind = str(dtype)
            if name == EVENTS_TREE and float32[branch] != dtype:
                kind += " (float32 with `--float32`)"
            title = titles[branch].replace("|", "\\|")
            out.append(f"| `{branch}` | {kind} | {title} |")
        out.append("")
    out += [
        "## Other keys",
        "",
        f"- `{METADATA_KEY}`: TObjString, the complete run metadata as one JSON document",
        f"- `{CARD_KEY}`: TObjString, the detector card (TOML) the events were generated with",
        f"- `{HISTOGRAM_DIR}/`: the control histograms of the selected events (TH1D "
        f"`photon_energy`, `vertex_z`, `photon_angle`; TH2D `impact`), in expected events "
        f"with sum-of-squares errors; ROOT's statistics as TH1::Fill would keep them (entries: "
        f"the number of selected events; GetEffectiveEntries(): (sum w)^2 / sum w^2), titles "
        f"and axis titles with units",
        "",
    ]
    return "\n".join(out)
