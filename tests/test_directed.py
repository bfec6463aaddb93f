"""Directed sampling: unbiased (the same expected events as plain sampling within the Monte Carlo
error), and it spends the events on LLPs that reach the detector."""

import math

import numpy as np
import pytest
from conftest import random_mothers

from mcsim import DarkDipole, NeutrinoDipole
from mcsim.detector.cards import load_detector
from mcsim.detector.propagate import propagate
from mcsim.generation.simulate import simulate
from mcsim.models.channels import decay_mothers, open_channels
from mcsim.physics.directed import can_reach, reach_fraction

POINT = DarkDipole(m1=0.1, delta=0.1, d=1e-6)


def _theta(p4):
    return np.arctan2(np.hypot(p4[:, 1], p4[:, 2]), p4[:, 3])


@pytest.mark.parametrize("mother", [113, 221])
def test_directed_decays_are_unbiased_in_and_out_of_the_window(mother, rng):
    """For fixed mothers, the weighted LLP distribution of directed decays (window 10 mrad)
    equals the plain one inside the window: the fraction below 3 and 10 mrad and the mean energy
    there agree within 4 sigma; outside the window directed decays have weight 0."""
    chan = {c.mother: c for c in open_channels(POINT)}[mother]
    mothers = random_mothers(rng, chan.mother_mass, 100_000, p_max=200.0)
    mothers[:, 1:3] *= 0.01  # mostly forward mothers, some far off axis
    mothers[:, 3] = np.abs(mothers[:, 3])
    mothers[:, 0] = np.sqrt(np.sum(mothers[:, 1:] ** 2, axis=1) + chan.mother_mass**2)
    plain = decay_mothers(chan, mothers, np.random.default_rng(1))
    directed = decay_mothers(chan, mothers, np.random.default_rng(2), window=0.01)
    assert np.all(plain["weight"] == 1.0)
    w = directed["weight"]
    assert np.all(w[_theta(directed["llp"]) > 0.01] == 0.0)
    n = len(w)
    for cut in (0.003, 0.01):
        f_plain = (_theta(plain["llp"]) < cut).astype(float)
        f_dir = w * (_theta(directed["llp"]) < cut)
        sigma = math.hypot(f_plain.std(), f_dir.std()) / math.sqrt(n)
        assert abs(f_plain.mean() - f_dir.mean()) < 4 * sigma
        assert f_dir.std() < f_plain.std()  # fewer events wasted: a smaller error
        e_plain = f_plain * plain["llp"][:, 0]
        e_dir = f_dir * directed["llp"][:, 0]
        sigma = math.hypot(e_plain.std(), e_dir.std()) / math.sqrt(n)
        assert abs(e_plain.mean() - e_dir.mean()) < 4 * sigma


