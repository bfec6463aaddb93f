"""Build meson spectrum tables by running PYTHIA8 on a generator card.

A card (``generators/<beam>_<process>.cmnd``) is a plain PYTHIA8 settings file; lines starting
with ``! mcsim`` (comments for PYTHIA8) tell mcsim what to do with it::

    ! mcsim beam = sps400            (which table directory: sps400, sps450, u70, lhc14)
    ! mcsim mesons = pi0 eta K+      (table keys to fill, by short name or PDG ID)
    ! mcsim kind = physical          ('physical': SoftQCD, multiplicity per collision is
                                      meaningful; 'shape': hard process, only the shape is)
    ! mcsim events = 400000          (defaults for the command-line options)
    ! mcsim seed = 400
    ! mcsim chunk_events = 20000

Events are generated in chunks with seeds derived from the card's seed (``SeedSequence``), so
the tables do not depend on how the chunks are spread over processes or a Dask cluster.  Every
occurrence of a meson in the event record is counted once, whatever its mother and whether it
decayed (PYTHIA's carbon copies of the same particle are skipped), so pi0 from eta, omega, K0S,
... decays are included.  ``pythia8mc`` is imported only here, when a card is run.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

import numpy as np

from mcsim.physics.particles import sm
from mcsim.runtime import executor
from mcsim.runtime.defaults import BEAMS, user_tables_directory
from mcsim.sources.spectra import CHARGED_MESONS, table_key, table_name

__all__ = [
    "LOG10P_EDGES",
    "LOG10THETA_EDGES",
    "Card",
    "chunk_seeds",
    "generate_tables",
    "read_card",
    "run_chunk",
]

#: Table binning: log10(p / GeV) from 0.01 GeV to 10 TeV and log10(theta / rad) from 1 urad to
#: 3.16 rad, 0.05 decades per bin; outside values go to the edge bins.
LOG10P_EDGES: np.ndarray = np.linspace(-2.0, 4.0, 121)
LOG10THETA_EDGES: np.ndarray = np.linspace(-6.0, 0.5, 131)

#: Beam set-up a card must have: (Beams:frameType, Beams:eA, Beams:eB or Beams:eCM) [GeV].
#: Fixed target: frameType 2 with the target at rest (eB = 0), so PYTHIA8 works in the lab frame.
_BEAM_SETTINGS: dict[str, dict[str, float]] = {
    "sps400": {"Beams:frameType": 2, "Beams:eA": 400.0, "Beams:eB": 0.0},
    "sps450": {"Beams:frameType": 2, "Beams:eA": 450.0, "Beams:eB": 0.0},
    "u70": {"Beams:frameType": 2, "Beams:eA": 70.0, "Beams:eB": 0.0},
    "lhc14": {"Beams:frameType": 1, "Beams:eCM": 14000.0},
}
_DIRECTIVES = ("beam", "mesons", "kind", "events", "seed", "chunk_events")
_KINDS = ("physical", "shape")
_FLAG_VALUES = ("on", "off", "true", "false", "yes", "no", "1", "0")
#: Settings mcsim sets itself in every chunk; a card may not set them.
_RESERVED = ("random:seed", "random:setseed")
_MAX_SEED = 900_000_000  # PYTHIA8 Random:seed range; 0 would mean "seed from the clock"


@dataclass(frozen=True)
class Card:
    """A parsed generator card: PYTHIA8 settings lines plus the ``! mcsim`` directives."""

    path: str
    name: str
    text: str
    settings: tuple[str, ...]
    beam: str
    mesons: tuple[int, ...]
    kind: str
    events: int
    seed: int
    chunk_events: int


def _pythia():
    try:
        import pythia8mc  # PYTHIA8: optional extra
    except ImportError:
        raise ValueError(
            "generating spectrum tables needs PYTHIA8: pip install 'mcsim[pythia]' "
            "(the pythia8mc package)"
        ) from None
    return pythia8mc


def _resolve_card(card: str | Path) -> Path:
    path = Path(card)
    if path.is_file():
        return path
    shipped = resources.files("mcsim.generators").joinpath(f"{path.stem}.cmnd")
    if path.parent == Path(".") and shipped.is_file():
        return Path(str(shipped))
    raise ValueError(f"generator card {card} not found (neither a file nor a shipped card name)")


def _split(line: str) -> tuple[str, str] | None:
    """'key = value' or 'key value' -> (key, value); None if the line has no value."""
    key, sep, value = line.partition("=")
    if not sep:
        key, _, value = line.partition(" ")
    key, value = key.strip(), value.strip()
    return (key, value) if key and value else None


def _check_value(settings, key: str, value: str) -> str | None:
    """Problem with a Group:name setting's value, or None if it looks fine."""
    if settings.isFlag(key):
        return None if value.lower() in _FLAG_VALUES else f"flag {key} needs on/off, got {value!r}"
    if settings.isMode(key):
        try:
            int(value)
        except ValueError:
            return f"mode {key} needs an integer, got {value!r}"
        return None
    if settings.isParm(key):
        try:
            float(value)
        except ValueError:
            return f"parameter {key} needs a number, got {value!r}"
        return None
    if any(
        test(key)
        for test in (
            settings.isWord,
            settings.isFVec,
            settings.isMVec,
            settings.isPVec,
            settings.isWVec,
        )
    ):
        return None
    return f"unknown PYTHIA8 setting {key!r}"


