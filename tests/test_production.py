"""Production widths and branching ratios against spec/physics-inputs.md and the paper's limits."""

import math

import numpy as np
import pytest

from mcsim.models.channels import (
    CHARGED_PSEUDOSCALARS,
    VECTORS,
    channels,
    open_channels,
    two_photon_width,
    vector_decay_constant,
)
from mcsim.models.dipoles import DarkDipole, NeutrinoDipole
from mcsim.physics.constants import ALPHA
from mcsim.physics.particles import sm


def _by_mother(model):
    return {c.mother: c for c in channels(model)}


def test_pi0_two_photon_width_reference():
    assert two_photon_width(111, 0.092) == pytest.approx(7.80e-9, rel=2e-3)


@pytest.mark.parametrize("pdgid", [111, 221, 331])
def test_anomaly_massless_limit(pdgid):
    """Gamma(P -> gamma chi1 chi2)/Gamma(P -> gamma gamma) -> d^2 M_P^2/(12 pi^2), to 0.1 %."""
    d = 1.0
    chan = _by_mother(DarkDipole(1e-4, 0.1, d))[pdgid]
    mp = sm(pdgid).mass
    from mcsim.physics.constants import INPUTS

    br_gg = INPUTS["pseudoscalar_two_photon"][pdgid]["BR_gg"]
    ratio = chan.br / br_gg
    assert ratio == pytest.approx(d**2 * mp**2 / (12 * math.pi**2), rel=1e-3)


def test_pi0_anomaly_mass_effect_reference():
    """At M1 = 0.01 GeV, delta = 0.1 the ratio is 1.082 x the massless limit."""
    mp = sm(111).mass
    from mcsim.physics.constants import INPUTS

    br_gg = INPUTS["pseudoscalar_two_photon"][111]["BR_gg"]
    chan = _by_mother(DarkDipole(0.01, 0.1, 1.0))[111]
    assert chan.br / br_gg / (mp**2 / (12 * math.pi**2)) == pytest.approx(1.082, abs=5e-4)


def test_pi0_branching_ratio_reference():
    """BR(pi0 -> gamma chi1 chi2) = 1.30e-4 d^2 at M1 = 0.02 GeV, delta = 0.1."""
    for d in (1e-3, 1.0):
        chan = _by_mother(DarkDipole(0.02, 0.1, d))[111]
        assert chan.br / d**2 == pytest.approx(1.30e-4, rel=5e-3)


@pytest.mark.parametrize(
    "pdgid, ref", [(113, 6.2e-4), (223, 9.9e-4), (333, 6.8e-3), (443, 12.5), (553, 46.0)]
)
def test_vector_massless_limit_reference(pdgid, ref):
    chan = _by_mother(DarkDipole(1e-6, 0.1, 1.0))[pdgid]
    assert chan.br == pytest.approx(ref, rel=1e-2)


@pytest.mark.parametrize(
    "pdgid, f_sheet", [(113, 0.221), (223, 0.201), (333, 0.229), (443, 0.416), (553, 0.715)]
)
def test_vector_decay_constants_close_to_sheet(pdgid, f_sheet):
    """f_V derived from PDG Gamma_ee agrees with the sheet's values (Upsilon: PDG BR_ee vs
    Gamma_ee/Gamma differ by 4%, hence 2.5% here)."""
    assert vector_decay_constant(pdgid) == pytest.approx(f_sheet, rel=2.5e-2)


def test_vector_massless_equals_br_ee_formula():
    """BR(V -> chi chi)/d^2 = BR(V -> ee) M_V^2 / (2 pi alpha) exactly in the massless limit."""
    from mcsim.physics.constants import INPUTS

    for v in VECTORS:
        chan = _by_mother(DarkDipole(1e-6, 0.1, 1.0))[v]
        ref = INPUTS["vector_mesons"][v]["BR_ee"] * sm(v).mass ** 2 / (2 * math.pi * ALPHA)
        assert chan.br == pytest.approx(ref, rel=1e-6)


def test_neutrino_substitution_matches_dark_formula():
    """A.2: neutrino widths = dark ones with M1 -> 0, M2 -> M_N, d -> d/sqrt2, times 2 (N-bar)."""
    m_n, d = 0.3, 1e-6
    nu = _by_mother(NeutrinoDipole(m_n, d, "e"))
    # dark model with a vanishing lighter mass and M2 = M_N: M1 -> 0 means delta -> inf with M2
    # fixed; corrections are O(M1 / M_N) = 3e-6
    m1 = 1e-6
    dark = _by_mother(DarkDipole(m1, m_n / m1 - 1.0, d / math.sqrt(2)))
    for pdgid in (113, 223, 333, 443, 553, 100443, 100553, 200553, 221, 331):
        assert nu[pdgid].br == pytest.approx(2.0 * dark[pdgid].br, rel=1e-5)


