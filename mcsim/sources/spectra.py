"""Meson spectrum tables: load a shipped table, sample meson 4-momenta, normalise to N_POT.

A table is the lab-frame spectrum of one meson species for one beam, as counts in bins of
log10(p / GeV) x log10(theta / rad), with theta the polar angle to the beam (+z).  Tables are
built by :mod:`mcsim.sources.pythia` from the PYTHIA8 cards in ``generators/`` and read here
through ``importlib.resources``; charged mesons have one table per species with both charges
combined, keyed by the positive PDG ID.

The number of mesons per proton on target, f_M of the paper (Eq. 4.2), comes from
``generators/normalisation.toml`` (see :func:`mesons_per_pot`).

Tables written elsewhere (``mcsim spectra generate`` writes to :func:`user_tables_directory` by
default, never into the installed package) are used when the environment variable
``MCSIM_TABLES`` names their directory -- the ``--tables DIR`` option of the commands sets it, so
local worker processes see it too (set it on the workers of a Dask cluster yourself).  A table
missing there is read from the shipped ones.
"""

from __future__ import annotations

import io
import json
import math
import os
import tomllib
import zipfile
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from mcsim.physics.particles import MESON_NAMES, pdgid_of, sm
from mcsim.physics.xoshiro import azimuth, stream, uniform
from mcsim.runtime.defaults import BEAMS, TABLES_ENV, user_tables_directory
from mcsim.runtime.jit_cache import kernel

__all__ = [
    "BEAMS",
    "CHARGED_MESONS",
    "TABLES_ENV",
    "TABLE_MESONS",
    "SpectrumTable",
    "acceptance_fraction",
    "available_tables",
    "is_produced",
    "load_table",
    "mesons_per_pot",
    "positive_fraction",
    "sample_momenta",
    "sample_momenta_tilted",
    "table_key",
    "table_name",
    "table_path",
    "tables_directory",
    "user_tables_directory",
]


#: The table keys (positive PDG IDs) of the paper's mesons, in Table 1 order, then the excited
#: quarkonia psi(2S), Upsilon(2S), Upsilon(3S).
TABLE_MESONS: tuple[int, ...] = (
    111,
    221,
    331,
    113,
    223,
    333,
    443,
    553,
    321,
    411,
    431,
    521,
    100443,
    100553,
    200553,
)

#: Table keys of the charged species (both charges in one table).
CHARGED_MESONS: tuple[int, ...] = (321, 411, 431, 521)

_TABLE_FILE_KEYS = ("log10p_edges", "log10theta_edges", "counts", "n_positive", "meta")


@dataclass(frozen=True)
class SpectrumTable:
    """Lab-frame spectrum of one meson species for one beam.

    ``counts[i, j]`` is the number of mesons generated with log10(p/GeV) in bin i and
    log10(theta/rad) in bin j (under/overflows are put into the edge bins and counted in
    ``meta``).  ``multiplicity`` = counts.sum() / n_events is the number of mesons (both charges)
    per generated collision, as PYTHIA8 produced it: physical for SoftQCD cards, only a shape
    for hard-process cards (``meta["kind"]`` says which).
    """

    pdgid: int
    beam: str
    log10p_edges: np.ndarray
    log10theta_edges: np.ndarray
    counts: np.ndarray
    n_positive: int
    multiplicity: float
    meta: dict

    @property
    def name(self) -> str:
        """Short name of the meson ('pi0', 'K+', ...)."""
        return table_name(self.pdgid)

    @cached_property
    def alias(self) -> tuple[np.ndarray, np.ndarray]:
        """Walker/Vose alias table (prob, alias) of the bins, built once, for the sampler."""
        return _alias_table(self.counts.ravel().astype(np.float64))

    @property
    def n_entries(self) -> int:
        """Number of mesons in the table (both charges)."""
        return int(self.counts.sum())

    def fraction(self, *, theta_max: float) -> float:
        """Fraction of the table's mesons with theta < theta_max [rad] (bins cut at their
        centres in log10 theta, i.e. to half a bin width of 0.05 decades by default)."""
        centres = 0.5 * (self.log10theta_edges[1:] + self.log10theta_edges[:-1])
        return float(self.counts[:, centres < np.log10(theta_max)].sum() / self.counts.sum())


