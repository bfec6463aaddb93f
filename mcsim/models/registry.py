"""The model registry: every model kind answers one protocol, and names map to kinds here.

A *model* (one point: masses, coupling) answers :class:`Model`; a *model kind* (a
:class:`ModelKind`: 'dark-dipole', 'neutrino-dipole', or a model card 'card:PATH') knows its
short name, its parameters (from which the command-line options are derived), how to build a
model from them, and its one-parameter mass family for the reach scans.  The core (chain, scan,
command line) asks this module and the model -- never which model it holds.

Built-in kinds register themselves in :mod:`mcsim.models.dipoles`; 'card:PATH' is read by
:mod:`mcsim.models.card`.  Units: masses in GeV; the coupling in the model's ``coupling_unit``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol

from mcsim.runtime.validate import Range

__all__ = [
    "CARD_PREFIX",
    "SELF_CONJUGATE",
    "Model",
    "ModelKind",
    "Parameter",
    "Particles",
    "conjugate",
    "get",
    "kinds",
    "model_from_options",
    "names",
    "register",
]

#: ``--model card:PATH`` names a model card (:mod:`mcsim.models.card`).
CARD_PREFIX = "card:"


class Model(Protocol):
    """One model point.  ``d`` is the coupling the reach scans re-weight over: every production
    BR scales as d^coupling_power and the width of the long-lived state (LLP) too, so c*tau as
    d^-coupling_power."""

    # read-only: frozen dataclass fields, class attributes or properties answer them
    @property
    def kind(self) -> str: ...

    @property
    def d(self) -> float: ...

    @property
    def coupling_power(self) -> float: ...

    @property
    def coupling_unit(self) -> str: ...

    dirac: bool  # the LLP has a distinct antiparticle (N and N-bar both produced)

    @property
    def productions(self) -> tuple[str, ...]: ...  # the sources that make it (mcsim.sources)

    @property
    def llp_mass(self) -> float: ...  # [GeV]

    @property
    def invisible_mass(self) -> float: ...  # [GeV], the LLP decays to it + one photon

    @property
    def width(self) -> float: ...  # [GeV]

    @property
    def ctau(self) -> float: ...  # [m]

    @property
    def particles(self) -> Particles: ...  # PDG IDs, for ntuples and HepMC3

    def with_coupling(self, d: float) -> Model: ...

    def channels(self) -> list: ...  # its meson-decay channels (mcsim.models.channels.Channel)

    def describe(self) -> dict: ...  # parameters as a flat dict, 'model' the kind's name


#: PDG IDs of particles that are their own antiparticles (kept when an event is conjugated).
SELF_CONJUGATE = frozenset({21, 22, 23, 25, 111, 113, 221, 223, 331, 333, 443, 553})


def conjugate(pdgid: int) -> int:
    """The antiparticle's PDG ID (the same for a self-conjugate particle)."""
    return pdgid if pdgid in SELF_CONJUGATE else -pdgid


@dataclass(frozen=True)
class Particles:
    """The particles of a model by PDG ID, as its events hold them: ``llp`` the long-lived
    state; ``partner`` the invisible particle produced with it (0: none); ``decay`` the LLP's
    decay products in the order of the event arrays (p4_decay_invisible, p4_photon); ``lepton``
    the charged lepton of P+ -> l+ LLP gamma channels (its particle code, 0: none).  For an
    event with ``is_antiparticle`` every code but the self-conjugate ones flips sign."""

    llp: int
    partner: int
    decay: tuple[int, ...]
    lepton: int = 0

    def as_dict(self) -> dict:
        return {
            "llp": self.llp,
            "partner": self.partner,
            "decay": list(self.decay),
            "lepton": self.lepton,
        }


@dataclass(frozen=True)
class Parameter:
    """One model parameter: option ``--name`` (underscores as dashes), its numeric ``range``
    (:class:`mcsim.runtime.validate.Range`) or its text ``choices``, and a help text with its unit.
    ``scan_default``: the value a reach scan uses when the user gives none (None: required)."""

    name: str
    help: str
    range: Range | None = None
    choices: tuple[str, ...] | None = None
    scan_default: Any = None

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check(self, value):
        """``value`` converted and checked, or a ValueError naming the parameter."""
        if self.choices is not None:
            if value not in self.choices:
                raise ValueError(
                    f"{self.name} must be one of {', '.join(self.choices)}, got {value!r}"
                )
            return value
        return self.range.check(self.name, value) if self.range is not None else value


