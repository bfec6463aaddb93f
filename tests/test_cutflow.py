"""The cutflow: equal to the full chain's expected events (also re-weighted), to a file
generated directly at another d or threshold, to the hand-written analysis, and to ROOT."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mcsim import DarkDipole
from mcsim.chain import EventBatch, expected_events_at, reweight, simulate
from mcsim.cli import main
from mcsim.cutflow import CUT_FLAGS, cutflow
from mcsim.ntuple import block_rng, generate
from mcsim.rootio import read_arrays, read_metadata

POINT = DarkDipole(m1=0.1, delta=0.1, d=1e-6)
D2 = 4e-6
ANALYSIS = Path(__file__).resolve().parents[1] / "analysis" / "cutflow_by_hand.py"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cutflow")
    out = {"base": d / "base.root", "d2": d / "d2.root", "thr": d / "thr.root",
           "rho": d / "rho.root"}
    kw = dict(n_events=14_000, seed=5, chunk_size=3_000)
    generate(POINT, "na62", out["base"], **kw)
    generate(POINT.with_coupling(D2), "na62", out["d2"], **kw)
    generate(POINT, "na62", out["thr"], threshold=3.0, **kw)
    generate(POINT, "na62", out["rho"], n_events=5_000, seed=5, channels=[113])
    return out


def _batch(path):
    return EventBatch(read_arrays(path), read_metadata(path))


def test_final_count_equals_the_chain_expected_events(files):
    batch = _batch(files["base"])
    flow = cutflow(files["base"], step_size=4_000, histograms=False)
    assert flow.expected_events == pytest.approx(batch.expected_events(), rel=1e-12)
    moved = cutflow(files["base"], d=D2, step_size=4_000, histograms=False)
    assert moved.expected_events == pytest.approx(expected_events_at(batch, D2), rel=1e-12)
    assert moved.expected_events == pytest.approx(reweight(batch, D2).expected_events(),
                                                  rel=1e-12)
    assert moved.ctau == pytest.approx(POINT.with_coupling(D2).ctau, rel=1e-12)


def test_final_count_equals_simulate_for_the_same_events(files):
    """One channel in one block is exactly one simulate() call with the block's seed."""
    ref = simulate(POINT, "na62", n_events=5_000, seed=block_rng(5, 113, 0), channels=[113])
    flow = cutflow(files["rho"], histograms=False)
    assert flow.expected_events == pytest.approx(ref.expected_events(), rel=1e-12)
    moved = cutflow(files["rho"], d=D2, histograms=False)
    assert moved.expected_events == pytest.approx(expected_events_at(ref, D2), rel=1e-12)
    assert moved.expected_events > 0


def test_reweighting_equals_direct_generation_at_the_other_coupling(files):
    """The same seed at another d gives the same kinematics and intervals: re-weighting the
    d = 1e-6 file to D2 gives every weighted count of the file generated at D2."""
    moved = cutflow(files["base"], d=D2, histograms=False)
    direct = cutflow(files["d2"], histograms=False)
    for a, b in zip(moved.cuts, direct.cuts):
        assert a.raw == b.raw
        assert a.weighted == pytest.approx(b.weighted, rel=1e-10)


def test_threshold_equals_direct_generation_with_that_threshold(files):
    raised = cutflow(files["base"], threshold=3.0, histograms=False)
    direct = cutflow(files["thr"], histograms=False)
    assert [c.raw for c in raised.cuts] == [c.raw for c in direct.cuts]
    assert raised.expected_events == pytest.approx(direct.expected_events, rel=1e-12)
    assert raised.expected_events < cutflow(files["base"], histograms=False).expected_events