def table_key(meson: str | int) -> int:
    """Table key (positive PDG ID) of a meson given by short name or PDG ID; K- -> 321 etc."""
    pdgid = abs(pdgid_of(meson) if isinstance(meson, str) else int(meson))
    if pdgid not in TABLE_MESONS:
        names = ", ".join(table_name(k) for k in TABLE_MESONS)
        raise ValueError(f"no spectrum table for meson {meson!r}: tables exist for {names}")
    return pdgid


def table_name(pdgid: int) -> str:
    """Short name used for the table file of a table key ('pi0', 'K+', 'Ds+', ...)."""
    return next(name for name, code in MESON_NAMES.items() if code == pdgid)


def _check_beam(beam: str) -> str:
    if beam not in BEAMS:
        raise ValueError(f"unknown beam {beam!r}: use one of {', '.join(BEAMS)}")
    return beam


def _tables_root():
    return resources.files("mcsim.generators").joinpath("tables")


def tables_directory() -> Path | None:
    """The directory named by ``MCSIM_TABLES`` (tables read before the shipped ones), if set."""
    value = os.environ.get(TABLES_ENV)
    return Path(value) if value else None


def table_path(meson: str | int, beam: str, *, directory: str | Path | None = None):
    """Where the table of ``meson`` for ``beam`` lives: ``<directory>/<beam>/<name>.npz``,
    by default inside the package (``generators/tables``)."""
    root = _tables_root() if directory is None else Path(directory)
    return root.joinpath(_check_beam(beam), f"{table_name(table_key(meson))}.npz")


def load_table(
    meson: str | int, beam: str, *, directory: str | Path | None = None
) -> SpectrumTable:
    """Load the spectrum table of ``meson`` (short name or PDG ID) for ``beam``.

    ``directory`` reads a table tree written by ``mcsim spectra generate --out`` instead of the
    shipped one; without it, the table in ``$MCSIM_TABLES`` if there is one, else the shipped
    one (each read once per process).  Tables are read-only.  Raises ``ValueError`` naming the
    file for a missing or corrupt table.
    """
    pdgid = table_key(meson)
    if directory is None:
        user = tables_directory()
        if user is not None and table_path(pdgid, beam, directory=user).is_file():
            return _cached_table(pdgid, beam, str(user.resolve()))
        return _cached_table(pdgid, beam, None)
    return _read_table(pdgid, beam, table_path(pdgid, beam, directory=directory))


@cache
def _cached_table(pdgid: int, beam: str, directory: str | None) -> SpectrumTable:
    return _read_table(pdgid, beam, table_path(pdgid, beam, directory=directory))


def _read_table(pdgid: int, beam: str, path: Path) -> SpectrumTable:
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise ValueError(
            f"no spectrum table for {table_name(pdgid)} with beam {beam!r}: {path} does not "
            f"exist (see `mcsim spectra list`)"
        ) from None
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            missing = [k for k in _TABLE_FILE_KEYS if k not in npz.files]
            if missing:
                raise ValueError(f"missing arrays {missing}")
            data = {k: npz[k] for k in _TABLE_FILE_KEYS}
        meta = json.loads(str(data["meta"]))
        counts = np.asarray(data["counts"], dtype=np.int64)
        p_edges = np.asarray(data["log10p_edges"], dtype=np.float64)
        t_edges = np.asarray(data["log10theta_edges"], dtype=np.float64)
        if counts.shape != (p_edges.size - 1, t_edges.size - 1):
            raise ValueError(f"counts shape {counts.shape} does not match the bin edges")
        if (counts < 0).any():
            raise ValueError("negative counts")
        if meta.get("pdgid") != pdgid or meta.get("beam") != beam:
            raise ValueError(f"it holds pdgid {meta.get('pdgid')}, beam {meta.get('beam')!r}")
        n_events = int(meta["events"])
    except (ValueError, KeyError, TypeError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"corrupt spectrum table {path}: {err}") from None
    for array in (counts, p_edges, t_edges):
        array.flags.writeable = False
    return SpectrumTable(
        pdgid=pdgid,
        beam=beam,
        log10p_edges=p_edges,
        log10theta_edges=t_edges,
        counts=counts,
        n_positive=int(data["n_positive"]),
        multiplicity=float(counts.sum()) / n_events,
        meta=meta,
    )


