"""Events files: branch layout, round trip of every branch, seeds, normalisation, metadata."""

import json

import numpy as np
import pytest
import uproot
from references import SPEC_DETECTORS, brute_force_acceptance, pull

from mcsim import DarkDipole, __version__
from mcsim.detector.cards import load_detector
from mcsim.detector.propagate import decay_probability
from mcsim.generation.simulate import simulate
from mcsim.generation.write import chunk_sizes, split_events, write_events
from mcsim.io.rootio import (
    BRANCHES,
    TITLES,
    NtupleWriter,
    branches_of,
    compression,
    flatten,
    read_arrays,
    read_metadata,
    unflatten,
)
from mcsim.io.schema import ARRAYS
from mcsim.runtime.defaults import BLOCK_SIZE

POINT = DarkDipole(m1=0.1, delta=0.1, d=1e-6)
N_EVENTS, CHUNK = 14_000, 1_500


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Three files written in blocks of 512 events (so a channel has several blocks and chunks
    of several blocks)."""
    d = tmp_path_factory.mktemp("rootio")
    out = {}
    for label, seed in (("a", 7), ("b", 7), ("c", 8)):
        path = d / f"{label}.root"
        write_events(
            POINT, "na62", path, n_events=N_EVENTS, seed=seed, chunk_size=CHUNK, keep="all"
        )
        out[label] = path
    return out


def _branches(path):
    with uproot.open(path) as f:
        return f["events"].arrays(library="np")


def test_branch_names_cover_every_chain_array():
    assert next(iter(BRANCHES)) == "event"
    assert branches_of("p4_photon") == ("photon_E", "photon_px", "photon_py", "photon_pz")
    assert branches_of("acc_intervals") == ("acc_a1", "acc_b1", "acc_a2", "acc_b2")
    widths = sum(max(w, 1) for _, w in ARRAYS.values())
    assert len(BRANCHES) == 1 + widths
    with pytest.raises(ValueError, match="unknown event array"):
        branches_of("p4_gluon")


def test_file_layout_is_ttrees_and_tobjstrings(files):
    with uproot.open(files["a"]) as f:
        classes = {k.split(";")[0]: v for k, v in f.classnames().items()}
        hists = {f"histograms/{n}": "TH1D" for n in ("photon_energy", "vertex_z", "photon_angle")}
        assert classes == {
            "events": "TTree",
            "crossing": "TTree",
            "run": "TTree",
            "channels": "TTree",
            "mcsim_metadata": "TObjString",
            "detector_card": "TObjString",
            "histograms": "TDirectory",
            "histograms/impact": "TH2D",
            **hists,
        }
        tree = f["events"]
        assert tree.num_entries == N_EVENTS
        assert list(tree.keys()) == list(BRANCHES)
        for name, branch in tree.items():
            assert branch.interpretation.to_dtype == BRANCHES[name], name
            assert branch.title == TITLES[name], name
            assert branch.member("fLeaves")[0].member("fTitle") == name
        assert "[GeV]" in tree["photon_E"].title and "[m]" in tree["vertex_z"].title
        for name in ("run", "channels"):
            assert all(len(b.title) > 10 and "/" not in b.title[-3:] for b in f[name].values()), (
                name
            )
        assert f["run"].num_entries == 1
        assert f["run"]["n_generated"].array(library="np")[0] == N_EVENTS


def test_writer_round_trip_is_exact(tmp_path):
    """Every branch read back by uproot equals the array handed to the writer, bit for bit."""
    batch = simulate(POINT, "na62", n_events=500, seed=3)
    meta = dict(
        batch.metadata,
        n_events=len(batch),
        n_kept=len(batch),
        n_collisions=1e18,
        n_pot=1e18,
        luminosity_inv_ab=None,
        expected_events=batch.expected_events(),
        photon_energy_max=None,
    )
    path = tmp_path / "w.root"
    with NtupleWriter(path) as writer:
        writer.extend(batch.arrays)
        writer.finish(meta)
    back = read_arrays(path)
    for key, value in _cumulative(batch.arrays).items():
        np.testing.assert_array_equal(back[key], value, err_msg=key)
        assert back[key].dtype == value.dtype, key
    np.testing.assert_array_equal(_branches(path)["event"], np.arange(len(batch)))


def _cumulative(arrays):
    """The chain's arrays as the file stores them: the energy flag as the cumulative one."""
    return dict(arrays, above_threshold=arrays["above_threshold"] & arrays["photon_hits_calo"])