#: BR(V -> e+ e-) of the excited quarkonia, PDG 2024 summary tables (Phys. Rev. D 110 (2024) 030001).
PDG_BR_EE = {100443: 7.94e-3, 100553: 1.91e-2, 200553: 2.18e-2}


@pytest.mark.parametrize("pdgid", sorted(PDG_BR_EE))
def test_excited_quarkonium_massless_limit_from_pdg(pdgid):
    """psi(2S), Upsilon(2S), Upsilon(3S): BR(V -> chi1 chi2)/d^2 -> BR(V -> ee) M_V^2/(2 pi alpha)
    (spec/physics-inputs.md), with the PDG BR_ee typed in here; both models."""
    mv = sm(pdgid).mass
    ref = PDG_BR_EE[pdgid] * mv**2 / (2 * math.pi * ALPHA)
    for d in (1e-6, 1.0):
        dark = _by_mother(DarkDipole(1e-6, 0.1, d))[pdgid]
        assert dark.kind == "vector" and dark.products == ("invisible", "llp")
        assert dark.br / d**2 == pytest.approx(ref, rel=1e-6)
        nu = _by_mother(NeutrinoDipole(1e-5, d, "tau"))[pdgid]  # N nu + N-bar nu-bar
        assert nu.br / d**2 == pytest.approx(ref, rel=1e-6)
    assert {100443: "psi(2S)", 100553: "Upsilon(2S)", 200553: "Upsilon(3S)"}[pdgid] in dark.name


def test_excited_quarkonia_open_and_close_with_their_own_mass():
    """M1 + M2 between M(J/psi) and M(psi(2S)): only psi(2S) of the charmonia is open; likewise
    for the Upsilons; the width vanishes at threshold like beta (A.2)."""
    chans = _by_mother(DarkDipole(1.75, 0.1, 1e-4))  # M1 + M2 = 3.675 GeV
    assert not chans[443].is_open and chans[443].br == 0.0
    assert chans[100443].is_open and chans[100443].br > 0.0
    assert not _by_mother(DarkDipole(1.76, 0.1, 1e-4))[100443].is_open  # 3.696 > 3.686 GeV
    chans = _by_mother(DarkDipole(4.9, 0.1, 1e-4))  # M1 + M2 = 10.29 GeV
    assert [chans[v].is_open for v in (553, 100553, 200553)] == [False, False, True]
    nu = _by_mother(NeutrinoDipole(10.0, 1e-6, "e"))  # M_N = 10 GeV: only Upsilon(2S, 3S)
    assert [nu[v].is_open for v in (553, 100553, 200553)] == [False, True, True]


def test_branching_ratio_scales_with_d_squared():
    a = _by_mother(NeutrinoDipole(0.2, 1e-6, "mu"))
    b = _by_mother(NeutrinoDipole(0.2, 3e-6, "mu"))
    for k in a:
        assert b[k].br == pytest.approx(9.0 * a[k].br, rel=1e-12)


def test_closed_channels_report_zero_not_nan():
    # M1 + M2 = 2.1 GeV: pi0, eta, eta', rho, omega, phi closed; J/psi and Upsilon open
    chans = _by_mother(DarkDipole(1.0, 0.1, 1e-4))
    for pdgid in (111, 221, 331, 113, 223, 333):
        assert chans[pdgid].is_open is False and chans[pdgid].br == 0.0
    for pdgid in (443, 553):
        assert chans[pdgid].is_open and chans[pdgid].br > 0.0
    for c in chans.values():
        assert not math.isnan(c.br)


def test_charged_channels_open_and_closed_by_flavour():
    tau = _by_mother(NeutrinoDipole(0.15, 1e-6, "tau"))
    assert not tau[321].is_open and tau[321].br == 0.0  # K -> tau closed
    assert not tau[411].is_open  # D+: 1.870 < 1.777 + 0.15
    assert tau[431].is_open and tau[521].is_open  # Ds, B -> tau N gamma open
    mu = _by_mother(NeutrinoDipole(0.15, 1e-6, "mu"))
    assert all(mu[p].is_open for p in CHARGED_PSEUDOSCALARS)
    assert mu[321].name == "K+ -> mu+ N gamma"
    dark = _by_mother(DarkDipole(0.1, 0.1, 1e-4))
    assert not any(p in dark for p in CHARGED_PSEUDOSCALARS)  # no charged channels for chi


