"""Models defined by a TOML model card (data, never code): ``--model card:PATH``.

A card describes a long-lived state (LLP) produced in meson decays and decaying to an invisible
particle plus one photon, at one reference point:

    name = "my-model"                 # optional; description, reference: optional text
    [llp]        mass_GeV = 0.11      # LLP mass [GeV]; optional label: name = "chi2"
                 pdgid = 9900052      # optional: its PDG ID in events files (default chi2's)
    [invisible]  mass_GeV = 0.10      # the invisible particle [GeV] (0 allowed)
                 pdgid = 52           # optional (default chi1's, 52)
    [coupling]   name = "d"  unit = "GeV^-1"  reference = 1e-5   # g_ref
                 scan_range = [1e-8, 1e-2]   # optional: reach default (g_ref x 1e-3..1e3)
    [width]      at_reference_GeV = 1.2e-21   # Gamma(LLP -> invisible gamma) at g_ref [GeV]
                 exponent = 2                  # Gamma ~ g^exponent
                 mass_exponent = 3             # optional, see "reach" below
    [[channel]]  mother = "rho"       # meson name (pi0, eta, etap, rho, omega, phi, jpsi,
                                      # upsilon, psi2S, upsilon2S, upsilon3S, K+, D+, Ds+, B+)
                                      # or PDG ID
                 final_state = "two-body"     # mother -> invisible + LLP, isotropic
                 #   or "three-body": mother -> X + invisible + LLP with
                 #   x = "photon" (neutral mother) or "e", "mu", "tau" (charged mother, l+ for
                 #   the positive meson; the invisible particle must then be massless), and
                 #   matrix_element = "flat" (phase space, default) or "anomaly" (the paper's
                 #   Eq. A.4, photon only)
                 br_at_reference = 1.3e-14    # BR at g_ref, in (0, 1]
                 br_exponent = 2              # BR ~ g^br_exponent
                 br_mass_exponent = 0         # optional, see "reach" below

The reach scans re-weight one sample to every coupling exactly, which needs every BR and the
width to scale with the same power of g: ``br_exponent`` must equal ``width.exponent``.
A channel is closed where the masses forbid it; the LLP is its own antiparticle.  Each mother
has one channel (a second would count its mesons twice).

Reach (mass family): a scan varies the LLP mass m, scaling every mass of the card by
s = m / m_LLP(card); the width is multiplied by s^width.mass_exponent and each BR by
s^br_mass_exponent.  These power laws are the card author's statement; without them the card
describes its own mass only (a scan at another mass is an error naming the missing key).

Bad cards raise a ValueError of one line naming the card and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from mcsim.models.dipoles import PDG_CHI1, PDG_CHI2
from mcsim.models.registry import CARD_PREFIX, ModelKind, Particles
from mcsim.physics.constants import HBARC_GEV_M
from mcsim.physics.particles import LEPTON_PDGID, sm
from mcsim.runtime.cards import read_card_text
from mcsim.runtime.validate import COUPLING, MASS, Range

__all__ = [
    "CardModel",
    "CardSpec",
    "ChannelSpec",
    "coupling_name",
    "load_card",
    "load_card_kind",
    "shipped_cards",
]

_MOTHERS = (
    "pi0",
    "eta",
    "etap",
    "rho",
    "omega",
    "phi",
    "jpsi",
    "upsilon",
    "psi2S",
    "upsilon2S",
    "upsilon3S",
    "K+",
    "D+",
    "Ds+",
    "B+",
)
_CHARGED = (321, 411, 431, 521)
_INVISIBLE_MASS = Range(0.0, 100.0, "GeV")
_WIDTH = Range(1e-300, 1e3, "GeV")
_BR = Range(0.0, 1.0, low_open=True)
_EXPONENT = Range(-20.0, 20.0)
_POWER = Range(0.0, 20.0, low_open=True)
_PDGID = Range(1, 99_999_999, integer=True)  # a particle code (the antiparticle: negative)
_KEYS = {
    "": ("name", "description", "reference", "llp", "invisible", "coupling", "width", "channel"),
    "llp": ("name", "mass_GeV", "pdgid"),
    "invisible": ("name", "mass_GeV", "pdgid"),
    "coupling": ("name", "unit", "reference", "scan_range"),
    "width": ("at_reference_GeV", "exponent", "mass_exponent"),
    "channel": (
        "mother",
        "final_state",
        "x",
        "matrix_element",
        "br_at_reference",
        "br_exponent",
        "br_mass_exponent",
    ),
}


@dataclass(frozen=True)
class ChannelSpec:
    """One production channel of a card: ``mother`` (positive PDG ID), ``kind`` (a channel kind
    of :mod:`mcsim.models.channels`), ``x`` ('photon', a lepton flavour, or None for two-body),
    ``br`` at the reference coupling, ``br_mass_exponent`` (None: not given)."""

    mother: int
    kind: str
    x: str | None
    br: float
    br_mass_exponent: float | None


@dataclass(frozen=True)
class CardSpec:
    """A checked model card (units: GeV; the coupling in ``coupling_unit``)."""

    path: str
    name: str
    llp_name: str
    invisible_name: str
    llp_pdgid: int
    invisible_pdgid: int
    llp_mass: float
    invisible_mass: float
    coupling_name: str
    coupling_unit: str
    coupling_ref: float
    scan_range: tuple[float, float]
    width_ref: float
    power: float
    width_mass_exponent: float | None
    channels: tuple[ChannelSpec, ...]


@dataclass(frozen=True)
class CardModel:
    """The card's model at coupling ``d`` [card unit] and mass scale ``scale`` (every mass x
    scale; 1 at the card's own point).  Answers :class:`mcsim.models.registry.Model`."""

    spec: CardSpec
    d: float
    scale: float = 1.0
    dirac = False
    productions = ("mesons",)

    def __post_init__(self):
        COUPLING.check(self.spec.coupling_name, self.d)

    @property
    def kind(self) -> str:
        return CARD_PREFIX + self.spec.path

    @property
    def coupling_power(self) -> float:
        return self.spec.power

    @property
    def coupling_unit(self) -> str:
        return self.spec.coupling_unit

    @property
    def llp_mass(self) -> float:
        return self.spec.llp_mass * self.scale

    @property
    def invisible_mass(self) -> float:
        return self.spec.invisible_mass * self.scale

    def _factor(self, mass_exponent: float | None, key: str) -> float:
        """(d / g_ref)^power x scale^mass_exponent."""
        if self.scale != 1.0 and mass_exponent is None:
            raise ValueError(
                f"model card {self.spec.path}: key '{key}': missing; needed for "
                f"an LLP mass other than the card's {self.spec.llp_mass:g} GeV"
            )
        mass = self.scale**mass_exponent if self.scale != 1.0 and mass_exponent is not None else 1.0
        return (self.d / self.spec.coupling_ref) ** self.spec.power * mass

    @property
    def width(self) -> float:
        """Gamma(LLP -> invisible gamma) [GeV]."""
        return self.spec.width_ref * self._factor(
            self.spec.width_mass_exponent, "width.mass_exponent"
        )

    @property
    def ctau(self) -> float:
        """c*tau of the LLP [m]."""
        return HBARC_GEV_M / self.width

    def with_coupling(self, d: float) -> CardModel:
        return replace(self, d=d)

    def channels(self) -> list:
        """The card's production channels (:class:`mcsim.models.channels.Channel`), open or closed
        by the masses, with their BR at d."""
        # numba kernels (Dalitz widths): loaded when channels are asked
        from mcsim.models.channels import Channel

        out = []
        m_inv, m_llp = self.invisible_mass, self.llp_mass
        for i, c in enumerate(self.spec.channels):
            mother = sm(c.mother)
            products: tuple[str, ...]
            if c.x in LEPTON_PDGID:
                masses = (sm(LEPTON_PDGID[c.x]).mass, m_llp)
                label, products = f"{c.x}+ {self.spec.invisible_name} ", ("lepton", "invisible")
            else:
                masses = (m_inv, m_llp)
                label = "gamma " if c.x == "photon" else ""
                label += f"{self.spec.invisible_name} "
                products = ("photon", "invisible") if c.x == "photon" else ("invisible",)
            is_open = masses[0] + masses[1] < mother.mass
            br = (
                c.br * self._factor(c.br_mass_exponent, f"channel[{i}].br_mass_exponent")
                if is_open
                else 0.0
            )
            out.append(
                Channel(
                    mother=c.mother,
                    name=f"{mother.name} -> {label}{self.spec.llp_name}",
                    kind=c.kind,
                    products=(*products, "llp"),
                    mother_mass=mother.mass,
                    masses=masses,
                    is_open=is_open,
                    width=br * mother.width,
                    br=br,
                )
            )
        return out

    @property
    def particles(self) -> Particles:
        """The card's LLP and invisible particle ([llp] and [invisible] pdgid) and the photon;
        self-conjugate (no antiparticle events)."""
        inv = self.spec.invisible_pdgid
        return Particles(llp=self.spec.llp_pdgid, partner=inv, decay=(inv, 22))

    def describe(self) -> dict:
        """Parameters as a flat dict (for metadata)."""
        return {
            "model": self.kind,
            "card": self.spec.name,
            self.spec.coupling_name: self.d,
            "coupling_unit": self.spec.coupling_unit,
            "llp_mass": self.llp_mass,
            "invisible_mass": self.invisible_mass,
        }


