"""Thermal relic of the dark dipole: SM degrees of freedom against their textbook limits, the
freeze-out solver against scipy's Radau and against the analytic freeze-out approximation,
the Boltzmann suppression of the co-annihilation partner with delta, the R ratio."""

import math

import numpy as np
import pytest
from scipy import integrate, special

from mcsim.models.relic import (
    M_PLANCK,
    OMEGA_DM_H2,
    RelicPoint,
    freeze_out,
    omega_h2,
    r_ratio,
    relic_coupling,
)
from mcsim.physics.thermo import g_eff, g_star_half, h_eff


def test_degrees_of_freedom_limits():
    # today: photons + 3 neutrinos at T_nu = (4/11)^(1/3) T (up to 0.5%: the electrons are
    # not quite massless at neutrino decoupling)
    assert g_eff(1e-5) == pytest.approx(2 + 7 / 8 * 6 * (4 / 11) ** (4 / 3), rel=5e-3)
    assert h_eff(1e-5) == pytest.approx(2 + 7 / 8 * 6 * 4 / 11, rel=5e-3)
    # between neutrino decoupling and the muon: gamma, e+-, 3 nu
    assert g_eff(5e-3) == pytest.approx(10.75, rel=5e-3)
    # the full Standard Model far above the top mass
    assert g_eff(1e3) == pytest.approx(106.75, rel=0.01)
    # no entropy change where nothing annihilates: g_*^1/2 = sqrt(g)
    assert g_star_half(5e-3) == pytest.approx(math.sqrt(10.75), rel=0.01)


def test_r_ratio_continuum_and_peaks():
    # parton model N_c sum Q^2 (1 + alpha_s/pi) between the resonances
    assert r_ratio(2.5) == pytest.approx(2 * (1 + 0.2 / math.pi), rel=0.05)
    assert r_ratio(5.0) == pytest.approx(10 / 3 * (1 + 0.2 / math.pi), rel=0.05)
    # phi peak: R = 9 BR_ee / alpha^2 (narrow Breit-Wigner at the pole), PDG BR_ee = 2.979e-4
    assert r_ratio(1.019461) == pytest.approx(9 * 2.979e-4 / (1 / 137.036) ** 2, rel=0.05)
    assert r_ratio(0.25) < 0.01


def _radau(log_x, log_rate, log_ye):
    """The same equation for ln Y with scipy's Radau (reference)."""

    def lam(x):
        return math.exp(np.interp(math.log(x), log_x, log_rate)) / x**2

    def rhs(x, w):
        we = np.interp(math.log(x), log_x, log_ye)
        return [-lam(x) * (math.exp(w[0]) - math.exp(min(2 * we - w[0], 300)))]

    def jac(x, w):
        we = np.interp(math.log(x), log_x, log_ye)
        return [[-lam(x) * (math.exp(w[0]) + math.exp(min(2 * we - w[0], 300)))]]

    sol = integrate.solve_ivp(
        rhs,
        (math.exp(log_x[0]), math.exp(log_x[-1])),
        [log_ye[0]],
        method="Radau",
        jac=jac,
        rtol=1e-9,
        atol=1e-11,
    )
    return math.exp(sol.y[0, -1])


@pytest.mark.parametrize("m1,delta,d", [(0.1, 0.01, 5e-4), (1.0, 0.1, 1e-3)])
def test_freeze_out_solver_against_radau(m1, delta, d):
    p = RelicPoint.build(m1, delta)
    log_rate = np.log(p.hubble) + p.log_sv + 2 * math.log(d)
    assert freeze_out(p.log_x, log_rate, p.log_yeq) == pytest.approx(
        _radau(p.log_x, log_rate, p.log_yeq), rel=1e-4
    )


def test_freeze_out_against_the_analytic_approximation():
    """Constant s-wave <sigma v>, one Majorana species (g = 2), constant g = h = 10.75:
    Y_inf = x_f / (sqrt(pi/45) sqrt(g) M_Pl m <sigma v>), x_f = ln[c (c + 2) sqrt(45/8)
    g m M_Pl <sigma v> / (2 pi^3 sqrt(g_*) sqrt(x_f))], c = 1/2 (Kolb & Turner, The Early
    Universe, Eq. 5.40-5.44).  The approximation is good to a few per cent."""
    m, sv, gs = 1.0, 2.0e-9, 10.75
    x = np.geomspace(1.0, 2000.0, 400)
    log_ye = np.log(45 / (4 * math.pi**4) * 2 * x**2 * special.kve(2, x) / gs) - x
    rate = math.sqrt(math.pi / 45) * math.sqrt(gs) * M_PLANCK * m * sv
    y = freeze_out(np.log(x), np.full(x.size, math.log(rate)), log_ye)
    xf = 20.0
    for _ in range(50):
        xf = math.log(
            0.5
            * 2.5
            * math.sqrt(45 / 8)
            * 2
            * m
            * M_PLANCK
            * sv
            / (2 * math.pi**3 * math.sqrt(gs) * math.sqrt(xf))
        )
    assert y == pytest.approx(xf / rate, rel=0.05)


