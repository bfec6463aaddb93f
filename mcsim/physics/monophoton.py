"""e+ e- -> gamma chi1 chi2 through the dark dipole: the full 2 -> 3 matrix element and the
cross sections (derivation: ``analysis/babar_matrix_element.md``).

Conventions: centre-of-mass (CM) frame, e-(p1) along +z, e+(p2) along -z, photon k, chi1 q1,
chi2 q2; massless electrons; 4-vectors (E, px, py, pz) in GeV; d in GeV^-1; cross sections in
GeV^-2 (``GEV2_TO_FB`` converts).  The dipole vertex of ``d chi2bar sigma^{mu nu} chi1 F_{mu nu}``
is 2 d sigma^{mu nu} P_nu (P the photon momentum), the normalisation that gives the width of
Eq. (A.1).  With the Gordon identity the chi current is 2 d [(q2 - q1)_mu - (M1 + M2) gamma_mu],
and the spin sum

    sum |M|^2 = e^4 / Q^4  L^{mu alpha}(p1, p2, k)  H_{mu alpha}(q1, q2),    Q = q1 + q2,

with the initial-state-radiation lepton tensor L (traces of six gamma matrices, evaluated here
from dot products) and the chi tensor H (closed form).  Integrated over the chi directions this
factorises exactly into the radiator of a massless-electron ISR photon times the 2 -> 2 cross
section at Q^2 = s (1 - x), x = 2 E_gamma / sqrt(s):

    d sigma / dx dcos(theta) = (alpha / pi) [(1 + (1 - x)^2) / (x sin^2 theta) - x / 2]
                               sigma_2(s (1 - x)),
    sigma_2(s) = 4 alpha d^2 F(s) beta(s) / (3 s^2),
    F(s) = (s - S^2)(s + 4 M1 M2) / 2 + S^2 (s - S^2 + 6 M1 M2),   S = M1 + M2,
    beta(s) = lambda^(1/2)(s, M1^2, M2^2) / s.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate

from mcsim.physics.constants import ALPHA, E_CHARGE_SQ
from mcsim.physics.xoshiro import azimuth, direction, stream, uniform
from mcsim.runtime.jit_cache import kernel, ufunc

__all__ = [
    "GEV2_TO_FB",
    "dsigma_dx_dcos",
    "envelope_bound",
    "phase_space_weight",
    "sample_cm",
    "sigma_2to2",
    "sigma_cut",
    "squared_me",
    "squared_me_many",
]

#: sum |M|^2 over the chi directions at fixed photon is a quadratic form in the chi direction
#: (c0 + n.C.n, >= 0), so its maximum is at most 3 times its average: the envelope factor of the
#: chi angles in :func:`sample_cm`.
ANGULAR_ENVELOPE = 3.0

_BASIS = np.eye(4)  # unit 4-vectors e_nu for g_{mu alpha} L^{mu alpha} = sum eta_nu L(e_nu, e_nu)

#: 1 GeV^-2 in femtobarn ((hbar c)^2 = 0.3893794 mb GeV^2).
GEV2_TO_FB = 0.38937937e12


@kernel(inline="always")
def _dot(a, b):
    return a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3]


@kernel(inline="always")
def _tr4(a, b, c, e):
    """Tr(a/ b/ c/ e/) / 4."""
    return _dot(a, b) * _dot(c, e) - _dot(a, c) * _dot(b, e) + _dot(a, e) * _dot(b, c)


@kernel(inline="always")
def _tr6(a, b, c, e, f, g):
    """Tr(a/ b/ c/ e/ f/ g/) / 4 by the recursion on the first slash."""
    return (
        _dot(a, b) * _tr4(c, e, f, g)
        - _dot(a, c) * _tr4(b, e, f, g)
        + _dot(a, e) * _tr4(b, c, f, g)
        - _dot(a, f) * _tr4(b, c, e, g)
        + _dot(a, g) * _tr4(b, c, e, f)
    )


@kernel(inline="always")
def _sub(a, b):
    """a - b of two 4-vectors, as a tuple (no array allocated in the kernels' loops)."""
    return a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3]