def test_generated_file_equals_the_chain_chunk_by_chunk(files):
    """The file is the chain's output chunk by chunk: simulate() with the chunk's seed gives
    the same kinematics, vertices and probabilities; channel index and w_norm are the file's."""
    meta = read_metadata(files["a"])
    back = read_arrays(files["a"])
    det = load_detector("na62")
    start = 0
    for index, (mother, n_total) in enumerate(zip(meta["mother_pdgids"], meta["n_generated"])):
        for first_block, size in chunk_sizes(n_total, CHUNK):
            ref = _cumulative(
                simulate(
                    POINT, det, n_events=size, seed=7, channels=[mother], first_block=first_block
                ).arrays
            )
            part = {key: v[start : start + size] for key, v in back.items()}
            for key in ARRAYS:
                if key not in ("channel", "w_norm", "weight"):
                    np.testing.assert_array_equal(part[key], ref[key], err_msg=key)
            assert (part["channel"] == index).all()
            start += size
    assert start == N_EVENTS


def test_same_seed_identical_other_seed_different(files):
    a, b, c = (_branches(files[k]) for k in "abc")
    for name in BRANCHES:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert not np.array_equal(a["photon_E"], c["photon_E"])
    assert not np.array_equal(a["meson_pz"], c["meson_pz"])


def test_normalisation_uses_whole_channel_totals(files):
    """w_norm = N_M x BR / N_generated(channel) over all chunks: per channel the w_norm sum is
    N_M x BR, and the weights sum to the expected events in the metadata."""
    meta = read_metadata(files["a"])
    a = read_arrays(files["a"])
    assert meta["n_generated"] == split_events(N_EVENTS, len(meta["channels"]))
    for index, (n_m, br, n) in enumerate(zip(meta["exposure"], meta["rate"], meta["n_generated"])):
        mine = a["channel"] == index
        assert mine.sum() == n
        assert a["w_norm"][mine].sum() == pytest.approx(n_m * br, rel=1e-12)
    assert a["weight"].sum() == pytest.approx(meta["expected_events"], rel=1e-12)


def test_weights_are_the_expected_events_of_explicit_decays(files):
    """The file's weights against an independent reference for the file's own kinematics:
    N_M x BR / N_generated of the event's channel times a Monte Carlo integral of the
    exponential decay density over the decay positions inside the paper's NA62 decay volume
    whose photon (E > 1 GeV) hits the LKr face (tests/references.py).  Long-lifetime regime
    (c*tau = 178 m); weights 5% or twice too large, or at half the lifetime, fail."""
    meta = read_metadata(files["a"])
    a = read_arrays(files["a"])
    assert meta["ctau"] == pytest.approx(178.0, rel=5e-3)  # physics-inputs: 1.78 cm at d = 1e-4
    per_channel = np.array(meta["exposure"]) * meta["rate"] / meta["n_generated"]
    norm = per_channel[a["channel"]]
    acc = brute_force_acceptance(
        a["p4_llp"],
        POINT.m2,
        a["p4_photon"],
        meta["ctau"],
        SPEC_DETECTORS["na62"],
        np.random.default_rng(17),
        draws=64,
    )
    assert (acc > 0).sum() > 200
    ref = norm * acc
    assert abs(pull(a["weight"], ref)) < 4
    assert abs(pull(2 * a["weight"], ref)) > 8
    assert abs(pull(1.05 * a["weight"], ref)) > 5
    half = decay_probability(a["acc_intervals"], a["beta_gamma"], meta["ctau"] / 2)
    assert abs(pull(a["w_norm"] * half * a["above_threshold"], ref)) > 8


