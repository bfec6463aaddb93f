"""The two dipole models of the paper (Sec. 2, Appendix A.1): parameters, width, lifetime,
and their registration as model kinds (:mod:`mcsim.models.registry`).

Units: masses in GeV, the dipole coefficient d in GeV^-1, c*tau in metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, ClassVar, cast

from mcsim.models.registry import Model, ModelKind, Parameter, Particles, model_from_options
from mcsim.physics.constants import HBARC_GEV_M
from mcsim.runtime.validate import COUPLING, DELTA, MASS

__all__ = [
    "FLAVOURS",
    "PDG_CHI1",
    "PDG_CHI2",
    "PDG_N",
    "DarkDipole",
    "Model",
    "NeutrinoDipole",
    "model_from_options",
]

FLAVOURS = ("e", "mu", "tau")
#: PDG IDs: chi1 = 52 (the PDG code of fermionic dark matter), chi2 and N in the 99xxxxx range
#: of new states (as in PYTHIA's HNL); unknown to Geant4: treat them as invisible.
PDG_CHI1 = 52
PDG_CHI2 = 9900052
PDG_N = 9900012
_NU = {"e": 12, "mu": 14, "tau": 16}
_LEPTON = {"e": 11, "mu": 13, "tau": 15}


class _Dipole:
    """Shared lifetime and coupling handling; subclasses define ``width`` and the masses."""

    d: float
    pair_label: ClassVar[str]  # the dark pair in channel names
    __dataclass_fields__: ClassVar[dict[str, Any]]  # the subclasses are dataclasses
    #: BR and width scale as d^2 (the re-weighting power of the reach scans).
    coupling_power = 2.0
    coupling_unit = "GeV^-1"

    @property
    def width(self) -> float:
        """Width of the long-lived state [GeV] (each subclass's own)."""
        raise NotImplementedError

    @property
    def ctau(self) -> float:
        """Proper decay length c*tau of the long-lived state [m]."""
        return HBARC_GEV_M / self.width

    def with_coupling(self, d: float):
        """The same model at another dipole coefficient d [GeV^-1]."""
        return replace(self, d=d)

    def channels(self) -> list:
        """Every meson-decay channel of the paper, open or closed (:mod:`mcsim.models.channels`)."""
        from mcsim.models.channels import dipole_channels  # numba kernels: only when asked

        model = cast(Model, self)  # every subclass answers the protocol
        return dipole_channels(model, self.pair_label, getattr(self, "flavour", None))


@dataclass(frozen=True)
class DarkDipole(_Dipole):
    """Dark-dark dipole d chi2bar sigma chi1 F (Eq. 2.1): Majorana chi1, chi2, M2 = M1 (1 + delta).

    m1: mass of chi1 [GeV]; delta: relative splitting (M2 - M1)/M1; d: dipole coefficient [GeV^-1].
    The long-lived state is chi2, the invisible partner chi1.
    """

    m1: float
    delta: float
    d: float

    kind = "dark-dipole"
    dirac = False  # chi2 is Majorana
    #: the sources that make it: meson decays, and e+ e- -> gamma chi1 chi2 through the dipole
    productions = ("mesons", "e+e-")
    pair_label = "chi1 chi2"

    def __post_init__(self):
        object.__setattr__(self, "m1", MASS.check("m1", self.m1))
        object.__setattr__(self, "delta", DELTA.check("delta", self.delta))
        object.__setattr__(self, "d", COUPLING.check("d", self.d))

    @property
    def m2(self) -> float:
        """Mass of chi2 [GeV]."""
        return self.m1 * (1.0 + self.delta)

    @property
    def llp_mass(self) -> float:
        """Mass of the long-lived state chi2 [GeV]."""
        return self.m2

    @property
    def invisible_mass(self) -> float:
        """Mass of the invisible state chi1, produced with chi2 and in its decay [GeV]."""
        return self.m1

    @property
    def width(self) -> float:
        """Gamma(chi2 -> chi1 gamma) = d^2 (M2^2 - M1^2)^3 / (2 pi M2^3) [GeV] (Eq. A.1)."""
        return self.d**2 * (self.m2**2 - self.m1**2) ** 3 / (2.0 * math.pi * self.m2**3)

    @property
    def particles(self) -> Particles:
        """chi2 -> chi1 gamma, produced with chi1 (Majorana: no antiparticles)."""
        return Particles(llp=PDG_CHI2, partner=PDG_CHI1, decay=(PDG_CHI1, 22))

    def describe(self) -> dict:
        """Parameters as a flat dict (for metadata)."""
        return {"model": self.kind, "m1": self.m1, "delta": self.delta, "d": self.d}


@dataclass(frozen=True)
class NeutrinoDipole(_Dipole):
    """Active-sterile dipole d_i nubar_i sigma N F (Eq. 2.3) with a Dirac N; N and N-bar both count.

    m_n: mass of N [GeV]; d: dipole coefficient d_i [GeV^-1]; flavour: 'e', 'mu' or 'tau'.
    """

    m_n: float
    d: float
    flavour: str

    kind = "neutrino-dipole"
    dirac = True  # N and N-bar
    productions = ("mesons",)
    pair_label = "N nu (+ N-bar nu-bar)"

    def __post_init__(self):
        object.__setattr__(self, "m_n", MASS.check("m_n", self.m_n))
        object.__setattr__(self, "d", COUPLING.check("d", self.d))
        if self.flavour not in FLAVOURS:
            raise ValueError(f"flavour must be one of {', '.join(FLAVOURS)}, got {self.flavour!r}")

    @property
    def llp_mass(self) -> float:
        """Mass of the long-lived state N [GeV]."""
        return self.m_n

    @property
    def invisible_mass(self) -> float:
        """Mass of the active neutrino [GeV] (massless)."""
        return 0.0

    @property
    def width(self) -> float:
        """Gamma(N -> nu gamma) = d^2 M_N^3 / (4 pi) [GeV] (Eq. A.1); the same for N-bar."""
        return self.d**2 * self.m_n**3 / (4.0 * math.pi)

    @property
    def particles(self) -> Particles:
        """N -> nu gamma, produced with nu-bar (P0 -> N nu-bar) or with l+ (P+ -> l+ N gamma);
        N-bar events conjugate every code."""
        nu = _NU[self.flavour]
        return Particles(llp=PDG_N, partner=-nu, decay=(nu, 22), lepton=_LEPTON[self.flavour])

    def describe(self) -> dict:
        """Parameters as a flat dict (for metadata)."""
        return {"model": self.kind, "m_n": self.m_n, "d": self.d, "flavour": self.flavour}


def _relic_line(masses, delta: float):
    """The thermal-relic line of the dark dipole (:mod:`mcsim.models.relic`)."""
    from mcsim.models.relic import relic_line  # scipy and numba: only for the relic line

    return relic_line(masses, delta)


#: The dark dipole as a model kind (entry point ``dark-dipole``).
DARK_DIPOLE = ModelKind(
    name=DarkDipole.kind,
    summary="chi2 -> chi1 gamma",
    parameters=(
        Parameter("m1", "chi1 mass [GeV]", range=MASS),
        Parameter(
            "delta",
            "relative splitting (M2 - M1)/M1, dimensionless",
            range=DELTA,
            scan_default=0.1,
        ),
    ),
    build=lambda d, m1, delta: DarkDipole(m1=m1, delta=delta, d=d),
    mass_parameter="m1",
    mass_label="M1 [GeV]",
    coupling_label="d [GeV^-1]",
    coupling_range=(1e-8, 1e-2),
    family_name=lambda fixed: f"dark dipole, delta = {fixed['delta']:g}",
    relic=lambda masses, fixed: _relic_line(masses, fixed["delta"]),
)

#: The neutrino dipole as a model kind (entry point ``neutrino-dipole``).
NEUTRINO_DIPOLE = ModelKind(
    name=NeutrinoDipole.kind,
    summary="N -> nu gamma",
    parameters=(
        Parameter("m_n", "N mass [GeV]", range=MASS),
        Parameter("flavour", "active flavour (e, mu, tau)", choices=FLAVOURS, scan_default="mu"),
    ),
    build=lambda d, m_n, flavour: NeutrinoDipole(m_n=m_n, d=d, flavour=flavour),
    mass_parameter="m_n",
    mass_label="M_N [GeV]",
    coupling_label="d [GeV^-1]",
    coupling_range=(1e-9, 1e-3),
    family_name=lambda fixed: f"neutrino dipole, flavour {fixed['flavour']}",
)
