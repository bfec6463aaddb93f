"""mcsim detectors: the list of cards, one card printed and its side view drawn."""

import matplotlib.pyplot as plt
import numpy as np
from click.testing import CliRunner

from mcsim.cli.detectors import describe, draw_side_view
from mcsim.cli.main import main
from mcsim.detector.cards import available_detectors, load_detector


def test_list_names_every_card_with_its_exposure():
    res = CliRunner().invoke(main, ["detectors", "list"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert [line.split()[0] for line in lines] == available_detectors()
    assert any(line.startswith("na62:1e17") and "1e+17 POT" in line for line in lines)
    assert any(line.startswith("faser2") and "ab^-1" in line for line in lines)


def test_show_prints_the_geometry_and_writes_the_side_view(tmp_path):
    png = tmp_path / "na62.png"
    res = CliRunner().invoke(main, ["detectors", "show", "na62", "--png", str(png)])
    assert res.exit_code == 0, res.output
    for text in (
        "cylinder, radius 1 m, z = 79 to 217 m",
        "face at z = 217 m",
        "beam hole of radius 0.08 m",
        "1e+18 POT",
        "above 1 GeV",
        "L_i = 79 m and L_f = 217 m",
    ):
        assert text in res.output, text
    image = plt.imread(png)
    assert image.shape[0] > 200 and image.shape[1] > 600
    assert np.std(image[..., :3]) > 0.05  # something is drawn


def test_side_view_follows_the_card():
    """The decay volume patch spans the card's z range and transverse size; the calorimeter
    segments leave out the beam hole."""
    det = load_detector("ship")
    fig, ax = plt.subplots()
    draw_side_view(ax, det)
    (patch,) = ax.patches
    xy = patch.get_xy()
    assert xy[:, 0].min() == det.decay_volume.z_start and xy[:, 0].max() == det.decay_volume.z_end
    assert xy[:, 1].max() == det.decay_volume.height_end / 2
    calo = [line for line in ax.lines if line.get_color() == "tab:red" and len(line.get_xdata())]
    assert all(np.all(line.get_xdata() == det.calorimeter.z_face) for line in calo)
    plt.close(fig)
    assert any("rectangular frustum" in line for line in describe(det))


def test_unknown_detector_is_one_line():
    res = CliRunner().invoke(main, ["detectors", "show", "atlas"])
    assert res.exit_code == 2
    assert res.output.count("\n") == 1 and "atlas" in res.output


def test_every_shipped_card_is_described_and_drawn(tmp_path):
    """Every card, fixed-target or e+ e-, prints and draws (the docs page is built from
    this)."""
    for name in available_detectors():
        res = CliRunner().invoke(
            main, ["detectors", "show", name, "--png", str(tmp_path / "side.png")]
        )
        assert res.exit_code == 0, (name, res.output)
        assert res.output.startswith(name.split(":")[0])
    babar = "\n".join(describe(load_detector("babar")))
    for text in (
        "sqrt(s) = 10.58 GeV",
        "60 fb^-1",
        "15.8 to 140.8 deg",
        "leading photon above 2 GeV",
        "missing energy above 0.05 GeV",
    ):
        assert text in babar, text