def test_events_do_not_depend_on_the_chunk_size(tmp_path):
    """Chunks are whole random-number blocks: a file written in three chunks holds the events
    of one simulate() call with the same seed."""
    path = tmp_path / "rho.root"
    n = 2 * BLOCK_SIZE + 123
    assert len(chunk_sizes(n, 1)) == 3
    write_events(POINT, "na62", path, n_events=n, seed=9, chunk_size=1, channels=[113], keep="all")
    ref = _cumulative(simulate(POINT, "na62", n_events=n, seed=9, channels=[113]).arrays)
    back = read_arrays(path)
    for key in ARRAYS:
        np.testing.assert_array_equal(back[key], ref[key], err_msg=key)


def test_metadata_describes_the_run(files):
    meta = read_metadata(files["a"])
    det = load_detector("na62")
    assert meta["model"] == POINT.describe()
    assert meta["d"] == POINT.d and meta["ctau"] == POINT.ctau
    assert meta["seed"] == 7 and meta["n_events"] == N_EVENTS
    assert meta["mcsim_version"] == __version__
    assert meta["detector"] == det.name and meta["card_text"] == det.card_text
    assert meta["n_pot"] == 1e18 and meta["photon_energy_max"] == np.inf
    assert [s["pdgid"] for s in meta["spectra"]] == meta["mother_pdgids"]
    with uproot.open(files["a"]) as f:
        assert str(f["detector_card"]) == det.card_text
        raw = json.loads(str(f["mcsim_metadata"]))
        assert raw["photon_energy_max"] is None  # JSON null: no upper cut
        chans = f["channels"].arrays(library="np")
    np.testing.assert_array_equal(chans["mother_pdgid"], meta["mother_pdgids"])
    np.testing.assert_array_equal(chans["n_generated"], meta["n_generated"])


def test_flatten_unflatten_inverse():
    batch = simulate(POINT, "na62", n_events=50, seed=4, channels=[113])
    back = unflatten(flatten(batch.arrays, 10))
    for key, value in _cumulative(batch.arrays).items():
        np.testing.assert_array_equal(back[key], value)


def test_compression_spec():
    assert compression("none") is None
    assert repr(compression("zstd:3")) == "ZSTD(3)"
    assert repr(compression("zlib")) == "ZLIB(1)"
    for bad in ("gzip", "zstd:0", "zlib:x", "none:1"):
        with pytest.raises(ValueError, match="compression must be"):
            compression(bad)


def test_flags_are_cumulative(files):
    a = _branches(files["a"])
    assert np.all(a["photon_hits_calo"] <= a["in_volume"])
    assert np.all(a["selected"] <= a["photon_hits_calo"])
    assert a["selected"].sum() > 0 and "above_threshold" not in a
    np.testing.assert_array_equal(a["weight"] > 0, a["selected"] & (a["p_decay_accepted"] > 0))


def test_keep_selected_drops_only_events_of_zero_weight_at_every_coupling(files, tmp_path):
    """--keep selected: the kept events are the file's selected ones, with the same event
    numbers, w_norm and weights (N_generated counts every event); the crossing tree holds the
    other crossing LLPs; float32 storage changes only the kinematics, to float32 precision."""
    path = tmp_path / "skim.root"
    meta = write_events(
        POINT, "na62", path, n_events=N_EVENTS, seed=7, chunk_size=CHUNK, float32=True
    )
    full = _branches(files["a"])
    skim = _branches(path)
    sel = full["selected"]
    assert meta["keep"] == "selected" and meta["n_kept"] == sel.sum() == len(skim["event"])
    np.testing.assert_array_equal(skim["event"], full["event"][sel])
    for name in ("w_norm", "weight", "p_decay_accepted", "s_in", "acc_a1", "beta_gamma"):
        np.testing.assert_array_equal(skim[name], full[name][sel], err_msg=name)
        assert skim[name].dtype == np.float64
    for name in ("photon_E", "llp_pz", "vertex_z"):
        assert skim[name].dtype == np.float32
        np.testing.assert_allclose(skim[name], full[name][sel], rtol=1e-7)
    assert meta["expected_events"] == pytest.approx(full["weight"].sum(), rel=1e-12)
    with uproot.open(path) as f:
        crossing = f["crossing"].arrays(library="np")
    dropped = full["in_volume"] & ~sel
    np.testing.assert_array_equal(crossing["event"], full["event"][dropped])
    np.testing.assert_array_equal(crossing["s_out"], full["s_out"][dropped])
    assert path.stat().st_size * 5 < files["a"].stat().st_size