@kernel()
def _lepton(p1, p2, k, a, b):
    """L^{mu alpha} a_mu b_alpha for e-(p1) e+(p2) -> gamma(k) + current, summed over spins and
    photon polarisations (sum eps eps* -> -g), without couplings."""
    t1 = -2.0 * _dot(p1, k)
    t2 = -2.0 * _dot(p2, k)
    u = _sub(p1, k)
    w = _sub(k, p2)
    s11 = _tr6(p2, a, u, p1, u, b) / (t1 * t1)
    s22 = _tr6(p2, w, a, p1, b, w) / (t2 * t2)
    s12 = _tr6(p2, a, u, w, b, p1) / (t1 * t2)
    s21 = _tr6(p2, p1, a, w, u, b) / (t1 * t2)
    return 8.0 * (s11 + s22 + s12 + s21)  # -(-2) x 4 from the traces


@kernel()
def squared_me(p1, p2, k, q1, q2, m1, m2, d):
    """Spin-summed |M|^2 (not averaged) of e-(p1) e+(p2) -> gamma(k) chi1(q1) chi2(q2)."""
    r = _sub(q2, q1)
    w = (
        m2 * q1[0] - m1 * q2[0],
        m2 * q1[1] - m1 * q2[1],
        m2 * q1[2] - m1 * q2[2],
        m2 * q1[3] - m1 * q2[3],
    )
    big = m1 + m2
    q12 = _dot(q1, q2)
    Q = (q1[0] + q2[0], q1[1] + q2[1], q1[2] + q2[2], q1[3] + q2[3])
    Q2 = _dot(Q, Q)
    trace_g = 0.0
    for mu in range(4):
        e = _BASIS[mu]
        trace_g += (1.0 if mu == 0 else -1.0) * _lepton(p1, p2, k, e, e)
    lh = (
        (q12 - m1 * m2) * _lepton(p1, p2, k, r, r)
        - big * (_lepton(p1, p2, k, w, r) + _lepton(p1, p2, k, r, w))
        + big
        * big
        * (_lepton(p1, p2, k, q2, q1) + _lepton(p1, p2, k, q1, q2) - (q12 + m1 * m2) * trace_g)
    )
    return E_CHARGE_SQ**2 / (Q2 * Q2) * 16.0 * d * d * lh


@kernel()
def squared_me_many(p1, p2, k, q1, q2, m1, m2, d):
    """:func:`squared_me` for arrays of momenta (n, 4)."""
    n = k.shape[0]
    out = np.empty(n)
    for i in range(n):
        out[i] = squared_me(p1[i], p2[i], k[i], q1[i], q2[i], m1, m2, d)
    return out


@kernel(inline="always")
def _sigma2(s, m1, m2):
    """sigma(e+ e- -> chi1 chi2) / d^2 at squared CM energy s [GeV^2]; 0 below threshold."""
    big2 = (m1 + m2) ** 2
    if s <= big2:
        return 0.0
    beta = math.sqrt((s - big2) * (s - (m1 - m2) ** 2)) / s
    f = (s - big2) * (s + 4.0 * m1 * m2) / 2.0 + big2 * (s - big2 + 6.0 * m1 * m2)
    return 4.0 * ALPHA * f * beta / (3.0 * s * s)


@ufunc(["float64(float64, float64, float64)"])
def _sigma2_array(s, m1, m2):
    return _sigma2(s, m1, m2)


def sigma_2to2(s, m1: float, m2: float, d: float):
    """sigma(e+ e- -> chi1 chi2) [GeV^-2] at squared CM energy s [GeV^2] (0 below threshold);
    s may be an array."""
    return d * d * _sigma2_array(np.asarray(s, dtype=np.float64), float(m1), float(m2))


