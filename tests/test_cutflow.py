"""The cutflow: equal to the full chain's expected events (also re-weighted), to a file
generated directly at another d or threshold, to the hand-written analysis, and to ROOT."""

import importlib.util
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import uproot
from click.testing import CliRunner

from mcsim import DarkDipole
from mcsim.cli.main import main
from mcsim.generation.cutflow import cutflow
from mcsim.generation.simulate import simulate
from mcsim.generation.write import write_events
from mcsim.io.rootio import read_arrays, read_metadata
from mcsim.io.schema import EventBatch

POINT = DarkDipole(m1=0.1, delta=0.1, d=1e-6)
D2 = 4e-6
ANALYSIS = Path(__file__).resolve().parents[1] / "analysis" / "cutflow_by_hand.py"
#: file flag and weight expression (branches of the events tree) of rows 1-4 (full mode)
ROW_CUTS = [
    ("in_volume", "w_norm"),
    ("in_volume", "w_norm * p_decay_volume"),
    ("photon_hits_calo", "w_norm * p_decay_accepted"),
    ("selected", "weight"),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cutflow")
    out = {
        "base": d / "base.root",
        "d2": d / "d2.root",
        "thr": d / "thr.root",
        "rho": d / "rho.root",
        "skim": d / "skim.root",
        "crossing": d / "crossing.root",
        "cone": d / "cone.root",
        "directed": d / "directed.root",
    }
    kw = dict(n_events=14_000, seed=5, chunk_size=3_000, keep="all")
    write_events(POINT, "na62", out["base"], **kw)
    write_events(POINT.with_coupling(D2), "na62", out["d2"], **kw)
    write_events(POINT, "na62", out["thr"], threshold=3.0, **kw)
    write_events(POINT, "na62", out["cone"], mode="cone", **kw)
    write_events(POINT, "na62", out["directed"], sampling="directed", **kw)
    write_events(POINT, "na62", out["skim"], **dict(kw, keep="selected"))
    write_events(POINT, "na62", out["crossing"], **dict(kw, keep="crossing"))
    write_events(POINT, "na62", out["rho"], n_events=5_000, seed=5, channels=[113], keep="all")
    return out


def _batch(path):
    return EventBatch(read_arrays(path), read_metadata(path))


def test_final_count_equals_the_chain_expected_events(files):
    batch = _batch(files["base"])
    flow = cutflow(files["base"], step_size=4_000, histograms=False)
    assert flow.expected_events == pytest.approx(batch.expected_events(), rel=1e-12)
    moved = cutflow(files["base"], d=D2, step_size=4_000, histograms=False)
    assert moved.expected_events == pytest.approx(batch.expected_events(D2), rel=1e-12)
    assert moved.expected_events == pytest.approx(batch.reweight(D2).expected_events(), rel=1e-12)
    assert moved.ctau == pytest.approx(POINT.with_coupling(D2).ctau, rel=1e-12)


def test_final_count_equals_simulate_for_the_same_events(files):
    """One channel of the file is exactly one simulate() call with the file's seed."""
    ref = simulate(POINT, "na62", n_events=5_000, seed=5, channels=[113])
    flow = cutflow(files["rho"], histograms=False)
    assert flow.expected_events == pytest.approx(ref.expected_events(), rel=1e-12)
    moved = cutflow(files["rho"], d=D2, histograms=False)
    assert moved.expected_events == pytest.approx(ref.expected_events(D2), rel=1e-12)
    assert moved.expected_events > 0


def test_reweighting_equals_direct_generation_at_the_other_coupling(files):
    """The same seed at another d gives the same kinematics and intervals: re-weighting the
    d = 1e-6 file to D2 gives every weighted count, and its error, of the file generated at D2."""
    moved = cutflow(files["base"], d=D2, histograms=False)
    direct = cutflow(files["d2"], histograms=False)
    for a, b in zip(moved.cuts, direct.cuts):
        assert a.raw == b.raw
        assert a.weighted == pytest.approx(b.weighted, rel=1e-10)
        assert a.stat_error == pytest.approx(b.stat_error, rel=1e-9, abs=1e-12)


def test_threshold_equals_direct_generation_with_that_threshold(files):
    raised = cutflow(files["base"], threshold=3.0, histograms=False)
    direct = cutflow(files["thr"], histograms=False)
    assert [c.raw for c in raised.cuts] == [c.raw for c in direct.cuts]
    assert raised.expected_events == pytest.approx(direct.expected_events, rel=1e-12)
    assert raised.expected_events < cutflow(files["base"], histograms=False).expected_events
    skim = cutflow(files["skim"], threshold=3.0, histograms=False)
    assert [c.raw for c in skim.cuts] == [c.raw for c in direct.cuts]
    assert skim.expected_events == pytest.approx(direct.expected_events, rel=1e-12)
    with pytest.raises(ValueError, match="keeps only photons above 1 GeV"):
        cutflow(files["skim"], threshold=0.5, histograms=False)


def _flows_equal(a, b):
    for x, y in zip(a.cuts, b.cuts, strict=True):
        assert (x.name, x.raw) == (y.name, y.raw)
        assert x.weighted == pytest.approx(y.weighted, rel=1e-12)
        assert x.stat_error == pytest.approx(y.stat_error, rel=1e-9, abs=1e-12)


def test_keep_does_not_change_the_cutflow(files):
    """--keep selected and --keep crossing files give the --keep all cutflow, row by row, also
    re-weighted, with far fewer entries (the dropped crossing LLPs in the 'crossing' tree)."""
    for label in ("skim", "crossing"):
        for d in (None, D2):
            _flows_equal(
                cutflow(files[label], d=d, histograms=False),
                cutflow(files["base"], d=d, histograms=False),
            )
    full = cutflow(files["base"], histograms=False)
    with uproot.open(files["skim"]) as f:
        assert f["events"].num_entries == full.cuts[-1].raw
        assert f["crossing"].num_entries == full.cuts[1].raw - full.cuts[-1].raw
    with uproot.open(files["crossing"]) as f:
        assert f["events"].num_entries == full.cuts[1].raw
        assert f["crossing"].num_entries == 0
    assert files["skim"].stat().st_size * 5 < files["base"].stat().st_size


def _cut(columns, flag, expression):
    w = columns["w_norm"]
    if expression == "w_norm * p_decay_volume":
        w = w * columns["p_decay_volume"]
    elif expression == "w_norm * p_decay_accepted":
        w = w * columns["p_decay_accepted"]
    elif expression == "weight":
        w = columns["weight"]
    mask = columns[flag]
    return int(mask.sum()), float(w[mask].sum()), float(np.square(w[mask]).sum())


def test_a_cut_on_each_flag_alone_gives_the_row(files):
    """With uproot, one flag of the file alone (and the flags in order) with the row's weight
    gives the cutflow's raw and weighted counts; sqrt(sum w^2) bounds the error, and is close
    to it for the rare final row (a few per cent of events selected)."""
    flow = cutflow(files["base"], histograms=False)
    with uproot.open(files["base"]) as f:
        columns = f["events"].arrays(library="np")
    assert [c.flag for c in flow.cuts[1:]] == [flag for flag, _ in ROW_CUTS]
    assert [c.weight for c in flow.cuts[1:]] == [w for _, w in ROW_CUTS]
    in_order = np.ones(len(columns["event"]), dtype=bool)
    for cut, (flag, expression) in zip(flow.cuts[1:], ROW_CUTS, strict=True):
        raw, weighted, w2 = _cut(columns, flag, expression)
        in_order &= columns[flag]
        assert raw == cut.raw == int(in_order.sum()), cut.name
        assert weighted == pytest.approx(cut.weighted, rel=1e-12), cut.name
        assert cut.stat_error <= math.sqrt(w2) * (1 + 1e-12)
    assert flow.cuts[-1].stat_error == pytest.approx(
        math.sqrt(_cut(columns, "selected", "weight")[2]), rel=0.05
    )
    meta = read_metadata(files["base"])
    assert flow.cuts[0].raw == meta["n_events"] == len(columns["event"])
    assert flow.cuts[0].weighted == pytest.approx(
        sum(n * br for n, br in zip(meta["exposure"], meta["rate"])), rel=1e-12
    )
    assert flow.cuts[0].stat_error == pytest.approx(0.0, abs=1e-9 * flow.cuts[0].weighted)
    weighted = [c.weighted for c in flow.cuts]
    assert all(x >= y for x, y in zip(weighted, weighted[1:]))
    assert np.prod([c.rel_eff for c in flow.cuts]) == pytest.approx(flow.cuts[-1].cum_eff)


def test_cone_mode_has_no_repeated_row(files):
    flow = cutflow(files["cone"], histograms=False)
    assert [c.flag for c in flow.cuts] == ["(all generated)", "in_volume", "in_volume", "selected"]
    assert flow.cuts[1].name.startswith("LLP inside the cone")
    assert all(c.rel_eff < 1.0 for c in flow.cuts[1:])


def test_directed_file_gives_the_plain_rows_without_the_calorimeter_row(files):
    """Directed sampling draws the photon inside the energy window, so the calorimeter row would
    repeat the selection's and is left out; the other rows agree with the plain file's within
    4 sigma, with smaller errors; a threshold below the generated one is refused."""
    plain = cutflow(files["base"], histograms=False)
    directed = cutflow(files["directed"], histograms=False)
    assert [c.flag for c in directed.cuts] == [
        "(all generated)",
        "in_volume",
        "in_volume",
        "selected",
    ]
    for a, b in zip([directed.cuts[i] for i in (1, 2, 3)], [plain.cuts[i] for i in (1, 2, 4)]):
        assert abs(a.weighted - b.weighted) < 4 * math.hypot(a.stat_error, b.stat_error)
        assert a.stat_error < b.stat_error
    assert cutflow(files["directed"], threshold=3.0, histograms=False).expected_events > 0
    with pytest.raises(ValueError, match="drawn above 1 GeV"):
        cutflow(files["directed"], threshold=0.5, histograms=False)


def test_by_channel_rows_add_up(files):
    flow = cutflow(files["base"], histograms=False)
    rows = flow.by_channel["rows"]
    assert len(rows) == len(read_metadata(files["base"])["channels"])
    for i, cut in enumerate(flow.cuts):
        assert sum(r["raw"][i] for r in rows) == cut.raw
        assert sum(r["weighted"][i] for r in rows) == pytest.approx(cut.weighted, rel=1e-12)
        assert math.sqrt(sum(r["stat_error"][i] ** 2 for r in rows)) == pytest.approx(
            cut.stat_error, rel=1e-9, abs=1e-12
        )
    meta = read_metadata(files["base"])
    assert [r["weighted"][-1] for r in rows] == pytest.approx(meta["expected_by_channel"])
    assert [r["stat_error"][-1] for r in rows] == pytest.approx(meta["stat_error_by_channel"])


def test_stat_error_agrees_with_the_scatter_of_independent_seeds(tmp_path):
    """100 files of different seeds: the standard deviation of each row's weighted count agrees
    with the reported stat_error (mean square over the seeds) within the chi-square spread of a
    sample standard deviation (99.9 % two-sided), narrow enough that errors 2x too large or
    too small fail."""
    from scipy.stats import chi2

    n_seeds = 100
    flows = []
    for seed in range(n_seeds):
        path = tmp_path / f"s{seed}.root"
        write_events(
            POINT, "na62", path, n_events=1_500, seed=100 + seed, channels=[221], keep="selected"
        )
        flows.append(cutflow(path, d=D2, histograms=False))
    lo, hi = (math.sqrt(chi2.ppf(q, n_seeds - 1) / (n_seeds - 1)) for q in (0.0005, 0.9995))
    for row in range(1, len(flows[0].cuts)):
        counts = np.array([f.cuts[row].weighted for f in flows])
        errors = np.array([f.cuts[row].stat_error for f in flows])
        ratio = np.std(counts, ddof=1) / math.sqrt(np.mean(errors**2))
        assert lo < ratio < hi, (flows[0].cuts[row].name, ratio, lo, hi)
        assert not lo < ratio * 2 < hi and not lo < ratio / 2 < hi


def test_histograms_hold_the_selected_events(files):
    flow = cutflow(files["base"], step_size=5_000)
    for name, h in flow.histograms.items():
        total = h.sum(flow=True)
        assert total.value == pytest.approx(flow.expected_events, rel=1e-9), name
    z = flow.histograms["vertex_z"]
    edges = z.axes[0].edges
    inside = (edges[:-1] >= 79.0 - 3.0) & (edges[1:] <= 217.0 + 3.0)
    assert np.sum(z.values()[~inside]) == 0.0
    assert read_metadata(files["base"])["calorimeter_z_m"] == 217.0
    # the same histograms are in the file, written while generating (TH1D with sum w^2)
    with uproot.open(files["skim"]) as f:
        stored = f["histograms/vertex_z"]
        assert stored.classname == "TH1D"
        np.testing.assert_allclose(stored.values(), z.values(), rtol=1e-12)
        np.testing.assert_allclose(stored.variances(), z.variances(), rtol=1e-12)
        assert f["histograms/impact"].classname == "TH2D"


@pytest.mark.repo  # analysis/cutflow_by_hand.py is a repository script, not installed
def test_hand_written_analysis_agrees(files):
    spec = importlib.util.spec_from_file_location("cutflow_by_hand", ANALYSIS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for d in (None, D2):
        rows = module.cutflow_by_hand(str(files["base"]), d)
        flow = cutflow(files["base"], d=d, histograms=False)
        for (_, raw, weighted), cut in zip(rows, flow.cuts[1:], strict=True):
            assert raw == cut.raw
            assert weighted == pytest.approx(cut.weighted, rel=1e-9)


def test_cli_table_json_markdown_and_plots(files, tmp_path):
    runner = CliRunner()
    path = str(files["base"])
    res = runner.invoke(main, ["cutflow", path, "--plots", str(tmp_path), "--by-channel"])
    assert res.exit_code == 0, res.output
    assert "photon reaches the calorimeter" in res.output
    assert "expected signal events" in res.output and "1e+18 POT" in res.output
    assert "eta -> gamma chi1 chi2" in res.output  # the per-channel table
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == [
        "base_impact.png",
        "base_photon_angle.png",
        "base_photon_energy.png",
        "base_vertex_z.png",
    ]
    res = runner.invoke(main, ["cutflow", path, "--json", "--d", str(D2)])
    out = json.loads(res.output)
    flow = cutflow(files["base"], d=D2, histograms=False)
    assert out["expected_events"] == pytest.approx(flow.expected_events, rel=1e-15)
    assert [c["stat_error"] for c in out["cuts"]] == pytest.approx(
        [c.stat_error for c in flow.cuts], rel=1e-15
    )
    assert out["cuts"][0]["name"] == "LLPs produced (exposure x rate)" and out["n_pot"] == 1e18
    res = runner.invoke(main, ["cutflow", path, "--markdown"])
    assert "| 4 | E_gamma > 1 GeV |" in res.output
    res = runner.invoke(main, ["cutflow", path, "--d", "-1"])
    assert (
        res.exit_code == 2 and "Invalid value for '--d': must be a number in [1e-15" in res.output
    )


def test_cli_draws_plots_only_when_asked(files, tmp_path):
    path = tmp_path / "copy.root"
    shutil.copy(files["base"], path)
    runner = CliRunner()
    res = runner.invoke(main, ["cutflow", str(path)])
    assert res.exit_code == 0 and "control plots" not in res.output, res.output
    assert not list(tmp_path.glob("*.png"))
    res = runner.invoke(main, ["cutflow", str(path), "--plots"])
    assert res.exit_code == 0 and "control plots: " in res.output, res.output
    assert len(list(tmp_path.glob("copy_*.png"))) == 4


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
    df = df.Define("w_volume", "w_norm * p_decay_volume").Define(
        "w_accepted", "w_norm * p_decay_accepted"
    )
    steps = [
        df.Filter("in_volume"),
        df.Filter("in_volume"),
        df.Filter("photon_hits_calo"),
        df.Filter("selected"),
    ]
    columns = ["w_norm", "w_volume", "w_accepted", "weight"]
    counts = [s.Count() for s in steps]
    sums = [s.Sum(c) for s, c in zip(steps, columns)]
    for cut, n, total in zip(flow.cuts[1:], counts, sums):
        assert n.GetValue() == cut.raw
        assert total.GetValue() == pytest.approx(cut.weighted, rel=1e-12)
    tfile.Close()


def test_root_reads_the_control_histograms_as_th1d(files):
    """PyROOT (when importable) reads a control histogram of the file as a TH1D with the same
    contents and errors as the cutflow's ``hist`` object."""
    ROOT = pytest.importorskip("ROOT")
    h = cutflow(files["base"]).histograms["photon_energy"]
    tfile = ROOT.TFile.Open(str(files["base"]))
    th1 = tfile.Get("histograms/photon_energy")
    assert th1.ClassName() == "TH1D" and th1.GetNbinsX() == h.axes[0].size
    for i, (value, variance) in enumerate(zip(h.values(), h.variances()), start=1):
        assert th1.GetBinContent(i) == pytest.approx(value, rel=1e-12, abs=1e-300)
        assert th1.GetBinError(i) == pytest.approx(math.sqrt(variance), rel=1e-12, abs=1e-300)
    tfile.Close()
