"""Production channels of the long-lived state in meson decays (paper Sec. 4.1, Appendix A.2-A.4).

For a model, :func:`channels` lists every channel the paper considers, open or closed, with its
branching ratio at the model's coupling; :func:`decay_mothers` produces decays event by event.

Channel kinds:
  ``vector``  V -> chi1 chi2 (or N nu), Eq. (A.2), two-body (the paper's rho, omega, phi, J/psi,
              Upsilon(1S), and the excited quarkonia psi(2S), Upsilon(2S), Upsilon(3S));
  ``anomaly`` P0 -> gamma chi1 chi2 (or gamma N nu), Eq. (A.4), three-body;
  ``charged`` P+ -> l+ N gamma, Eq. (A.7), three-body (neutrino model only);
  ``flat-photon``, ``flat-lepton``  M -> gamma (or l) + invisible + LLP with flat phase space
              (model cards, :mod:`mcsim.models.card`; the invisible state massless with a lepton).
A model lists its channels (``model.channels()``); :func:`dipole_channels` builds those of the
two dipole models.
Neutrino model: widths follow from the dark ones with M1 -> 0, M2 -> M_N, d -> d/sqrt(2), and the
N-bar channel doubles them (so the sum N + N-bar equals the dark formula at d).  In charged decays,
P+ gives N and P- gives N-bar with equal width; the BR quoted is per meson of either charge.
Widths of three-body channels are integrated once per mass point (cached).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mcsim.models.registry import Model
from mcsim.physics import dalitz
from mcsim.physics.constants import ALPHA, E_CHARGE_SQ, G_F, INPUTS
from mcsim.physics.kinematics import decay_to_llp, decay_two_body, kallen
from mcsim.physics.particles import LEPTON_PDGID, sm

__all__ = [
    "CHARGED_PSEUDOSCALARS",
    "KINDS",
    "NEUTRAL_PSEUDOSCALARS",
    "VECTORS",
    "Channel",
    "channels",
    "decay_mothers",
    "dipole_channels",
    "llp_decay",
    "open_channels",
    "two_photon_width",
    "vector_decay_constant",
]

VECTORS = (113, 223, 333, 443, 553, 100443, 100553, 200553)
NEUTRAL_PSEUDOSCALARS = (111, 221, 331)
CHARGED_PSEUDOSCALARS = (321, 411, 431, 521)
_PHASE_SPACE = 1.0 / (32.0 * (2.0 * math.pi) ** 3)  # Eq. (A.5) without 1/M_P^3

#: Channel kinds -> the three-body sampler of :mod:`mcsim.physics.dalitz` (None: two-body).
KINDS = {
    "vector": None,
    "two-body": None,
    "anomaly": dalitz.ANOMALY,
    "charged": dalitz.CHARGED,
    "flat-photon": dalitz.FLAT_PHOTON,
    "flat-lepton": dalitz.FLAT_LEPTON,
}


@dataclass(frozen=True)
class Channel:
    """One production channel of the long-lived state.

    mother: PDG ID of the decaying meson (the positive one for charged mesons);
    kind: 'vector', 'anomaly' or 'charged'; products: names of the final state in the order of
    :func:`decay_mothers`; masses: (m_x, m_y) of the channel's matrix element in GeV
    ((M1, M2) for vector/anomaly, (M_l, M_N) for charged); width: partial width [GeV] summed over
    N and N-bar where both occur; br: width / Gamma_total(mother), 0.0 when closed.
    """

    mother: int
    name: str
    kind: str
    products: tuple[str, ...]
    mother_mass: float
    masses: tuple[float, float]
    is_open: bool
    width: float
    br: float

    @property
    def rate(self) -> float:
        """The BR: what multiplies the meson source's exposure N_M."""
        return self.br

    @property
    def llp_momentum_max(self) -> float:
        """Largest LLP momentum [GeV] in the mother's rest frame (the other daughters at their
        smallest invariant mass, masses[0] + a massless photon where there is one)."""
        m, (m_x, m_llp) = self.mother_mass, self.masses
        return math.sqrt(max(kallen(m * m, m_llp * m_llp, m_x * m_x), 0.0)) / (2.0 * m)


