"""e+ e- -> gamma chi1 chi2: the matrix element against explicit Dirac matrices, the vertex
normalisation against the width (A.1), the cross section against an independent phase-space
integration, the sampled photon spectrum and angle against d sigma / dx dcos (chi-square), and
4-momentum conservation."""

import math

import numpy as np
import pytest
from scipy import stats
from scipy.stats import qmc

from mcsim.models.dipoles import DarkDipole
from mcsim.physics.constants import E_CHARGE_SQ
from mcsim.physics.monophoton import (
    ANGULAR_ENVELOPE,
    dsigma_dx_dcos,
    envelope_bound,
    sample_cm,
    sigma_2to2,
    sigma_cut,
    squared_me_many,
)

# --------------------------------------------------------- explicit Dirac matrices (reference)
_I2, _Z2 = np.eye(2), np.zeros((2, 2))
_PAULI = (
    np.array([[0, 1], [1, 0]], complex),
    np.array([[0, -1j], [1j, 0]]),
    np.array([[1, 0], [0, -1]], complex),
)
_G = [np.block([[_I2, _Z2], [_Z2, -_I2]]).astype(complex)]
_G += [np.block([[_Z2, s], [-s, _Z2]]) for s in _PAULI]
_ETA = np.diag([1.0, -1.0, -1.0, -1.0])
_ONE = np.eye(4)


def _slash(p):
    return sum(_ETA[m, m] * p[m] * _G[m] for m in range(4))


def _sigma(m, n):
    return 0.5j * (_G[m] @ _G[n] - _G[n] @ _G[m])


def _bar(a):
    return _G[0] @ a.conj().T @ _G[0]


def _dipole_vertex(p, d):
    """2 d sigma^{mu nu} p_nu for mu = 0..3 (upper index), p the photon momentum."""
    low = _ETA @ p
    return [2 * d * sum(_sigma(m, n) * low[n] for n in range(4)) for m in range(4)]


def _me_explicit(p1, p2, k, q1, q2, m1, m2, d):
    """sum |M|^2 from traces of explicit 4x4 matrices: sigma^{mu nu} as it stands (no Gordon
    identity), both photon emissions, polarisation sum -g."""
    big_p = q1 + q2
    qq = big_p @ _ETA @ big_p
    v = _dipole_vertex(big_p, d)
    t1, t2 = -2 * (p1 @ _ETA @ k), -2 * (p2 @ _ETA @ k)
    o = [
        [
            _G[m] @ _slash(p1 - k) @ _G[r] / t1 + _G[r] @ _slash(k - p2) @ _G[m] / t2
            for r in range(4)
        ]
        for m in range(4)
    ]
    h = np.array(
        [
            [
                np.trace((_slash(q2) + m2 * _ONE) @ v[m] @ (_slash(q1) - m1 * _ONE) @ _bar(v[a]))
                for a in range(4)
            ]
            for m in range(4)
        ]
    )
    lep = np.array(
        [
            [
                sum(
                    -_ETA[r, r] * np.trace(_slash(p2) @ o[m][r] @ _slash(p1) @ _bar(o[a][r]))
                    for r in range(4)
                )
                for a in range(4)
            ]
            for m in range(4)
        ]
    )
    return (E_CHARGE_SQ**2 / qq**2 * np.einsum("ma,mn,ab,nb->", lep, _ETA, _ETA, h)).real


def _boost(p, b):
    """p (n, 4) given in the rest frames of systems moving with velocities b (n, 3)."""
    b2 = np.sum(b * b, axis=1)
    g = 1 / np.sqrt(1 - b2)
    bp = np.sum(b * p[:, 1:], axis=1)
    out = np.empty_like(p)
    out[:, 0] = g * (p[:, 0] + bp)
    out[:, 1:] = p[:, 1:] + ((g - 1) * bp / b2 + g * p[:, 0])[:, None] * b
    return out


def _points(rs, m1, m2, x, c, phi, ct, ph):
    """CM momenta (p1, p2, k, q1, q2), each (n, 4), for photons (x, cos theta, phi) and chi2
    directions (cos, phi) in the rest frame of q1 + q2 (arrays of n points, or scalars)."""
    x, c, phi, ct, ph = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(v, float)) for v in (x, c, phi, ct, ph))
    )
    n = x.size
    e = rs / 2
    p1, p2 = np.tile([e, 0.0, 0.0, e], (n, 1)), np.tile([e, 0.0, 0.0, -e], (n, 1))
    st = np.sqrt(1 - c * c)
    k = (x * e)[:, None] * np.column_stack([np.ones(n), st * np.cos(phi), st * np.sin(phi), c])
    q = p1 + p2 - k
    mq = np.sqrt(q[:, 0] ** 2 - np.sum(q[:, 1:] ** 2, axis=1))
    ps = np.sqrt((mq**2 - (m1 + m2) ** 2) * (mq**2 - (m1 - m2) ** 2)) / (2 * mq)
    sn = np.sqrt(1 - ct * ct)
    nv = ps[:, None] * np.column_stack([sn * np.cos(ph), sn * np.sin(ph), ct])
    b = q[:, 1:] / q[:, :1]
    q2 = _boost(np.column_stack([np.hypot(ps, m2), nv]), b)
    q1 = _boost(np.column_stack([np.hypot(ps, m1), -nv]), b)
    return p1, p2, k, q1, q2


