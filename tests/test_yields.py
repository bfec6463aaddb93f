"""One yield path: the weights summed by simulate(), the events file's cutflow and the reach
scan are the same numbers; the Monte Carlo errors they carry are right."""

import math

import numpy as np
import pytest

from mcsim import DarkDipole
from mcsim.detector.cards import load_detector
from mcsim.generation.cutflow import cutflow
from mcsim.generation.simulate import simulate
from mcsim.generation.write import write_events
from mcsim.scan.family import Family
from mcsim.scan.refinement import NO_REFINEMENT, Refinement
from mcsim.scan.runner import scan
from mcsim.scan.sums import Target
from mcsim.sources import spectra
from mcsim.sources.mesons import SpectraSource, select_channels
from mcsim.weights import Estimate, estimate, yield_sums


def test_yield_sums_match_direct_exponentials(rng):
    n = 500
    a1 = rng.uniform(30.0, 100.0, n)
    b1 = a1 + rng.uniform(0.0, 50.0, n)
    two = rng.random(n) < 0.3
    a2 = np.where(two, b1 + rng.uniform(0.0, 5.0, n), 0.0)
    b2 = np.where(two, a2 + rng.uniform(0.0, 20.0, n), 0.0)
    intervals = np.column_stack([a1, b1, a2, b2])
    bg = 10 ** rng.uniform(0.5, 3.5, n)
    w = rng.uniform(0.0, 2.0, n)
    ratios = np.geomspace(1e-8, 1e6, 60)
    s1, s2 = yield_sums(w, intervals, bg, 0.3, ratios)
    for k in (0, 10, 30, 45, 59):
        lam = bg * 0.3 / ratios[k]
        p = (
            np.exp(-a1 / lam)
            - np.exp(-b1 / lam)
            + np.where(b2 > a2, np.exp(-a2 / lam) - np.exp(-b2 / lam), 0.0)
        )
        x = w * ratios[k] * p
        assert s1[k] == pytest.approx(x.sum(), rel=1e-9, abs=1e-300)
        assert s2[k] == pytest.approx((x * x).sum(), rel=1e-9, abs=1e-300)


def test_yield_sums_agree_with_40_digit_arithmetic_at_every_coupling(rng):
    """Long decay lengths (Taylor branch), short ones (exponentials), a short interval far away
    (cancellation in b - a) and an interval reaching to infinity, against exp(-a/lam) -
    exp(-b/lam) evaluated with 40 significant digits (decimal): 1e-13 relative everywhere."""
    from decimal import Decimal, localcontext

    intervals = np.array(
        [
            [79.0, 217.0, 0.0, 0.0],
            [500.0, 500.001, 0.0, 0.0],
            [30.0, 40.0, 45.0, 90.0],
            [1.0, np.inf, 0.0, 0.0],
            *np.column_stack(
                [
                    u := rng.uniform(1.0, 300.0, 8),
                    u + rng.uniform(1e-3, 100.0, 8),
                    np.zeros(8),
                    np.zeros(8),
                ]
            ),
        ]
    )
    bg = 10 ** rng.uniform(0.0, 4.0, len(intervals))
    w = rng.uniform(0.1, 2.0, len(intervals))
    ratios = np.geomspace(1e-14, 1e8, 150)
    s1, s2 = yield_sums(w, intervals, bg, 0.5, ratios)
    with localcontext() as ctx:
        ctx.prec = 40
        for k, r in enumerate(ratios):
            ref1 = ref2 = Decimal(0)
            for (a1, b1, a2, b2), g, wi in zip(intervals, bg, w):
                x = Decimal(r) / (Decimal(g) * Decimal("0.5"))
                p = Decimal(0)
                for a, b in ((a1, b1), (a2, b2)):
                    if b > a:
                        p += (-Decimal(a) * x).exp() - (
                            0 if math.isinf(b) else (-Decimal(b) * x).exp()
                        )
                y = Decimal(wi) * Decimal(r) * p
                ref1, ref2 = ref1 + y, ref2 + y * y
            assert s1[k] == pytest.approx(float(ref1), rel=1e-13, abs=1e-300), k
            assert s2[k] == pytest.approx(float(ref2), rel=1e-13, abs=1e-300), k


