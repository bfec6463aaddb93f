"""The BaBar collider source: card, threshold error, lab kinematics, selection, exact
re-weighting limits, ntuple and cutflow round trip, the command line."""

import math

import numpy as np
import pytest
import uproot
from click.testing import CliRunner

from mcsim.cli.main import main
from mcsim.detector.cards import load_detector
from mcsim.detector.interaction_point import InteractionPointDetector, selection
from mcsim.generation.cutflow import cutflow
from mcsim.generation.simulate import simulate
from mcsim.generation.write import write_events
from mcsim.models.dipoles import DarkDipole
from mcsim.scan.sums import Target
from mcsim.sources.collider import cross_section_fb


@pytest.fixture(scope="module")
def babar():
    return load_detector("babar")


@pytest.fixture(scope="module")
def batch(babar):
    return simulate(DarkDipole(m1=0.1, delta=0.05, d=3e-4), babar, n_events=20_000, seed=4)


def test_card(babar):
    assert isinstance(babar, InteractionPointDetector)
    assert babar.sqrt_s == pytest.approx(10.58, abs=1e-3)
    # beta gamma of the CM: (E- - E+) / sqrt(s) = 0.56 at PEP-II
    assert babar.beta / math.sqrt(1 - babar.beta**2) == pytest.approx(
        (9.0 - babar.positron_energy) / babar.sqrt_s, rel=1e-12
    )
    assert babar.sensitivity_events == 10.0 and babar.luminosity_inv_fb == 60.0


def _card(tmp_path, text):
    path = tmp_path / "c.toml"
    src = load_detector("babar").card_text
    path.write_text(text(src))
    return str(path)


def test_unknown_key_is_named(tmp_path):
    path = _card(tmp_path, lambda s: s.replace("[beams]", "[beams]\ncrossing_angle = 1"))
    with pytest.raises(ValueError, match=r"c\.toml: key 'beams\.crossing_angle': unknown"):
        load_detector(path)
    path = _card(tmp_path, lambda s: s + "\n[cone]\nL_i_m = 1\n")
    with pytest.raises(
        ValueError, match=r"key 'cone': unknown key; an interaction-point card holds"
    ):
        load_detector(path)


def test_beam_energy_below_threshold_is_one_clear_line(tmp_path, babar):
    low = _card(
        tmp_path, lambda s: s.replace("electron_energy_GeV = 9.0", "electron_energy_GeV = 0.05")
    )
    closed = simulate(DarkDipole(m1=0.3, delta=0.1, d=1e-4), low, n_events=10, seed=1)
    assert len(closed) == 0 and closed.expected_events() == 0.0  # as a closed meson channel
    result = CliRunner().invoke(
        main,
        [
            "generate",
            "--model",
            "dark-dipole",
            "--m1",
            "0.3",
            "--delta",
            "0.1",
            "--d",
            "1e-4",
            "--detector",
            low,
            "--events",
            "100",
            "--seed",
            "1",
            "-o",
            str(tmp_path / "x.root"),
            "--quiet",
        ],
    )
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "below the threshold" in result.output
    assert not (tmp_path / "x.root").exists()


def test_lab_kinematics_and_conservation(batch, babar):
    a = batch.arrays
    beams = np.array([9.0 + babar.positron_energy, 0, 0, 9.0 - babar.positron_energy])
    total = a["p4_prompt_photon"] + a["p4_invisible"] + a["p4_llp"]
    np.testing.assert_allclose(total, np.broadcast_to(beams, total.shape), atol=1e-10)
    np.testing.assert_allclose(a["p4_photon"] + a["p4_decay_invisible"], a["p4_llp"], atol=1e-10)
    # the radiated photon is generated inside the calorimeter acceptance (CM cuts mapped)
    c = a["p4_prompt_photon"][:, 3] / a["p4_prompt_photon"][:, 0]
    assert c.min() > babar.cos_theta_min and c.max() < babar.cos_theta_max
    assert c.min() < babar.cos_theta_min + 0.01 and c.max() > babar.cos_theta_max - 0.01
    assert np.all(a["s_in"] == 0.0) and np.all(a["in_volume"])


def test_selection_cuts(batch, babar):
    a = batch.arrays
    hits, sel = selection(a["p4_prompt_photon"], a["p4_photon"], babar)
    assert np.array_equal(sel, a["above_threshold"]) and np.array_equal(hits, a["photon_hits_calo"])
    # CM energies by an explicit boost with gamma, beta gamma of the beams
    g = 1 / math.sqrt(1 - babar.beta**2)
    e_cm = [g * (p[:, 0] - babar.beta * p[:, 3]) for p in (a["p4_prompt_photon"], a["p4_photon"])]
    lead, sub = np.maximum(*e_cm), np.minimum(*e_cm)
    assert np.all(lead[sel] >= 2.0) and np.all(sub[sel] >= 0.02)
    assert 0.3 < sel.mean() < 1.0  # the soft decay photon fails the 20 MeV cut at times
    assert np.any(hits & (sub < 0.02))