def available_tables(*, directory: str | Path | None = None) -> list[tuple[str, int]]:
    """(beam, pdgid) of every table present in ``directory``, by default the shipped ones and
    those in ``$MCSIM_TABLES``."""
    if directory is not None:
        roots = [Path(directory)]
    else:
        roots = [_tables_root()] + ([tables_directory()] if tables_directory() else [])
    found = []
    for beam in BEAMS:
        for pdgid in TABLE_MESONS:
            if any(r.joinpath(beam, f"{table_name(pdgid)}.npz").is_file() for r in roots):
                found.append((beam, pdgid))
    return found


# ---------------------------------------------------------------------------------- sampling


@kernel()
def _alias_table(weights):
    """Walker/Vose alias table of a discrete distribution: bin k is kept with probability
    prob[k], else replaced by alias[k]; one uniform number then picks a bin in O(1)."""
    n = weights.size
    prob = weights / weights.sum() * n
    alias = np.arange(n)
    small = np.empty(n, np.int64)
    large = np.empty(n, np.int64)
    n_small = 0
    n_large = 0
    for k in range(n):
        if prob[k] < 1.0:
            small[n_small] = k
            n_small += 1
        else:
            large[n_large] = k
            n_large += 1
    while n_small > 0 and n_large > 0:
        n_small -= 1
        s = small[n_small]
        g = large[n_large - 1]
        alias[s] = g
        prob[g] += prob[s] - 1.0
        if prob[g] < 1.0:  # g becomes small
            n_large -= 1
            small[n_small] = g
            n_small += 1
    prob[large[:n_large]] = 1.0  # leftovers are 1 up to rounding
    prob[small[:n_small]] = 1.0
    return prob, alias


_LN10 = np.log(10.0)
_TWO26 = 2.0**26
_EXP_LIMIT = 0.25  # |x| up to which the exp series below is exact to rounding
_PI_LOW = 1.2246467991473532e-16  # pi - math.pi
_EXP_SERIES = np.array([1.0 / math.factorial(k) for k in range(12)])
_SIN_SERIES = np.array([(-1) ** k / math.factorial(2 * k + 1) for k in range(11)])
_COS_SERIES = np.array([(-1) ** k / math.factorial(2 * k) for k in range(12)])


@kernel(inline="always")
def exp_in_bin(x: float) -> float:
    """exp(x) for an offset inside a table bin: its Taylor series to x^11 for |x| <= 0.25
    (relative error < 4e-16, no libm call), math.exp beyond."""
    if abs(x) > _EXP_LIMIT:
        return math.exp(x)
    y = _EXP_SERIES[11]
    for k in range(10, -1, -1):
        y = _EXP_SERIES[k] + x * y
    return y


@kernel(inline="always")
def sin_cos_polar(theta: float):
    """(sin theta, cos theta) for theta in [0, pi], by Taylor series on min(theta, pi - theta)
    in [0, pi/2] (to r^21 and r^22: truncation < 2e-18), with no branch and no libm call.
    pi - theta is exact (math.pi - theta by Sterbenz, plus the rounding error of math.pi), so
    sin is accurate to 1e-15 relative also near pi; cos to 1e-15 absolute."""
    r = min(theta, (math.pi - theta) + _PI_LOW)
    r2 = r * r
    s = _SIN_SERIES[10]
    for k in range(9, 0, -1):
        s = _SIN_SERIES[k] + r2 * s
    c = _COS_SERIES[11]
    for k in range(10, 0, -1):
        c = _COS_SERIES[k] + r2 * c
    c = 1.0 + r2 * c
    return r + r * r2 * s, (-c if theta > 0.5 * math.pi else c)


@kernel(inline="always")
def meson_in_bin(b, p_edge, p_step, t_edge, t_step, n_theta, mass, state):
    """The 4-momentum (E, px, py, pz) [GeV] of a meson in flat (p-major) bin ``b``: log10 p
    and log10 theta uniform inside the bin (lower edges p_edge, t_edge; natural-log bin widths
    p_step, t_step) from one uniform (26 bits each), phi uniform from
    :func:`mcsim.physics.xoshiro.azimuth`; no libm call for the usual bin widths.  The bin itself is
    drawn by the caller from the alias table (see the note above :func:`_sample_kernel`)."""
    i = b // n_theta
    j = b - i * n_theta
    y = uniform(state) * _TWO26
    y_int = math.floor(y)
    p = p_edge[i] * exp_in_bin(y_int / _TWO26 * p_step)
    theta = t_edge[j] * exp_in_bin((y - y_int) * t_step)
    if theta > math.pi:  # the last theta bin reaches 3.16 rad: fold back, staying in the bin
        theta = 2.0 * math.pi - theta
    sin_t, cos_t = sin_cos_polar(theta)
    cos_phi, sin_phi = azimuth(state)
    e = math.sqrt(p * p + mass * mass)
    return e, p * sin_t * cos_phi, p * sin_t * sin_phi, p * cos_t