def vector_decay_constant(pdgid: int) -> float:
    """f_V [GeV] from f_V^2 = 3 M_V Gamma_ee / (4 pi alpha^2 Q_eff^2), Gamma_ee = BR_ee x Gamma_V."""
    v = sm(pdgid)
    par = INPUTS["vector_mesons"][pdgid]
    gamma_ee = par["BR_ee"] * v.width
    return math.sqrt(3.0 * v.mass * gamma_ee / (4.0 * math.pi * ALPHA**2 * par["Q_eff"] ** 2))


def _vector_width_per_d2(pdgid: int, m1: float, m2: float) -> float:
    """Gamma(V -> chi1 chi2) / d^2 [GeV^3], Eq. (A.2)."""
    mv = sm(pdgid).mass
    q_eff = INPUTS["vector_mesons"][pdgid]["Q_eff"]
    if m1 + m2 >= mv:
        return 0.0
    r_minus = (m2 - m1) ** 2 / mv**2
    r_plus = (m1 + m2) ** 2 / mv**2
    return (
        E_CHARGE_SQ
        * q_eff**2
        * vector_decay_constant(pdgid) ** 2
        * mv
        / (6.0 * math.pi)
        * (1.0 - r_minus) ** 1.5
        * (1.0 + 2.0 * r_plus)
        * (1.0 - r_plus) ** 0.5
    )


def two_photon_width(pdgid: int, f_p: float) -> float:
    """Gamma(P0 -> gamma gamma) = alpha^2 M^3 / (64 pi^3 F^2) [GeV] (paper A.3)."""
    mp = sm(pdgid).mass
    return ALPHA**2 * mp**3 / (64.0 * math.pi**3 * f_p**2)


@lru_cache(maxsize=4096)
def _anomaly_br_per_d2(pdgid: int, m1: float, m2: float) -> float:
    """BR(P0 -> gamma chi1 chi2) / d^2 [GeV^2]: Eq. (A.4)-(A.5) over Gamma_gg, times BR_gg (PDG)."""
    mp = sm(pdgid).mass
    if m1 + m2 >= mp:
        return 0.0
    f_ref = 1.0  # F_P cancels in the ratio Gamma_A4 / Gamma_gg
    width = (
        E_CHARGE_SQ**2
        / (4.0 * math.pi**4 * f_ref**2)
        * _PHASE_SPACE
        / mp**3
        * dalitz.phase_space_integral(dalitz.ANOMALY, mp, m1, m2)
    )
    return (
        width / two_photon_width(pdgid, f_ref) * INPUTS["pseudoscalar_two_photon"][pdgid]["BR_gg"]
    )


@lru_cache(maxsize=4096)
def _charged_width_per_d2(pdgid: int, ml: float, mn: float) -> float:
    """Gamma(P+ -> l+ N gamma) / d^2 [GeV^3], Eq. (A.7) integrated as in Eq. (A.5)."""
    mp = sm(pdgid).mass
    if ml + mn >= mp:
        return 0.0
    par = INPUTS["charged_pseudoscalars"][pdgid]
    pref = 16.0 * G_F**2 * par["f_P"] ** 2 * par["V_CKM"] ** 2
    return pref * _PHASE_SPACE / mp**3 * dalitz.phase_space_integral(dalitz.CHARGED, mp, ml, mn)


def _dark_masses(model: Model) -> tuple[float, float]:
    """(lighter, heavier) dark masses entering Eqs. (A.2) and (A.4)."""
    return model.invisible_mass, model.llp_mass


def _make(
    model: Model, mother: int, kind: str, label: str, products, masses, width: float
) -> Channel:
    info = sm(mother)
    is_open = width > 0.0
    return Channel(
        mother=mother,
        name=f"{info.name} -> {label}",
        kind=kind,
        products=tuple(products),
        mother_mass=info.mass,
        masses=masses,
        is_open=is_open,
        width=width,
        br=width / info.width if is_open else 0.0,
    )


def channels(model: Model) -> list[Channel]:
    """Every production channel of ``model``, open or closed, with its BR at its coupling."""
    return model.channels()


