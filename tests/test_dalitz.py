"""Dalitz distributions of the generators against |M|^2 (Eqs. A.4, A.7): binned chi-square tests
with 1e6 events that pass for the generator and fail for flat phase space (the test has power)."""

import numpy as np
import pytest
from conftest import random_mothers
from scipy import stats

from mcsim.models.channels import channels, decay_mothers
from mcsim.models.dipoles import DarkDipole, NeutrinoDipole
from mcsim.physics import dalitz
from mcsim.physics.particles import sm

N_EVENTS = 1_000_000
N_BINS = 20


def _inv_sq(p, q):
    s = p + q
    return s[:, 0] ** 2 - np.sum(s[:, 1:] ** 2, axis=1)


def _setup(case):
    """(channel, masses (M, m1, m2, m3) of the paper's labels 1, 2, 3, |M|^2(m12sq, m23sq))."""
    if case in ("pi0", "eta"):
        model = DarkDipole(0.02, 0.1, 1e-4) if case == "pi0" else DarkDipole(0.1, 0.1, 1e-4)
        pdgid = 111 if case == "pi0" else 221
        chan = {c.mother: c for c in channels(model)}[pdgid]
        mp = chan.mother_mass
        m1, m2 = model.m1, model.m2
        return chan, (mp, 0.0, m1, m2), lambda x, y: _vec(dalitz.msq_anomaly, x, y, mp, m1, m2)
    pdgid = 321 if case == "K+" else 431
    model = NeutrinoDipole(0.1 if case == "K+" else 0.5, 1e-6, "mu")
    chan = {c.mother: c for c in channels(model)}[pdgid]
    mp, ml, mn = chan.mother_mass, sm(13).mass, model.m_n
    return chan, (mp, 0.0, ml, mn), lambda x, y: _vec(dalitz.msq_charged, x, y, mp, ml, mn)


def _vec(f, x, y, *args):
    """|M|^2 on arrays: the kernels are plain arithmetic, so their Python bodies broadcast."""
    return f.py_func(x, y, *args)


def _range(s_jk, mp, m_i, m_j, m_k):
    """Range (lo, hi) of s_ij at fixed s_jk (arrays) for mp -> i j k, from the energies of i and
    j in the (jk) rest frame (PDG kinematics review, Eq. 49.23), in numpy."""
    m_jk = np.sqrt(s_jk)
    e_j = (s_jk - m_k**2 + m_j**2) / (2 * m_jk)
    e_i = (mp**2 - s_jk - m_i**2) / (2 * m_jk)
    p_j = np.sqrt(np.maximum(e_j**2 - m_j**2, 0.0))
    p_i = np.sqrt(np.maximum(e_i**2 - m_i**2, 0.0))
    return (e_i + e_j) ** 2 - (p_i + p_j) ** 2, (e_i + e_j) ** 2 - (p_i - p_j) ** 2


def _paper_invariants(case, out):
    if case in ("pi0", "eta"):  # gamma(1) chi1(2) chi2(3)
        return _inv_sq(out["photon"], out["invisible"]), _inv_sq(out["invisible"], out["llp"])
    return _inv_sq(out["photon"], out["lepton"]), _inv_sq(out["lepton"], out["llp"])  # gamma l N


def _edges(masses):
    mp, m1, m2, m3 = masses
    e12 = np.linspace((m1 + m2) ** 2, (mp - m3) ** 2, N_BINS + 1)
    e23 = np.linspace((m2 + m3) ** 2, (mp - m1) ** 2, N_BINS + 1)
    return e12, e23


def _expected(masses, msq, e12, e23, slices=160, gl=16):
    """Integral of |M|^2 over each (m12^2, m23^2) bin: Gauss-Legendre in m12^2 over the part of
    the bin inside the Dalitz region, midpoint slices in m23^2 (independent of the generator)."""
    mp, m1, m2, m3 = masses
    x, w = np.polynomial.legendre.leggauss(gl)
    out = np.zeros((N_BINS, N_BINS))
    for j in range(N_BINS):
        h = (e23[j + 1] - e23[j]) / slices
        ys = e23[j] + h * (np.arange(slices) + 0.5)
        r_lo, r_hi = _range(ys, mp, m1, m2, m3)
        for i in range(N_BINS):
            lo = np.maximum(r_lo, e12[i])
            hi = np.minimum(r_hi, e12[i + 1])
            ok = hi > lo
            if not ok.any():
                continue
            lo, hi, y = lo[ok], hi[ok], ys[ok]
            xx = 0.5 * (hi - lo)[:, None] * (x[None, :] + 1.0) + lo[:, None]
            vals = msq(xx, np.broadcast_to(y[:, None], xx.shape))
            out[i, j] = h * np.sum(0.5 * (hi - lo) * (vals @ w))
    return out


def _chi2_pvalue(counts, expected_shape):
    expected = expected_shape / expected_shape.sum() * counts.sum()
    use = expected > 20.0
    chi2 = np.sum((counts[use] - expected[use]) ** 2 / expected[use])
    return stats.chi2.sf(chi2, use.sum() - 1), use.sum()


