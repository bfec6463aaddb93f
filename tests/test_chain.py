"""The full chain: arrays, normalisation, exact re-weighting against direct generation."""

import math

import numpy as np
import pytest
from references import (
    MASS_TOLERANCE,
    SPEC_DETECTORS,
    brute_force_acceptance,
    mass_shell_violation,
    pull,
)

from mcsim import DarkDipole, NeutrinoDipole
from mcsim.detector.cards import load_detector
from mcsim.detector.propagate import decay_probability
from mcsim.generation.simulate import simulate
from mcsim.io.schema import ARRAYS
from mcsim.models.channels import open_channels
from mcsim.physics.particles import LEPTON_PDGID, sm
from mcsim.sources.mesons import MesonDecays


class Synthetic:
    """Meson source for tests: log-uniform momentum 10-316 GeV, exponential polar angle."""

    N_M = 1e17
    F_PLUS = 0.8

    def sample(self, pdgid, n, rng):
        m = sm(pdgid).mass
        p = 10 ** rng.uniform(1.0, 2.5, n)
        theta = rng.exponential(4e-3, n)
        phi = rng.uniform(0, 2 * np.pi, n)
        return np.column_stack(
            [
                np.sqrt(p**2 + m**2),
                p * np.sin(theta) * np.cos(phi),
                p * np.sin(theta) * np.sin(phi),
                p * np.cos(theta),
            ]
        )

    def produces(self, pdgid):
        return True

    def n_mesons(self, pdgid):
        return self.N_M

    def positive_fraction(self, pdgid):
        return self.F_PLUS


DARK = DarkDipole(m1=0.1, delta=0.1, d=2e-5)  # c tau = 0.45 m
CHANNELS = [113, 223, 221]  # rho, omega (two-body), eta (three-body)


def _sim(model, seed, n=30000, det="na62", **kw):
    return simulate(
        model,
        det,
        n_events=n,
        seed=seed,
        channels=kw.pop("channels", CHANNELS),
        source=MesonDecays(model, load_detector(det), spectra=Synthetic()),
        **kw,
    )


def _sigma(batch):
    return math.sqrt(float(np.sum(batch.arrays["weight"] ** 2)))


def test_arrays_and_metadata():
    batch = _sim(DARK, 1, n=2000)
    n = 3 * 2000
    assert len(batch) == n
    for name, (dtype, width) in ARRAYS.items():
        arr = batch.arrays[name]
        assert arr.dtype == dtype and arr.shape == ((n, width) if width else (n,)), name
    meta = batch.metadata
    assert meta["mother_pdgids"] == CHANNELS and meta["n_generated"] == [2000] * 3
    assert meta["detector"] == "na62:1e18" and meta["mode"] == "full" and meta["seed"] == 1
    assert meta["ctau"] == DARK.ctau and meta["model"] == DARK.describe()
    assert "[decay_volume]" in meta["card_text"]
    a = batch.arrays
    vector = a["channel"] < 2
    assert np.all(a["p4_prompt_photon"][vector] == 0)
    assert np.all(a["p4_lepton"] == 0) and not a["is_antiparticle"].any()
    _assert_conserved_and_on_shell(a, DARK, vector)
    assert batch.expected_events() == pytest.approx(a["weight"].sum())


def _assert_conserved_and_on_shell(a, model, two_body, lepton_mass=0.0):
    """4-momentum conservation through the whole chain (meson -> LLP + partners, LLP -> photon +
    invisible, 1e-9 of the meson energy) and every stored particle on its mass shell (to
    0.5 MeV on the mass itself): a three-body channel must fill its prompt photon, a charged one
    its lepton, or the meson's 4-momentum is not accounted for."""
    scale = a["p4_meson"][:, :1]
    produced = a["p4_llp"] + a["p4_invisible"] + a["p4_prompt_photon"] + a["p4_lepton"]
    assert np.max(np.abs(produced - a["p4_meson"]) / scale) < 1e-9
    decayed = a["p4_decay_invisible"] + a["p4_photon"]
    assert np.max(np.abs(decayed - a["p4_llp"]) / scale) < 1e-9
    assert mass_shell_violation(a["p4_llp"], model.llp_mass) < MASS_TOLERANCE
    assert mass_shell_violation(a["p4_photon"], 0.0) < MASS_TOLERANCE
    assert mass_shell_violation(a["p4_decay_invisible"], model.invisible_mass) < MASS_TOLERANCE
    assert mass_shell_violation(a["p4_prompt_photon"][~two_body], 0.0) < MASS_TOLERANCE
    charged = a["p4_lepton"][:, 0] != 0
    invisible = a["p4_invisible"][~charged]
    assert mass_shell_violation(invisible, model.invisible_mass) < MASS_TOLERANCE
    if charged.any():
        assert mass_shell_violation(a["p4_lepton"][charged], lepton_mass) < MASS_TOLERANCE