def dipole_channels(model: Model, pair: str, flavour: str | None = None) -> list[Channel]:
    """Every production channel of the paper for a dipole model, open or closed, with its BR
    at d: ``pair`` names its dark pair in the channel names; charged-meson channels
    P+ -> l+ N gamma of the lepton ``flavour`` where given (the neutrino dipole)."""
    m_light, m_heavy = _dark_masses(model)
    d2 = model.d**2
    out = []
    for v in VECTORS:
        w = d2 * _vector_width_per_d2(v, m_light, m_heavy)
        out.append(_make(model, v, "vector", pair, ("invisible", "llp"), (m_light, m_heavy), w))
    for p in NEUTRAL_PSEUDOSCALARS:
        w = d2 * _anomaly_br_per_d2(p, m_light, m_heavy) * sm(p).width
        out.append(
            _make(
                model,
                p,
                "anomaly",
                "gamma " + pair,
                ("photon", "invisible", "llp"),
                (m_light, m_heavy),
                w,
            )
        )
    if flavour is not None:
        lep = sm(LEPTON_PDGID[flavour])
        for p in CHARGED_PSEUDOSCALARS:
            w = d2 * _charged_width_per_d2(p, lep.mass, m_heavy)
            out.append(
                _make(
                    model,
                    p,
                    "charged",
                    f"{flavour}+ N gamma",
                    ("lepton", "photon", "llp"),
                    (lep.mass, m_heavy),
                    w,
                )
            )
    return out


def open_channels(model: Model) -> list[Channel]:
    """The kinematically open channels of ``model``."""
    return [c for c in channels(model) if c.is_open]


@lru_cache(maxsize=1024)
def _envelope(kind: int, mp: float, m_x: float, m_y: float) -> np.ndarray:
    bounds = dalitz.envelope(kind, mp, m_x, m_y)
    bounds.flags.writeable = False
    return bounds


def decay_mothers(
    channel: Channel, mothers: np.ndarray, rng: np.random.Generator, window: float = 0.0
) -> dict[str, np.ndarray]:
    """Decay mothers (n, 4) [GeV] through ``channel``; returns {product name: (n, 4) array} and
    'weight' (n,): the importance weights of directed sampling (1 for plain).

    Product names: 'llp' (chi2 or N), 'invisible' (chi1 or nu), 'photon' (prompt photon of a
    three-body decay), 'lepton' (charged lepton).  ``window`` [rad] > 0 directs the LLP into the
    cone of that half-angle about the beam axis (+z) with the exact weights of
    :mod:`mcsim.physics.directed`; 0 samples it isotropically in the mother's rest frame.  Raises
    ValueError for a closed channel.
    """
    if not channel.is_open:
        raise ValueError(f"channel {channel.name!r} is closed by kinematics for these masses")
    if not 0.0 <= window <= math.pi:
        raise ValueError(f"window must be an angle in [0, pi] rad, got {window!r}")
    one_minus_cos_w = 2.0 * math.sin(0.5 * window) ** 2
    mothers = np.ascontiguousarray(mothers, dtype=np.float64)
    m_x, m_y = channel.masses
    kind = KINDS[channel.kind]
    if kind is None:
        inv, llp, weight = decay_to_llp(
            mothers, channel.mother_mass, m_x, m_y, one_minus_cos_w, rng
        )
        return {"invisible": inv, "llp": llp, "weight": weight}
    bounds = _envelope(kind, channel.mother_mass, m_x, m_y)
    pa, pb, pc, weight, overflow = dalitz.generate_three_body(
        mothers, kind, channel.mother_mass, m_x, m_y, bounds, rng, one_minus_cos_w
    )
    if overflow:
        raise RuntimeError(f"{channel.name}: |M|^2 exceeded the sampling bound {overflow} times")
    return {**dict(zip(channel.products, (pa, pb, pc))), "weight": weight}


def llp_decay(model: Model, llp: np.ndarray, rng: np.random.Generator):
    """chi2 -> chi1 gamma (or N -> nu gamma), isotropic in the rest frame, for llp (n, 4) [GeV].

    Returns (invisible, photon), each (n, 4).
    """
    llp = np.ascontiguousarray(llp, dtype=np.float64)
    photon, invisible = decay_two_body(llp, model.llp_mass, 0.0, model.invisible_mass, rng)
    return invisible, photon