RS = 10.58


@pytest.mark.parametrize("m1,delta", [(0.1, 0.1), (1.0, 0.005), (2.0, 0.5)])
def test_matrix_element_equals_explicit_dirac_traces(m1, delta):
    rng = np.random.default_rng(3)
    m2 = m1 * (1 + delta)
    u = rng.uniform(size=(4, 5))
    arrays = _points(
        RS,
        m1,
        m2,
        0.05 + 0.55 * u[:, 0],
        -0.99 + 1.98 * u[:, 1],
        2 * math.pi * u[:, 2],
        -1 + 2 * u[:, 3],
        2 * math.pi * u[:, 4],
    )
    fast = squared_me_many(*arrays, m1, m2, 2e-3)
    ref = [_me_explicit(*(a[i] for a in arrays), m1, m2, 2e-3) for i in range(4)]
    np.testing.assert_allclose(fast, ref, rtol=1e-9)


def test_vertex_normalisation_gives_the_width_of_eq_a1():
    """chi2 -> chi1 gamma with the same vertex 2 d sigma^{mu nu} k_nu, explicit matrices."""
    model = DarkDipole(m1=0.3, delta=0.4, d=1e-3)
    m1, m2, d = model.m1, model.m2, model.d
    p = (m2**2 - m1**2) / (2 * m2)
    q2 = np.array([m2, 0, 0, 0])
    q1 = np.array([math.hypot(p, m1), 0.3 * p, 0.0, -math.sqrt(0.91) * p])
    k = q2 - q1
    v = _dipole_vertex(k, d)
    amp2 = sum(
        -_ETA[m, m]
        * np.trace((_slash(q1) + m1 * _ONE) @ v[m] @ (_slash(q2) + m2 * _ONE) @ _bar(v[m])).real
        for m in range(4)
    )
    width = p / (8 * math.pi * m2**2) * amp2 / 2
    assert width == pytest.approx(model.width, rel=1e-12)


def _sigma_independent(rs, m1, m2, d, e_min, c_range, n_log2=15):
    """(1/2s)(1/4) int sum|M|^2 dPhi_3 with dPhi_3 = d^3k / ((2 pi)^3 2 E_k) x dPhi_2(Q; q1 q2),
    dPhi_2 = p* / (16 pi^2 M_Q) dOmega*: photon energy and cos(theta) uniform, the azimuth
    by symmetry, Sobol points; returns (sigma, its error from 8 scrambled replicas)."""
    s = rs * rs
    e_max = (s - (m1 + m2) ** 2) / (2 * rs)
    estimates = []
    for rep in range(8):
        u = qmc.Sobol(4, seed=rep).random_base2(n_log2)
        e = e_min + (e_max - e_min) * u[:, 0]
        c = c_range[0] + (c_range[1] - c_range[0]) * u[:, 1]
        ct, ph = 2 * u[:, 2] - 1, 2 * math.pi * u[:, 3]
        me = squared_me_many(*_points(rs, m1, m2, 2 * e / rs, c, 0.0, ct, ph), m1, m2, d)
        mq = np.sqrt(s - 2 * rs * e)
        ps = np.sqrt((mq**2 - (m1 + m2) ** 2) * (mq**2 - (m1 - m2) ** 2)) / (2 * mq)
        jac = (
            e
            / (2 * (2 * math.pi) ** 3)
            * 2
            * math.pi
            * ps
            / (16 * math.pi**2 * mq)
            * 4
            * math.pi
            * (e_max - e_min)
            * (c_range[1] - c_range[0])
        )
        estimates.append(np.mean(me * jac) / (8 * s))
    return float(np.mean(estimates)), float(np.std(estimates, ddof=1) / math.sqrt(8))


@pytest.mark.parametrize("m1,delta", [(0.1, 0.1), (2.0, 0.5)])
def test_cross_section_against_independent_integration(m1, delta):
    m2, d = m1 * (1 + delta), 1e-3
    c_range = (-0.85, 0.7)
    ref, err = _sigma_independent(RS, m1, m2, d, 2.0, c_range, n_log2=12)
    sigma = sigma_cut(RS**2, m1, m2, d, x_min=2 * 2.0 / RS, cos_range=c_range)
    assert abs(sigma - ref) < 4 * err + 2e-3 * ref