def _flat_phase_space(masses, n, rng):
    """Uniform points in the Dalitz region of (m12^2, m23^2)."""
    mp, m1, m2, m3 = masses
    e12, e23 = _edges(masses)
    xs, ys = [], []
    while sum(len(x) for x in xs) < n:
        x = rng.uniform(e12[0], e12[-1], n)
        y = rng.uniform(e23[0], e23[-1], n)
        lo, hi = _range(y, mp, m1, m2, m3)
        inside = (x > lo) & (x < hi)
        xs.append(x[inside])
        ys.append(y[inside])
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


@pytest.mark.parametrize("case", ["pi0", "eta", "K+", "Ds+"])
def test_dalitz_distribution_matches_matrix_element(case):
    rng = np.random.default_rng(12345)
    chan, masses, msq = _setup(case)
    mothers = random_mothers(rng, chan.mother_mass, N_EVENTS, p_max=200.0)
    m12, m23 = _paper_invariants(case, decay_mothers(chan, mothers, rng))
    e12, e23 = _edges(masses)
    shape = _expected(masses, msq, e12, e23)
    counts, _, _ = np.histogram2d(m12, m23, bins=[e12, e23])
    p_gen, n_used = _chi2_pvalue(counts, shape)
    assert n_used > 100
    assert p_gen > 1e-3, f"{case}: generated Dalitz plot disagrees with |M|^2 (p = {p_gen:.2e})"

    f12, f23 = _flat_phase_space(masses, N_EVENTS, rng)
    flat, _, _ = np.histogram2d(f12, f23, bins=[e12, e23])
    p_flat, _ = _chi2_pvalue(flat, shape)
    assert p_flat < 1e-6, f"{case}: flat phase space not rejected (p = {p_flat:.2e})"


@pytest.mark.parametrize(
    "model",
    [
        DarkDipole(1e-4, 0.1, 1e-4),
        DarkDipole(0.06, 0.1, 1e-4),
        DarkDipole(0.45, 0.005, 1e-4),
        NeutrinoDipole(1e-4, 1e-6, "e"),
        NeutrinoDipole(0.38, 1e-6, "mu"),
        NeutrinoDipole(0.18, 1e-6, "tau"),
    ],
    ids=lambda m: str(m.describe()),
)
def test_envelope_holds_near_thresholds_and_poles(model):
    """generate() raises if |M|^2 ever exceeds the sampling envelope; probe extreme mass points."""
    rng = np.random.default_rng(3)
    for chan in channels(model):
        if chan.is_open and chan.kind != "vector":
            decay_mothers(chan, random_mothers(rng, chan.mother_mass, 200_000), rng)


@pytest.mark.parametrize(
    "kind, masses",
    [
        (dalitz.ANOMALY, (0.547862, 0.0, 0.1, 0.11)),  # eta -> gamma chi1 chi2
        (dalitz.ANOMALY, (0.1349768, 0.0, 0.02, 0.022)),  # pi0 -> gamma chi1 chi2
        (dalitz.CHARGED, (1.96835, 0.0, 0.10566, 0.3)),  # Ds+ -> gamma mu+ N
        (dalitz.CHARGED, (0.493677, 0.0, 0.10566, 0.1)),  # K+ -> gamma mu+ N
    ],
    ids=["eta", "pi0", "Ds+", "K+"],
)
def test_width_integral_matches_independent_quadrature(kind, masses):
    """The sampler's width integral (Gauss-Legendre on its unit square: log m_bc^2, then s_ab)
    equals the integral of |M|^2 over the Dalitz plot done here the other way round: m12^2
    outside, m23^2 inside at fixed m12^2 (PDG limits, numpy), Gauss-Legendre in both."""
    mp, m1, m2, m3 = masses
    msq = dalitz.msq_anomaly if kind == dalitz.ANOMALY else dalitz.msq_charged
    x, w = np.polynomial.legendre.leggauss(128)
    a, b = (m1 + m2) ** 2, (mp - m3) ** 2
    s12 = a + 0.5 * (b - a) * (x + 1.0)
    lo, hi = _range(s12, mp, m3, m2, m1)  # m23^2 = s_32 at fixed s_21
    s23 = lo[:, None] + 0.5 * (hi - lo)[:, None] * (x[None, :] + 1.0)
    inner = 0.5 * (hi - lo) * (_vec(msq, s12[:, None], s23, mp, m2, m3) @ w)
    reference = 0.5 * (b - a) * (inner @ w)
    got = dalitz.phase_space_integral(kind, mp, m2, m3)
    assert got == pytest.approx(reference, rel=1e-5)
    # and not the flat phase-space area, nor |M|^2 with the two invariants swapped
    flat = 0.5 * (b - a) * ((hi - lo) @ w)
    swapped = (
        0.5 * (b - a) * ((0.5 * (hi - lo) * (_vec(msq, s23, s12[:, None], mp, m2, m3) @ w)) @ w)
    )
    assert abs(got / flat - 1) > 0.1 and abs(got / swapped - 1) > 0.1