# A bin is drawn from an alias table (prob, alias) of n_bins bins with one uniform, its integer
# part picking a bin and its fraction the bin or its alias:
#
#     x = uniform(state) * n_bins
#     b = min(int(x), n_bins - 1)
#     if x - b >= prob[b]:
#         b = alias[b]
#
# These lines are written out in the loop of each kernel that samples mesons (_sample_kernel
# and mcsim.scan.fused), not put in an inlined function: numba 0.68 compiles that branch, inside an
# inline="always" function, into code about 45 ns per draw slower (benchmarks/bench_inline.py).


@kernel(nogil=True)
def _sample_kernel(prob, alias, p_edge, p_step, t_edge, t_step, n_theta, mass, n, rng):
    """n mesons: a bin from the alias table (the note above), then :func:`meson_in_bin`,
    from one stream of ``rng``.  Returns the 4-momenta (n, 4) [GeV] and
    the bin indices (n,)."""
    state = stream(rng)
    out = np.empty((n, 4))
    bins = np.empty(n, dtype=np.int64)
    n_bins = prob.size
    for k in range(n):
        x = uniform(state) * n_bins
        b = min(int(x), n_bins - 1)
        if x - b >= prob[b]:
            b = alias[b]
        bins[k] = b
        out[k, 0], out[k, 1], out[k, 2], out[k, 3] = meson_in_bin(
            b, p_edge, p_step, t_edge, t_step, n_theta, mass, state
        )
    return out, bins


def sample_momenta(table: SpectrumTable, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` lab-frame meson 4-momenta from ``table``: array (n, 4) of (E, px, py, pz) in
    GeV, beam along +z, mass from `particle`.  Within a bin, log10 p and log10 theta are
    uniform (theta above pi, possible in the last bin, is folded back to 2 pi - theta); the
    azimuth is uniform.  The same ``rng`` state gives the same output."""
    if n < 0:
        raise ValueError(f"number of samples must be >= 0, got {n}")
    if table.n_entries == 0:
        raise ValueError(f"the {table.name} table for beam {table.beam} is empty")
    return draw(table, *table.alias, n, rng)[0]


def draw(table: SpectrumTable, prob, alias, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_sample_kernel` on the bins of ``table`` with the alias table (prob, alias):
    the 4-momenta (n, 4) and the flat (p-major) bin index of each."""
    return _sample_kernel(prob, alias, *bin_geometry(table), int(n), rng)


def bin_geometry(table: SpectrumTable) -> tuple:
    """The arguments of :func:`meson_in_bin` after the bin: lower bin edges in p [GeV]
    and theta [rad], their natural-log widths, the number of theta bins and the meson mass."""
    p_e, t_e = table.log10p_edges, table.log10theta_edges
    return (
        10.0 ** p_e[:-1],
        _LN10 * (p_e[-1] - p_e[0]) / (p_e.size - 1),
        10.0 ** t_e[:-1],
        _LN10 * (t_e[-1] - t_e[0]) / (t_e.size - 1),
        t_e.size - 1,
        sm(table.pdgid).mass,
    )


def sample_momenta_tilted(
    table: SpectrumTable, n: int, rng: np.random.Generator, factor: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Importance sampling of ``table``: bin (i, j) (momentum bin i, angle bin j) drawn with
    ``factor[i, j]`` times its probability (or ``factor[i]`` for a factor per momentum bin),
    inside the bin as :func:`sample_momenta`.  ``factor`` must make the tilted density sum to 1:
    sum p_ij factor_ij = 1; a factor of 0 leaves a bin out (it must not matter for what the
    sample is used for).  Returns the 4-momenta (n, 4) [GeV] and the importance weights
    p/q = 1 / factor (n,), which make every weighted sum an unbiased estimate of the plain one."""
    prob, alias, bin_weight = tilted_alias(table, factor)
    momenta, bins = draw(table, prob, alias, n, rng)
    return momenta, bin_weight[bins]


def tilted_alias(table: SpectrumTable, factor) -> tuple[np.ndarray, ...]:
    """The alias table (prob, alias) of ``table``'s bins tilted by ``factor`` (as in
    :func:`sample_momenta_tilted`) and the importance weight 1 / factor of each flat bin."""
    factor = np.asarray(factor, dtype=np.float64)
    if factor.ndim == 1:
        factor = np.repeat(factor[:, None], table.counts.shape[1], axis=1)
    if factor.shape != table.counts.shape or not np.all(np.isfinite(factor)) or np.any(factor < 0):
        raise ValueError(
            f"factor must be {table.counts.shape[0]} or {table.counts.shape} finite values >= 0"
        )
    flat = factor.ravel()
    with np.errstate(divide="ignore"):  # a bin of factor 0 is never drawn
        bin_weight = 1.0 / flat
    return (*_alias_table(table.counts.ravel() * flat), bin_weight)


# ---------------------------------------------------------------------------- normalisation


@lru_cache(maxsize=1)
def _normalisation() -> dict:
    path = resources.files("mcsim.generators").joinpath("normalisation.toml")
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"cannot read the meson normalisation {path}: {err}") from None