@dataclass(frozen=True)
class ModelKind:
    """A kind of model: ``name`` (the --model value), ``summary`` (one line), ``parameters``
    besides the coupling d, ``build(d=..., **parameters)`` -> :class:`Model`, and its reach
    family: ``mass_parameter`` is varied over the mass axis, the other parameters are fixed;
    ``mass_label`` names that axis, ``coupling_label`` the coupling axis, ``coupling_range`` the
    default coupling range of a scan [coupling unit], ``family_name(fixed)`` describes the
    family with the fixed parameters."""

    name: str
    summary: str
    parameters: tuple[Parameter, ...]
    build: Callable[..., Model]
    mass_parameter: str
    mass_label: str
    coupling_label: str
    coupling_range: tuple[float, float]
    family_name: Callable[[dict], str]
    relic: Callable | None = None  # relic(masses, fixed) -> the thermal-relic line, if any

    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    def from_options(self, d: float, options: dict) -> Model:
        """The model at coupling ``d`` from option values (None: not given); an option of
        another kind is an error, not ignored; a missing one too."""
        given = {k: v for k, v in options.items() if v is not None}
        self.refuse_foreign(given)
        missing = [p for p in self.parameters if p.name not in given]
        if missing:
            raise ValueError(
                f"the {self.name} model needs "
                + " and ".join(f"{p.name} ({p.help})" for p in missing)
            )
        return self.build(d=d, **given)

    def refuse_foreign(self, given) -> None:
        """A ValueError naming the options among ``given`` (parameter names) that are not this
        kind's parameters."""
        foreign = [k for k in given if k not in self.parameter_names()]
        if foreign:
            opts = ", ".join("--" + k.replace("_", "-") for k in foreign)
            raise ValueError(f"{opts}: not a parameter of the {self.name} model")

    def family_at(self, mass: float, d: float, fixed: dict) -> Model:
        """The family member at ``mass`` [GeV] and coupling ``d``; ``fixed`` gives the other
        parameters (their ``scan_default`` where absent)."""
        params = {}
        for p in self.parameters:
            if p.name == self.mass_parameter:
                continue
            value = fixed.get(p.name, p.scan_default)
            if value is None:
                raise ValueError(f"the {self.name} family needs {p.name}")
            params[p.name] = value
        params[self.mass_parameter] = mass
        return self.build(d=d, **params)


#: Entry-point groups: a model kind (a :class:`ModelKind` object) per name, and a loader per
#: ``--model PREFIX:ARGUMENT`` prefix (``card`` -> :func:`mcsim.models.card.load_card_kind`).
#: mcsim declares its own in pyproject.toml; a plug-in package declares its models the same way.
KIND_GROUP = "mcsim.models"
LOADER_GROUP = "mcsim.model_loaders"

_KINDS: dict[str, ModelKind] = {}


def register(kind: ModelKind) -> ModelKind:
    """Add a kind in this process (its name must be new and must not start with 'card:')."""
    if kind.name in _KINDS or kind.name.startswith(CARD_PREFIX):
        raise ValueError(f"model kind {kind.name!r} is already registered or reserved")
    _KINDS[kind.name] = kind
    return kind


@functools.cache
def _discover() -> None:
    """Register the kinds declared in the :data:`KIND_GROUP` entry points (once per process)."""
    for ep in entry_points(group=KIND_GROUP):
        if ep.name not in _KINDS:
            kind = ep.load()
            if not isinstance(kind, ModelKind) or kind.name != ep.name:
                raise TypeError(
                    f"entry point {ep.name} = {ep.value}: not the ModelKind {ep.name!r}"
                )
            register(kind)


@functools.cache
def _loader(prefix: str) -> Callable | None:
    """The loader of ``--model PREFIX:ARGUMENT`` (:data:`LOADER_GROUP`), if one is declared."""
    for ep in entry_points(group=LOADER_GROUP, name=prefix):
        return ep.load()
    return None


def kinds() -> tuple[ModelKind, ...]:
    """The registered kinds (entry points first, in their declared order)."""
    _discover()
    return tuple(_KINDS.values())


def names() -> tuple[str, ...]:
    """The names of the registered kinds."""
    return tuple(k.name for k in kinds())


def get(name: str) -> ModelKind:
    """The kind of ``name``: a registered name or 'PREFIX:ARGUMENT' of a loader
    (:data:`LOADER_GROUP`; 'card:PATH' reads a model card, checked once per path); ValueError
    otherwise."""
    if name in _KINDS:
        return _KINDS[name]
    known = names()
    if name in _KINDS:
        return _KINDS[name]
    prefix, colon, argument = name.partition(":") if isinstance(name, str) else ("", "", "")
    loader = _loader(prefix) if colon else None
    if loader is not None:
        return loader(argument)
    listed = " or ".join(repr(n) for n in known)
    raise ValueError(
        f"model must be {listed} (or {CARD_PREFIX}PATH for a model card), got {name!r}"
    )


def model_from_options(model: str, *, d: float, **options) -> Model:
    """Build a model from command-line style options: ``model`` a kind's name (see
    :func:`get`), ``d`` the coupling, ``options`` its parameters (None: not given)."""
    return get(model).from_options(d, options)
