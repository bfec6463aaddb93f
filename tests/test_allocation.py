"""Events over channels by their contribution (Neyman): the arithmetic, the same events as the
equal split, an unbiased total with a smaller Monte Carlo error, and events files."""

import numpy as np
import pytest

from mcsim import DarkDipole
from mcsim.generation.allocation import neyman, spread
from mcsim.generation.simulate import simulate
from mcsim.generation.write import write_events
from mcsim.io.rootio import read_arrays, read_metadata
from mcsim.io.schema import ARRAYS
from mcsim.runtime.defaults import BLOCK_SIZE

POINT = DarkDipole(m1=0.1, delta=0.1, d=1e-6)
#: rho (most of NA62's yield), eta (Dalitz), Upsilon(1S) (1e-5 of it)
MOTHERS = [113, 221, 553]


def test_neyman_is_proportional_to_the_spread_above_the_floors():
    counts = neyman(1000, [3.0, 1.0, 0.0], [10, 10, 10])
    assert sum(counts) == 1000
    assert counts[2] == 10  # nothing selected: the floor
    assert abs(counts[0] - 742.5) <= 1 and abs(counts[1] - 247.5) <= 1
    assert neyman(100, [100.0, 1.0], [10, 10]) == [90, 10]  # the floor binds
    assert neyman(100, [0.0, 0.0, 0.0], [5, 5, 5]) in ([34, 33, 33], [33, 34, 33], [33, 33, 34])
    with pytest.raises(ValueError, match="floors"):
        neyman(10, [1.0, 1.0], [6, 6])


def test_spread_is_the_per_event_standard_deviation():
    rng = np.random.default_rng(3)
    x = rng.exponential(2.0, 200_000) * (rng.random(200_000) < 0.1)  # per-event contributions
    w = x / len(x)  # weights normalised to the mean
    assert spread(w.sum(), np.square(w).sum(), len(x)) == pytest.approx(x.std(), rel=1e-9)


@pytest.fixture(scope="module")
def batches():
    n = 3 * BLOCK_SIZE
    kw = dict(n_events=n, channels=MOTHERS)
    return (
        simulate(POINT, "na62", seed=5, **kw),
        simulate(POINT, "na62", seed=6, allocation="neyman", **kw),
    )


def test_neyman_keeps_each_channels_events(batches):
    """Channel c of a Neyman batch holds the first n_c events of that channel for the seed:
    the allocation changes how many events, never which."""
    equal, ney = batches
    counts = dict(zip(ney.metadata["mother_pdgids"], ney.metadata["n_generated"]))
    assert sum(counts.values()) == sum(equal.metadata["n_generated"])
    assert counts[553] == BLOCK_SIZE < counts[113]  # Upsilon(1S): the floor
    assert counts[221] > 3 * BLOCK_SIZE  # eta: the largest spread (measured: 83628 events)
    for index, mother in enumerate(ney.metadata["mother_pdgids"]):
        ref = simulate(POINT, "na62", n_events=counts[mother], seed=6, channels=[mother]).arrays
        mine = ney.arrays["channel"] == index
        for key in ARRAYS:
            if key != "channel":
                np.testing.assert_array_equal(ney.arrays[key][mine], ref[key], err_msg=key)


def test_neyman_total_agrees_with_a_smaller_error(batches):
    equal, ney = batches
    a, b = equal.expected_events(), ney.expected_events()
    assert abs(a - b) < 4 * np.hypot(a.stat_error, b.stat_error)
    assert b.stat_error < 0.9 * a.stat_error  # measured: 0.84 (all NA62 channels: 0.63)


def test_events_file_with_neyman_allocation(tmp_path):
    """write_events shares its total like simulate(allocation='neyman') with a third of it
    per channel, whatever the chunk size, and says so in its metadata."""
    n = 3 * 40_000
    ref = simulate(POINT, "na62", n_events=40_000, seed=4, channels=MOTHERS, allocation="neyman")
    for chunk in (1, 100_000):
        path = tmp_path / f"ney{chunk}.root"
        write_events(
            POINT, "na62", path, n_events=n, seed=4, channels=MOTHERS, keep="all", chunk_size=chunk
        )
        meta = read_metadata(path)
        assert meta["allocation"] == "neyman"
        assert meta["n_generated"] == ref.metadata["n_generated"]
        back = read_arrays(path)
        for key in ("p4_llp", "p4_photon", "w_norm", "weight", "p_decay_accepted"):
            np.testing.assert_allclose(back[key], ref.arrays[key], rtol=1e-15, err_msg=key)
        assert meta["expected_events"] == pytest.approx(float(ref.expected_events()), rel=1e-12)
