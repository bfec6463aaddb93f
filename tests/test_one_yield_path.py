"""One yield path: the same events' expected yield at one point, five ways -- simulate(), an
events file and its cutflow, the HepMC3 file's sum of weights, the reach grid cell at that
(mass, d), and the re-weighting of a sample generated at another d -- for the NA62 default
point (meson decays, directed sampling) and for BaBar (e+ e- collisions).  They agree to
1e-12 (the summation order differs between them), and so do their Monte Carlo errors where
they quote one; a normalisation that drifts in any one of them fails."""

import pyhepmc
import pytest

from mcsim.detector.cards import load_detector
from mcsim.generation.cutflow import cutflow
from mcsim.generation.simulate import simulate
from mcsim.generation.write import write_events
from mcsim.models.dipoles import DarkDipole
from mcsim.runtime.defaults import UNREFINED_EVENTS_FACTOR
from mcsim.scan.family import Family
from mcsim.scan.refinement import NO_REFINEMENT
from mcsim.scan.runner import scan
from mcsim.scan.sums import Target
from mcsim.sources.registry import source_for

POINTS = {
    # detector: (m1, delta, d [GeV^-1], other d to re-weight from, events per channel, sampling)
    "na62": (0.1, 0.1, 1e-6, 4e-6, 2 * 16_384, "directed"),
    "babar": (0.1, 0.01, 5e-4, 2e-3, 8 * 2_048, "plain"),
}


def _hepmc_weight_sum(path) -> float:
    total = 0.0
    with pyhepmc.open(str(path)) as f:
        for event in f:
            total += event.weights[0]
    return total


@pytest.mark.parametrize("detector", sorted(POINTS))
def test_five_ways_to_the_same_expected_events(tmp_path, detector):
    m1, delta, d, d_other, n, sampling = POINTS[detector]
    model = DarkDipole(m1=m1, delta=delta, d=d)
    det = load_detector(detector)
    n_channels = len(source_for(model, det).channels())
    run = dict(seed=3, sampling=sampling)

    direct = simulate(model, det, n_events=n, **run).expected_events()
    assert direct > 0.0 and direct.stat_error > 0.0

    files = dict(n_events=n * n_channels, allocation="equal", chunk_size=5 * 16_384, **run)
    root = write_events(model, det, tmp_path / "e.root", **files)
    flow = cutflow(tmp_path / "e.root", histograms=False)
    hepmc = tmp_path / "e.hepmc3"
    write_events(model, det, hepmc, **files)

    per_task = n // (1 if detector == "na62" else UNREFINED_EVENTS_FACTOR)
    (grid,) = scan(
        Family("dark-dipole", delta=delta),
        [m1],
        [d],
        [Target(detector, detector)],
        n_events=per_task,
        workers=1,
        progress=False,
        refinement=NO_REFINEMENT,
        **run,
    )

    other = simulate(model.with_coupling(d_other), det, n_events=n, **run)
    ways = {
        "file metadata": root["expected_events"],
        "cutflow": flow.expected_events,
        "HepMC3 weights": _hepmc_weight_sum(hepmc),
        "reach grid cell": grid.events[0, 0],
        "re-weighted": other.expected_events(d),
        "re-weighted sample": other.reweight(d).expected_events(),
    }
    for way, value in ways.items():
        assert value == pytest.approx(float(direct), rel=1e-12), way
    errors = {
        "cutflow": flow.stat_error,
        "reach grid cell": grid.stat_error[0, 0],
        "re-weighted": other.expected_events(d).stat_error,
    }
    for way, value in errors.items():
        assert value == pytest.approx(direct.stat_error, rel=1e-9), way