def test_yield_sums_rejects_unsorted_ratios():
    with pytest.raises(ValueError, match="ascending"):
        yield_sums(np.ones(1), np.zeros((1, 4)), np.ones(1), 1.0, np.array([2.0, 1.0]))


def test_estimate_is_a_float_with_its_error():
    e = estimate(4.0, 0.25 + 16.0 / 64, 64)  # sum w^2 - (sum w)^2 / N
    assert e == 4.0 and e.stat_error == 0.5 and e.relative_error == 0.125
    assert estimate([1.0, 2.0], [1.0, 4.0], [1, 1]).stat_error == 0.0  # one event: no spread
    assert f"{e:.2f}" == "4.00 +- 0.50" and isinstance(e + 1, float)
    assert Estimate(0.0, 0.0).relative_error == math.inf


@pytest.mark.parametrize(
    "card, sampling",
    [
        ("na62", "plain"),
        ("ship", "plain"),
        ("nucal", "plain"),
        ("na62", "directed"),
        ("nucal", "directed"),
    ],
)
def test_scan_cell_simulate_and_cutflow_are_one_number(card, sampling, tmp_path):
    """Same seed, same point: the scan's grid cell, simulate()'s expected events and the
    cutflow's final weighted count agree to rounding (NuCal: efficiency 0.7), also after
    re-weighting to another d; and their Monte Carlo errors agree likewise."""
    m1, d, d2, n = 0.1, 2e-6, 7e-6, 20_000
    model = DarkDipole(m1=m1, delta=0.1, d=d)
    (grid,) = scan(
        Family("dark-dipole", delta=0.1),
        [m1],
        [d, d2],
        [Target(card, card)],
        n_events=n,
        seed=3,
        workers=1,
        progress=False,
        refinement=NO_REFINEMENT,
        sampling=sampling,
    )
    batch = simulate(model, card, n_events=n, seed=3, sampling=sampling)
    assert batch.metadata["efficiency"] == (0.7 if card == "nucal" else 1.0)
    direct, moved = batch.expected_events(), batch.expected_events(d2)
    assert direct > 0 and moved > 0
    np.testing.assert_allclose([direct, moved], grid.events[0], rtol=1e-12)
    np.testing.assert_allclose(
        [direct.stat_error, moved.stat_error], grid.stat_error[0], rtol=1e-12
    )
    assert batch.reweight(d2).expected_events() == pytest.approx(moved, rel=1e-12)
    n_channels = len(select_channels(model, SpectraSource(load_detector(card))))
    path = tmp_path / "events.root"
    write_events(
        model, card, path, n_events=n * n_channels, seed=3, sampling=sampling, allocation="equal"
    )
    assert cutflow(path, histograms=False).expected_events == pytest.approx(direct, rel=1e-12)
    assert cutflow(path, d=d2, histograms=False).expected_events == pytest.approx(moved, rel=1e-12)


def test_stat_error_matches_the_scatter_of_seeds():
    """The error of one sample (sqrt of the summed squared weights) is the standard deviation
    of the expected events over independent seeds: 40 seeds, the sample standard deviation
    has a relative uncertainty of 1/sqrt(2 x 39) = 11%, so 0.7-1.3 is a 3 sigma window."""
    model = DarkDipole(m1=0.1, delta=0.1, d=1e-6)
    runs = [
        simulate(model, "na62", n_events=2_000, seed=s, channels=[113, 223]).expected_events()
        for s in range(40)
    ]
    scatter = np.std([float(r) for r in runs], ddof=1)
    reported = np.sqrt(np.mean([r.stat_error**2 for r in runs]))
    assert 0.7 < scatter / reported < 1.3


