"""validate: one range check for models, command line and cards."""

import math

import pytest

from mcsim import DarkDipole, NeutrinoDipole
from mcsim.detector.cards import load_detector
from mcsim.runtime.validate import COUPLING, DELTA, EVENTS, LENGTH, MASS, SEED, WORKERS, Range


@pytest.mark.parametrize(
    "allowed, value, expected",
    [
        (EVENTS, "1e6", 1_000_000),
        (EVENTS, 7, 7),
        (EVENTS, "+10", 10),
        (MASS, ".5", 0.5),
        (SEED, "9223372036854775807", 2**63 - 1),  # exact: not through float
        (MASS, "1e-6", 1e-6),
        (MASS, 100, 100.0),
        (COUPLING, "1e-15", 1e-15),
    ],
)
def test_accepts_the_documented_range(allowed, value, expected):
    got = allowed.check("x", value)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    "allowed, value",
    [
        (EVENTS, "inf"),
        (EVENTS, "1e20"),
        (EVENTS, "1.5"),
        (EVENTS, 0),
        (EVENTS, True),
        (EVENTS, "abc"),
        (EVENTS, "nan"),
        (SEED, -1),
        (SEED, "9223372036854775808"),
        (WORKERS, 0),
        (MASS, "1e-300"),
        (MASS, math.nan),
        (MASS, -0.1),
        (COUPLING, 1e300),
        (LENGTH, 0.0),
        (LENGTH, 1e308),
        (MASS, None),
        (MASS, "0x10"),
        (EVENTS, " 10 "),
        (EVENTS, "1_0"),
        (MASS, "1_0.5"),
        (MASS, "\u0661"),  # an Arabic-Indic digit one: int() takes it
        (MASS, "1\n"),
    ],
)
def test_rejects_with_name_range_and_value(allowed, value):
    with pytest.raises(ValueError) as err:
        allowed.check("--x", value)
    text = str(err.value)
    assert text.startswith("--x must be ") and repr(value) in text and "\n" not in text


def test_describe_marks_open_ends_and_units():
    assert Range(0.0, 1e5, "m", low_open=True).describe() == "a number in (0, 100000] m"
    assert EVENTS.describe() == "an integer in [1, 1e+10]"


def test_models_use_the_ranges_and_stay_finite_at_their_corners():
    """At every corner of the allowed ranges the width and c*tau are finite and > 0 (tiny
    masses gave a ZeroDivisionError, huge d an OverflowError)."""
    for m in (MASS.low, MASS.high):
        for delta in (DELTA.low, DELTA.high):
            for d in (COUPLING.low, COUPLING.high):
                for model in (
                    DarkDipole(m1=m, delta=delta, d=d),
                    NeutrinoDipole(m_n=m, d=d, flavour="e"),
                ):
                    assert 0 < model.width < math.inf and 0 < model.ctau < math.inf
    with pytest.raises(ValueError, match=r"^m1 must be a number in \[1e-06, 100\] GeV"):
        DarkDipole(m1=1e-300, delta=0.1, d=1e-6)
    with pytest.raises(ValueError, match=r"^d must be a number in \[1e-15, 100\] GeV\^-1"):
        DarkDipole(m1=0.1, delta=0.1, d=1e300)


def test_card_lengths_have_a_range(tmp_path):
    """radius_m = 1e308 made r^2 overflow and gave 0 events silently: now the card is refused,
    naming the card and the key."""
    text = load_detector("na62").card_text
    card = tmp_path / "big.toml"
    card.write_text(text.replace("radius_m = ", "radius_m = 1e308 #", 1))
    with pytest.raises(
        ValueError,
        match=r"detector card .*big.toml: key "
        r"'decay_volume.radius_m': must be a number in "
        r"\(0, 100000\] m, got 1e\+308",
    ):
        load_detector(str(card))