@pytest.mark.parametrize("delta", [0.01, 0.05, 0.1])
def test_thermal_average_has_the_boltzmann_suppression_of_the_partner(delta):
    """Non-relativistic limit (x = 300): <sigma_eff v> = sigma_12 v x 2 g1 g2 (1 + delta)^(3/2)
    exp(-x delta) / (g1 + g2 (1 + delta)^(3/2) exp(-x delta))^2 (Griest & Seckel), with
    sigma_12 v -> e^2 d^2 / pi per open massless final state at threshold (here e+ e- only:
    M1 + M2 ~ 0.1 GeV)."""
    m1, x = 0.05, 300.0
    p = RelicPoint.build(m1, delta)
    log_sv = np.interp(math.log(x), p.log_x, p.log_sv)
    supp = (1 + delta) ** 1.5 * math.exp(-x * delta)
    expected = 4 * math.pi / 137.035999 / math.pi * 2 * 4 * supp / (2 + 2 * supp) ** 2
    assert math.exp(log_sv) == pytest.approx(expected, rel=0.02)


def test_omega_forgets_delta_once_the_partner_is_degenerate():
    om = [omega_h2(0.5, delta, 5e-4) for delta in (1e-4, 1e-3)]
    assert om[1] / om[0] == pytest.approx(1.0, abs=0.03)
    assert omega_h2(0.5, 0.3, 5e-4) / om[0] > 30  # and grows fast once x_f delta > 1


def test_relic_coupling_gives_omega_and_scales_as_one_over_d2():
    d = relic_coupling(0.2, 0.01)
    assert omega_h2(0.2, 0.01, d) == pytest.approx(OMEGA_DM_H2, rel=1e-3)
    # Omega ~ 1 / <sigma v> ~ 1 / d^2 up to the logarithmic shift of x_f
    ratio = omega_h2(0.2, 0.01, 2 * d) / omega_h2(0.2, 0.01, d)
    assert 0.25 < ratio < 0.3


def test_relic_line_keeps_its_couplings_on_disk(tmp_path, monkeypatch):
    """The first call computes (and stores) each point, a second call reads them back -- the
    same numbers, no computation -- and an unwritable cache only means computing again."""
    import mcsim.models.relic as relic

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    masses = [0.05, 0.3]
    first = relic.relic_line(masses, 0.1)
    assert relic.cache_file().parent == tmp_path / "mcsim" and relic.cache_file().exists()
    assert first[1, 1] == relic_coupling(0.3, 0.1)

    def no_computation(*args):
        raise AssertionError("computed again")

    monkeypatch.setattr(relic, "relic_coupling", no_computation)
    np.testing.assert_array_equal(relic.relic_line(masses, 0.1), first)
    with pytest.raises(AssertionError, match="computed again"):
        relic.relic_line([0.07], 0.1)  # a new point is computed
    monkeypatch.undo()
    (tmp_path / "a-file").write_text("")  # no directory can be made under it, even by root
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a-file" / "x"))
    np.testing.assert_array_equal(relic.relic_line([0.3], 0.1), first[1:])


@pytest.mark.parametrize(
    "m1, delta, d",
    [
        (-0.1, 0.1, 1e-4),
        (0.0, 0.1, 1e-4),
        (math.nan, 0.1, 1e-4),
        (0.1, -0.1, 1e-4),
        (0.1, 0.0, 1e-4),
        (0.1, math.nan, 1e-4),
        (0.1, 0.1, -1e-4),
        (0.1, 0.1, 0.0),
        (0.1, 0.1, math.nan),
    ],
)
def test_bad_input(m1, delta, d):
    """M1, delta and d must each be > 0 (NaN is not): every other value is refused before any
    computation by one ValueError naming the three parameters, their allowed range and the
    values given, in the order of the arguments (which one is bad).  relic_coupling, which
    solves omega_h2 for d, refuses a bad M1 or delta with the same message at its first d."""
    message = f"relic: need M1, delta, d > 0, got {m1}, {delta}, {d}"
    with pytest.raises(ValueError) as err:
        omega_h2(m1, delta, d)
    assert str(err.value) == message
    if d == 1e-4:
        with pytest.raises(ValueError) as err:
            relic_coupling(m1, delta)
        assert str(err.value).startswith(f"relic: need M1, delta, d > 0, got {m1}, {delta}, ")


def test_smallest_allowed_inputs_are_accepted():
    """Right above the bounds: d and delta at the smallest positive double, M1 at the lowest
    mass the commands take (1e-6 GeV, mcsim.runtime.validate.MASS) give a finite Omega h^2 > 0;
    a smaller d gives more relic (weaker annihilation), a delta of 5e-324 the same as 1e-6
    (chi2 degenerate with chi1 either way)."""
    from mcsim.runtime.validate import MASS

    tiny = math.nextafter(0.0, 1.0)
    assert tiny > 0
    at_tiny_d = omega_h2(0.1, 0.1, tiny)
    assert math.isfinite(at_tiny_d) and at_tiny_d > omega_h2(0.1, 0.1, 1e-4) > 0
    at_tiny_delta = omega_h2(0.1, tiny, 1e-4)
    assert math.isfinite(at_tiny_delta) and at_tiny_delta > 0
    assert at_tiny_delta == pytest.approx(omega_h2(0.1, 1e-6, 1e-4), rel=1e-5)
    at_low_mass = omega_h2(MASS.low, 0.1, 1e-4)
    assert math.isfinite(at_low_mass) and at_low_mass > 0