def _validate(path: Path, settings: tuple[tuple[int, str], ...], beam: str) -> None:
    """Read every settings line into a PYTHIA8 instance; raise ValueError naming the file, the
    line and the problem for unknown or malformed settings or a beam that is not ``beam``."""
    pythia = _pythia().Pythia("", False)
    pythia.readString("Print:quiet = on")
    for lineno, line in settings:
        where = f"generator card {path}, line {lineno} ({line!r})"
        kv = _split(line)
        if kv is None:
            raise ValueError(f"{where}: malformed setting, expected 'key = value'")
        key, value = kv
        if key.lower() in _RESERVED:
            raise ValueError(f"{where}: {key} is set by mcsim per chunk; use the seed option")
        group = key.split(":", 1)[0]
        if not group.isdigit():
            problem = _check_value(pythia.settings, key, value)
            if problem:
                raise ValueError(f"{where}: {problem}")
        if not pythia.readString(line):
            raise ValueError(f"{where}: PYTHIA8 rejects this setting")
    for key, expected in _BEAM_SETTINGS[beam].items():
        got = pythia.settings.mode(key) if key.endswith("frameType") else pythia.settings.parm(key)
        if got != expected:
            raise ValueError(
                f"generator card {path}: beam {beam!r} needs {key} = {expected:g}, "
                f"the card gives {got:g}"
            )
    for key in ("Beams:idA", "Beams:idB"):
        if pythia.settings.mode(key) != 2212:
            raise ValueError(f"generator card {path}: {key} must be 2212 (proton)")