#: The keys of a card model's :meth:`describe` other than its coupling's name.
_DESCRIBE_KEYS = ("model", "card", "coupling_unit", "llp_mass", "invisible_mass")


def coupling_name(described: dict) -> tuple[str, str]:
    """(name, unit) of the coupling of a model point's :meth:`describe` (metadata 'model'):
    a model card's own, else ('d', 'GeV^-1'), the dipole coefficient."""
    if "card" not in described:
        return "d", "GeV^-1"
    name = next(k for k in described if k not in _DESCRIBE_KEYS)
    return name, described.get("coupling_unit", "")


class _Checker:
    """Checks one card's values, with errors naming the card and the key."""

    def __init__(self, label: str, data: dict):
        self.label, self.data = label, data

    def error(self, key: str, message: str) -> ValueError:
        return ValueError(f"model card {self.label}: key '{key}': {message}")

    def table(self, name: str, table, known) -> dict:
        if not isinstance(table, dict):
            raise self.error(name, "must be a table")
        unknown = sorted(set(table) - set(known))
        if unknown:
            where = f"{name}.{unknown[0]}" if name else unknown[0]
            raise self.error(where, f"unknown key; the table holds {', '.join(known)}")
        return table

    def number(self, key: str, table: dict, name: str, allowed: Range, default=...):
        if name not in table:
            if default is ...:
                raise self.error(key, "missing")
            return default
        v = table[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.error(key, f"must be a number, got {v!r}")
        try:
            return allowed.check(key, v)
        except ValueError:
            raise self.error(key, allowed.message(v)) from None

    def text(self, key: str, table: dict, name: str, default=..., choices=None) -> str:
        if name not in table:
            if default is ...:
                raise self.error(key, "missing")
            return default
        v = table[name]
        if not isinstance(v, str) or (choices is not None and v not in choices):
            want = f"one of {', '.join(choices)}" if choices else "a string"
            raise self.error(key, f"must be {want}, got {v!r}")
        return v

    def section(self, name: str) -> dict:
        if name not in self.data:
            raise ValueError(f"model card {self.label}: missing required table [{name}]")
        return self.table(name, self.data[name], _KEYS[name])

    def channel(self, i: int, table, power: float, m_inv: float) -> ChannelSpec:
        key = f"channel[{i}]"
        table = self.table(key, table, _KEYS["channel"])
        mother = table.get("mother")
        names = {
            n: c
            for n, c in (
                ("pi0", 111),
                ("eta", 221),
                ("etap", 331),
                ("rho", 113),
                ("omega", 223),
                ("phi", 333),
                ("jpsi", 443),
                ("upsilon", 553),
                ("psi2S", 100443),
                ("upsilon2S", 100553),
                ("upsilon3S", 200553),
                ("K+", 321),
                ("D+", 411),
                ("Ds+", 431),
                ("B+", 521),
            )
        }
        pdgid = (
            names.get(mother)
            if isinstance(mother, str)
            else (
                mother
                if isinstance(mother, int)
                and not isinstance(mother, bool)
                and mother in names.values()
                else None
            )
        )
        if pdgid is None:
            raise self.error(
                f"{key}.mother",
                f"must be one of {', '.join(_MOTHERS)} or its PDG ID, got {mother!r}",
            )
        final = self.text(
            f"{key}.final_state", table, "final_state", choices=("two-body", "three-body")
        )
        charged = pdgid in _CHARGED
        if final == "two-body":
            for extra in ("x", "matrix_element"):
                if extra in table:
                    raise self.error(f"{key}.{extra}", "only for a three-body final state")
            if charged:
                raise self.error(
                    f"{key}.mother",
                    "a two-body channel needs a neutral mother (charge conservation)",
                )
            kind, x = "two-body", None
        else:
            x = self.text(f"{key}.x", table, "x", choices=("photon", *LEPTON_PDGID))
            if (x == "photon") == charged:
                need = "a neutral" if x == "photon" else "a charged"
                raise self.error(f"{key}.x", f"{x} needs {need} mother (charge conservation)")
            element = self.text(
                f"{key}.matrix_element",
                table,
                "matrix_element",
                "flat",
                choices=("flat", "anomaly"),
            )
            if element == "anomaly" and x != "photon":
                raise self.error(f"{key}.matrix_element", "anomaly (Eq. A.4) needs x = photon")
            if x != "photon" and m_inv != 0.0:
                raise self.error(
                    f"{key}.x",
                    "a lepton channel needs a massless invisible particle (invisible.mass_GeV = 0)",
                )
            kind = (
                "anomaly"
                if element == "anomaly"
                else "flat-photon"
                if x == "photon"
                else "flat-lepton"
            )
        br = self.number(f"{key}.br_at_reference", table, "br_at_reference", _BR)
        exponent = self.number(f"{key}.br_exponent", table, "br_exponent", _EXPONENT)
        if exponent != power:
            raise self.error(
                f"{key}.br_exponent",
                f"must equal width.exponent = {power:g} (one re-weighting power), got {exponent:g}",
            )
        mass_exp = self.number(
            f"{key}.br_mass_exponent", table, "br_mass_exponent", _EXPONENT, None
        )
        return ChannelSpec(pdgid, kind, x, br, mass_exp)

    def build(self, path: str) -> CardSpec:
        top = self.table("", self.data, _KEYS[""])
        name = self.text("name", top, "name", Path(path).stem)
        llp = self.section("llp")
        m_llp = self.number("llp.mass_GeV", llp, "mass_GeV", MASS)
        inv = self.section("invisible")
        m_inv = self.number("invisible.mass_GeV", inv, "mass_GeV", _INVISIBLE_MASS)
        if m_inv >= m_llp:
            raise self.error(
                "invisible.mass_GeV",
                f"must be below the LLP mass {m_llp:g} GeV (the LLP decays to it + gamma)",
            )
        coupling, width = self.section("coupling"), self.section("width")
        g_ref = self.number("coupling.reference", coupling, "reference", COUPLING)
        scan = coupling.get(
            "scan_range", [max(g_ref * 1e-3, COUPLING.low), min(g_ref * 1e3, COUPLING.high)]
        )
        if (
            not isinstance(scan, list)
            or len(scan) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in scan)
        ):
            raise self.error("coupling.scan_range", f"must be [low, high], got {scan!r}")
        scan = tuple(self.number("coupling.scan_range", {"v": v}, "v", COUPLING) for v in scan)
        if not scan[0] < scan[1]:
            raise self.error("coupling.scan_range", f"must be ascending, got {list(scan)}")
        power = self.number("width.exponent", width, "exponent", _POWER)
        channels = self.data.get("channel")
        if not isinstance(channels, list) or not channels:
            raise ValueError(f"model card {self.label}: needs at least one [[channel]] table")
        specs = tuple(self.channel(i, c, power, m_inv) for i, c in enumerate(channels))
        first: dict[int, int] = {}
        for i, c in enumerate(specs):
            j = first.setdefault(c.mother, i)
            if j != i:
                raise self.error(
                    f"channel[{i}].mother",
                    f"{sm(c.mother).name} is already channel[{j}]; one channel per mother",
                )
        return CardSpec(
            path=path,
            name=name,
            llp_name=self.text("llp.name", llp, "name", "LLP"),
            invisible_name=self.text("invisible.name", inv, "name", "X"),
            llp_pdgid=int(self.number("llp.pdgid", llp, "pdgid", _PDGID, PDG_CHI2)),
            invisible_pdgid=int(self.number("invisible.pdgid", inv, "pdgid", _PDGID, PDG_CHI1)),
            llp_mass=m_llp,
            invisible_mass=m_inv,
            coupling_name=self.text("coupling.name", coupling, "name", "g"),
            coupling_unit=self.text("coupling.unit", coupling, "unit", ""),
            coupling_ref=g_ref,
            scan_range=scan,
            width_ref=self.number("width.at_reference_GeV", width, "at_reference_GeV", _WIDTH),
            power=power,
            width_mass_exponent=self.number(
                "width.mass_exponent", width, "mass_exponent", _EXPONENT, None
            ),
            channels=specs,
        )