def test_schema_page_lists_every_branch_with_its_title():
    from mcsim.io.rootio import CROSSING_BRANCHES, schema_markdown

    text = schema_markdown()
    for name in list(BRANCHES) + list(CROSSING_BRANCHES):
        assert f"| `{name}` |" in text, name
    assert "| `photon_E` | float64 (float32 with `--float32`) |" in text
    assert "| `beta_gamma` | float64 | \\|p\\| / m of the LLP |" in text
    for tree in ("events", "crossing", "run", "channels"):
        assert f"## TTree `{tree}`" in text


def _histogram_references(path):
    """Per control histogram, ROOT's statistics computed independently from the events tree:
    the number of passing (weight != 0) events, and over those inside the axes the sums of w
    and w^2 and the effective entries (sum w)^2 / sum w^2, and the weighted mean of x."""
    with uproot.open(path) as f:
        t = f["events"].arrays(
            ["weight", "photon_E", "photon_px", "photon_py", "photon_pz", "vertex_z"]
            + ["impact_x", "impact_y"],
            library="np",
        )
        edges = {
            name: [f[f"histograms/{name}"].axis(i).edges() for i in range(ndim)]
            for name, ndim in (
                ("photon_energy", 1),
                ("vertex_z", 1),
                ("photon_angle", 1),
                ("impact", 2),
            )
        }
    passing = t["weight"] != 0
    w = t["weight"][passing]
    theta = np.arctan2(np.hypot(t["photon_px"], t["photon_py"]), t["photon_pz"])
    x = {
        "photon_energy": np.log10(t["photon_E"][passing]),
        "vertex_z": t["vertex_z"][passing],
        "photon_angle": np.log10(theta[passing]),
        "impact": t["impact_x"][passing],
    }
    out = {}
    for name, axes in edges.items():
        inside = (x[name] >= axes[0][0]) & (x[name] < axes[0][-1])
        if name == "impact":
            y = t["impact_y"][passing]
            inside &= (y >= axes[1][0]) & (y < axes[1][-1])
        wi = w[inside]
        out[name] = {
            "entries": int(passing.sum()),
            "sumw": wi.sum(),
            "sumw2": np.square(wi).sum(),
            "effective": wi.sum() ** 2 / np.square(wi).sum(),
            "mean_x": (wi * x[name][inside]).sum() / wi.sum(),
        }
    return out


def test_histograms_carry_root_statistics_and_titles(files):
    """The TH1D/TH2D written by uproot: fEntries is the raw number of passing events (not the
    sum of weights), fTsumw/fTsumw2 the sums of w and w^2, fTsumwx the sum of w*x, so that
    ROOT's effective entries (sum w)^2 / sum w^2 come out; titles and axis titles are set."""
    ref = _histogram_references(files["a"])
    assert ref["photon_energy"]["entries"] > 100  # many passing events of unequal weights
    assert ref["photon_energy"]["effective"] < 0.9 * ref["photon_energy"]["entries"]
    with uproot.open(files["a"]) as f:
        for name, r in ref.items():
            h = f[f"histograms/{name}"]
            assert h.member("fEntries") == r["entries"], name
            assert h.member("fTsumw") == pytest.approx(r["sumw"], rel=1e-12), name
            assert h.member("fTsumw2") == pytest.approx(r["sumw2"], rel=1e-12), name
            effective = h.member("fTsumw") ** 2 / h.member("fTsumw2")
            assert effective == pytest.approx(r["effective"], rel=1e-9), name
            mean = h.member("fTsumwx") / h.member("fTsumw")
            assert mean == pytest.approx(r["mean_x"], rel=1e-9), name
            # the bins hold the same weights: contents and variances (flow bins included)
            assert h.values(flow=True).sum() == pytest.approx(ref[name]["sumw"], rel=1e-12)
            ndim = 2 if name == "impact" else 1
            assert h.member("fTitle") and all(h.axis(i).member("fTitle") for i in range(ndim))
        assert "[m]" in f["histograms/vertex_z"].axis().member("fTitle")
        assert "GeV" in f["histograms/photon_energy"].axis().member("fTitle")


