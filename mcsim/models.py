"""The two dipole models of the paper (Sec. 2, Appendix A.1): parameters, width, lifetime.

Units: masses in GeV, the dipole coefficient d in GeV^-1, c*tau in metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .constants import HBARC_GEV_M
from .validate import COUPLING, DELTA, MASS

__all__ = ["DarkDipole", "NeutrinoDipole", "Model", "FLAVOURS", "model_from_options"]

FLAVOURS = ("e", "mu", "tau")


class _Dipole:
    """Shared lifetime and coupling handling; subclasses define ``width`` and the masses."""

    d: float

    @property
    def ctau(self) -> float:
        """Proper decay length c*tau of the long-lived state [m]."""
        return HBARC_GEV_M / self.width

    def with_coupling(self, d: float):
        """The same model at another dipole coefficient d [GeV^-1]."""
        return replace(self, d=d)


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
        return self.d ** 2 * (self.m2 ** 2 - self.m1 ** 2) ** 3 / (2.0 * math.pi * self.m2 ** 3)

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
        return self.d ** 2 * self.m_n ** 3 / (4.0 * math.pi)

    def describe(self) -> dict:
        """Parameters as a flat dict (for metadata)."""
        return {"model": self.kind, "m_n": self.m_n, "d": self.d, "flavour": self.flavour}


Model = DarkDipole | NeutrinoDipole


def model_from_options(model: str, *, d: float, m1: float | None = None,
                       delta: float | None = None, m_n: float | None = None,
                       flavour: str | None = None) -> Model:
    """Build a model from command-line style options; ``model`` is 'dark-dipole' or
    'neutrino-dipole'.  An option of the other model is an error, not ignored."""
    foreign = {DarkDipole.kind: {"m_n": m_n, "flavour": flavour},
               NeutrinoDipole.kind: {"m1": m1, "delta": delta}}.get(model, {})
    given = [name for name, value in foreign.items() if value is not None]
    if given:
        options = ", ".join("--" + name.replace("_", "-") for name in given)
        raise ValueError(f"{options}: not a parameter of the {model} model")
    if model == DarkDipole.kind:
        if m1 is None or delta is None:
            raise ValueError("the dark-dipole model needs m1 (GeV) and delta (> 0)")
        return DarkDipole(m1=m1, delta=delta, d=d)
    if model == NeutrinoDipole.kind:
        if m_n is None or flavour is None:
            raise ValueError("the neutrino-dipole model needs m_n (GeV) and flavour (e, mu, tau)")
        return NeutrinoDipole(m_n=m_n, d=d, flavour=flavour)
    raise ValueError(f"model must be 'dark-dipole' or 'neutrino-dipole', got {model!r}")
