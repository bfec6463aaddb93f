"""The shipped reach figures (analysis/figures, made by analysis/figure2.py): what the paper's
Figure 2 needs from them, read back with the public readers."""

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from mcsim.scan.reach import read_grids

#: the figures are repository files (analysis/figures), not part of the installed package
pytestmark = pytest.mark.repo

FIGURES = Path(__file__).resolve().parents[1] / "analysis" / "figures"
PANELS = ("delta=0.1", "delta=0.01", "delta=0.005")


def test_figure2_has_one_continuous_line_per_panel_and_experiment():
    """Every (panel, experiment) of figure2_contours.csv is one central line (CHARM-II at
    delta = 0.005 was three pieces from 0-2 accepted Monte Carlo events per mass), with its
    one-sigma band written beside it (one side of it can be empty: CHARM-II at delta = 0.005
    excludes so little that N - sigma reaches N_up nowhere)."""
    lines, curves = defaultdict(set), defaultdict(set)
    with open(FIGURES / "figure2_contours.csv", newline="") as f:
        for row in csv.DictReader(f):
            curves[row["label"]].add(row["curve"])
            if row["curve"] == "central":
                lines[row["label"]].add(row["line"])
    for panel in PANELS:
        labels = [label for label in lines if label.startswith(panel + " |")]
        assert any("CHARM-II" in label for label in labels), panel
        assert any("NA62 1e18" in label for label in labels), panel
        for label in labels:
            assert len(lines[label]) == 1, (label, sorted(lines[label]))
            assert curves[label] & {"minus_1sigma", "plus_1sigma"}, label


def test_figure2_grids_carry_a_monte_carlo_error_per_cell():
    """Every meson-beam grid has a per-cell error, between 0 and the cell's value (for weights
    >= 0, sum w^2 - (sum w)^2 / N <= (sum w)^2), and its contour's quality.  Cells below 1e-150
    events are left out: their squared weights are subnormal doubles."""
    grids = [g for g in read_grids(FIGURES / "figure2_grids.json") if "BaBar" not in g.label]
    assert len(grids) == 3 * 8
    for g in grids:
        events, err = np.asarray(g.events), np.asarray(g.stat_error)
        assert err.shape == events.shape
        hit = events > 1e-150
        assert np.any(err[hit] > 0) or not hit.any(), g.label  # NuCal sees nothing at small delta
        assert np.all(err[hit] <= events[hit] * 1.005), g.label  # errors kept to 3 digits
        assert "contour_rel_error" in g.metadata and "unconverged_masses" in g.metadata