def test_root_reads_entries_and_effective_entries_of_the_histograms(files):
    """PyROOT (when importable): GetEntries() is the passing raw count, GetEffectiveEntries()
    is (sum w)^2 / sum w^2 of the events tree's weights, GetMean() the weighted mean, and the
    title and axis titles are not empty."""
    ROOT = pytest.importorskip("ROOT")
    ref = _histogram_references(files["a"])
    tfile = ROOT.TFile.Open(str(files["a"]))
    try:
        for name, r in ref.items():
            h = tfile.Get(f"histograms/{name}")
            assert h.ClassName() == ("TH2D" if name == "impact" else "TH1D")
            assert h.GetEntries() == r["entries"], name
            assert h.GetEffectiveEntries() == pytest.approx(r["effective"], rel=1e-9), name
            assert h.GetSumOfWeights() == pytest.approx(r["sumw"], rel=1e-12), name
            assert h.GetMean(1) == pytest.approx(r["mean_x"], rel=1e-9), name
            axes = [h.GetXaxis(), h.GetYaxis()] + ([h.GetZaxis()] if name == "impact" else [])
            assert h.GetTitle() and all(axis.GetTitle() for axis in axes), name
    finally:
        tfile.Close()


def test_histograms_without_fill_statistics_fall_back_to_the_bins():
    """A ``hist`` histogram not filled through mcsim.io.histograms.fill (or summed, so the
    statistics no longer match its bins) is written with statistics from its bins: the sums
    of w and of the variances, and the effective entries as its entries."""
    import hist

    from mcsim.io.histograms import book, fill, to_root

    hists = book({"calorimeter_half_size_m": 1.0, "calorimeter_z_m": 10.0})
    n = 50
    rng = np.random.default_rng(1)
    arrays = {
        "p4_photon": np.column_stack([np.full(n, 5.0), np.full(n, 0.01), np.zeros(n), np.ones(n)]),
        "vertex": np.column_stack([np.zeros(n), np.zeros(n), rng.uniform(0, 12, n)]),
        "impact": rng.uniform(-1.2, 1.2, (n, 2)),
    }
    w = rng.uniform(0.5, 2.0, n)
    fill(hists, arrays, w)
    z = hists["vertex_z"]
    th1 = to_root("vertex_z", z)
    inside = arrays["vertex"][:, 2] < 10.5
    assert th1.member("fEntries") == n and th1.member("fTsumw") == pytest.approx(w[inside].sum())
    assert th1.member("fTsumwx") == pytest.approx((w * arrays["vertex"][:, 2])[inside].sum())
    summed = z + z  # the fill statistics are those of one histogram: not used
    th1 = to_root("vertex_z", summed)
    assert th1.member("fTsumw") == pytest.approx(2 * w[inside].sum())
    assert th1.member("fTsumw2") == pytest.approx(2 * np.square(w[inside]).sum())  # variances add
    plain = hist.Hist(hist.axis.Regular(4, 0, 4, name="x"), storage=hist.storage.Weight())
    plain.fill([0.5, 1.5, 1.5], weight=[1.0, 2.0, 2.0])
    th1 = to_root("plain", plain)
    assert th1.member("fEntries") == round(25 / 9) and th1.member("fTitle") == "plain"
    th2 = to_root("impact", hists["impact"])
    assert th2.member("fEntries") == n and th2.member("fTsumwxy") == pytest.approx(
        (w * arrays["impact"][:, 0] * arrays["impact"][:, 1])[
            (np.abs(arrays["impact"]) < 1.1).all(axis=1)
        ].sum()
    )