def test_same_seed_same_batch():
    one, two = _sim(DARK, 5, n=3000), _sim(DARK, 5, n=3000)
    for name in ARRAYS:
        np.testing.assert_array_equal(one.arrays[name], two.arrays[name])
    other = _sim(DARK, 6, n=3000)
    assert not np.array_equal(one.arrays["p4_llp"], other.arrays["p4_llp"])


@pytest.mark.parametrize("det", ["na62", "nucal"])
def test_weights_are_the_expected_events_of_explicit_decays(det):
    """Each event's weight against an independent reference for the same kinematics: N_M x BR /
    N_generated (the source's N_M, the channel's BR) times a Monte Carlo integral of the
    exponential decay density exp(-s/lam)/lam, lam = |p|/m c*tau, over the decay positions
    inside the paper's decay volume whose photon, above the paper's threshold, hits the
    calorimeter face, times the paper's efficiency (NuCal 70%) -- geometry and numbers typed
    from the paper, tested in plain numpy.  A weight off by a factor 2, without the efficiency,
    without the boost (lam = c*tau) or at half the lifetime is rejected."""
    n = 10_000
    spec = SPEC_DETECTORS[det]
    batch = _sim(DARK, 2, n=n, det=det)
    a = batch.arrays
    assert np.array_equal(a["above_threshold"], a["p4_photon"][:, 0] > spec.e_min)
    br = {c.mother: c.br for c in open_channels(DARK)}
    norm = Synthetic.N_M * np.array([br[abs(m)] for m in a["mother_pdgid"]]) / n
    rng = np.random.default_rng(99)
    ref = norm * brute_force_acceptance(a["p4_llp"], DARK.m2, a["p4_photon"], DARK.ctau, spec, rng)
    assert (ref > 0).mean() > 0.1  # a fair share of the events is in the acceptance
    for k in range(len(CHANNELS)):
        mine = a["channel"] == k
        assert abs(pull(a["weight"][mine], ref[mine])) < 4, (det, CHANNELS[k])
    w = a["weight"]
    assert abs(pull(w, ref)) < 4
    # the comparison has power: wrong weights fail it by far
    intervals, bg = a["acc_intervals"], a["beta_gamma"]
    shown = a["w_norm"] * a["above_threshold"] * spec.efficiency
    wrong = {
        "factor 2": 2 * w,
        "no efficiency": w / spec.efficiency if spec.efficiency < 1 else None,
        "no boost": shown * decay_probability(intervals, np.ones(len(w)), DARK.ctau),
        "half the lifetime": shown * decay_probability(intervals, bg, DARK.ctau / 2),
    }
    for name, weights in wrong.items():
        if weights is not None:
            assert abs(pull(weights, ref)) > 10, (det, name)


def test_reweighting_is_exact_against_the_same_seed():
    """At another coupling with the same seed, every random draw is the same: re-weighted
    weights and moved vertices must equal the directly generated ones."""
    base = _sim(DARK, 3, n=5000)
    for d in (2e-6, 2e-4):
        direct = _sim(DARK.with_coupling(d), 3, n=5000)
        moved = base.reweight(d)
        np.testing.assert_allclose(
            moved.arrays["weight"], direct.arrays["weight"], rtol=1e-9, atol=1e-300
        )
        np.testing.assert_allclose(moved.arrays["vertex"], direct.arrays["vertex"], rtol=1e-7)
        assert moved.metadata["ctau"] == pytest.approx(direct.metadata["ctau"], rel=1e-12)
        assert moved.metadata["rate"] == pytest.approx(direct.metadata["rate"], rel=1e-12)
        assert base.expected_events(d) == pytest.approx(moved.expected_events(), rel=1e-12)
    there_and_back = base.reweight(2e-4).reweight(DARK.d)
    np.testing.assert_allclose(there_and_back.arrays["weight"], base.arrays["weight"], rtol=1e-9)


