"""Generated decays: 4-momentum conservation, mass shells, isotropy and the lab-frame boost."""

import numpy as np
import pytest
from conftest import random_mothers
from references import MASS_TOLERANCE, mass_shell_violation
from scipy import stats

from mcsim.models.channels import decay_mothers, llp_decay, open_channels
from mcsim.models.dipoles import DarkDipole, NeutrinoDipole
from mcsim.physics.kinematics import decay_two_body, two_body_momentum
from mcsim.physics.particles import LEPTON_PDGID, sm

MODELS = [
    DarkDipole(0.01, 0.1, 1e-4),
    DarkDipole(0.3, 0.1, 1e-4),
    DarkDipole(1.5, 0.1, 1e-4),
    NeutrinoDipole(0.05, 1e-6, "e"),
    NeutrinoDipole(0.2, 1e-6, "mu"),
    NeutrinoDipole(0.1, 1e-6, "tau"),
]


def _mass_sq(p):
    return p[:, 0] ** 2 - np.sum(p[:, 1:] ** 2, axis=1)


def _product_masses(channel, model):
    if channel.kind == "charged":
        lep = sm(LEPTON_PDGID[model.flavour]).mass
        return {"lepton": lep, "photon": 0.0, "llp": model.llp_mass}
    m = {"invisible": model.invisible_mass, "llp": model.llp_mass}
    if channel.kind == "anomaly":
        m["photon"] = 0.0
    return m


@pytest.mark.parametrize("model", MODELS, ids=lambda m: str(m.describe()))
def test_conservation_and_mass_shell_every_channel(model, rng):
    chans = open_channels(model)
    assert chans, "each benchmark model must have open channels"
    for chan in chans:
        mothers = random_mothers(rng, chan.mother_mass, 20_000, p_max=3000.0)
        out = decay_mothers(chan, mothers, rng)
        assert np.all(out.pop("weight") == 1.0)  # plain sampling
        total = sum(out.values())
        scale = mothers[:, :1]
        assert np.max(np.abs(total - mothers) / scale) < 1e-9, chan.name
        for name, mass in _product_masses(chan, model).items():
            p = out[name]
            assert mass_shell_violation(p, mass) < MASS_TOLERANCE, (chan.name, name)
            assert np.all(p[:, 0] >= mass)
        inv, photon = llp_decay(model, out["llp"], rng)
        assert np.max(np.abs(inv + photon - out["llp"]) / out["llp"][:, :1]) < 1e-9
        assert mass_shell_violation(photon, 0.0) < MASS_TOLERANCE
        assert mass_shell_violation(inv, model.invisible_mass) < MASS_TOLERANCE


def test_mass_shell_check_sees_a_10_mev_mass_at_high_energy(rng):
    """The mass-shell check above looks at the mass itself: a photon of 10 MeV, or a chi1 10 MeV
    too heavy, at 350 GeV - 3 TeV fails it -- while the old relative check
    |m^2 - M^2| / E^2 < 1e-9 let both pass."""
    n = 10_000
    for true_mass, claimed, e_min in ((0.01, 0.0, 350.0), (0.11, 0.10, 1500.0)):
        e = rng.uniform(e_min, 3000.0, n)
        fake = random_mothers(rng, true_mass, n, p_max=1.0)  # isotropic directions
        u = fake[:, 1:] / np.linalg.norm(fake[:, 1:], axis=1)[:, None]
        fake[:, 0] = e
        fake[:, 1:] = np.sqrt((e - true_mass) * (e + true_mass))[:, None] * u
        assert mass_shell_violation(fake, claimed) == pytest.approx(0.01, rel=1e-3)
        assert mass_shell_violation(fake, claimed) > MASS_TOLERANCE
        assert mass_shell_violation(fake, true_mass) < 1e-6
        old = np.abs(_mass_sq(fake) - claimed**2) / fake[:, 0] ** 2
        assert np.max(old) < 1e-9  # blind


def _boost_to_rest(p, parent, m_parent):
    """Boost 4-vectors p (n,4) into the rest frame of parent (n,4) (numpy, independent of kernels)."""
    beta = -parent[:, 1:] / parent[:, :1]
    b2 = np.sum(beta**2, axis=1)
    g = 1.0 / np.sqrt(1.0 - b2)
    bp = np.sum(beta * p[:, 1:], axis=1)
    e = g * (p[:, 0] + bp)
    k = (g - 1.0) * bp / np.where(b2 > 0, b2, 1.0) + g * p[:, 0]
    out = np.empty_like(p)
    out[:, 0] = e
    out[:, 1:] = p[:, 1:] + k[:, None] * beta
    return out


