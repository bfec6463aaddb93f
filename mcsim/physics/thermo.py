"""Thermodynamics of the Standard-Model plasma: g_eff(T) (energy) and h_eff(T) (entropy)
degrees of freedom, computed here from the particle content as ideal Bose and Fermi gases.

* Masses from `particle` (PDG); every species in kinetic equilibrium at the photon temperature
  T, except the neutrinos below their decoupling.
* Neutrinos (3 flavours, g = 2 each) decouple at T_NU_DEC = 2 MeV; below it the plasma's and the
  neutrinos' entropies are conserved separately, so (T_nu / T)^3 = h_plasma(T) / h_plasma(T_dec)
  (-> 4/11 after e+ e- annihilation).
* QCD transition: a free quark-gluon plasma (u, d, s, c, b, t with their PDG masses and the
  gluons) above, a hadron resonance gas of the light hadrons (pi, K, eta, rho, omega, K*, eta',
  phi, nucleons) below, joined by w(T) = [1 + tanh((T - T_QCD) / W_QCD)] / 2 with the lattice
  pseudo-critical temperature T_QCD = 155 MeV and width W_QCD = 35 MeV (HotQCD,
  Phys. Lett. B 795 (2019) 15); the interpolation stands in for the lattice equation of state
  (Borsanyi et al., Nature 539 (2016) 69), which it follows to about 10-20% across the crossover.

Tables are built once on a log grid of T (1e-5 to 1e3 GeV) and interpolated in log T.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from mcsim.physics.particles import sm

__all__ = ["T_NU_DEC", "T_QCD", "W_QCD", "g_eff", "g_star_half", "h_eff"]

T_QCD = 0.155  #: QCD pseudo-critical temperature [GeV]
W_QCD = 0.035  #: width of the interpolation across the transition [GeV]
T_NU_DEC = 2e-3  #: neutrino decoupling temperature [GeV]

# (PDG ID, internal degrees of freedom incl. antiparticle and colour, fermion?)
_LEPTONS_BOSONS = (
    (22, 2, False),
    (11, 4, True),
    (13, 4, True),
    (15, 4, True),
    (24, 6, False),
    (23, 3, False),
    (25, 1, False),
)
_QUARKS = (
    (2, 12, True),
    (1, 12, True),
    (3, 12, True),
    (4, 12, True),
    (5, 12, True),
    (6, 12, True),
    (21, 16, False),
)
_HADRONS = (
    (211, 2, False),
    (111, 1, False),
    (321, 4, False),
    (221, 1, False),
    (113, 9, False),
    (223, 3, False),
    (323, 12, False),
    (331, 1, False),
    (333, 3, False),
    (2212, 4, True),
    (2112, 4, True),
)
_GLUON_PDGID = 21

_U = np.linspace(1e-4, 60.0, 6001)  # momentum / T
_GRID = np.geomspace(1e-5, 1e3, 801)  # T [GeV]
_Z_MAX = 100.0  # mass / T above which a species is left out (see _gas)


def _gas(z: np.ndarray, fermion: bool) -> tuple[np.ndarray, np.ndarray]:
    """(rho / T^4, s / T^3) x 2 pi^2 of one internal degree of freedom of mass z T.  Above
    z = _Z_MAX the gas is left out (zero): it is suppressed by exp(-z) < 1e-43, below double
    precision against the photons' g = 2 that every temperature has."""
    rho, ent = np.zeros(z.size), np.zeros(z.size)
    live = z < _Z_MAX
    e = np.sqrt(_U[None, :] ** 2 + z[live, None] ** 2)
    occ = 1.0 / (np.exp(e) + (1.0 if fermion else -1.0))
    rho[live] = np.trapezoid(_U**2 * e * occ, _U, axis=1)
    ent[live] = rho[live] + np.trapezoid(_U**4 / e * occ, _U, axis=1) / 3.0
    return rho, ent


def _sum(species, temps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(g_eff, h_eff) of a list of species at temperatures temps [GeV]."""
    g, h = np.zeros(temps.size), np.zeros(temps.size)
    for pdgid, dof, fermion in species:
        mass = 0.0 if pdgid in (22, _GLUON_PDGID) else sm(pdgid).mass
        rho, ent = _gas(mass / temps, fermion)
        g += dof * rho * 15.0 / math.pi**4  # 30 rho / (pi^2 T^4)
        h += dof * ent * 45.0 / (4.0 * math.pi**4)  # 45 s / (2 pi^2 T^3)
    return g, h


@lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray]:
    t = _GRID
    g_em, h_em = _sum(_LEPTONS_BOSONS, t)
    g_qgp, h_qgp = _sum(_QUARKS, t)
    g_hrg, h_hrg = _sum(_HADRONS, t)
    w = 0.5 * (1.0 + np.tanh((t - T_QCD) / W_QCD))
    g_plasma = g_em + w * g_qgp + (1.0 - w) * g_hrg
    h_plasma = h_em + w * h_qgp + (1.0 - w) * h_hrg
    h_dec = float(np.interp(math.log(T_NU_DEC), np.log(t), h_plasma))
    ratio3 = np.where(t < T_NU_DEC, h_plasma / h_dec, 1.0)  # (T_nu / T)^3
    nu = 7.0 / 8.0 * 6.0
    return (g_plasma + nu * ratio3 ** (4.0 / 3.0), h_plasma + nu * ratio3)


def _interp(temp, table: np.ndarray):
    return np.interp(np.log(temp), np.log(_GRID), table)


def g_eff(temp):
    """Energy-density degrees of freedom g_eff(T) = 30 rho / (pi^2 T^4), T [GeV]."""
    return _interp(temp, _tables()[0])


def h_eff(temp):
    """Entropy degrees of freedom h_eff(T) = 45 s / (2 pi^2 T^3), T [GeV]."""
    return _interp(temp, _tables()[1])


@lru_cache(maxsize=1)
def _g_star_half_table() -> np.ndarray:
    g, h = _tables()
    dlnh = np.gradient(np.log(h), np.log(_GRID))
    return h / np.sqrt(g) * (1.0 + dlnh / 3.0)


def g_star_half(temp):
    """g_*^(1/2) = (h_eff / sqrt(g_eff)) (1 + (1/3) dln h_eff / dln T) of the freeze-out
    equation (Gondolo & Gelmini, Nucl. Phys. B 360 (1991) 145)."""
    return _interp(temp, _g_star_half_table())
