"""Regression anchors: the expected events at four benchmark points (NA62, SHiP, FASER 2 and the
BEBC recast; tests/anchors.py) stay where they were pinned, within the Monte Carlo error of
two independent samples (3 sigma of the difference), so that a change of normalisation or
physics anywhere -- beyond a few per cent -- fails here."""

import math
import tomllib

import pytest
from anchors import FILE, POINTS, expected

PINNED = tomllib.loads(FILE.read_text())


@pytest.mark.parametrize("name", list(POINTS))
def test_expected_events_stay_pinned(name):
    pinned = PINNED[name]
    got = expected(name)
    sigma = math.hypot(got.stat_error, pinned["stat_error"])
    assert got.relative_error < 0.03  # the anchor is sharp enough to catch a few per cent
    assert abs(got - pinned["events"]) < 3 * sigma, (
        f"{name}: {got:.5g} against the pinned {pinned['events']:.5g} +- {pinned['stat_error']:.2g}"
    )