def test_llp_decay_mean_photon_energy_is_gamma_estar(rng):
    """<E_gamma> = gamma E* for an isotropic rest-frame decay, within statistics."""
    model = DarkDipole(0.2, 0.1, 1e-4)
    m2, m1 = model.m2, model.m1
    e_star = (m2**2 - m1**2) / (2 * m2)
    n, p = 400_000, 37.0
    llp = np.zeros((n, 4))
    llp[:, 3] = p
    llp[:, 0] = np.hypot(p, m2)
    _, photon = llp_decay(model, llp, rng)
    gamma = llp[0, 0] / m2
    mean, err = photon[:, 0].mean(), photon[:, 0].std() / np.sqrt(n)
    assert abs(mean - gamma * e_star) < 4 * err
    # the lab photon energy is flat between gamma E* (1 -+ beta) for an isotropic decay
    beta = p / llp[0, 0]
    lo, hi = gamma * e_star * (1 - beta), gamma * e_star * (1 + beta)
    assert stats.kstest(photon[:, 0], stats.uniform(lo, hi - lo).cdf).pvalue > 1e-3


def test_rest_frame_photon_direction_is_isotropic(rng):
    model = NeutrinoDipole(0.3, 1e-6, "mu")
    n = 200_000
    llp = random_mothers(rng, model.llp_mass, n, p_max=200.0)
    _, photon = llp_decay(model, llp, rng)
    rest = _boost_to_rest(photon, llp, model.llp_mass)
    assert np.allclose(rest[:, 0], model.llp_mass / 2, rtol=1e-9)
    # angle relative to the flight direction of the LLP
    u = llp[:, 1:] / np.linalg.norm(llp[:, 1:], axis=1)[:, None]
    cos_t = np.sum(rest[:, 1:] * u, axis=1) / rest[:, 0]
    assert stats.kstest(cos_t, stats.uniform(-1, 2).cdf).pvalue > 1e-3
    # and azimuthally uniform: the lab z component of the rest-frame direction
    assert stats.kstest(rest[:, 3] / rest[:, 0], stats.uniform(-1, 2).cdf).pvalue > 1e-3


def test_two_body_momentum_and_seed_reproducibility():
    assert two_body_momentum(3.0969, 0.0, 0.0) == pytest.approx(3.0969 / 2)
    parents = np.tile([10.0, 0.0, 0.0, np.sqrt(100.0 - 0.775**2)], (1000, 1))
    a1, b1 = decay_two_body(parents, 0.775, 0.1, 0.11, np.random.default_rng(7))
    a2, b2 = decay_two_body(parents, 0.775, 0.1, 0.11, np.random.default_rng(7))
    a3, _ = decay_two_body(parents, 0.775, 0.1, 0.11, np.random.default_rng(8))
    assert np.array_equal(a1, a2) and np.array_equal(b1, b2)
    assert not np.array_equal(a1, a3)


def test_generate_rejects_closed_channel(rng):
    from mcsim.models.channels import channels

    closed = next(c for c in channels(DarkDipole(1.0, 0.1, 1e-4)) if not c.is_open)
    with pytest.raises(ValueError, match="closed by kinematics"):
        decay_mothers(closed, np.zeros((1, 4)), rng)


def test_photon_on_shell_and_conservation_at_extreme_boost(rng):
    """A FASER-like LLP (gamma ~ 1e4, delta = 0.005): even soft backward photons are massless to
    rounding (the photon is boosted, E = |p|) and 4-momentum is conserved (chi1 = chi2 - gamma)."""
    model = DarkDipole(0.01, 0.005, 1e-4)
    n, p = 200_000, 105.0
    llp = np.zeros((n, 4))
    llp[:, 3] = p
    llp[:, 0] = np.hypot(p, model.m2)
    inv, photon = llp_decay(model, llp, rng)
    assert photon[:, 0].min() < 1e-4 * photon[:, 0].max()  # the soft, backward ones are there
    assert np.max(np.abs(_mass_sq(photon)) / photon[:, 0] ** 2) < 1e-13
    assert np.max(np.abs(inv + photon - llp) / llp[:, :1]) < 1e-12
    assert mass_shell_violation(inv, model.m1) < MASS_TOLERANCE