def _entry(meson: str | int, beam: str) -> tuple[int, dict, dict]:
    pdgid = table_key(meson)
    beam_data = _normalisation().get(_check_beam(beam), {})
    entry = beam_data.get(table_name(pdgid))
    if entry is None:
        raise ValueError(
            f"no normalisation for {table_name(pdgid)} with beam {beam!r} in "
            f"generators/normalisation.toml (not produced there)"
        )
    return pdgid, beam_data, entry


def _pythia_yield(pdgid: int, beam: str, beam_data: dict) -> float:
    """PYTHIA8's own mesons per collision: the multiplicity of a SoftQCD ('physical') table, or
    for a hard-process ('shape') table its multiplicity x the hard cross section / the beam's
    reference cross section (``sigma_inel_mb`` of the beam in normalisation.toml, else the
    SoftQCD cross section recorded in the beam's pi0 table)."""
    table = load_table(pdgid, beam)
    if table.meta["kind"] == "physical":
        return table.multiplicity
    sigma_ref = beam_data.get("sigma_inel_mb") or load_table(111, beam).meta["sigma_gen_mb"]
    return table.multiplicity * table.meta["sigma_gen_mb"] / sigma_ref


def acceptance_fraction(
    table: SpectrumTable, *, y: tuple[float, float], pt: tuple[float, float], n_sub: int = 8
) -> float:
    """Fraction of the table's mesons with rapidity y[0] < y < y[1] and transverse momentum
    pt[0] < pT < pt[1] [GeV] (beam axis +z).  Each (log10 p, log10 theta) bin is integrated on
    an n_sub x n_sub grid of midpoints, log10 p and log10 theta uniform in the bin as in the
    sampler (the last theta bin, reaching past pi, folded back the same way)."""
    i, j = np.nonzero(table.counts)
    w = table.counts[i, j] / (n_sub * n_sub)
    p_e, t_e = table.log10p_edges, table.log10theta_edges
    u = (np.arange(n_sub) + 0.5) / n_sub
    p = (10.0 ** (p_e[i, None] + np.diff(p_e)[i, None] * u))[:, :, None]
    theta = (10.0 ** (t_e[j, None] + np.diff(t_e)[j, None] * u))[:, None, :]
    theta = np.where(theta > np.pi, 2.0 * np.pi - theta, theta)
    pt_ = p * np.sin(theta)
    pz = p * np.cos(theta)
    mt = np.sqrt(sm(table.pdgid).mass ** 2 + pt_ * pt_)
    rapidity = np.sign(pz) * np.log((np.sqrt(mt * mt + pz * pz) + np.abs(pz)) / mt)
    inside = (y[0] < rapidity) & (rapidity < y[1]) & (pt[0] < pt_) & (pt_ < pt[1])
    return float((w[:, None, None] * inside).sum() / table.counts.sum())


