"""Reach machinery: exact coupling re-weighting, contours of known yields, CLs limits, I/O."""

import math

import numpy as np
import pytest
from scipy import optimize, stats

from mcsim.detector.cards import load_detector
from mcsim.scan.reach import (
    ReachGrid,
    contour_lines,
    log_grid,
    read_grids,
    recast_upper_limit,
    signal_upper_limit,
    write_contours,
    write_grids,
)


def test_contour_of_a_power_law_is_exact():
    # N = 3 (d / d0)^2 (m / m0) is a straight line in (log m, log d): d = d0 sqrt(m0 / m)
    masses = np.geomspace(0.01, 5.0, 23)
    couplings = np.geomspace(1e-8, 1e-2, 41)
    d0, m0 = 1e-5, 0.1
    events = 3.0 * (couplings[None, :] / d0) ** 2 * (masses[:, None] / m0)
    (line,) = contour_lines(masses, couplings, events, 3.0)
    np.testing.assert_allclose(line[:, 1], d0 * np.sqrt(m0 / line[:, 0]), rtol=1e-9)
    assert line[:, 0].min() == pytest.approx(0.01) and line[:, 0].max() == pytest.approx(5.0)


def test_contour_of_a_long_lived_yield_closes_both_edges():
    # N = A d^4 exp(-k d^2): rises as d^4 (production x decay in the long-lifetime limit),
    # dies when the state decays before the detector; N = 3 at two couplings
    masses = np.geomspace(0.05, 1.0, 9)
    couplings = np.geomspace(1e-8, 1e-2, 301)
    amp, k = 1e22, 1e8
    events = np.tile(amp * couplings**4 * np.exp(-k * couplings**2), (masses.size, 1))
    lines = contour_lines(masses, couplings, events, 3.0)
    d_all = np.concatenate([ln[:, 1] for ln in lines])
    lo = (3.0 / amp) ** 0.25
    hi = math.exp(
        optimize.brentq(
            lambda x: math.log(amp) + 4 * x - k * math.exp(2 * x) - math.log(3),
            math.log(1e-5),
            math.log(1e-2),
        )
    )
    assert d_all.min() == pytest.approx(lo, rel=2e-3)
    assert d_all.max() == pytest.approx(hi, rel=2e-3)


@pytest.mark.parametrize(
    "n_obs, b, expected",
    [
        (0, 0.0, 2.9957),  # -ln 0.05
        (1, 0.0, 4.7439),  # classical Poisson limits (PDG Table 40.3)
        (5, 0.0, 10.5130),
        (0, 3.0, 2.9957),  # CLs does not depend on b when nothing is seen
    ],
)
def test_cls_limits_against_known_values(n_obs, b, expected):
    assert signal_upper_limit(n_obs, b) == pytest.approx(expected, abs=2e-4)


def test_cls_limit_definition_and_monotonicity():
    s = signal_upper_limit(1, 0.5)
    assert stats.poisson.cdf(1, s + 0.5) / stats.poisson.cdf(1, 0.5) == pytest.approx(0.05)
    assert signal_upper_limit(5, 3.5) < signal_upper_limit(5, 1.0)
    # a background uncertainty widens the limit only a little for 0.5 +- 0.1
    assert s < signal_upper_limit(1, 0.5, 0.1) < 1.02 * s


def test_recast_limits_of_the_shipped_cards():
    bebc = recast_upper_limit(load_detector("bebc"))
    nucal = recast_upper_limit(load_detector("nucal"))
    charm = recast_upper_limit(load_detector("charm2"))
    assert bebc == pytest.approx(4.36, abs=0.02)
    assert nucal == pytest.approx(7.2, abs=0.3)
    # 5429 observed, all Standard-Model: CLs with n = b is close to 1.96 sqrt(n)
    assert charm == pytest.approx(1.96 * math.sqrt(5429), rel=0.03)
    with pytest.raises(ValueError, match="not a recast"):
        recast_upper_limit(load_detector("na62"))


def test_bad_limit_input():
    with pytest.raises(ValueError, match="observed events"):
        signal_upper_limit(-1, 0.0)
    with pytest.raises(ValueError, match="background"):
        signal_upper_limit(1, -0.5)


def test_grid_and_contour_files_round_trip(tmp_path):
    masses = np.geomspace(0.01, 1.0, 5)
    couplings = np.geomspace(1e-7, 1e-3, 6)
    events = np.outer(masses, couplings) * 1e7
    g = ReachGrid("toy", masses, couplings, events, 3.0, {"note": "x"}, 0.1 * np.sqrt(events))
    js, cs = write_grids([g], tmp_path / "grid")
    (back,) = read_grids(js)
    np.testing.assert_allclose(back.events, events, rtol=1e-5)
    np.testing.assert_allclose(back.stat_error, 0.1 * np.sqrt(events), rtol=1e-2)
    assert cs.read_text().splitlines()[0] == "label,mass_GeV,d_inv_GeV,events,stat_error"
    cj, cc = write_contours([g], tmp_path / "contours")
    assert "toy" in cj.read_text() and len(cc.read_text().splitlines()) > 1
    curves = {row.split(",")[2] for row in cc.read_text().splitlines()[1:]}
    assert curves == {"central", "minus_1sigma", "plus_1sigma"}


def test_contour_band_brackets_the_contour():
    # N = 3 (d / d0)^2 with a 10% error: the band lines are at d0 / sqrt(1 -+ 0.1)
    masses = np.geomspace(0.01, 1.0, 5)
    couplings = np.geomspace(1e-7, 1e-3, 81)
    events = np.tile(3.0 * (couplings / 1e-5) ** 2, (masses.size, 1))
    g = ReachGrid("toy", masses, couplings, events, 3.0, stat_error=0.1 * events)
    (minus,), (plus,) = g.contour_band()
    np.testing.assert_allclose(minus[:, 1], 1e-5 / math.sqrt(0.9), rtol=2e-3)
    np.testing.assert_allclose(plus[:, 1], 1e-5 / math.sqrt(1.1), rtol=2e-3)


def test_log_grid_errors():
    with pytest.raises(ValueError, match="at least 2"):
        log_grid(0.1, 1.0, 1, name="mass")
    with pytest.raises(ValueError, match="0 < low < high"):
        log_grid(1.0, 0.1, 10, name="mass")


def test_min_coupling_interpolates_between_mass_columns():
    """N = (d / d0(m))^4 with d0 = 1e-6 (m / 0.1 GeV)^-1: the N = 3 coupling at a mass between grid
    columns follows the power law, not the nearest column."""
    from mcsim.scan.reach import min_coupling

    masses = np.geomspace(0.01, 5.0, 40)
    couplings = np.geomspace(1e-9, 1e-3, 100)
    d0 = 1e-6 * (masses[:, None] / 0.1) ** -1.0
    events = (couplings[None, :] / d0) ** 4
    for m in (0.1, 0.3, 1.0):
        expect = 1e-6 * (m / 0.1) ** -1.0 * 3**0.25
        assert min_coupling(masses, couplings, events, m) == pytest.approx(expect, rel=0.02)
    assert np.isnan(min_coupling(masses, couplings, events, 10.0))
