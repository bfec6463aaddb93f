"""Scan tasks: identical grids on local processes and on a Dask LocalCluster; bad input."""

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from mcsim.cli.main import main
from mcsim.scan.family import Family
from mcsim.scan.reach import read_grids
from mcsim.scan.runner import scan
from mcsim.scan.sums import Target
from mcsim.scan.tasks import make_tasks, run_task

FAMILY = Family("dark-dipole", delta=0.1)
MASSES = np.array([0.05, 0.3])
COUPLINGS = np.geomspace(1e-7, 1e-3, 7)
TARGETS = [Target("NA62", "na62:1e18"), Target("NA62 1e17", "na62:1e17"), Target("SHiP", "ship")]


def _grids(**kw):
    return scan(FAMILY, MASSES, COUPLINGS, TARGETS, n_events=2000, seed=11, progress=False, **kw)


@pytest.mark.slow
def test_local_processes_and_dask_give_identical_grids():
    """The same seed gives the same grids, bit for bit, in one process, on 2 worker processes
    and on a Dask cluster (the one test of the grids' independence of the workers: the
    2-against-1 comparison runs before the Dask part, which needs `distributed`)."""
    local = _grids(workers=2)
    serial = _grids(workers=1)
    for a, c in zip(local, serial, strict=True):
        assert a.events.any()
        assert a.metadata["refinement"]["events_added"] > 0  # rounds ran in the same session
        np.testing.assert_array_equal(a.events, c.events)
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        remote = _grids(scheduler=cluster.scheduler_address)
    for a, b in zip(local, remote, strict=True):
        np.testing.assert_array_equal(a.events, b.events)


def test_shared_geometry_scales_with_exposure():
    """NA62 1e17 and 1e18 share one propagation: yields differ by exactly the POT ratio."""
    g18, g17, _ = _grids(workers=1)
    np.testing.assert_allclose(g18.events, 10.0 * g17.events, rtol=1e-12)


def test_task_seeds_do_not_depend_on_execution_order():
    tasks = make_tasks(FAMILY, MASSES, COUPLINGS, TARGETS, n_events=500, seed=5)
    forward = [run_task(t).channels for t in tasks]
    backward = [run_task(t).channels for t in reversed(tasks)][::-1]
    for f, b in zip(forward, backward):
        assert f.keys() == b.keys()
        for mother in f:
            np.testing.assert_array_equal(f[mother].s1, b[mother].s1)
            np.testing.assert_array_equal(f[mother].s2, b[mother].s2)


@pytest.mark.parametrize(
    "masses, couplings, targets, match",
    [
        ([], COUPLINGS, TARGETS, "empty mass grid"),
        (MASSES, [], TARGETS, "empty coupling grid"),
        (MASSES, COUPLINGS, [Target("x", "no_such_detector")], "unknown detector"),
        (MASSES, COUPLINGS, [Target("x", "na62", mode="sphere")], "mode must be"),
        (MASSES, COUPLINGS, [], "no detector"),
        ([0.3, 0.05], COUPLINGS, TARGETS, "ascending"),
    ],
)
def test_bad_input_is_a_clear_error(masses, couplings, targets, match):
    with pytest.raises(ValueError, match=match):
        make_tasks(FAMILY, masses, couplings, targets, n_events=100, seed=1)


def test_masses_with_every_channel_closed_are_a_clear_error():
    with pytest.raises(ValueError, match="every production channel is closed"):
        scan(FAMILY, [20.0, 30.0], COUPLINGS, TARGETS, n_events=100, seed=1, workers=1)


def test_reach_command_writes_grid_contours_and_png(tmp_path):
    out = tmp_path / "r"
    res = CliRunner().invoke(
        main,
        [
            "reach",
            "--detector",
            "ship",
            "--delta",
            "0.1",
            "--mass-range",
            "0.05",
            "0.5",
            "--masses",
            "3",
            "--couplings",
            "12",
            "--events",
            "2000",
            "--workers",
            "1",
            "--no-progress",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert (out / "reach.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    rows = list(csv.DictReader((out / "grid.csv").read_text().splitlines()))
    (grid,) = read_grids(out / "grid.json")
    assert len(rows) == 3 * 12 == grid.events.size
    masses = np.array(sorted({float(r["mass_GeV"]) for r in rows}))
    np.testing.assert_allclose(masses, np.geomspace(0.05, 0.5, 3), rtol=1e-5)
    np.testing.assert_allclose([float(r["events"]) for r in rows], grid.events.ravel(), rtol=1e-5)
    # long-lifetime limit: BR ~ d^2 and P(decay) ~ 1/(c tau) ~ d^2, so the events ~ d^4 at the
    # smallest couplings of every mass
    d, events = grid.couplings, grid.events
    np.testing.assert_allclose(events[:, 1] / events[:, 0], (d[1] / d[0]) ** 4, rtol=0.01)
    # the N = 3 contour at the lightest mass sits where the d^4 law from the grid point below
    # it reaches 3 events
    contours = json.loads((out / "contours.json").read_text())["ship"]
    assert contours["level"] == 3.0
    lowest = min(dd for line in contours["lines"] for m, dd in line if m == masses[0])
    k = np.searchsorted(events[0], 3.0) - 1
    assert lowest == pytest.approx(d[k] * (3.0 / events[0, k]) ** 0.25, rel=0.01)
    lines = list(csv.DictReader((out / "contours.csv").read_text().splitlines()))
    assert {r["level"] for r in lines} == {"3"} and len(lines) >= 4


def test_reach_command_bad_input_exit_status(tmp_path):
    runner = CliRunner()
    res = runner.invoke(
        main,
        [
            "reach",
            "--detector",
            "nowhere",
            "--masses",
            "3",
            "--no-progress",
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 2 and "unknown detector" in res.output
    res = runner.invoke(
        main,
        [
            "reach",
            "--detector",
            "na62",
            "--mass-range",
            "20",
            "30",
            "--no-progress",
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 2 and "closed" in res.output
    res = runner.invoke(main, ["figure", "7", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "NUMBER': must be an integer in [2, 4]" in res.output


def test_validate_cone_table_and_figure(tmp_path):
    from mcsim.scan.figures import validate_cone

    res = validate_cone(
        tmp_path,
        n_masses=3,
        n_couplings=8,
        n_events=3000,
        workers=1,
        progress=False,
        experiments={"FASER 2": "faser2"},
    )
    (row,) = res["rows"]
    # on the beam axis with a calorimeter as wide as the decay volume, full ~ cone
    assert 0.8 < row["median_ratio_full_over_cone"] < 1.2
    assert res["png"].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "FASER 2" in res["table"][1].read_text()