def shipped_cards() -> list[str]:
    """Names of the model cards shipped in mcsim/data/models (``card:NAME`` finds them)."""
    return sorted(p.name[:-5] for p in _shipped().iterdir() if p.name.endswith(".toml"))


def _shipped():
    return files("mcsim.data").joinpath("models")


def load_card(path: str) -> CardSpec:
    """The checked :class:`CardSpec` of the model card at ``path``, or of the shipped card of
    that name (no '/' and no '.toml' in it; :func:`shipped_cards`).  A bad card raises a
    ValueError of one line naming the card and the key."""
    path = str(path)
    if "/" not in path and "\\" not in path and not path.endswith(".toml"):
        if path not in shipped_cards():
            raise ValueError(
                f"unknown model card {path!r}; shipped cards: "
                f"{', '.join(shipped_cards())} (or give a path to a .toml file)"
            )
        text = _shipped().joinpath(path + ".toml").read_text(encoding="utf-8")
        return _parse(path, text)
    return _parse(path, read_card_text("model card", path))


def _parse(path: str, text: str) -> CardSpec:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"model card {path}: not valid TOML: {err}") from None
    return _Checker(path, data).build(path)


def load_card_kind(path: str) -> ModelKind:
    """The :class:`mcsim.models.registry.ModelKind` of the card at ``path``: no parameters but
    the coupling; its reach family varies the LLP mass (module docstring).  Read once per
    path and file version (a card edited on disk is read again)."""
    try:
        st = Path(path).stat()
        version = (st.st_mtime_ns, st.st_size)
    except OSError:
        version = None  # a shipped name, or a missing file (load_card reports it)
    return _card_kind(str(path), version)


@lru_cache(maxsize=64)
def _card_kind(path: str, version) -> ModelKind:
    spec = load_card(path)

    def build(d: float, mass: float | None = None) -> CardModel:
        scale = 1.0 if mass is None else MASS.check("mass", mass) / spec.llp_mass
        return CardModel(spec, d, scale)

    unit = f" [{spec.coupling_unit}]" if spec.coupling_unit else ""
    return ModelKind(
        name=CARD_PREFIX + path,
        summary=f"{spec.name}: {spec.llp_name} -> {spec.invisible_name} gamma",
        parameters=(),
        build=build,
        mass_parameter="mass",
        mass_label=f"M({spec.llp_name}) [GeV]",
        coupling_label=f"{spec.coupling_name}{unit}",
        coupling_range=spec.scan_range,
        family_name=lambda fixed: f"{spec.name} (model card)",
    )