def test_rows_are_consistent(files):
    flow = cutflow(files["base"], histograms=False)
    a = read_arrays(files["base"])
    mask = np.ones(len(a["weight"]), dtype=bool)
    assert flow.cuts[0].raw == mask.sum()
    for cut, flag in zip(flow.cuts[1:], CUT_FLAGS):
        mask &= a[flag]
        assert cut.raw == mask.sum()
    meta = read_metadata(files["base"])
    assert flow.cuts[0].weighted == pytest.approx(
        sum(n * br for n, br in zip(meta["n_mesons"], meta["br"])), rel=1e-12)
    weighted = [c.weighted for c in flow.cuts]
    assert all(x >= y for x, y in zip(weighted, weighted[1:]))
    assert np.prod([c.rel_eff for c in flow.cuts]) == pytest.approx(flow.cuts[-1].cum_eff)


def test_histograms_hold_the_selected_events(files):
    flow = cutflow(files["base"], step_size=5_000)
    for name, hist in flow.histograms.items():
        total = np.sum(hist["series"]["selected"])
        assert total == pytest.approx(flow.expected_events, rel=1e-9), name
    meta = read_metadata(files["base"])
    z = flow.histograms["vertex_z"]
    (edges,) = z["edges"]
    inside = (edges[:-1] >= 79.0 - 3.0) & (edges[1:] <= 217.0 + 3.0)
    assert np.sum(z["series"]["selected"][~inside]) == 0.0
    assert meta["calorimeter_z_m"] == 217.0


def test_hand_written_analysis_agrees(files):
    spec = importlib.util.spec_from_file_location("cutflow_by_hand", ANALYSIS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for d in (None, D2):
        rows = module.cutflow_by_hand(str(files["base"]), d)
        flow = cutflow(files["base"], d=d, histograms=False)
        for (_, raw, weighted), cut in zip(rows, flow.cuts):
            assert raw == cut.raw
            assert weighted == pytest.approx(cut.weighted, rel=1e-9)


def test_cli_table_json_markdown_and_plots(files, tmp_path):
    runner = CliRunner()
    path = str(files["base"])
    res = runner.invoke(main, ["cutflow", path, "--plots", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "photon reaches the calorimeter" in res.output
    assert "expected signal events" in res.output
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == ["base_impact.png", "base_photon_angle.png", "base_photon_energy.png",
                    "base_vertex_z.png"]
    res = runner.invoke(main, ["cutflow", path, "--json", "--no-plots", "--d", str(D2)])
    out = json.loads(res.output)
    assert out["expected_events"] == pytest.approx(
        cutflow(files["base"], d=D2, histograms=False).expected_events, rel=1e-15)
    assert [c["name"] for c in out["cuts"]][0] == "generated"
    res = runner.invoke(main, ["cutflow", path, "--markdown", "--no-plots"])
    assert "| 3 | E_gamma > 1 GeV |" in res.output
    res = runner.invoke(main, ["cutflow", path, "--d", "-1", "--no-plots"])
    assert res.exit_code == 2 and "Invalid value for '--d': must be a number in [1e-15" in res.output


def test_root_reads_the_file_and_rdataframe_gives_the_cutflow(files):
    """ROOT opens the file; RDataFrame Filter/Sum over the same cuts gives the cutflow."""
    ROOT = pytest.importorskip("ROOT")
    path = str(files["base"])
    flow = cutflow(files["base"], histograms=False)
    tfile = ROOT.TFile.Open(path)
    tree = tfile.Get("events")
    assert tree.GetEntries() == flow.cuts[0].raw
    meta = json.loads(str(tfile.Get("mcsim_metadata").GetString()))
    assert meta["d"] == POINT.d
    df = ROOT.RDataFrame("events", path)
    df = (df.Define("w_volume", "w_norm * p_decay_volume")
            .Define("w_accepted", "w_norm * p_decay_accepted"))
    steps = [df, df.Filter("in_volume"), df.Filter("in_volume && photon_hits_calo"),
             df.Filter("in_volume && photon_hits_calo && above_threshold")]
    columns = ["w_norm", "w_volume", "w_accepted", "weight"]
    counts = [s.Count() for s in steps]
    sums = [s.Sum(c) for s, c in zip(steps, columns)]
    for cut, n, total in zip(flow.cuts, counts, sums):
        assert n.GetValue() == cut.raw
        assert total.GetValue() == pytest.approx(cut.weighted, rel=1e-12)
    tfile.Close()