def _measured_yield(pdgid: int, beam: str, beam_data: dict, entry: dict) -> float:
    """Mesons per inelastic collision from a measured cross section in a fiducial region (rule
    ``f = "measured"``): ``sigma_ub`` [ub] (divided by ``br_mumu`` when the measurement is
    sigma x B(mu mu)) times the beam's ``energy_scale``, over PYTHIA8's fraction of the table's
    mesons in the region (``y``, ``pt_GeV``) and over the beam's ``sigma_inel_mb``."""
    try:
        sigma_ub = float(entry["sigma_ub"]) / float(entry.get("br_mumu", 1.0))
        scale = float(beam_data["energy_scale"])
        y, pt = tuple(entry["y"]), tuple(entry["pt_GeV"])
        sigma_inel_ub = float(beam_data["sigma_inel_mb"]) * 1e3
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(
            f"generators/normalisation.toml: [{beam}.{table_name(pdgid)}] rule "
            f"'measured' needs sigma_ub, y, pt_GeV and the beam's energy_scale and "
            f"sigma_inel_mb ({err})"
        ) from None
    fraction = acceptance_fraction(load_table(pdgid, beam), y=y, pt=pt)
    return sigma_ub * scale / fraction / sigma_inel_ub


def is_produced(meson: str | int, beam: str) -> bool:
    """Whether ``generators/normalisation.toml`` lists the meson for ``beam`` (e.g. no Upsilon at
    70 GeV, no K+- decaying near the LHC interaction point)."""
    return table_name(table_key(meson)) in _normalisation().get(_check_beam(beam), {})


def mesons_per_pot(meson: str | int, beam: str, target_A: float) -> float:
    """f_M of the paper: mesons of this species (both charges) per proton on target (for lhc14:
    per inelastic pp collision; the caller multiplies by sigma_inel x L).

    The rule per (beam, meson) is in ``generators/normalisation.toml``: ``f`` is a number (paper
    Table 1 per pp collision; for K+- the 0.29 K+ + 0.07 K- decaying in flight per proton) or
    ``"pythia"`` (PYTHIA8's own yield per collision, see the data file) or ``"measured"`` (a
    measured cross section in a fiducial region over PYTHIA8's fraction of the table there, see
    :func:`acceptance_fraction`) or ``"ratio"`` (``ratio`` x f of the meson ``to`` at the same beam
    and target, e.g. psi(2S) / J/psi; nothing else applies); ``scale_from = BEAM``
    multiplies by PYTHIA8's yield ratio between this beam and BEAM (energy dependence);
    ``A_power`` multiplies by ``target_A ** A_power`` (0.29 for charm and beauty on nuclei).
    K- / D- etc. give the same, combined number: split it with :func:`positive_fraction`.
    """
    pdgid, beam_data, entry = _entry(meson, beam)
    if target_A <= 0:
        raise ValueError(f"target mass number must be > 0, got {target_A}")
    rule = entry.get("f")
    if isinstance(rule, (int, float)) and not isinstance(rule, bool):
        f = float(rule)
    elif rule == "pythia":
        f = _pythia_yield(pdgid, beam, beam_data)
    elif rule == "measured":
        f = _measured_yield(pdgid, beam, beam_data, entry)
    elif rule == "ratio":
        return float(entry["ratio"]) * mesons_per_pot(entry["to"], beam, target_A)
    else:
        raise ValueError(
            f"generators/normalisation.toml: [{beam}.{table_name(pdgid)}] has an "
            f"unknown rule f = {rule!r}"
        )
    if "scale_from" in entry:
        ref = _check_beam(entry["scale_from"])
        ref_data = _normalisation().get(ref, {})
        f *= _pythia_yield(pdgid, beam, beam_data) / _pythia_yield(pdgid, ref, ref_data)
    return f * target_A ** entry.get("A_power", 0.0)


def positive_fraction(meson: str | int, beam: str) -> float:
    """Fraction of the positive charge (K+, D+, Ds+, B+) among the species' mesons: the number
    given in ``normalisation.toml`` (K+: 0.29/0.36) or else the table's PYTHIA8 fraction."""
    pdgid, _, entry = _entry(meson, beam)
    if pdgid not in CHARGED_MESONS:
        raise ValueError(f"{table_name(pdgid)} is neutral: no charge fraction")
    if "positive_fraction" in entry:
        return float(entry["positive_fraction"])
    table = load_table(pdgid, beam)
    return table.n_positive / table.n_entries
