"""`mcsim info`: the JSON contract and bad input as a one-line message with exit status 2."""

import json
import math
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from mcsim.cli.main import main
from mcsim.models import registry
from mcsim.models.card import coupling_name, load_card
from mcsim.models.dipoles import DarkDipole

HBARC_GEV_M = 1.973269804e-16  # hbar c [GeV m], CODATA 2018 (exact in SI)


def _info(*args):
    return CliRunner().invoke(main, ["info", *args])


def test_info_json_dark_dipole():
    res = _info("--model", "dark-dipole", "--m1", "0.1", "--delta", "0.1", "--d", "1e-4", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["ctau_m"] == pytest.approx(DarkDipole(0.1, 0.1, 1e-4).ctau)
    assert out["ctau_m"] == pytest.approx(1.78e-2, rel=5e-3)
    assert set(out["channels"]) == {
        "113",
        "223",
        "333",
        "443",
        "553",
        "100443",
        "100553",
        "200553",
        "111",
        "221",
        "331",
    }
    assert out["channels"]["111"] == {"name": "pi0 -> gamma chi1 chi2", "br": 0.0, "open": False}
    assert out["channels"]["443"]["open"] is True
    # physics-inputs: BR(J/psi -> chi1 chi2) / d^2 = 12.5 GeV^2 in the massless limit; M1 = 0.1,
    # M2 = 0.11 GeV shift it by (M/M_J/psi)^2 ~ 0.5%
    assert out["channels"]["443"]["br"] == pytest.approx(12.5 * 1e-4**2, rel=0.02)


def test_info_json_neutrino_dipole():
    res = _info(
        "--model", "neutrino-dipole", "--m-n", "0.1", "--flavour", "mu", "--d", "1e-6", "--json"
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["ctau_m"] == pytest.approx(2.48, rel=5e-3)
    # physics-inputs: Gamma(N -> nu gamma) = d^2 M_N^3 / (4 pi), and c*tau = hbar c / Gamma
    assert out["width_gev"] == pytest.approx(1e-12 * 0.1**3 / (4 * math.pi), rel=1e-12)
    assert out["ctau_m"] * out["width_gev"] == pytest.approx(HBARC_GEV_M, rel=1e-9)
    assert out["channels"]["321"]["name"] == "K+ -> mu+ N gamma"
    assert all(isinstance(c["br"], float) for c in out["channels"].values())


def test_info_text_lists_closed_channels():
    res = _info("--model", "dark-dipole", "--m1", "1.0", "--delta", "0.1", "--d", "1e-5")
    assert res.exit_code == 0
    assert "c*tau = 0.00178" in res.output
    assert "pi0 -> gamma chi1 chi2" in res.output and "closed" in res.output


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--model", "dark-dipole", "--m1", "-0.1", "--delta", "0.1", "--d", "1e-4"],
            "Invalid value for '--m1': must be a number in [1e-06, 100] GeV, got '-0.1'",
        ),
        (
            ["--model", "dark-dipole", "--m1", "0.1", "--delta", "0", "--d", "1e-4"],
            "Invalid value for '--delta': must be a number in [1e-06, 1e+06]",
        ),
        (
            ["--model", "dark-dipole", "--m1", "0.1", "--delta", "0.1", "--d", "-1"],
            "Invalid value for '--d': must be a number in [1e-15, 100] GeV^-1",
        ),
        (["--model", "dark-dipole", "--d", "1e-4"], "needs m1"),
    ],
)
def test_info_bad_input_one_line_exit_2(args, message):
    """Run as a real process: one line on stderr, exit status 2, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "mcsim.cli.main", "info", *args], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_unknown_flavour_and_model_rejected_by_cli():
    """An unknown --flavour and an unknown --model are each refused with their own one-line
    message: the option, the allowed values and the value given; exit status 2, nothing on
    stdout.  A generic message (or one message for both) fails."""
    cases = {
        "flavour": (
            ["--model", "neutrino-dipole", "--m-n", "0.1", "--flavour", "sterile", "--d", "1e-6"],
            "mcsim: error: Invalid value for '--flavour': 'sterile' is not one of 'e', 'mu', "
            "'tau' (see 'mcsim info --help')",
        ),
        "model": (
            ["--model", "axion", "--m1", "0.1", "--delta", "0.1", "--d", "1e-6"],
            "mcsim: error: Invalid value for '--model': model must be 'dark-dipole' or "
            "'neutrino-dipole' (or card:PATH for a model card), got 'axion' "
            "(see 'mcsim info --help')",
        ),
    }
    stderr = {}
    for name, (args, message) in cases.items():
        res = CliRunner().invoke(main, ["info", *args], prog_name="mcsim")
        assert res.exit_code == 2, (name, res.output)
        assert res.stdout == "", name
        assert res.stderr == message + "\n", name
        stderr[name] = res.stderr
    assert stderr["flavour"] != stderr["model"]
    # the same options with a known flavour and model are accepted: the refusal is the value's
    good_flavour = [a.replace("sterile", "tau") for a in cases["flavour"][0]]
    good_model = [a.replace("axion", "dark-dipole") for a in cases["model"][0]]
    for args in (good_flavour, good_model):
        assert CliRunner().invoke(main, ["info", *args]).exit_code == 0, args


def test_branching_ratio_above_one_warns():
    from click.testing import CliRunner

    from mcsim.cli.main import main

    args = ["info", "--model", "dark-dipole", "--m1", "0.1", "--delta", "0.1"]
    res = CliRunner().invoke(main, [*args, "--d", "1"])
    assert res.exit_code == 0
    assert "warning: BR(J/psi(1S) -> chi1 chi2) = 12.6 > 1 at d = 1 GeV^-1" in res.output
    assert "warning" not in CliRunner().invoke(main, [*args, "--d", "1e-3"]).output


def test_command_list_loads_nothing_and_matches_the_commands():
    """`mcsim --help` lists every command from mcsim.cli.main._COMMANDS without importing them;
    each line is the command's own help up to its first colon or full stop."""
    import subprocess
    import sys

    from mcsim.cli.main import _COMMANDS, main

    code = (
        "import sys; from click.testing import CliRunner; from mcsim.cli.main import main; "
        "r = CliRunner().invoke(main, ['--help']); print(r.exit_code, "
        "[m for m in ('numba', 'uproot', 'scipy', 'mcsim.generation.simulate') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "0 []"
    for name, (_, _, line) in _COMMANDS.items():
        help_text = " ".join(main.get_command(None, name).help.split())
        head = line.split(":")[0].rstrip(".")
        assert help_text.startswith(head), (name, line)


def _helps(group=main, path=()):
    """(command path, --help text) of every command and sub-command."""
    ctx = click.Context(group, info_name="mcsim")
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        res = CliRunner().invoke(main, [*path, name, "--help"])
        assert res.exit_code == 0, res.output
        yield (*path, name), res.output
        if isinstance(command, click.Group):
            yield from _helps(command, (*path, name))


def test_help_points_to_docs_cards_and_integers_take_1e6():
    helps = dict(_helps())
    assert not [name for name, text in helps.items() if "see README" in text]
    generate = " ".join(helps[("generate",)].split())
    assert "keys in docs/cards.md" in generate and "--events NUMBER" in generate
    assert "--events INTEGER" not in generate and "e.g. 1e6" in generate


@pytest.mark.parametrize("card, d", [("dark_dipole_delta0.1", "1e-5"), ("hnl_dipole_tau", "1e-6")])
def test_info_names_the_cards_coupling(card, d):
    spec = load_card(card)
    res = _info("--model", f"card:{card}", "--d", d)
    assert res.exit_code == 0, res.output
    first = res.output.splitlines()[0]
    assert f"{spec.coupling_name} = {float(d)}" in first
    assert f"coupling_unit = {spec.coupling_unit}" in first


def test_coupling_name_of_the_metadata_model():
    """What generate's summary and the cutflow's header name the coupling by."""
    card = registry.model_from_options("card:hnl_dipole_tau", d=1e-6)
    assert coupling_name(card.describe()) == ("d_tau", "GeV^-1")
    assert coupling_name(DarkDipole(0.1, 0.1, 1e-4).describe()) == ("d", "GeV^-1")
