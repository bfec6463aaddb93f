"""The events depend on the seed alone: not on --chunk-size (a memory setting).  (Before,
--chunk-size 10000 changed 42 of 51 branches.)  That the reach grids do not depend on the
number of worker processes (or on a Dask cluster) is tested in
test_scan.py::test_local_processes_and_dask_give_identical_grids."""

import numpy as np
import pytest
import uproot
from click.testing import CliRunner
from conftest import generate_argv

from mcsim.cli.main import main
from mcsim.generation.write import chunk_sizes
from mcsim.io.rootio import BRANCHES
from mcsim.runtime.defaults import BLOCK_SIZE as BLOCK

pytestmark = pytest.mark.slow

N_EVENTS = 2 * BLOCK + BLOCK // 2  # one channel: two full blocks and a half one


def _file(tmp_path, chunk_size, seed=3):
    out = tmp_path / f"c{chunk_size}_s{seed}.root"
    argv = generate_argv(
        channels="rho",
        events=N_EVENTS,
        seed=seed,
        chunk_size=chunk_size,
        keep="all",
        o=out,
        quiet=True,
    )
    res = CliRunner().invoke(main, argv)
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