def test_yield_scales_as_d2_when_prompt_and_d4_when_long_lived(batch):
    d0 = batch.metadata["d"]
    assert batch.expected_events(1.0) / batch.expected_events(0.1) == pytest.approx(100, rel=1e-3)
    assert batch.expected_events(1e-6) / batch.expected_events(1e-7) == pytest.approx(1e4, rel=1e-3)
    # the re-weighted sample gives the same numbers
    assert batch.reweight(3 * d0).expected_events() == pytest.approx(
        batch.expected_events(3 * d0), rel=1e-12
    )


def test_prompt_limit_is_sigma_times_luminosity_times_acceptance(batch, babar):
    """At large d every chi2 decays at once: N = L sigma x (fraction passing the photon cuts)."""
    d = 1.0
    model = DarkDipole(m1=0.1, delta=0.05, d=d)
    n = batch.expected_events(d)
    ref = (
        babar.luminosity_inv_fb
        * cross_section_fb(model, babar)
        * batch.arrays["above_threshold"].mean()
    )
    assert n == pytest.approx(ref, rel=1e-6)


def test_ntuple_round_trip_and_cutflow(tmp_path):
    path = tmp_path / "babar.root"
    meta = write_events(
        DarkDipole(m1=0.2, delta=0.02, d=5e-4),
        "babar",
        path,
        n_events=3000,
        seed=3,
        chunk_size=1000,
        keep="all",
    )
    with uproot.open(path) as f:
        tree = f["events"]
        assert tree.num_entries == 3000
        w = tree["weight"].array(library="np")
    assert w.sum() == pytest.approx(meta["expected_events"], rel=1e-12)
    assert meta["interaction_point"]["luminosity_inv_fb"] == 60.0
    cf = cutflow(path)
    assert cf.expected_events == pytest.approx(meta["expected_events"], rel=1e-9)
    assert cf.cuts[0].weighted == pytest.approx(60.0 * meta["rate"][0], rel=1e-9)
    assert [c.raw for c in cf.cuts] == sorted((c.raw for c in cf.cuts), reverse=True)
    assert "LLP decays inside the decay volume" in cf.table()
    again = write_events(
        DarkDipole(m1=0.2, delta=0.02, d=5e-4),
        "babar",
        tmp_path / "b.root",
        n_events=3000,
        seed=3,
        chunk_size=1000,
        keep="all",
    )
    assert again["expected_events"] == meta["expected_events"]


def test_same_seed_same_events(babar):
    model = DarkDipole(m1=0.5, delta=0.01, d=1e-4)
    a = simulate(model, babar, n_events=2000, seed=9).arrays
    b = simulate(model, babar, n_events=2000, seed=9).arrays
    assert all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)


def test_reach_scan_of_the_babar_card(babar):
    """The scan's collider branch: level 10 events, zero above threshold, and at a large d (all
    chi2 decay at once) N = L sigma x acceptance of a direct simulation."""
    from mcsim.scan.family import Family
    from mcsim.scan.runner import scan
    from mcsim.scan.sums import Target

    masses, couplings = np.array([0.1, 5.0]), np.geomspace(1e-4, 1e-1, 4)
    (grid,) = scan(
        Family("dark-dipole", delta=0.01),
        masses,
        couplings,
        [Target("BaBar", "babar")],
        n_events=4000,
        seed=2,
        workers=1,
        progress=False,
    )
    assert grid.level == 10.0
    assert np.all(grid.events[1] == 0.0)  # M1 + M2 + 2 GeV > sqrt(s)
    direct = simulate(DarkDipole(m1=0.1, delta=0.01, d=1e-1), babar, n_events=4000, seed=3)
    assert grid.events[0, -1] == pytest.approx(direct.expected_events(), rel=0.05)


def test_refinement_with_an_unrefined_source_in_the_scan():
    """Figure 2's job: BaBar (never refined) placed before a fixed-target card whose contour
    cells are refined.  BaBar's grid is the one it gives alone, bit for bit, and NA62's agrees
    with its own refined scan: the refinement finds its tasks by their index, not by their
    position (by position it refined BaBar's task with NA62's cells)."""
    from mcsim.scan.family import Family
    from mcsim.scan.refinement import NO_REFINEMENT, Refinement
    from mcsim.scan.runner import scan_set

    family, couplings = Family("dark-dipole", delta=0.1), np.geomspace(1e-6, 1e-3, 10)
    refine = Refinement(target=0.01, rounds=1, budget=1.0)
    run = dict(n_events=2_000, seed=5, workers=1, progress=False)
    babar, na62 = Target("BaBar", "babar"), Target("NA62", "na62")
    (both,) = scan_set([(family, [babar, na62])], [0.1, 0.3], couplings, refinement=refine, **run)
    ((alone_babar,),) = scan_set(
        [(family, [babar])], [0.1, 0.3], couplings, refinement=NO_REFINEMENT, **run
    )
    ((alone_na62,),) = scan_set([(family, [na62])], [0.1, 0.3], couplings, refinement=refine, **run)
    assert both[1].metadata["refinement"]["events_added"] > 0
    assert np.array_equal(both[0].events, alone_babar.events)
    # NA62's refinement spends a budget shared with BaBar's events: other cells, same physics
    sigma = np.hypot(both[1].stat_error, alone_na62.stat_error)
    live = both[1].events > 0
    assert np.all(np.abs(both[1].events - alone_na62.events)[live] <= 5 * sigma[live])