def dsigma_dx_dcos(x, cos_theta, s: float, m1: float, m2: float, d: float):
    """d sigma / dx dcos(theta) [GeV^-2] of the photon (x = 2 E / sqrt(s), theta to the e-
    beam, both in the CM frame), summed over the chi directions."""
    x = np.asarray(x, dtype=np.float64)
    c = np.asarray(cos_theta, dtype=np.float64)
    radiator = ALPHA / math.pi * ((1.0 + (1.0 - x) ** 2) / (x * (1.0 - c * c)) - x / 2.0)
    return radiator * sigma_2to2(s * (1.0 - x), m1, m2, d)


def sigma_cut(
    s: float, m1: float, m2: float, d: float, *, x_min: float, cos_range: tuple[float, float]
) -> float:
    """sigma [GeV^-2] with x = 2 E_gamma / sqrt(s) >= x_min and cos(theta) in ``cos_range``
    (CM frame): the integral of :func:`dsigma_dx_dcos`, analytic in cos(theta), adaptive
    quadrature in x."""
    x_max = 1.0 - (m1 + m2) ** 2 / s
    if x_min >= x_max:
        return 0.0
    c0, c1 = cos_range
    a_term = math.atanh(c1) - math.atanh(c0)  # integral of dc / (1 - c^2)
    b_term = c1 - c0

    def integrand(x):
        rad = ALPHA / math.pi * ((1.0 + (1.0 - x) ** 2) / x * a_term - x / 2.0 * b_term)
        return rad * float(sigma_2to2(s * (1.0 - x), m1, m2, d))

    # the threshold x_max is a square-root edge: split off its neighbourhood
    edge = x_max - 1e-3 * (x_max - x_min)
    total = 0.0
    for lo, hi in ((x_min, edge), (edge, x_max)):
        total += integrate.quad(integrand, lo, hi, epsabs=0.0, epsrel=1e-10, limit=200)[0]
    return total


@kernel(inline="always")
def phase_space_weight(s, x, m1, m2):
    """dPhi_3 / (dx dcos dphi dOmega*) [GeV^2] with Q^2 = s (1 - x):
    [x / (32 pi^2)] (photon, dOmega = dcos dphi) x [s / (2 pi)] (dQ^2 = s dx)
    x [p* / (16 pi^2 Q)] (chi pair in the Q rest frame, p* its momentum there)."""
    qq = s * (1.0 - x)
    lam = (qq - (m1 + m2) ** 2) * (qq - (m1 - m2) ** 2)
    if lam <= 0.0:
        return 0.0
    p_star = math.sqrt(lam) / (2.0 * math.sqrt(qq))
    return (
        x / (32.0 * math.pi**2) * s / (2.0 * math.pi) * p_star / (16.0 * math.pi**2 * math.sqrt(qq))
    )


def envelope_bound(s: float, m1: float, m2: float, x_min: float, x_max: float) -> float:
    """Upper bound of (1 + (1 - x)^2) sigma_2(s (1 - x)) / d^2 on [x_min, x_max] (the photon
    step of :func:`sample_cm`): the maximum on a fine grid, times 1.05 (the function is smooth;
    the kernel counts any event above the bound)."""
    x = np.linspace(x_min, x_max, 20001)
    return 1.05 * float(np.max((1.0 + (1.0 - x) ** 2) * sigma_2to2(s * (1.0 - x), m1, m2, 1.0)))


@kernel()
def _boost_from_rest(px, py, pz, e, bx, by, bz):
    """4-momentum (e, p) given in a frame moving with velocity b, back in the original frame."""
    b2 = bx * bx + by * by + bz * bz
    gamma = 1.0 / math.sqrt(1.0 - b2)
    bp = bx * px + by * py + bz * pz
    f = (gamma - 1.0) * bp / b2 + gamma * e if b2 > 0.0 else 0.0
    return gamma * (e + bp), px + f * bx, py + f * by, pz + f * bz


