"""Detector cards: shipped values (paper Sec. 3, 4.2; physics-inputs.md) and validation."""

import math
from pathlib import Path

import pytest

from mcsim.detector.cards import available_detectors, load_detector
from mcsim.detector.geometry import Box, Cylinder, RectFrustum

SHIPPED = ("na62", "hike", "ship", "faser2", "charm2", "bebc", "nucal", "babar")


def test_every_shipped_card_loads():
    names = available_detectors()
    for name in SHIPPED:
        assert name in names
    assert {"na62:1e17", "na62:1e18"} <= set(names)
    for name in names:
        det = load_detector(name)
        assert det.calorimeter.z_face >= det.decay_volume.z_end
        assert det.n_collisions == pytest.approx(N_COLLISIONS[name], rel=1e-12), name


#: Proton interactions of each card from the paper (N_POT; FASER 2: 79.5 mb x 3 ab^-1); for BaBar
#: the number is its luminosity in fb^-1 (60, the paper), the e+ e- source's rates being in fb.
N_COLLISIONS = {
    "na62": 1e18,
    "na62:1e18": 1e18,
    "na62:1e17": 1e17,
    "hike": 5e19,
    "ship": 6e20,
    "faser2": 79.5e-27 * 3e42,
    "charm2": 4.5e19,
    "bebc": 2.72e18,
    "nucal": 1.71e18,
    "babar": 60.0,
}


def test_na62_configurations():
    default, small = load_detector("na62"), load_detector("na62:1e17")
    assert default.name == "na62:1e18" and default.n_pot == 1e18
    assert small.name == "na62:1e17" and small.n_pot == 1e17
    assert default.decay_volume == small.decay_volume == Cylinder(79.0, 217.0, 1.0)
    cal = default.calorimeter
    assert (cal.shape, cal.z_face, cal.radius, cal.hole_radius) == ("disc", 217.0, 1.2, 0.08)
    assert (default.cone.l_i, default.cone.l_f) == (79.0, 217.0)
    assert default.cone.theta_max == pytest.approx(math.atan(1.2 / 217), rel=1e-6)
    assert round(default.cone.theta_max, 4) == 5.5e-3  # physics-inputs reference value
    assert (default.beam, default.target_A, default.photon_energy_min) == ("sps400", 63.5, 1.0)


def test_paper_values_of_the_other_cards():
    ship = load_detector("ship")
    assert ship.decay_volume == RectFrustum(33.1, 83.1, 1.0, 2.7, 4.0, 6.0)
    assert (ship.n_pot, ship.target_A, ship.cone.theta_max) == (6e20, 96.0, 0.028)
    assert (ship.cone.l_i, ship.cone.l_f, ship.calorimeter.z_face) == (33.0, 85.0, 96.6)
    assert load_detector("hike").n_pot == 5e19
    faser = load_detector("faser2")
    assert faser.n_pot is None and faser.beam == "lhc14"
    assert faser.n_collisions == pytest.approx(79.5e-27 * 3e42)  # 79.5 mb x 3 ab^-1
    assert round(faser.cone.theta_max, 4) == 1.6e-3
    charm = load_detector("charm2")
    assert charm.decay_volume == Box(870.0, 905.6, 3.7, 3.7)
    assert (charm.photon_energy_min, charm.photon_energy_max) == (3.0, 24.0)
    assert (charm.n_pot, charm.target_A, charm.beam, charm.observed_events) == (
        4.5e19,
        9.0,
        "sps450",
        5429,
    )
    bebc = load_detector("bebc")
    assert (
        bebc.observed_events,
        bebc.expected_background,
        bebc.expected_background_uncertainty,
    ) == (1, 0.5, 0.1)
    assert bebc.photon_energy_max == math.inf and bebc.n_pot == 2.72e18
    nucal = load_detector("nucal")
    assert nucal.decay_volume == Cylinder(64.0, 87.0, 1.3)
    assert (nucal.efficiency, nucal.photon_energy_min, nucal.beam, nucal.target_A) == (
        0.7,
        3.0,
        "u70",
        56.0,
    )
    assert (nucal.observed_events, nucal.expected_background) == (5, 3.5)


def test_load_by_path_and_configuration(tmp_path):
    source = load_detector("na62").card_path
    card = tmp_path / "mine.toml"
    card.write_text(Path(source).read_text())
    assert load_detector(str(card)).n_pot == 1e18
    assert load_detector(f"{card}:1e17").n_pot == 1e17


GOOD = """
name = "test"
[beam]
spectrum = "sps400"
proton_energy_GeV = 400.0
target_A = 63.5
[exposure]
n_pot = 1e18
[decay_volume]
shape = "cylinder"
z_start_m = 79.0
z_end_m = 217.0
radius_m = 1.0
[calorimeter]
shape = "disc"
z_face_m = 217.0
radius_m = 1.2
[cone]
L_i_m = 79.0
L_f_m = 217.0
theta_max_rad = 5.5e-3
"""


def _write(tmp_path, text):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return str(path)


def test_a_good_minimal_card_gets_defaults(tmp_path):
    det = load_detector(_write(tmp_path, GOOD))
    assert (det.photon_energy_min, det.photon_energy_max, det.efficiency) == (1.0, math.inf, 1.0)
    assert det.calorimeter.hole_radius == 0.0 and det.observed_events is None


@pytest.mark.parametrize(
    "old, new, key",
    [
        ("radius_m = 1.0", "radius_m = -1.0", "decay_volume.radius_m"),
        ("radius_m = 1.0", "radius_m = 1.0\ncolour = 'red'", "decay_volume.colour"),
        ("n_pot = 1e18", "n_pot = '1e18'", "exposure.n_pot"),
        ("z_end_m = 217.0", "z_end_m = 70.0", "decay_volume.z_end_m"),
        ('shape = "cylinder"', 'shape = "sphere"', "decay_volume.shape"),
        ('spectrum = "sps400"', 'spectrum = "tevatron"', "beam.spectrum"),
        ("z_face_m = 217.0", "z_face_m = 200.0", "calorimeter.z_face_m"),
        ('name = "test"', 'name = "test"\nvolume = 3', "volume"),
        ("n_pot = 1e18", "", "exposure.n_pot"),
    ],
)
def test_bad_cards_name_the_card_and_the_key(tmp_path, old, new, key):
    path = _write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ValueError) as err:
        load_detector(path)
    assert path in str(err.value) and f"'{key}'" in str(err.value)


def test_missing_calorimeter(tmp_path):
    text = GOOD.split("[calorimeter]")[0] + "[cone]" + GOOD.split("[cone]")[1]
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=r"bad\.toml: missing required table \[calorimeter\]"):
        load_detector(path)


def test_unknown_names_and_configurations(tmp_path):
    with pytest.raises(ValueError, match=r"unknown detector 'na63'.*na62, na62:1e18"):
        load_detector("na63")
    with pytest.raises(ValueError, match=r"unknown configuration '1e19'.*1e18, 1e17"):
        load_detector("na62:1e19")
    with pytest.raises(ValueError, match="no such file"):
        load_detector(str(tmp_path / "absent.toml"))
    with pytest.raises(ValueError, match="not valid TOML"):
        load_detector(_write(tmp_path, "name = "))
