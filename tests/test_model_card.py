"""Model cards (mcsim.models.card): the dark dipole written as a card gives the built-in model's
events; bad cards fail with one line naming card and key; flat three-body phase space; the
re-weighting follows the card's coupling power."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate

from mcsim import DarkDipole
from mcsim.generation.simulate import simulate
from mcsim.models.card import load_card
from mcsim.models.channels import decay_mothers, open_channels
from mcsim.models.registry import get, model_from_options
from mcsim.runtime.defaults import SCAN_SAMPLING
from mcsim.scan.family import Family

SHIPPED = "dark_dipole_delta0.1"  # M1 = 0.05 GeV, delta = 0.1, d_ref = 1e-5 GeV^-1
_NAMES = {
    113: "rho",
    223: "omega",
    333: "phi",
    443: "jpsi",
    553: "upsilon",
    100443: "psi2S",
    100553: "upsilon2S",
    200553: "upsilon3S",
    111: "pi0",
    221: "eta",
    331: "etap",
}


def card_of(model: DarkDipole) -> str:
    """A model card holding the built-in model's width and BRs (its numbers, as a user would
    copy them from `mcsim info --json`)."""
    lines = [
        'name = "dark-as-card"',
        f"[llp]\nmass_GeV = {model.m2!r}",
        f"[invisible]\nmass_GeV = {model.m1!r}",
        f'[coupling]\nname = "d"\nunit = "GeV^-1"\nreference = {model.d!r}',
        f"[width]\nat_reference_GeV = {model.width!r}\nexponent = 2",
    ]
    for c in open_channels(model):
        shape = (
            'final_state = "two-body"'
            if c.kind == "vector"
            else 'final_state = "three-body"\nx = "photon"\nmatrix_element = "anomaly"'
        )
        lines.append(
            f'[[channel]]\nmother = "{_NAMES[c.mother]}"\n{shape}\n'
            f"br_at_reference = {c.br!r}\nbr_exponent = 2"
        )
    return "\n".join(lines) + "\n"


# (M1 [GeV], d [GeV^-1]): 5e3, 87, 0.10 expected events in NA62 and 1e7, 1e6, 1e3 in SHiP
# (3000 events per channel, seed 7)
POINTS = [(0.05, 3e-5), (0.3, 1e-5), (1.0, 3e-7)]


@pytest.mark.parametrize("detector", ["na62", "ship"])
@pytest.mark.parametrize("m1, d", POINTS)
def test_card_gives_the_builtin_events(tmp_path, detector, m1, d):
    """Same seed, same events: the card's sum of weights equals the built-in model's (the
    BRs and width written to the card round-trip exactly), at d_ref and re-weighted."""
    builtin = DarkDipole(m1=m1, delta=0.1, d=d)
    path = tmp_path / "dark.toml"
    path.write_text(card_of(builtin))
    card = model_from_options(f"card:{path}", d=d)
    assert card.ctau == pytest.approx(builtin.ctau, rel=1e-14)
    a = simulate(builtin, detector, n_events=3000, seed=7)
    b = simulate(card, detector, n_events=3000, seed=7)
    assert b.metadata["mother_pdgids"] == a.metadata["mother_pdgids"]
    n_a, n_b = a.expected_events(), b.expected_events()
    assert n_a > 0
    assert n_b == pytest.approx(n_a, rel=1e-12)
    assert n_b.stat_error == pytest.approx(n_a.stat_error, rel=1e-9)
    assert np.array_equal(a.arrays["p4_photon"], b.arrays["p4_photon"])
    for other in (d / 3, d * 3):
        assert b.expected_events(other) == pytest.approx(a.expected_events(other), rel=1e-12)


@pytest.mark.parametrize("detector", ["na62", "ship"])
def test_shipped_dark_card_matches_builtin(detector):
    """The shipped card (numbers from `mcsim info --json`) at its own mass point."""
    builtin = DarkDipole(m1=0.05, delta=0.1, d=1e-5)
    card = model_from_options(f"card:{SHIPPED}", d=1e-5)
    assert card.width == pytest.approx(
        1e-10 * (0.055**2 - 0.05**2) ** 3 / (2 * math.pi * 0.055**3), rel=1e-12
    )  # Eq. A.1
    a = simulate(builtin, detector, n_events=2000, seed=3)
    b = simulate(card, detector, n_events=2000, seed=3)
    for d in (1e-5, 1e-4, 1e-3):
        assert b.expected_events(d) == pytest.approx(a.expected_events(d), rel=1e-12)


def test_card_family_scales_masses_and_width():
    """Reach family of the shipped card: masses scaled together (delta fixed) and the width as
    M^3 (mass_exponent = 3), which is Eq. A.1 at fixed delta -- compared with the built-in
    model at twice the mass."""
    family = Family(f"card:{SHIPPED}")
    card = family.at(0.11, 1e-5)  # M2 = 0.11 GeV, M1 = 0.1 GeV
    builtin = DarkDipole(m1=0.1, delta=0.1, d=1e-5)
    assert card.invisible_mass == pytest.approx(0.1, rel=1e-14)
    assert card.width == pytest.approx(builtin.width, rel=1e-12)
    assert {c.mother for c in card.channels() if c.is_open} == {
        c.mother for c in open_channels(builtin)
    }  # pi0 closes: 0.21 GeV > M_pi0


def _flat_card(tmp_path, power=2.0):
    path = tmp_path / "flat.toml"
    path.write_text(f"""
