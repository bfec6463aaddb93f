"""mcsim reach: every detector drawn distinguishably, --level sets the contour."""

import json

import matplotlib.pyplot as plt
import numpy as np
from click.testing import CliRunner
from matplotlib.colors import to_hex

from mcsim.cli.main import main
from mcsim.scan.family import Family
from mcsim.scan.reach import ReachGrid
from mcsim.scan.reach_plot import plot_detectors, reach_png


def _grid(label, exposure, scale):
    masses, couplings = np.geomspace(0.01, 1, 6), np.geomspace(1e-8, 1e-2, 20)
    events = scale * np.outer(np.ones(6), couplings / 1e-6) ** 2
    return ReachGrid(label, masses, couplings, events, 3.0, {"exposure": exposure})


def test_three_detectors_three_distinct_lines_and_legend():
    grids = [
        _grid("na62", "1e+18 POT", 1.0),
        _grid("na62:1e17", "1e+17 POT", 0.1),
        _grid("ship", "6e+20 POT", 30.0),
    ]
    fig, ax = plt.subplots()
    plot_detectors(ax, grids, xlabel="M1 [GeV]")
    drawn = [line for line in ax.lines if len(line.get_xdata())]
    styles = {(line.get_color(), line.get_linestyle()) for line in drawn}
    assert len(drawn) == 3 and len(styles) == 3
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [
        "na62: 1e+18 POT, N = 3",
        "na62:1e17: 1e+17 POT, N = 3",
        "ship: 6e+20 POT, N = 3",
    ]
    plt.close(fig)


def test_the_relic_line_looks_like_no_detector_line(monkeypatch):
    """In the figure of `mcsim reach` (five detectors and the relic line), the relic line's
    (colour, line style) is none of the detectors' lines'."""
    grids = [_grid(f"det{i}", "1e+18 POT", 10.0**i) for i in range(-2, 3)]
    relic = np.stack([np.geomspace(0.01, 1, 6), np.geomspace(1e-7, 1e-5, 6)], 1)
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    reach_png(grids, Family("dark-dipole", delta=0.1), relic)
    (fig,) = figures
    lines = [line for line in fig.axes[0].lines if len(line.get_xdata())]
    relic_lines = [line for line in lines if line.get_label() == r"$\Omega h^2 = 0.12$"]
    assert len(relic_lines) == 1

    def style(line):
        return (to_hex(line.get_color()), line.get_linestyle())

    detectors = {style(line) for line in lines if line not in relic_lines}
    assert len(detectors) == len(grids)
    assert style(relic_lines[0]) not in detectors
    assert relic_lines[0].get_linestyle() not in {ls for _, ls in detectors}
    monkeypatch.undo()
    plt.close(fig)


def test_level_option_sets_the_contour(tmp_path):
    res = CliRunner().invoke(
        main,
        [
            "reach",
            "--detector",
            "na62",
            "--masses",
            "3",
            "--couplings",
            "6",
            "--events",
            "300",
            "--workers",
            "1",
            "--no-progress",
            "--level",
            "10",
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 0, res.output
    contours = json.loads((tmp_path / "contours.json").read_text())
    assert contours["na62"]["level"] == 10.0
    (grid,) = json.loads((tmp_path / "grid.json").read_text())
    assert grid["metadata"]["exposure"] == "1e+18 POT"  # the card's, for the legend
    assert (tmp_path / "reach.png").read_bytes().startswith(b"\x89PNG")
    bad = CliRunner().invoke(
        main, ["reach", "--detector", "na62", "--level", "0", "--out", str(tmp_path)]
    )
    assert bad.exit_code == 2 and "--level" in bad.output