def _chance_to_reach(p4, m, p_star, e_star, window, n=4_000_000):
    """Brute force, in numpy: the fraction of n isotropic rest-frame LLP directions that the
    boost of a parent p4 (mass m) sends within ``window`` of +z, and its standard error."""
    u = np.random.default_rng(11).normal(size=(n, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    p = np.linalg.norm(p4[1:])
    axis, gamma, beta = np.asarray(p4[1:]) / p, p4[0] / m, p / p4[0]
    along = u @ axis
    lab = p_star * u + ((gamma - 1) * p_star * along + gamma * beta * e_star)[:, None] * axis
    inside = _theta(np.column_stack([np.zeros(n), lab])) < window
    return inside.mean(), inside.std() / math.sqrt(n)


@pytest.mark.parametrize(
    "p, theta, window",
    [
        (0.5, 0.02, 0.01),  # the LLP faster than the meson: one interval of cos(theta*)
        (5.0, 0.004, 0.01),  # the meson inside the window
        (5.0, 0.05, 0.01),  # outside it: two intervals
        (2000.0, 0.0005, 0.001),  # FASER-like boost and window
        (1.0, 0.3, 0.2),  # wide angles
        (20.0, 0.0, 0.005),  # along the axis: every azimuth or none
    ],
)
def test_directed_weight_is_the_chance_to_reach_the_window(p, theta, window):
    """For one meson momentum, the mean directed weight is the chance that an isotropic decay
    sends the LLP into the window (brute force, 4 sigma), every weighted LLP is inside it, and
    the weights scatter less than the hit-or-miss of plain decays."""
    chan = {c.mother: c for c in open_channels(POINT)}[113]
    n, m = 40_000, chan.mother_mass
    p4 = np.array(
        [math.hypot(p, m), *(p * math.sin(theta) * np.array([0.6, 0.8])), p * math.cos(theta)]
    )
    directed = decay_mothers(chan, np.tile(p4, (n, 1)), np.random.default_rng(2), window=window)
    w = directed["weight"]
    assert np.all(_theta(directed["llp"])[w > 0] <= window * (1 + 1e-9))
    e_star = math.hypot(chan.llp_momentum_max, chan.masses[1])
    chance, error = _chance_to_reach(p4, m, chan.llp_momentum_max, e_star, window)
    assert chance > 0
    assert abs(w.mean() - chance) < 4 * math.hypot(error, w.std() / math.sqrt(n))
    assert w.std() < math.sqrt(chance * (1 - chance))  # hit-or-miss: a larger scatter


@pytest.mark.parametrize(
    "p, theta, window",
    [
        (0.5, 0.02, 0.01),
        (5.0, 0.004, 0.01),
        (5.0, 0.05, 0.01),
        (2000.0, 0.0005, 0.001),
        (1.0, 0.3, 0.2),
        (20.0, 0.0, 0.005),
        (300.0, 0.003, 0.001),  # the meson just outside a FASER-like window
    ],
)
def test_reach_fraction_is_the_chance_to_reach_the_window(p, theta, window):
    """reach_fraction (the meson tilt's estimate) against brute force: with 64 midpoint nodes
    equal within 4 sigma + 0.5%; with the tilt's 4 nodes within 6% of that (the midpoint rule's
    error near the ends of S: any tilt is unbiased, only its variance depends on it)."""
    chan = {c.mother: c for c in open_channels(POINT)}[113]
    m, p_star = chan.mother_mass, chan.llp_momentum_max
    p4 = np.array(
        [math.hypot(p, m), *(p * math.sin(theta) * np.array([0.6, 0.8])), p * math.cos(theta)]
    )
    chance, error = _chance_to_reach(p4, m, p_star, math.hypot(p_star, chan.masses[1]), window)
    kw = dict(window=window, m_parent=m, p_star=p_star, m_llp=chan.masses[1])
    fine = reach_fraction(np.array([p]), np.array([theta]), n_nodes=64, **kw)[0, 0]
    assert abs(fine - chance) < 4 * error + 0.005 * chance
    assert abs(reach_fraction(np.array([p]), np.array([theta]), **kw)[0, 0] / fine - 1) < 0.06
    kw["window"] = 0.8 * window  # the check can fail
    narrow = reach_fraction(np.array([p]), np.array([theta]), n_nodes=64, **kw)[0, 0]
    assert abs(narrow - chance) > 4 * error + 0.005 * chance


def test_can_reach_never_excludes_an_llp_that_reaches(rng):
    """Every LLP of plain decays that flies within the window comes from a meson for which
    can_reach is true (the bound is conservative), and the bound does exclude far mesons."""
    chan = {c.mother: c for c in open_channels(POINT)}[113]
    n = 200_000
    p, theta, phi = rng.uniform(1.0, 100.0, n), rng.uniform(0.0, 0.3, n), rng.uniform(0, 6.3, n)
    mothers = np.column_stack(
        [
            np.sqrt(p**2 + chan.mother_mass**2),
            p * np.sin(theta) * np.cos(phi),
            p * np.sin(theta) * np.sin(phi),
            p * np.cos(theta),
        ]
    )
    llp = decay_mothers(chan, mothers, rng)["llp"]
    window = 0.02
    inside = _theta(llp) < window
    ok = can_reach(
        p,
        theta,
        window=window,
        m_parent=chan.mother_mass,
        m_llp=chan.masses[1],
        p_star=chan.llp_momentum_max,
    )
    assert inside.sum() > 100 and np.all(ok[inside])
    assert not ok.all()


@pytest.mark.parametrize(
    "model, card",
    [
        (POINT, "na62"),
        (POINT, "ship"),
        (POINT, "faser2"),
        (NeutrinoDipole(m_n=0.3, d=1e-6, flavour="mu"), "ship"),
    ],
)
def test_directed_and_plain_give_the_same_expected_events(model, card):
    plain = simulate(model, card, n_events=30_000, seed=1).expected_events()
    directed = simulate(model, card, n_events=30_000, seed=2, sampling="directed")
    n = directed.expected_events()
    assert abs(n - plain) < 4 * math.hypot(n.stat_error, plain.stat_error)
    assert n.stat_error < plain.stat_error


def test_directed_llps_cross_the_na62_volume():
    """At the NA62 default point at least 80% of directed events cross the decay volume
    (11% with plain sampling)."""
    directed = simulate(POINT, "na62", n_events=30_000, seed=3, sampling="directed")
    plain = simulate(POINT, "na62", n_events=30_000, seed=3)
    assert directed.arrays["in_volume"].mean() >= 0.8
    assert plain.arrays["in_volume"].mean() < 0.2


@pytest.mark.parametrize("card", ["ship", "charm2"])
def test_directed_photons_are_the_plain_ones_inside_the_energy_window(card, rng):
    """For the same LLPs, the directed photons' weighted energy spectrum equals the plain
    photons' inside the card's window (E > 1 GeV; CHARM-II 3-24 GeV), bin by bin within 4
    sigma; no directed photon falls outside it, each weight is the chance to fall inside
    (<= 1), and without the weights the spectrum would be wrong."""
    det = load_detector(card)
    n = 200_000
    p = 10.0 ** rng.uniform(0.0, 2.0, n)  # 1-100 GeV, within 10 mrad of the axis
    theta, phi = rng.uniform(0.0, 0.01, n), rng.uniform(0.0, 2 * np.pi, n)
    m = POINT.llp_mass
    llp = np.column_stack(
        [
            np.hypot(p, m),
            p * np.sin(theta) * np.cos(phi),
            p * np.sin(theta) * np.sin(phi),
            p * np.cos(theta),
        ]
    )
    args = dict(m_llp=m, m_invisible=POINT.invisible_mass, detector=det, mode="full", ctau=1.0)
    plain = propagate(llp, rng=np.random.default_rng(1), **args)
    directed = propagate(llp, rng=np.random.default_rng(2), directed=True, **args)
    e_min, e_max = det.photon_energy_min, det.photon_energy_max
    e_plain, e_dir = plain["p4_photon"][:, 0], directed["p4_photon"][:, 0]
    w = directed["w_photon"]
    assert np.all(plain["w_photon"] == 1.0)
    assert np.all((w >= 0.0) & (w <= 1.0)) and w.mean() < 0.9
    assert np.all(((e_min < e_dir) & (e_dir < e_max))[w > 0])
    assert np.array_equal(directed["above_threshold"][w > 0], np.ones(np.sum(w > 0), bool))
    top = e_max if math.isfinite(e_max) else 8.0 * e_min
    edges = np.geomspace(e_min, top, 6)
    if not math.isfinite(e_max):
        edges = np.append(edges, np.inf)
    unweighted_off = False
    for lo, hi in zip(edges[:-1], edges[1:]):
        f_plain = (lo < e_plain) & (e_plain < hi)
        f_dir = w * ((lo < e_dir) & (e_dir < hi))
        sigma = math.hypot(f_plain.std(), f_dir.std()) / math.sqrt(n)
        assert abs(f_plain.mean() - f_dir.mean()) < 4 * sigma
        unweighted = (f_dir > 0).mean()
        unweighted_off |= abs(unweighted - f_plain.mean()) > 10 * sigma
    assert unweighted_off
