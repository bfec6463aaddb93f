"""jsonio: strict JSON (no Infinity/NaN) that reads back to the same numbers."""

import json
import math

import numpy as np
import pytest

from mcsim.io import jsonio
from mcsim.scan.reach import ReachGrid, read_grids, write_grids


def _strict_parse(text):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_become_strings_or_null_and_read_back():
    obj = {
        "e_max": math.inf,
        "low": -math.inf,
        "eff": math.nan,
        "n": np.int64(3),
        "a": np.array([1.0, np.inf]),
        "t": (1, 2),
    }
    text = jsonio.dumps(obj)
    assert _strict_parse(text) == {
        "e_max": "inf",
        "low": "-inf",
        "eff": None,
        "n": 3,
        "a": [1.0, "inf"],
        "t": [1, 2],
    }
    back = jsonio.loads(text)
    assert back["e_max"] == math.inf and back["low"] == -math.inf and back["eff"] is None
    assert back["a"] == [1.0, math.inf]
    assert jsonio.loads('{"x": Infinity}') == {"x": math.inf}  # files written before


def test_reach_grid_json_is_strict_and_round_trips(tmp_path):
    """grid.json used to hold Infinity (a card without an upper photon-energy cut)."""
    events = np.array([[0.0, 1.5], [np.inf, 2.0]])
    grid = ReachGrid(
        "NA62",
        np.array([0.1, 0.2]),
        np.array([1e-6, 1e-5]),
        events,
        3.0,
        {"photon_energy_max_GeV": math.inf, "seed": np.int64(1)},
    )
    write_grids([grid], tmp_path / "grid")
    _strict_parse((tmp_path / "grid.json").read_text())
    (back,) = read_grids(tmp_path / "grid.json")
    np.testing.assert_array_equal(back.events, events)
    assert back.metadata["photon_energy_max_GeV"] == math.inf
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".part"] == []


def test_write_is_all_or_nothing(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"old": 1}')
    with pytest.raises(TypeError):
        jsonio.write(path, {"k": object()})
    assert path.read_text() == '{"old": 1}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]
