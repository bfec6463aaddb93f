"""Events files: branch layout, round trip of every branch, seeds, normalisation, metadata."""

import json

import numpy as np
import pytest
import uproot

from mcsim import DarkDipole, __version__
from mcsim.chain import ARRAYS, simulate
from mcsim.detector import load_detector
import mcsim.ntuple as ntuple
from mcsim.ntuple import block_rng, block_sizes, generate, split_events
from mcsim.rootio import (BRANCHES, NtupleWriter, branches_of, compression, flatten,
                          read_arrays, read_metadata, unflatten)

POINT = DarkDipole(m1=0.1, delta=0.1, d=1e-6)
N_EVENTS, CHUNK, BLOCK = 14_000, 1_500, 512


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Three files written in blocks of 512 events (so a channel has several blocks and chunks
    of several blocks)."""
    d = tmp_path_factory.mktemp("rootio")
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ntuple, "BLOCK", BLOCK)
        for label, seed in (("a", 7), ("b", 7), ("c", 8)):
            path = d / f"{label}.root"
            generate(POINT, "na62", path, n_events=N_EVENTS, seed=seed, chunk_size=CHUNK)
            out[label] = path
    return out


def _branches(path):
    with uproot.open(path) as f:
        return f["events"].arrays(library="np")


def test_branch_names_cover_every_chain_array():
    assert list(BRANCHES)[0] == "event"
    assert branches_of("p4_photon") == ("photon_E", "photon_px", "photon_py", "photon_pz")
    assert branches_of("acc_intervals") == ("acc_a1", "acc_b1", "acc_a2", "acc_b2")
    widths = sum(max(w, 1) for _, w in ARRAYS.values())
    assert len(BRANCHES) == 1 + widths
    with pytest.raises(ValueError, match="unknown event array"):
        branches_of("p4_gluon")


def test_file_layout_is_ttrees_and_tobjstrings(files):
    with uproot.open(files["a"]) as f:
        classes = {k.split(";")[0]: v for k, v in f.classnames().items()}
        assert classes == {"events": "TTree", "run": "TTree", "channels": "TTree",
                           "mcsim_metadata": "TObjString", "detector_card": "TObjString"}
        tree = f["events"]
        assert tree.num_entries == N_EVENTS
        assert list(tree.keys()) == list(BRANCHES)
        for name, branch in tree.items():
            assert branch.interpretation.to_dtype == BRANCHES[name], name
        assert f["run"].num_entries == 1
        assert f["run"]["n_generated"].array(library="np")[0] == N_EVENTS


def test_writer_round_trip_is_exact(tmp_path):
    """Every branch read back by uproot equals the array handed to the writer, bit for bit."""
    batch = simulate(POINT, "na62", n_events=500, seed=3)
    meta = dict(batch.metadata, n_events=len(batch), n_collisions=1e18, n_pot=1e18,
                luminosity_inv_ab=None, expected_events=batch.expected_events(),
                photon_energy_max=None)
    path = tmp_path / "w.root"
    with NtupleWriter(path) as writer:
        writer.extend(batch.arrays)
        writer.finish(meta)
    back = read_arrays(path)
    for key, value in batch.arrays.items():
        np.testing.assert_array_equal(back[key], value, err_msg=key)
        assert back[key].dtype == value.dtype, key
    np.testing.assert_array_equal(_branches(path)["event"], np.arange(len(batch)))


def test_generated_file_equals_the_chain_block_by_block(files, monkeypatch):
    """The file is the chain's output block by block: simulate() with the block's seed gives
    the same kinematics, vertices and probabilities; channel index and w_norm are the file's."""
    monkeypatch.setattr(ntuple, "BLOCK", BLOCK)
    meta = read_metadata(files["a"])
    back = read_arrays(files["a"])
    det = load_detector("na62")
    start = 0
    for index, (mother, n_total) in enumerate(zip(meta["mother_pdgids"], meta["n_generated"])):
        for k, size in enumerate(block_sizes(n_total)):
            ref = simulate(POINT, det, n_events=size, seed=block_rng(7, mother, k),
                           channels=[mother]).arrays
            part = {key: v[start:start + size] for key, v in back.items()}
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
    assert meta["n_generated"][0] > -(-CHUNK // BLOCK) * BLOCK  # several chunks of blocks
    for index, (n_m, br, n) in enumerate(zip(meta["n_mesons"], meta["br"],
                                             meta["n_generated"])):
        mine = a["channel"] == index
        assert mine.sum() == n
        assert a["w_norm"][mine].sum() == pytest.approx(n_m * br, rel=1e-12)
    expected = a["w_norm"] * a["p_decay_accepted"] * a["above_threshold"] * meta["efficiency"]
    np.testing.assert_array_equal(a["weight"], expected)
    assert a["weight"].sum() == pytest.approx(meta["expected_events"], rel=1e-12)


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
    for key, value in batch.arrays.items():
        np.testing.assert_array_equal(back[key], value)


def test_compression_spec():
    assert compression("none") is None
    assert repr(compression("zstd:3")) == "ZSTD(3)"
    assert repr(compression("zlib")) == "ZLIB(1)"
    for bad in ("gzip", "zstd:0", "zlib:x", "none:1"):
        with pytest.raises(ValueError, match="compression must be"):
            compression(bad)