@kernel()
def sample_cm(n, rs, m1, m2, x_min, x_max, c0, c1, bound, rng):
    """n events of e-(+z) e+ -> gamma chi1 chi2 in the CM frame at sqrt(s) = rs [GeV] with
    x = 2 E_gamma / rs in [x_min, x_max] and the photon's cos(theta) in [c0, c1], drawn from the
    full |M|^2 (:func:`squared_me`) by accept-reject:

    1. photon: x log-uniform, cos(theta) with density 1 / (1 - c^2), phi uniform; accepted with
       (1 + (1 - x)^2 - x^2 sin^2(theta) / 2) sigma_2(s (1 - x)) / bound, which gives the
       factorised d sigma / dx dcos(theta) (module docstring);
    2. chi pair: direction of chi2 uniform in the Q = q1 + q2 rest frame (axes parallel to the CM
       axes), accepted with |M|^2 / (3 <|M|^2>), <|M|^2> the exact average over the direction.

    Returns (k, q1, q2) (n, 4) each [GeV] and the number of trials and of bound violations (any
    is an error)."""
    k = np.empty((n, 4))
    q1 = np.empty((n, 4))
    q2 = np.empty((n, 4))
    s = rs * rs
    log_ratio = math.log(x_max / x_min)
    t0, t1 = math.atanh(c0), math.atanh(c1)
    half = 0.5 * rs
    p1 = np.array([half, 0.0, 0.0, half])
    p2 = np.array([half, 0.0, 0.0, -half])
    kk = np.empty(4)
    v1 = np.empty(4)
    v2 = np.empty(4)
    big2 = (m1 + m2) ** 2
    dif2 = (m1 - m2) ** 2
    trials = 0
    violations = 0
    state = stream(rng)
    i = 0
    while i < n:
        trials += 1
        x = x_min * math.exp(log_ratio * uniform(state))
        c = math.tanh(t0 + (t1 - t0) * uniform(state))
        qq = s * (1.0 - x)
        if qq <= big2:
            continue
        lam = (qq - big2) * (qq - dif2)
        sig2 = _sigma2(qq, m1, m2)
        sin2 = 1.0 - c * c
        target = (1.0 + (1.0 - x) ** 2 - 0.5 * x * x * sin2) * sig2
        if target > bound:
            violations += 1
        if uniform(state) * bound > target:
            continue
        cphi, sphi = azimuth(state)
        st = math.sqrt(sin2)
        ek = x * half
        kk[0], kk[1], kk[2], kk[3] = ek, ek * st * cphi, ek * st * sphi, ek * c
        mq = math.sqrt(qq)
        eq = rs - ek
        bx, by, bz = -kk[1] / eq, -kk[2] / eq, -kk[3] / eq
        p_star = math.sqrt(lam) / (2.0 * mq)
        nx, ny, nz = direction(state)
        e2 = math.sqrt(p_star * p_star + m2 * m2)
        e1 = math.sqrt(p_star * p_star + m1 * m1)
        v2[0], v2[1], v2[2], v2[3] = _boost_from_rest(
            p_star * nx, p_star * ny, p_star * nz, e2, bx, by, bz
        )
        v1[0], v1[1], v1[2], v1[3] = _boost_from_rest(
            -p_star * nx, -p_star * ny, -p_star * nz, e1, bx, by, bz
        )
        me = squared_me(p1, p2, kk, v1, v2, m1, m2, 1.0)
        # <sum |M|^2> over the chi direction: d sigma/dx dcos = (1/8s) <|M|^2> 8 pi^2 dPhi weight
        dsig = ALPHA / math.pi * target / x / sin2
        mean = dsig * 8.0 * s / (8.0 * math.pi**2 * phase_space_weight(s, x, m1, m2))
        ratio = me / (ANGULAR_ENVELOPE * mean)
        if ratio > 1.0:
            violations += 1
        if uniform(state) > ratio:
            continue
        for j in range(4):
            k[i, j] = kk[j]
            q1[i, j] = v1[j]
            q2[i, j] = v2[j]
        i += 1
    return k, q1, q2, trials, violations
