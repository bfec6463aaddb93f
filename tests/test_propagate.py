"""The propagator: exact decay probabilities, vertex sampling, photon acceptance, modes."""

import math

import numba
import numpy as np
import pytest
from references import MASS_TOLERANCE, mass_shell_violation
from scipy.stats import kstest

from mcsim.detector.cards import load_detector
from mcsim.detector.geometry import contains, crossings, face_contains
from mcsim.detector.propagate import (
    decay_probability,
    exp_neg,
    one_minus_exp_neg,
    propagate,
    remap_vertices,
)
from mcsim.physics.kinematics import decay_two_body

M_LLP, M_INV = 0.11, 0.10  # chi2, chi1 [GeV] (M1 = 0.1, delta = 0.1)


def _llps(p, theta, phi, m=M_LLP):
    p, theta, phi = np.broadcast_arrays(np.asarray(p, float), theta, phi)
    return np.column_stack(
        [
            np.sqrt(p**2 + m**2),
            p * np.sin(theta) * np.cos(phi),
            p * np.sin(theta) * np.sin(phi),
            p * np.cos(theta),
        ]
    )


def _spectrum(n, rng, theta_scale=3e-3, p_range=(10.0, 200.0)):
    return _llps(
        rng.uniform(*p_range, n),
        np.abs(rng.normal(0, theta_scale, n)),
        rng.uniform(0, 2 * np.pi, n),
    )


def _run(llp, det, ctau, seed=1, mode="full", **kw):
    return propagate(
        llp,
        m_llp=M_LLP,
        m_invisible=M_INV,
        detector=load_detector(det),
        mode=mode,
        ctau=ctau,
        rng=np.random.default_rng(seed),
        **kw,
    )


@pytest.mark.parametrize("mode", ["full", "cone"])
def test_on_axis_decay_probability(mode):
    bg = 50.0 / M_LLP
    llp = _llps(np.full(1, 50.0), 0.0, 0.0)
    for ctau in (1e-3, 0.05, 1.0, 30.0, 1e3, 1e9):
        lam = bg * ctau
        p = _run(llp, "na62", ctau, mode=mode)["p_decay_volume"][0]
        exact = math.exp(-79.0 / lam) - math.exp(-217.0 / lam)
        if lam > 1e6:  # beyond the reach of the naive difference: series in 1/lambda
            exact = 138.0 / lam * (1 - (79.0 + 217.0) / (2 * lam))
        assert p == pytest.approx(exact, rel=1e-10, abs=1e-300)
    intervals = np.array([[79.0, 217.0, 0.0, 0.0], [79.0, 100.0, 150.0, 217.0]])
    got = decay_probability(intervals, np.array([bg, bg]), 0.5)
    lam = bg * 0.5
    assert got[0] == pytest.approx(math.exp(-79 / lam) - math.exp(-217 / lam), rel=1e-12)
    assert got[1] == pytest.approx(
        got[0] - (math.exp(-100 / lam) - math.exp(-150 / lam)), rel=1e-12
    )
    assert decay_probability(np.array([[2000.0, 3000.0]]), np.array([1.0]), 1.0)[0] == 0.0


def _truncated_exp_cdf(s, intervals, lam):
    """CDF of the exponential (decay length lam) restricted to per-row interval pairs."""
    a1, b1, a2, b2 = intervals.T
    p1 = np.exp(-a1 / lam) - np.exp(-b1 / lam)
    p2 = np.where(b2 > a2, np.exp(-a2 / lam) - np.exp(-b2 / lam), 0.0)
    c1 = np.exp(-a1 / lam) - np.exp(-np.minimum(s, b1) / lam)
    c2 = np.where(s > a2, np.exp(-a2 / lam) - np.exp(-np.minimum(s, b2) / lam), 0.0) * (b2 > a2)
    return (c1 + c2) / (p1 + p2)


def _window_cdf(lam, l1=79.0, l2=217.0):
    """CDF of the exponential (decay length lam) truncated to [l1, l2]."""
    norm = np.exp(-l1 / lam) - np.exp(-l2 / lam)
    return lambda s: (np.exp(-l1 / lam) - np.exp(-s / lam)) / norm