def _sample(m1, m2, n, seed, x_min=0.1, c_range=(-0.9, 0.8)):
    x_max = 1 - (m1 + m2) ** 2 / RS**2
    bound = envelope_bound(RS**2, m1, m2, x_min, x_max)
    return sample_cm(n, RS, m1, m2, x_min, x_max, *c_range, bound, np.random.default_rng(seed)), (
        x_min,
        x_max,
        bound,
    )


def test_sampler_rate_gives_the_cross_section():
    """The accept-reject rate of the sampler, times its envelope volume, is the cross section
    (the second step accepts 1 / ANGULAR_ENVELOPE of the events on average)."""
    m1, m2 = 0.5, 0.55
    (k, _, _, trials, violations), (x_min, x_max, bound) = _sample(m1, m2, 100_000, 5)
    assert violations == 0
    volume = (
        1
        / 137.035999084
        / math.pi
        * bound
        * math.log(x_max / x_min)
        * (math.atanh(0.8) - math.atanh(-0.9))
    )
    est = ANGULAR_ENVELOPE * len(k) / trials * volume
    err = est / math.sqrt(len(k))
    assert est == pytest.approx(
        sigma_cut(RS**2, m1, m2, 1.0, x_min=x_min, cos_range=(-0.9, 0.8)), abs=4 * err
    )


def _binned_pdf(edges_x, edges_c, pdf, sub=40):
    """Expected fractions per bin of x and of cos(theta) of a density pdf(x, c) on the
    generation region (midpoint sums, ``sub`` points inside every bin)."""

    def midpoints(edges):
        t = (np.arange(sub) + 0.5) / sub
        lo, width = edges[:-1, None], np.diff(edges)[:, None]
        return (lo + t * width).ravel(), np.repeat(np.diff(edges) / sub, sub)

    xm, dx = midpoints(edges_x)
    cm, dc = midpoints(edges_c)
    w = pdf(xm[:, None], cm[None, :]) * dx[:, None] * dc[None, :]
    w /= w.sum()
    return (w.sum(axis=1).reshape(-1, sub).sum(axis=1), w.sum(axis=0).reshape(-1, sub).sum(axis=1))


def _chi2_pvalue(counts, fractions):
    expected = fractions * counts.sum()
    return stats.chi2.sf(np.sum((counts - expected) ** 2 / expected), len(counts) - 1)


def test_photon_energy_and_angle_follow_dsigma_and_a_wrong_shape_fails():
    m1, m2 = 0.3, 0.303
    c_range = (-0.9, 0.8)
    (k, *_), (x_min, x_max, _) = _sample(m1, m2, 200_000, 13, c_range=c_range)
    x = 2 * k[:, 0] / RS
    c = k[:, 3] / k[:, 0]
    edges_x = np.geomspace(x_min, x_max, 25)
    edges_c = np.linspace(*c_range, 25)
    hx, hc = np.histogram(x, edges_x)[0], np.histogram(c, edges_c)[0]
    s = RS**2

    def right(xx, cc):
        return dsigma_dx_dcos(xx, cc, s, m1, m2, 1.0)

    def wrong(xx, cc):  # the radiator without its -x/2 term
        return (1 + (1 - xx) ** 2) / (xx * (1 - cc * cc)) * sigma_2to2(s * (1 - xx), m1, m2, 1.0)

    fx, fc = _binned_pdf(edges_x, edges_c, right)
    assert _chi2_pvalue(hx, fx) > 1e-3
    assert _chi2_pvalue(hc, fc) > 1e-3
    gx, gc = _binned_pdf(edges_x, edges_c, wrong)
    assert _chi2_pvalue(hx, gx) < 1e-6
    assert _chi2_pvalue(hc, gc) < 1e-6


def test_four_momentum_conservation_and_masses():
    m1, m2 = 0.7, 0.77
    (k, q1, q2, _, _), _ = _sample(m1, m2, 20_000, 2)
    total = k + q1 + q2
    np.testing.assert_allclose(total[:, 0], RS, rtol=1e-12)
    np.testing.assert_allclose(total[:, 1:], 0.0, atol=1e-10)
    for p, m in ((k, 0.0), (q1, m1), (q2, m2)):
        mass2 = p[:, 0] ** 2 - np.sum(p[:, 1:] ** 2, axis=1)
        np.testing.assert_allclose(mass2, m * m, atol=1e-9)


def test_same_seed_same_events():
    a = _sample(0.2, 0.21, 5000, 7)[0]
    b = _sample(0.2, 0.21, 5000, 7)[0]
    c = _sample(0.2, 0.21, 5000, 8)[0]
    for j in range(3):
        assert np.array_equal(a[j], b[j])
    assert not np.array_equal(a[0], c[0])