def test_reweighted_yields_agree_with_direct_generation_over_four_decades():
    """Different seeds; c*tau from 45 m to 4.5 mm, from the long-lifetime regime (yield
    proportional to d^4) to the short one (yield suppressed exponentially)."""
    base = _sim(DARK, 10)
    assert base.metadata["ctau"] == pytest.approx(0.445, rel=0.01)
    ctaus = []
    for d in (2e-6, 6e-6, 2e-5, 6e-5, 2e-4):
        direct = _sim(DARK.with_coupling(d), 20 + int(d * 1e7))
        moved = base.reweight(d)
        ctaus.append(direct.metadata["ctau"])
        diff = moved.expected_events() - direct.expected_events()
        assert direct.expected_events() > 0
        assert abs(diff) < 4 * math.hypot(_sigma(moved), _sigma(direct)), d
    assert max(ctaus) / min(ctaus) >= 1e4
    per_d4 = [base.expected_events(d) / d**4 for d in (1e-6, 2e-6)]
    assert per_d4[1] == pytest.approx(per_d4[0], rel=0.03)  # long lifetime: N ~ BR / lambda
    assert base.expected_events(2e-4) < base.expected_events(6e-5) / 100  # short


def test_neutrino_model_charges():
    model = NeutrinoDipole(m_n=0.1, d=1e-5, flavour="mu")
    n = 20000
    batch = _sim(model, 4, n=n, channels=[321, 111])
    a = batch.arrays
    names = batch.metadata["channels"]
    charged = a["channel"] == names.index("K+ -> mu+ N gamma")
    neg = a["mother_pdgid"][charged] == -321
    assert np.array_equal(neg, a["is_antiparticle"][charged])
    f_minus = 1 - Synthetic.F_PLUS
    assert abs(neg.mean() - f_minus) < 4 * math.sqrt(f_minus * (1 - f_minus) / n)
    anti = a["is_antiparticle"][~charged]
    assert abs(anti.mean() - 0.5) < 4 * math.sqrt(0.25 / n)
    assert np.all(a["mother_pdgid"][~charged] == 111)
    assert np.all(a["p4_invisible"][charged] == 0) and np.all(a["p4_lepton"][~charged] == 0)
    lepton_mass = sm(LEPTON_PDGID[model.flavour]).mass
    _assert_conserved_and_on_shell(a, model, np.zeros(len(a["channel"]), bool), lepton_mass)


def test_closed_model_point_gives_an_empty_batch():
    heavy = DarkDipole(m1=6.0, delta=0.1, d=1e-3)
    assert not open_channels(heavy)
    batch = simulate(
        heavy,
        "na62",
        n_events=10,
        seed=1,
        source=MesonDecays(heavy, load_detector("na62"), spectra=Synthetic()),
    )
    assert len(batch) == 0 and batch.expected_events() == 0.0
    assert batch.reweight(1e-4).expected_events() == 0.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="no open channel for mother PDG ID"):
        _sim(DarkDipole(m1=1.0, delta=0.1, d=1e-4), 1, channels=[113])
    with pytest.raises(ValueError, match="unknown detector"):
        _sim(DARK, 1, det="na63")
    with pytest.raises(ValueError, match="mode"):
        _sim(DARK, 1, mode="sphere")
    with pytest.raises(ValueError, match="n_events"):
        _sim(DARK, 1, n=0)
    with pytest.raises(ValueError, match="d must be"):
        _sim(DARK, 1, n=10).reweight(-1.0)


def test_shipped_spectra_give_the_paper_normalisation_and_expected_events():
    """The default meson source, the shipped spectrum tables (which must be installed: a missing
    table is a failure): N_rho = N_POT x 0.58 (paper Table 1, NA62 1e18 POT), and the expected
    events equal N_rho x BR x the independent acceptance integral over the drawn mesons."""
    n = 4000
    batch = simulate(DARK, "na62", n_events=n, seed=1, channels=[113])
    assert batch.metadata["exposure"] == [pytest.approx(1e18 * 0.58, rel=1e-12)]
    a = batch.arrays
    (chan,) = [c for c in open_channels(DARK) if c.mother == 113]
    acc = brute_force_acceptance(
        a["p4_llp"],
        DARK.m2,
        a["p4_photon"],
        DARK.ctau,
        SPEC_DETECTORS["na62"],
        np.random.default_rng(4),
    )
    ref = 1e18 * 0.58 * chan.br / n * acc
    assert (acc > 0).sum() > 100
    assert abs(pull(a["weight"], ref)) < 4
    assert abs(pull(2 * a["weight"], ref)) > 10


def test_mesons_not_produced_at_a_beam_are_left_out():
    """NuCal's 70 GeV beam makes no Upsilon (no normalisation entry): the open Upsilon channel is
    skipped, and asking for it explicitly is an error naming it."""
    model = DarkDipole(0.1, 0.1, 1e-6)
    batch = simulate(model, "nucal", n_events=200, seed=2)
    assert 553 not in batch.metadata["mother_pdgids"] and 443 in batch.metadata["mother_pdgids"]
    with pytest.raises(ValueError, match=r"\[553\]"):
        simulate(model, "nucal", n_events=200, seed=2, channels=[553])