def test_on_axis_vertices_follow_the_truncated_exponential():
    n, ctau = 20000, 0.2
    llp = _llps(np.full(n, 50.0), 0.0, 0.0)
    out = _run(llp, "na62", ctau, mode="cone", seed=7)
    lam = 50.0 / M_LLP * ctau
    z = out["vertex"][:, 2]
    cdf = _window_cdf(lam)
    assert kstest(z, cdf).pvalue > 0.01
    # a wrong shape (the untruncated exponential from 79 m) fails
    assert kstest(z, lambda s: 1 - np.exp(-(s - 79) / lam)).pvalue < 1e-6


def test_accepted_vertices_follow_the_exponential_on_their_own_intervals():
    """Probability-integral transform with each event's own (one or two) accepted intervals."""
    rng = np.random.default_rng(8)
    llp = _spectrum(40000, rng)
    ctau = 0.5
    out = _run(llp, "na62", ctau, seed=9)
    hit = out["photon_hits_calo"]
    two = out["acc_intervals"][:, 3] > out["acc_intervals"][:, 2]
    assert two.sum() > 200  # the beam hole splits some accepted sets in two
    s = np.linalg.norm(out["vertex"], axis=1)[hit]
    pit = _truncated_exp_cdf(s, out["acc_intervals"][hit], out["beta_gamma"][hit] * ctau)
    assert kstest(pit, "uniform").pvalue > 0.01
    assert (
        kstest(
            _truncated_exp_cdf(s, out["acc_intervals"][hit], out["beta_gamma"][hit] * 2 * ctau),
            "uniform",
        ).pvalue
        < 1e-6
    )


def test_accepted_decay_probability_against_brute_force_ray_tracing():
    """Mean of p_decay_accepted = fraction of exponential decays (drawn here) whose vertex is in
    the volume and whose photon hits the face, traced with the geometry kernels."""
    for det_name in ("na62", "ship"):
        det = load_detector(det_name)
        rng = np.random.default_rng(10)
        n, ctau = 200000, 0.4
        llp = _spectrum(n, rng, theta_scale=1e-2 if det_name == "ship" else 3e-3)
        out = _run(llp, det_name, ctau, seed=11)
        u = llp[:, 1:] / np.linalg.norm(llp[:, 1:], axis=1, keepdims=True)
        s = rng.exponential(out["beta_gamma"] * ctau)
        vertex = s[:, None] * u
        hit, _ = crossings(det.calorimeter, vertex, out["p4_photon"][:, 1:])
        indicator = contains(det.decay_volume, vertex) & hit
        diff = indicator - out["p_decay_accepted"]
        assert out["p_decay_accepted"].mean() > 0.01
        assert abs(diff.mean()) < 4 * diff.std() / math.sqrt(n)


def test_decay_kinematics_are_the_reference_two_body_decay():
    rng = np.random.default_rng(12)
    llp = _spectrum(1000, rng)
    out = _run(llp, "ship", 1.0)
    total = out["p4_decay_invisible"] + out["p4_photon"]
    assert np.allclose(total, llp, rtol=1e-9, atol=1e-9 * llp[:, :1])
    assert mass_shell_violation(out["p4_photon"], 0.0) < MASS_TOLERANCE
    assert mass_shell_violation(out["p4_decay_invisible"], M_INV) < MASS_TOLERANCE
    for k in range(20):  # the same draws give the same numbers as kinematics.decay_two_body
        one = _run(llp[k : k + 1], "ship", 1.0, seed=100 + k)
        gam, inv = decay_two_body(llp[k : k + 1], M_LLP, 0.0, M_INV, np.random.default_rng(100 + k))
        np.testing.assert_allclose(one["p4_photon"], gam, rtol=0, atol=1e-12 * gam[0, 0])
        np.testing.assert_allclose(one["p4_decay_invisible"], inv, rtol=0, atol=1e-12 * inv[0, 0])


def test_flags_vertices_and_impacts_are_consistent():
    det = load_detector("na62")
    rng = np.random.default_rng(13)
    llp = _spectrum(50000, rng, theta_scale=6e-3)
    out = _run(llp, "na62", 0.5)
    inv, hit = out["in_volume"], out["photon_hits_calo"]
    assert 0 < hit.sum() < inv.sum() < len(llp)
    assert not np.any(hit & ~inv)
    assert contains(det.decay_volume, out["vertex"][inv]).all()
    cal = det.calorimeter
    for x, y in out["impact"][hit][:2000]:
        assert face_contains(cal.code, cal.params, x, y)
    assert np.all(out["p_decay_accepted"] <= out["p_decay_volume"] * (1 + 1e-12))
    assert np.all(out["p_decay_accepted"][~hit] == 0.0)
    assert np.array_equal(out["above_threshold"], out["p4_photon"][:, 0] > 1.0)
    high = _run(llp, "na62", 0.5, threshold=5.0)
    assert np.array_equal(high["above_threshold"], high["p4_photon"][:, 0] > 5.0)