def read_card(card: str | Path) -> Card:
    """Parse and validate a generator card given by path or shipped name ('sps400_softqcd')."""
    path = _resolve_card(card)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot read generator card {path}: {err}") from None
    directives: dict[str, str] = {}
    settings: list[tuple[int, str]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("! mcsim"):
            kv = _split(line[len("! mcsim") :])
            if kv is None or kv[0] not in _DIRECTIVES:
                raise ValueError(
                    f"generator card {path}, line {lineno}: malformed directive "
                    f"{line!r}; known: {', '.join(_DIRECTIVES)}"
                )
            directives[kv[0]] = kv[1]
        elif line and line[0].isalnum():  # PYTHIA8 treats every other line as a comment
            settings.append((lineno, line))
    for needed in ("beam", "mesons", "kind"):
        if needed not in directives:
            raise ValueError(f"generator card {path}: missing directive '! mcsim {needed} = ...'")
    beam = directives["beam"]
    if beam not in BEAMS:
        raise ValueError(
            f"generator card {path}: unknown beam {beam!r}; use one of {', '.join(BEAMS)}"
        )
    if directives["kind"] not in _KINDS:
        raise ValueError(f"generator card {path}: kind must be one of {', '.join(_KINDS)}")
    try:
        mesons = tuple(table_key(m) for m in directives["mesons"].split())
        numbers = {
            k: int(directives.get(k, default))
            for k, default in (("events", 10000), ("seed", 1), ("chunk_events", 10000))
        }
    except ValueError as err:
        raise ValueError(f"generator card {path}: {err}") from None
    _validate(path, tuple(settings), beam)
    return Card(
        path=str(path),
        name=path.stem,
        text=text,
        settings=tuple(line for _, line in settings),
        beam=beam,
        mesons=mesons,
        kind=directives["kind"],
        **numbers,
    )


def chunk_seeds(seed: int, n_chunks: int) -> list[int]:
    """PYTHIA8 seeds (1..9e8) of the chunks of a run, derived from ``seed`` by SeedSequence."""
    children = np.random.SeedSequence(seed).spawn(n_chunks)
    return [int(c.generate_state(1, np.uint64)[0] % _MAX_SEED) + 1 for c in children]


def _bin_index(x: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, int]:
    """Bin index of each x on uniform ``edges`` (outside values clipped to the edge bins), and
    the number clipped."""
    n = edges.size - 1
    idx = np.floor((x - edges[0]) / (edges[-1] - edges[0]) * n)
    outside = int(np.count_nonzero((idx < 0) | (idx >= n) | ~np.isfinite(idx)))
    idx = np.nan_to_num(idx, nan=0.0, posinf=n - 1, neginf=0.0)
    return np.clip(idx, 0, n - 1).astype(np.int64), outside


def run_chunk(
    settings: tuple[str, ...],
    mesons: tuple[int, ...],
    n_events: int,
    seed: int,
    card_path: str = "card",
) -> dict:
    """Generate ``n_events`` PYTHIA8 events with ``seed`` and histogram the mesons.

    Returns a dict: ``counts`` {pdgid: int64 array (p bins, theta bins)}, ``n_positive``
    {pdgid: int}, ``outside`` {pdgid: mesons clipped into edge bins}, ``events``,
    ``sigma_gen_mb`` (PYTHIA8's cross-section estimate of the chunk) and ``pythia_version``.
    ``card_path`` only names the card in error messages.
    """
    import awkward as ak  # awkward (0.3 s): only to histogram PYTHIA events

    pythia = _pythia().Pythia("", False)
    for line in (
        *settings,
        "Print:quiet = on",
        "Next:numberCount = 0",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
    ):
        pythia.readString(line)
    if not pythia.init():
        raise ValueError(
            f"generator card {card_path}: PYTHIA8 failed to initialise (no process "
            f"switched on, or inconsistent settings; see PYTHIA8's messages)"
        )
    shape = (LOG10P_EDGES.size - 1, LOG10THETA_EDGES.size - 1)
    counts = {m: np.zeros(shape, np.int64) for m in mesons}
    n_positive = dict.fromkeys(mesons, 0)
    outside = dict.fromkeys(mesons, 0)
    done, failures = 0, 0
    while done < n_events:
        batch = pythia.nextBatch(min(1000, n_events - done))
        failures += min(1000, n_events - done) - len(batch)
        if failures > max(100, n_events // 10):
            raise RuntimeError(f"generator card {card_path}: PYTHIA8 failed on {failures} events")
        done += len(batch)
        prt = batch["prt"]
        pid = prt["id"]
        d1 = prt["daughter1"]
        single = (d1 == prt["daughter2"]) & (d1 > 0)
        is_copy = single & (pid[ak.where(single, d1, 0)] == pid)
        for m in mesons:
            sel = prt[(abs(pid) == m) & ~is_copy]
            px, py, pz = (ak.to_numpy(ak.flatten(sel["p", c])) for c in ("px", "py", "pz"))
            with np.errstate(divide="ignore"):
                log_p = np.log10(np.sqrt(px * px + py * py + pz * pz))
                log_theta = np.log10(np.arctan2(np.hypot(px, py), pz))
            i, out_p = _bin_index(log_p, LOG10P_EDGES)
            j, out_t = _bin_index(log_theta, LOG10THETA_EDGES)
            counts[m] += np.bincount(i * shape[1] + j, minlength=shape[0] * shape[1]).reshape(shape)
            n_positive[m] += int(ak.sum(ak.flatten(sel["id"]) > 0))
            outside[m] += out_p + out_t
    return {
        "counts": counts,
        "n_positive": n_positive,
        "outside": outside,
        "events": done,
        "sigma_gen_mb": pythia.infoPython().sigmaGen(),
        "pythia_version": f"{pythia.settings.parm('Pythia:versionNumber'):.3f}",
    }


def _run_chunk_args(args: tuple) -> dict:
    """:func:`run_chunk` of one argument tuple (what the executor hands a worker)."""
    return run_chunk(*args)


def _run_all(
    card: Card,
    sizes: list[int],
    seeds: list[int],
    scheduler: str | None,
    workers: int,
    progress: bool,
) -> list[dict]:
    """Run the chunks on the executor (in-process, local processes or a Dask cluster,
    :func:`mcsim.runtime.executor.run`) and return their results in chunk order."""
    args = [(card.settings, card.mesons, n, s, card.path) for n, s in zip(sizes, seeds)]
    return executor.run(
        _run_chunk_args,
        args,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        desc=card.name,
        unit="ev",
        sizes=sizes,
    )


def _write_npz(path: Path, arrays: dict[str, np.ndarray | np.generic]) -> None:
    """Write an .npz atomically (temp file + os.replace) and reproducibly (fixed zip dates)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w") as zf:
            for key, arr in arrays.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
                info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, buf.getvalue(), compresslevel=9)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def generate_tables(
    card: str | Path,
    *,
    out_dir: str | Path | None = None,
    events: int | None = None,
    seed: int | None = None,
    chunk_events: int | None = None,
    scheduler: str | None = None,
    workers: int = 1,
    progress: bool = False,
) -> list[Path]:
    """Run a generator card and write one table per meson to ``<out_dir>/<beam>/<name>.npz``
    (default: :func:`mcsim.runtime.defaults.user_tables_directory`, never the installed package; use the
    tables with ``--tables DIR`` or ``MCSIM_TABLES``).  Events, seed and chunk size default to the
    card's directives.  Chunks run in this process (workers = 1), on ``workers`` local processes,
    or on the Dask scheduler at address ``scheduler``.  Tables are written only after every
    chunk succeeded.  Returns the paths written."""
    c = read_card(card)
    events = c.events if events is None else int(events)
    seed = c.seed if seed is None else int(seed)
    chunk_events = c.chunk_events if chunk_events is None else int(chunk_events)
    if events < 1 or chunk_events < 1:
        raise ValueError(f"events and chunk_events must be >= 1, got {events}, {chunk_events}")
    n_chunks = math.ceil(events / chunk_events)
    sizes = [chunk_events] * (n_chunks - 1) + [events - chunk_events * (n_chunks - 1)]
    results = _run_all(c, sizes, chunk_seeds(seed, n_chunks), scheduler, workers, progress)

    n_events = sum(r["events"] for r in results)
    sigma = sum(r["sigma_gen_mb"] * r["events"] for r in results) / n_events
    root = user_tables_directory() if out_dir is None else Path(out_dir)
    written = []
    for m in c.mesons:
        counts = sum(r["counts"][m] for r in results)
        meta = {
            "pdgid": m,
            "name": table_name(m),
            "beam": c.beam,
            "beam_description": BEAMS[c.beam],
            "kind": c.kind,
            "multiplicity_note": (
                "physical: mesons per collision of the card's SoftQCD processes (SoftQCD:all "
                "counts elastic collisions too, as the paper's Table 1; SoftQCD:inelastic per "
                "inelastic collision)"
                if c.kind == "physical"
                else "hard-process card: multiplicity per generated hard event, only the shape is "
                "physical; normalise with generators/normalisation.toml"
            ),
            "charges": "both charges combined" if m in CHARGED_MESONS else "neutral",
            "counting": "every occurrence in the event record (any mother, decayed or not), "
            "carbon copies skipped",
            "mass_GeV": sm(m).mass,
            "card": c.name,
            "card_sha256": hashlib.sha256(c.text.encode()).hexdigest(),
            "card_text": c.text,
            "pythia_version": results[0]["pythia_version"],
            "pythia8mc_version": metadata.version("pythia8mc"),
            "events": n_events,
            "seed": seed,
            "chunks": n_chunks,
            "chunk_events": chunk_events,
            "sigma_gen_mb": sigma,
            "outside_binning": sum(r["outside"][m] for r in results),
            "binning": "counts[i, j]: log10(p/GeV) bin i x log10(theta/rad) bin j, lab frame",
        }
        path = root / c.beam / f"{table_name(m)}.npz"
        _write_npz(
            path,
            {
                "log10p_edges": LOG10P_EDGES,
                "log10theta_edges": LOG10THETA_EDGES,
                "counts": counts,
                "n_positive": np.int64(sum(r["n_positive"][m] for r in results)),
                "meta": np.array(json.dumps(meta, sort_keys=True)),
            },
        )
        written.append(path)
    return written