def test_charged_width_grows_logarithmically_as_mn_vanishes():
    """The virtual neutrino gives a collinear 1/m13^2 enhancement: Gamma ~ log(1/M_N^2)."""
    widths = [_by_mother(NeutrinoDipole(m, 1e-6, "mu"))[321].width for m in (1e-3, 1e-4, 1e-5)]
    steps = np.diff(widths)
    assert np.all(steps > 0.0)
    assert steps[1] == pytest.approx(steps[0], rel=0.05)  # equal steps per decade of M_N


def test_open_channels_subset():
    m = NeutrinoDipole(0.5, 1e-6, "e")
    names = {c.name for c in open_channels(m)}
    assert "pi0 -> gamma N nu (+ N-bar nu-bar)" not in names
    assert "K+ -> e+ N gamma" not in names  # 0.4937 < 0.5 + m_e
    assert "D(s)+ -> e+ N gamma" in names


# ------------------------------------------------ absolute width of P+ -> l+ N gamma (A.5, A.7)


def _paper_a7(m12sq, m23sq, mp, ml, mn, pref):
    """|M|^2 of the paper's Eq. (A.7), P+ -> gamma(1) l+(2) N(3), transcribed term by term."""
    mp2, ml2, mn2 = mp**2, ml**2, mn**2
    bracket = (
        m12sq**3
        - m12sq**2 * (2 * mp2 + 2 * mn2 + ml2 - 2 * m23sq)
        + m12sq
        * (mn2**2 + 2 * mn2 * (mp2 + ml2 - m23sq) + m23sq**2 - m23sq * (2 * mp2 + ml2) + mp2**2)
        + ml2 * (-(mn2**2) - mp2 * (mn2 - ml2 + m23sq) + mn2 * m23sq + mp2**2)
    )
    return pref / (mp2 + ml2 + mn2 - m23sq - m12sq) ** 2 * (mp2 + ml2 - m12sq - m23sq) * bracket


def _width_a5_by_quadrature(pdgid, ml, mn, d):
    """Eq. (A.5) with A.7 by nested adaptive quadrature (scipy.integrate.quad), in the variables
    (m13^2, m12^2): m23^2 = M^2 + M_l^2 + M_N^2 - m12^2 - m13^2 has unit Jacobian.  The outer
    integral runs over log m13^2 (the 1/m13^4 of the virtual neutrino); the m12^2 range at fixed
    m13^2 is the textbook Dalitz boundary in the rest frame of (1, 3) (PDG kinematics review)."""
    from scipy.integrate import quad

    from mcsim.physics.constants import G_F, INPUTS

    par = INPUTS["charged_pseudoscalars"][pdgid]
    mp = sm(pdgid).mass
    pref = 16 * d**2 * G_F**2 * par["f_P"] ** 2 * par["V_CKM"] ** 2
    total = mp**2 + ml**2 + mn**2

    def m12_range(s13):
        e1 = (s13 - mn**2) / (2 * math.sqrt(s13))  # photon energy, (13) rest frame
        e2 = (mp**2 - s13 - ml**2) / (2 * math.sqrt(s13))  # lepton energy, same frame
        p2 = math.sqrt(max(e2**2 - ml**2, 0.0))
        return ml**2 + 2 * e1 * (e2 - p2), ml**2 + 2 * e1 * (e2 + p2)

    def inner(log_s13):
        s13 = math.exp(log_s13)
        lo, hi = m12_range(s13)
        val, _ = quad(
            lambda s12: _paper_a7(s12, total - s12 - s13, mp, ml, mn, pref),
            lo,
            hi,
            epsabs=0.0,
            epsrel=1e-11,
            limit=200,
        )
        return val * s13

    integral, _ = quad(
        inner, math.log(mn**2), math.log((mp - ml) ** 2), epsabs=0.0, epsrel=1e-10, limit=400
    )
    return integral / ((2 * math.pi) ** 3 * 32 * mp**3)


@pytest.mark.parametrize("pdgid, m_n", [(321, 0.1), (321, 0.3), (431, 0.5), (431, 1.5)])
def test_charged_width_absolute_against_independent_quadrature(pdgid, m_n):
    """Gamma(P+ -> mu+ N gamma) of mcsim equals Eqs. (A.5, A.7) integrated here by scipy's
    adaptive quadrature (own transcription of A.7, own Dalitz limits), to 1e-3."""
    d = 1e-6
    chan = _by_mother(NeutrinoDipole(m_n, d, "mu"))[pdgid]
    ref = _width_a5_by_quadrature(pdgid, sm(13).mass, m_n, d)
    assert ref > 0
    assert chan.width == pytest.approx(ref, rel=1e-3)
    assert chan.br == pytest.approx(ref / sm(pdgid).width, rel=1e-3)