[llp]
mass_GeV = 0.2
[invisible]
mass_GeV = 0.05
[coupling]
reference = 1e-3
[width]
at_reference_GeV = 1e-17
exponent = {power}
[[channel]]
mother = "eta"
final_state = "three-body"
x = "photon"
br_at_reference = 1e-6
br_exponent = {power}
""")
    return str(path)


def test_flat_three_body_dalitz_marginal(tmp_path):
    """Flat phase space: the density of s = m^2(invisible + LLP) is proportional to the
    length of the Dalitz range at s, i.e. lambda^1/2(s, m_inv^2, m_llp^2) lambda^1/2(M^2, s, 0)
    / s (PDG kinematics, Eq. 49.23); compared by a chi-square over 20 bins."""
    model = model_from_options(f"card:{_flat_card(tmp_path)}", d=1e-3)
    (chan,) = open_channels(model)
    assert chan.kind == "flat-photon"
    mp, m_inv, m_llp = chan.mother_mass, 0.05, 0.2
    n = 200_000
    mothers = np.tile([mp, 0.0, 0.0, 0.0], (n, 1))
    out = decay_mothers(chan, mothers, np.random.default_rng(5))
    pair = out["invisible"] + out["llp"]
    s = pair[:, 0] ** 2 - np.sum(pair[:, 1:] ** 2, axis=1)

    def lam(a, b, c):
        return np.maximum(a * a + b * b + c * c - 2 * (a * b + a * c + b * c), 0)

    def density(x):
        return np.sqrt(lam(x, m_inv**2, m_llp**2) * lam(mp**2, x, 0.0)) / x

    edges = np.linspace((m_inv + m_llp) ** 2, mp**2, 21)
    total = integrate.quad(density, edges[0], edges[-1])[0]
    expected = n * np.array(
        [integrate.quad(density, lo, hi)[0] / total for lo, hi in zip(edges[:-1], edges[1:])]
    )
    observed, _ = np.histogram(s, edges)
    chi2 = float(np.sum((observed - expected) ** 2 / expected))
    assert chi2 < 45  # 19 dof: p ~ 1e-3
    # 4-momentum conservation in the mother's rest frame
    total_p4 = out["photon"] + out["invisible"] + out["llp"]
    np.testing.assert_allclose(total_p4, mothers, rtol=0, atol=1e-12)  # (numpy default rtol 1e-5)


def test_reweighting_follows_the_card_power(tmp_path):
    """A card with width and BR ~ g^4: the sample re-weighted to 3 g_ref equals the sample
    generated at 3 g_ref (same seed: the same events, decay probabilities recomputed)."""
    path = _flat_card(tmp_path, power=4.0)
    at_ref = simulate(model_from_options(f"card:{path}", d=1e-3), "ship", n_events=20000, seed=2)
    direct = simulate(model_from_options(f"card:{path}", d=3e-3), "ship", n_events=20000, seed=2)
    assert direct.metadata["rate"][0] == pytest.approx(81e-6, rel=1e-12)
    assert direct.expected_events() > 0
    assert at_ref.expected_events(3e-3) == pytest.approx(direct.expected_events(), rel=1e-9)


_CHANNEL = (
    '[[channel]]\nmother = {mother}\nfinal_state = "two-body"\nbr_at_reference = {br}\n'
    "br_exponent = 2\n"
)
#: A card with one pi0 channel of branching ratio {br}.
_PI0 = (
    "[llp]\nmass_GeV = 0.02\n[invisible]\nmass_GeV = 0.01\n[coupling]\nreference = 1e-5\n"
    "[width]\nat_reference_GeV = 1e-20\nexponent = 2\n"
) + _CHANNEL.format(mother='"pi0"', br="{br}")

BAD = [
    ("[llp]\nmass_GeV = -1\n", "key 'llp.mass_GeV': must be a number in [1e-06, 100] GeV"),
    ("[llp]\nmass_GeV = 0.2\n[invisible]\nmass_GeV = 0.3\n", "key 'invisible.mass_GeV'"),
    (
        "[llp]\nmass_GeV = 0.2\n[invisible]\nmass_GeV = 0\n[coupling]\nreference = 1\n"
        '[width]\nat_reference_GeV = 1e-20\nexponent = 2\n[[channel]]\nmother = "K+"\n'
        'final_state = "two-body"\nbr_at_reference = 1e-3\nbr_exponent = 2\n',
        "key 'channel[0].mother': a two-body channel needs a neutral mother",
    ),
    (
        "[llp]\nmass_GeV = 0.2\n[invisible]\nmass_GeV = 0\n[coupling]\nreference = 1\n"
        '[width]\nat_reference_GeV = 1e-20\nexponent = 2\n[[channel]]\nmother = "pi0"\n'
        'final_state = "two-body"\nbr_at_reference = 1e-3\nbr_exponent = 1\n',
        "key 'channel[0].br_exponent': must equal width.exponent = 2",
    ),
    ("[llp]\nmass_GeV = 0.2\ncolour = 1\n", "key 'llp.colour': unknown key"),
    ("[llp\n", "not valid TOML"),
    *[
        (
            _PI0.format(br=br),
            f"key 'channel[0].br_at_reference': must be a number in (0, 1], got {br}",
        )
        for br in ("2.0", "-0.5", "nan", "inf", "0.0")
    ],
    (
        _PI0.format(br="1e-3")
        + _CHANNEL.format(mother='"eta"', br="1e-3")
        + _CHANNEL.format(mother="111", br="1e-4"),
        "key 'channel[2].mother': pi0 is already channel[0]; one channel per mother",
    ),
]


@pytest.mark.parametrize("text, message", BAD)
def test_bad_card_one_line_exit_2(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match="model card"):
        load_card(str(path))
    proc = subprocess.run(
        [sys.executable, "-m", "mcsim.cli.main", "info", "--model", f"card:{path}", "--d", "1e-5"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert f"model card {path}" in proc.stderr and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_edited_card_is_read_again(tmp_path):
    path = _flat_card(tmp_path)
    assert model_from_options(f"card:{path}", d=1e-3).width == 1e-17
    card = Path(path)
    card.write_text(
        card.read_text().replace("at_reference_GeV = 1e-17", "at_reference_GeV = 2.5e-17")
    )
    assert model_from_options(f"card:{path}", d=1e-3).width == 2.5e-17


def test_registry_names_and_unknown_card():
    assert get("dark-dipole").mass_parameter == "m1"
    with pytest.raises(ValueError, match="unknown model card 'nope'"):
        get("card:nope")


def test_generate_and_reach_commands_take_a_card(tmp_path):
    """`mcsim generate` and `mcsim reach` with --model card:...: the events file records the
    card, and the reach grid at the card's own mass is the expected events of simulate() with
    the same seed and events per channel (the scan generates at d = 1e-5 and re-weights; the
    grid file keeps 6 significant digits)."""
    import json

    from click.testing import CliRunner

    from mcsim.cli.main import main
    from mcsim.io.rootio import read_metadata

    runner = CliRunner()
    out = tmp_path / "card.root"
    res = runner.invoke(
        main,
        [
            "generate",
            "--model",
            f"card:{SHIPPED}",
            "--d",
            "3e-5",
            "--detector",
            "na62",
            "--events",
            "3000",
            "--seed",
            "1",
            "-o",
            str(out),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    assert read_metadata(out)["model"]["model"] == f"card:{SHIPPED}"
    res = runner.invoke(
        main,
        [
            "reach",
            "--model",
            f"card:{SHIPPED}",
            "--detector",
            "na62",
            "--mass-range",
            "0.055",
            "0.11",
            "--masses",
            "2",
            "--d-range",
            "1e-6",
            "1e-4",
            "--couplings",
            "3",
            "--events",
            "2000",
            "--seed",
            "4",
            "--workers",
            "1",
            "--no-progress",
            "--target-error",
            "0",
            "--out",
            str(tmp_path / "reach"),
        ],
    )
    assert res.exit_code == 0, res.output
    (grid,) = json.loads((tmp_path / "reach" / "grid.json").read_text())
    assert grid["metadata"]["model"] == f"card:{SHIPPED}"
    model = model_from_options(f"card:{SHIPPED}", d=1e-5)
    batch = simulate(model, "na62", n_events=2000, seed=4, sampling=SCAN_SAMPLING)  # reach's
    for k, d in enumerate(grid["couplings"]):
        assert grid["events"][0][k] == pytest.approx(batch.expected_events(d), rel=1e-5)
    assert not (tmp_path / "reach" / "relic.json").exists()  # the card has no relic line