def test_energy_window_of_charm2():
    rng = np.random.default_rng(14)
    out = _run(_spectrum(20000, rng, p_range=(10.0, 400.0)), "charm2", 0.5)
    e = out["p4_photon"][:, 0]
    assert np.array_equal(out["above_threshold"], (e > 3.0) & (e < 24.0))
    assert (e > 24.0).any()


def test_full_and_cone_agree_for_a_boosted_particle_along_the_faser2_axis():
    rng = np.random.default_rng(15)
    n = 20000
    llp = _llps(
        rng.uniform(1000, 3000, n),
        np.abs(rng.normal(0, 1e-4, n)),
        rng.uniform(0, 2 * np.pi, n),
        m=0.011,
    )
    for ctau in (1e-4, 1e-2, 1.0):  # decay lengths ~ 20 m (short) to ~ 2e5 m (long)
        args = dict(m_llp=0.011, m_invisible=0.010, detector=load_detector("faser2"), ctau=ctau)
        full = propagate(llp, mode="full", rng=np.random.default_rng(1), **args)
        cone = propagate(llp, mode="cone", rng=np.random.default_rng(1), **args)
        assert full["photon_hits_calo"].all() and cone["photon_hits_calo"].all()
        ratio = full["p_decay_accepted"].sum() / cone["p_decay_accepted"].sum()
        assert ratio == pytest.approx(1.0, abs=1e-6)


def test_remapped_vertices_follow_the_new_decay_length():
    n = 20000
    llp = _llps(np.full(n, 50.0), 0.0, 0.0)
    out = _run(llp, "na62", 0.2, mode="cone", seed=16)
    out["p4_llp"] = llp
    vertex, _impact = remap_vertices(out, 0.2, 2.0, 217.0)
    lam = 50.0 / M_LLP * 2.0
    cdf = _window_cdf(lam)
    assert kstest(vertex[:, 2], cdf).pvalue > 0.01
    back, _ = remap_vertices(dict(out, vertex=vertex), 2.0, 0.2, 217.0)
    np.testing.assert_allclose(back, out["vertex"], rtol=1e-9)


def test_bad_arguments():
    llp = _llps(np.full(1, 50.0), 0.0, 0.0)
    with pytest.raises(ValueError, match="mode"):
        _run(llp, "na62", 1.0, mode="sphere")
    with pytest.raises(ValueError, match="ctau"):
        _run(llp, "na62", -1.0)


@numba.njit
def _elementwise(f, y):
    out = np.empty(y.size)
    for i in range(y.size):
        out[i] = f(y[i])
    return out


def test_vectorisable_exponentials_match_libm(rng):
    """exp_neg and one_minus_exp_neg (the yield sums' branch-free exponentials) against numpy's
    exp and expm1: exp(-y) to 1 ulp up to y = 708 and 0 beyond; 1 - exp(-u) to 5e-16 relative
    from u = 1e-300 to inf (the Taylor branch below u = 1/4 and the exponential above)."""
    y = np.concatenate(
        [
            rng.uniform(0.0, 708.0, 200_000),
            rng.uniform(0.0, 1.0, 100_000),
            np.geomspace(1e-300, 708.0, 20_000),
        ]
    )
    e = _elementwise(exp_neg, y)
    assert np.max(np.abs(e - np.exp(-y)) / np.spacing(np.exp(-y))) <= 1.0
    assert np.all(_elementwise(exp_neg, np.array([708.5, 745.0, 1e300, np.inf])) == 0.0)
    u = np.concatenate([y, [800.0, np.inf]])
    assert np.max(np.abs(_elementwise(one_minus_exp_neg, u) / -np.expm1(-u) - 1.0)) <= 5e-16
    assert _elementwise(one_minus_exp_neg, np.zeros(1))[0] == 0.0
