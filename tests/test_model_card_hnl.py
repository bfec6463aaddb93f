"""The shipped HNL dipole-portal card (mcsim/data/models/hnl_dipole_tau.toml): added without a
code change; checked against Eq. A.1 by hand and against the built-in neutrino dipole
restricted to the card's channels."""

import math

import pytest

from mcsim import NeutrinoDipole
from mcsim.generation.simulate import simulate
from mcsim.models.registry import model_from_options

CARD = "card:hnl_dipole_tau"
NEUTRAL = [113, 223, 333, 443, 553, 100443, 100553, 200553, 221, 331]


def test_width_is_eq_a1_by_hand():
    card = model_from_options(CARD, d=3e-6)
    # Gamma = d^2 M_N^3 / (4 pi), M_N = 0.2 GeV: 9e-12 x 0.008 / 12.566 GeV
    assert card.width == pytest.approx(9e-12 * 0.008 / (4 * math.pi), rel=1e-12)
    assert card.llp_mass == 0.2 and card.invisible_mass == 0.0
    assert sorted(c.mother for c in card.channels() if c.is_open) == sorted(NEUTRAL)


@pytest.mark.parametrize("detector", ["na62", "ship"])
def test_card_matches_builtin_neutral_channels(detector):
    """Same seed, same events as --model neutrino-dipole --flavour tau in the card's channels
    (the charged-meson channel B+ -> tau+ N gamma is not in the card)."""
    builtin = NeutrinoDipole(m_n=0.2, d=1e-6, flavour="tau")
    card = model_from_options(CARD, d=1e-6)
    a = simulate(builtin, detector, n_events=2000, seed=11, channels=NEUTRAL)
    b = simulate(card, detector, n_events=2000, seed=11)
    assert sorted(a.metadata["mother_pdgids"]) == sorted(b.metadata["mother_pdgids"])
    assert a.expected_events() > 0
    for d in (1e-7, 1e-6, 1e-5):
        assert b.expected_events(d) == pytest.approx(a.expected_events(d), rel=1e-12)