def test_tilted_meson_sampling_is_unbiased():
    """Importance sampling of the momentum (half the events above 100 GeV): the weighted tail
    fractions equal the table's exact ones, with far smaller errors than plain sampling; the
    unweighted ones do not (so the weights matter)."""
    table = spectra.load_table("rho", "sps400")
    edges = 10.0**table.log10p_edges
    p_marginal = table.counts.sum(axis=1) / table.counts.sum()
    tail = edges[1:] > 100.0
    factor = 0.5 + 0.5 * tail / p_marginal[tail].sum()
    n = 400_000
    momenta, w = spectra.sample_momenta_tilted(table, n, np.random.default_rng(1), factor)
    p = np.linalg.norm(momenta[:, 1:], axis=1)
    assert w.max() == pytest.approx(2.0) and np.mean(w) == pytest.approx(1.0, abs=0.01)
    for i in np.nonzero(edges >= 150.0)[0][:3]:
        exact = p_marginal[i:].sum()
        x = w * (p >= edges[i])
        err = x.std() / math.sqrt(n)
        assert abs(x.mean() - exact) < 4 * err
        assert err < 0.5 * math.sqrt(exact / n)  # plain: sqrt(f (1 - f) / n); here ~0.35x
        assert abs(np.mean(p >= edges[i]) - exact) > 50 * err


def test_refinement_reaches_the_tail_without_bias():
    """A selection in the tail of the meson spectrum (E_gamma > 40 GeV at NA62): after the
    refinement of plain events (more events, importance-sampled momenta) the contour cells'
    errors shrink at least threefold; directed events, drawn with photons above 40 GeV, do as
    well without refinement; both agree with a large plain sample of another seed."""
    family, couplings = Family("dark-dipole", delta=0.1), np.geomspace(1e-7, 1e-3, 30)
    target = [Target("NA62", "na62", threshold=40.0)]
    first, refined, directed = (
        scan(
            family,
            [0.1],
            couplings,
            target,
            n_events=20_000,
            seed=2,
            workers=1,
            progress=False,
            refinement=r,
            sampling=sampling,
        )[0]
        for r, sampling in (
            (NO_REFINEMENT, "plain"),
            (Refinement(target=0.1, budget=20.0), "plain"),
            (NO_REFINEMENT, "directed"),
        )
    )
    k = int(np.argmax(refined.events[0] >= 3.0))
    assert refined.metadata["refinement"]["events_added"] > 0
    rel = lambda g: g.stat_error[0, k] / g.events[0, k]  # noqa: E731
    assert rel(refined) < rel(first) / 3
    assert rel(directed) < rel(first) / 3
    plain = simulate(
        DarkDipole(m1=0.1, delta=0.1, d=couplings[k]),
        "na62",
        n_events=400_000,
        seed=77,
        threshold=40.0,
    ).expected_events()
    for grid in (refined, directed):
        pull = (grid.events[0, k] - plain) / math.hypot(grid.stat_error[0, k], plain.stat_error)
        assert abs(pull) < 4


def test_refinement_skips_mesons_the_beam_does_not_produce():
    """NuCal's 70 GeV beam makes no Upsilon: its channel is open by kinematics but has no
    normalisation, and the refinement's allocation leaves it out as the first pass does."""
    grid = scan(
        Family("dark-dipole", delta=0.1),
        [0.05],
        np.geomspace(1e-6, 1e-3, 12),
        [Target("NuCal", "nucal")],
        n_events=2_000,
        seed=3,
        workers=1,
        progress=False,
        refinement=Refinement(target=0.01, rounds=1, budget=1.0),
    )[0]
    assert grid.metadata["refinement"]["events_added"] > 0
    assert np.all(np.isfinite(grid.events)) and grid.events.max() > 0
