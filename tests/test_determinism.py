"""The events depend on the seed alone: not on --chunk-size (a memory setting), not on the
number of worker processes.  (Before, --chunk-size 10000 changed 42 of 51 branches.)"""

import numpy as np
import pytest
import uproot
from click.testing import CliRunner

from mcsim.cli.main import main
from mcsim.generation.write import chunk_sizes
from mcsim.io.rootio import BRANCHES
from mcsim.runtime.defaults import BLOCK_SIZE as BLOCK
from mcsim.scan.family import Family
from mcsim.scan.runner import scan
from mcsim.scan.sums import Target

pytestmark = pytest.mark.slow

N_EVENTS = 2 * BLOCK + BLOCK // 2  # one channel: two full blocks and a half one


def _file(tmp_path, chunk_size, seed=3):
    out = tmp_path / f"c{chunk_size}_s{seed}.root"
    res = CliRunner().invoke(
        main,
        [
            "generate",
            "--model",
            "dark-dipole",
            "--m1",
            "0.1",
            "--delta",
            "0.1",
            "--d",
            "1e-6",
            "--channels",
            "rho",
            "--events",
            str(N_EVENTS),
            "--seed",
            str(seed),
            "--chunk-size",
            str(chunk_size),
            "--keep",
            "all",
            "-o",
            str(out),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    with uproot.open(out) as f:
        tree = f["events"]
        return tree.arrays(library="np")


def test_chunk_size_does_not_change_the_events(tmp_path):
    files = [_file(tmp_path, size) for size in (1, 20_000, 1_000_000)]
    assert [len(chunk_sizes(N_EVENTS, size)) for size in (1, 20_000, 1_000_000)] == [3, 2, 1]
    ref, *others = files
    assert list(ref) == list(BRANCHES) and len(ref["event"]) == N_EVENTS
    for arrays in others:
        for name, values in ref.items():
            np.testing.assert_array_equal(arrays[name], values, err_msg=name)
    other_seed = _file(tmp_path, 40_000, seed=4)
    assert not np.array_equal(other_seed["photon_E"], ref["photon_E"])


def test_workers_do_not_change_the_reach_grid():
    args = (
        Family("dark-dipole", delta=0.1),
        [0.05, 0.2, 0.5],
        np.geomspace(1e-7, 1e-3, 9),
        [Target("NA62", "na62"), Target("SHiP", "ship")],
    )
    one = scan(*args, n_events=3000, seed=8, workers=1, progress=False)
    two = scan(*args, n_events=3000, seed=8, workers=2, progress=False)
    for a, b in zip(one, two):
        assert a.events.any()
        np.testing.assert_array_equal(a.events, b.events)


def test_block_streams_are_the_children_of_the_blocks_seed_sequence():
    """Each stream of an event block is child i of SeedSequence(seed, spawn_key=(mother,
    block)) (the random numbers of every shipped file and grid depend on it), and the blocks'
    streams differ."""
    from mcsim.sources.base import STREAMS, block_rngs

    for seed, mother, block in ((1, 221, 0), (7, 113, 3)):
        parent = np.random.SeedSequence(seed, spawn_key=(mother, block))
        expected = [np.random.default_rng(c).random(4) for c in parent.spawn(len(STREAMS))]
        got = [g.random(4) for g in block_rngs(seed, mother, block)]
        assert np.array_equal(np.array(got), np.array(expected))
    assert not np.array_equal(
        block_rngs(1, 221, 0)[0].random(4), block_rngs(1, 221, 1)[0].random(4)
    )
