"""Malformed input to `mcsim info`, `generate`, `cutflow` and `reach`: always exit status 2 and
one line on stderr naming the parameter or file, never a traceback, never a file at the output
path or a .part file.

A property test (hypothesis) corrupts ONE thing of a valid command -- a number outside its
documented range (mcsim.runtime.validate), not a number, not finite, not whole; an unknown, foreign or
value-less option; a detector card with one bad key, a missing table, binary content, a
directory; a damaged events file -- and runs the command in-process.  The cases the issue lists
are run as real processes as well.  HYPOTHESIS_EXAMPLES sets the number of examples (60).
"""

import errno
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import uproot
from click.testing import CliRunner
from conftest import generate_argv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcsim import DarkDipole
from mcsim.cli.main import main
from mcsim.detector.cards import load_detector
from mcsim.generation.write import write_events
from mcsim.runtime import validate

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "60"))
MCSIM = str(Path(sys.executable).with_name("mcsim"))
CARD = load_detector("na62").card_text
DARK = ["--model", "dark-dipole", "--m1", "0.1", "--delta", "0.1", "--d", "1e-6"]


@pytest.fixture(scope="module")
def events_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ev") / "ev.root"
    write_events(DarkDipole(m1=0.1, delta=0.1, d=1e-6), "na62", path, n_events=700, seed=1)
    return path


# ------------------------------------------------------------------------------- strategies

_TEXT = st.sampled_from(
    ["nan", "inf", "-inf", "1e400", "abc", "", " ", "0x10", "1,5", "1e", "--", "1.0.0", "١"]
)


def bad_values(allowed: validate.Range):
    """Text of values outside ``allowed``: below, above (up to inf), not numbers, not whole;
    and values inside it written loosely: with an underscore ('1_0', which float() reads as
    10) or surrounding blanks."""
    below = st.floats(max_value=allowed.low, exclude_max=not allowed.low_open, allow_nan=False)
    above = st.floats(min_value=allowed.high, exclude_min=True, allow_nan=False)
    inside = st.integers(max(10, math.ceil(allowed.low)), min(int(allowed.high), 10**9))
    loose = st.one_of(
        inside.map(lambda n: f"{str(n)[0]}_{str(n)[1:]}"),
        st.tuples(st.sampled_from([" ", "\t", "\n"]), inside, st.booleans()).map(
            lambda t: f"{t[0]}{t[1]}" if t[2] else f"{t[1]}{t[0]}"
        ),
    )
    options = [below.map(repr), above.map(repr), _TEXT, loose]
    if allowed.integer:
        options.append(st.floats(allowed.low, allowed.high).filter(lambda x: x != int(x)).map(repr))
    return st.one_of(options)


NUMBERS = {  # command -> option -> range
    "info": {"--m1": validate.MASS, "--delta": validate.DELTA, "--d": validate.COUPLING},
    "generate": {
        "--m1": validate.MASS,
        "--d": validate.COUPLING,
        "--events": validate.EVENTS,
        "--seed": validate.SEED,
        "--chunk-size": validate.CHUNK,
        "--threshold": validate.ENERGY,
    },
    "cutflow": {"--d": validate.COUPLING, "--threshold": validate.ENERGY},
    "reach": {
        "--events": validate.SCAN_EVENTS,
        "--seed": validate.SEED,
        "--workers": validate.WORKERS,
        "--delta": validate.DELTA,
        "--masses": validate.GRID_POINTS,
        "--couplings": validate.GRID_POINTS,
        "--threshold": validate.ENERGY,
        "--mass-range": validate.MASS,
        "--d-range": validate.COUPLING,
    },
}
_CARD_KEYS = re.findall(r"^(\w+) = [-0-9.e]+$", CARD, flags=re.M)
_CARD_BAD = st.sampled_from(["-1.0", "1e308", "nan", "inf", '"text"', "true", "[1, 2]", "{}"])


@st.composite
def mutations(draw):
    """(command, mutation, argument, token expected in the error line)."""
    command = draw(st.sampled_from(["info", "generate", "cutflow", "reach"]))
    kinds = ["number", "unknown option", "missing value"]
    if command in ("generate", "reach"):
        kinds += ["card key", "card table", "card bytes", "card directory", "card missing"]
    if command != "cutflow":
        kinds.append("foreign option")
    if command == "cutflow":
        kinds += ["damaged file", "plots on a file"]
    kind = draw(st.sampled_from(kinds))
    if kind == "number":
        option = draw(st.sampled_from(sorted(NUMBERS[command])))
        return command, kind, (option, draw(bad_values(NUMBERS[command][option]))), option
    if kind == "unknown option":
        known = {o for p in main.commands[command].params for o in p.opts + p.secondary_opts}
        name = draw(
            st.from_regex(r"--[a-z]{3,10}", fullmatch=True).filter(
                lambda n: n not in known | {"--help"}
            )
        )
        return command, kind, name, name
    if kind == "missing value":
        option = draw(st.sampled_from(sorted(NUMBERS[command])))
        return command, kind, option, option
    if kind == "foreign option":
        return command, kind, draw(st.sampled_from([("--m-n", "0.3"), ("--flavour", "mu")])), None
    if kind == "card key":
        key = draw(st.sampled_from(_CARD_KEYS))
        return command, kind, (key, draw(_CARD_BAD)), "card.toml"
    if kind == "card table":
        table = draw(st.sampled_from(["[beam]", "[decay_volume]", "[calorimeter]", "[cone]"]))
        return command, kind, table, "card.toml"
    if kind == "card bytes":
        return (
            command,
            kind,
            draw(st.binary(min_size=1, max_size=64).filter(lambda b: not _is_text(b))),
            "card.toml",
        )
    if kind in ("card directory", "card missing"):
        return command, kind, None, "card.toml"
    if kind == "damaged file":
        how = draw(st.sampled_from(["empty", "truncated", "bytes", "no events tree"]))
        return command, kind, (how, draw(st.floats(0.0, 0.999))), "bad.root"
    return command, kind, None, "--plots"


def _is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# ------------------------------------------------------------------------------ commands


def _base(command: str, tmp: Path, events_file: Path, card: str) -> list[str]:
    if command == "info":
        return ["info", *DARK]
    if command == "generate":
        return generate_argv(events=700, seed=1, detector=card, o=tmp / "out.root", quiet=True)
    if command == "cutflow":
        return ["cutflow", str(events_file)]
    return [
        "reach",
        "--detector",
        card,
        "--masses",
        "2",
        "--couplings",
        "3",
        "--events",
        "100",
        "--workers",
        "1",
        "--no-progress",
        "--out",
        str(tmp / "reach"),
    ]


def _drop(args: list[str], option: str) -> list[str]:
    """``args`` without ``option`` and its value(s)."""
    if option not in args:
        return args
    i = args.index(option)
    return args[:i] + args[i + 1 + (2 if option in ("--mass-range", "--d-range") else 1) :]


def _replace(args: list[str], option: str, value) -> list[str]:
    return [*_drop(args, option), option, *(value if isinstance(value, tuple) else [value])]


def _apply(command, kind, arg, tmp: Path, events_file: Path) -> list[str]:
    card = tmp / "card.toml"
    card.write_text(CARD)
    args = _base(command, tmp, events_file, str(card))
    if kind == "number":
        option, value = arg
        if option in ("--mass-range", "--d-range"):
            value = (value, "1e-3") if option == "--d-range" else (value, "1.0")
        return _replace(args, option, value)
    if kind == "unknown option":
        return [*args, arg]
    if kind == "missing value":
        return [*_drop(args, arg), arg]
    if kind == "foreign option":
        return [*args, *arg]
    if kind == "card key":
        key, bad = arg
        card.write_text(re.sub(rf"^{key} = .*$", f"{key} = {bad}", CARD, count=1, flags=re.M))
    elif kind == "card table":
        card.write_text(CARD.replace(arg + "\n", "", 1))
    elif kind == "card bytes":
        card.write_bytes(arg)
    elif kind == "card directory":
        card.unlink()
        card.mkdir()
    elif kind == "card missing":
        card.unlink()
    elif kind == "damaged file":
        how, fraction = arg
        bad = tmp / "bad.root"
        data = events_file.read_bytes()
        if how == "empty":
            bad.write_bytes(b"")
        elif how == "truncated":
            bad.write_bytes(data[: int(len(data) * fraction)])
        elif how == "bytes":
            bad.write_bytes(bytes(range(256)) * 3)
        else:
            with uproot.recreate(bad) as f:
                f["mcsim_metadata"] = "{}"
        args[1] = str(bad)
    elif kind == "plots on a file":
        (tmp / "afile").write_text("")
        args = [*args[:2], "--plots", str(tmp / "afile" / "sub")]
    return args


def _leftovers(tmp: Path) -> list[str]:
    names = [p.name for p in tmp.iterdir()]
    return [n for n in names if n in ("out.root", "reach") or n.endswith(".part")]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=mutations())
def test_malformed_input_is_one_line_exit_2_and_leaves_nothing(events_file, case):
    command, kind, arg, token = case
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        args = _apply(command, kind, arg, tmp, events_file)
        result = CliRunner().invoke(main, args)
        note = f"{kind}: mcsim {' '.join(args)}\nstderr: {result.stderr!r}"
        assert result.exit_code == 2, note
        assert isinstance(result.exception, SystemExit), note
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("mcsim: error: "), note
        assert "Traceback" not in result.output, note
        if token is not None:
            assert token in lines[0], note
        elif kind == "foreign option":
            assert arg[0] in lines[0], note
        assert _leftovers(tmp) == [], note


# ------------------------------------------------------------------ the issue, real processes


def _card(tmp: Path, kind: str) -> str:
    path = tmp / "card.toml"
    if kind == "radius":
        path.write_text(CARD.replace("radius_m = 1.0", "radius_m = 1e308", 1))
    elif kind == "binary":
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    elif kind == "big":
        path.write_text(CARD + "#" * 2**21)
    else:
        path.mkdir()
    return str(path)


GEN = generate_argv(seed=1, o="out.root", quiet=True)
ISSUE_CASES = {
    "events inf": ([*GEN, "--events", "inf"], "'--events': must be an integer in [1, 1e+10]"),
    "events 1e20": ([*GEN, "--events", "1e20"], "got '1e20'"),
    "m1 1e-300": (
        generate_argv(m1="1e-300", seed=1, o="out.root", quiet=True, events=700),
        "'--m1': must be a number in [1e-06, 100] GeV",
    ),
    "d 1e300": (
        generate_argv(d="1e300", seed=1, o="out.root", quiet=True, events=700),
        "'--d': must be a number in [1e-15, 100] GeV^-1",
    ),
    "m-n with dark dipole": (
        [*GEN, "--events", "700", "--m-n", "0.3"],
        "--m-n: not a parameter of the dark-dipole model",
    ),
    "all channels closed": (
        generate_argv(m1="50", events=700, seed=1, o="out.root"),
        "every production channel is closed",
    ),
    "card radius 1e308": (
        [*GEN, "--events", "700", "--detector", "radius"],
        "key 'decay_volume.radius_m': must be a number in (0, 100000] m",
    ),
    "binary card": (
        [*GEN, "--events", "700", "--detector", "binary"],
        "card.toml: not a text file",
    ),
    "directory card": (
        [*GEN, "--events", "700", "--detector", "directory"],
        "card.toml: is a directory",
    ),
    "workers 0": (
        ["reach", "--detector", "na62", "--workers", "0", "--out", "reach"],
        "'--workers': must be an integer in [1, 256]",
    ),
    "m1 1_0": (
        generate_argv(m1="1_0", seed=1, o="out.root", quiet=True, events=700),
        "'--m1': must be a number in [1e-06, 100] GeV, got '1_0'",
    ),
    "model card /dev/zero": (
        ["info", "--model", "card:/dev/zero", "--d", "1e-5"],
        "model card /dev/zero: not a regular file",
    ),
    "model card FIFO": (
        ["info", "--model", "card:./fifo", "--d", "1e-5"],
        "model card ./fifo: not a regular file",
    ),
    "detector card of 2 MiB": (
        [*GEN, "--events", "700", "--detector", "big"],
        "card.toml: larger than 1 MiB",
    ),
    "output /dev/full": (
        [*GEN, "--events", "700", "-o", "/dev/full", "--overwrite"],
        "output /dev/full is a character device, not a regular file",
    ),
    "output FIFO": (
        [*GEN, "--events", "700", "-o", "fifo", "--overwrite"],
        "fifo is a FIFO, not a regular file",
    ),
    "hepmc3 format, root suffix": (
        [*GEN, "--events", "700", "--format", "hepmc3"],
        "--format hepmc3: the output out.root has the suffix of root",
    ),
    "HepMC3 output FIFO": (
        [*GEN, "--events", "700", "-o", "fifo.hepmc3", "--overwrite"],
        "fifo.hepmc3 is a FIFO, not a regular file",
    ),
    "cutflow --plots holding a FIFO": (
        ["cutflow", "cut.root", "--plots", "fifos"],
        "--plots: cannot write to fifos: fifos/cut_impact.png is a FIFO, not a regular file",
    ),
    "reach --delta for the neutrino dipole": (
        ["reach", "--model", "neutrino-dipole", "--delta", "0.2", "--detector", "na62"],
        "--delta: not a parameter of the neutrino-dipole model",
    ),
    "reach --flavour for the dark dipole": (
        ["reach", "--model", "dark-dipole", "--flavour", "e", "--detector", "na62"],
        "--flavour: not a parameter of the dark-dipole model",
    ),
    "reach level inf": (
        ["reach", "--detector", "na62", "--level", "inf", "--out", "reach"],
        "'--level': must be a number in (0, 1e+09] events, got 'inf'",
    ),
    "reach --out holding a FIFO": (
        ["reach", "--detector", "na62", "--out", "fifos"],
        "--out: cannot write to fifos: fifos/grid.csv is a FIFO, not a regular file",
    ),
    "cutflow empty file": (["cutflow", "empty.root"], "empty.root: not a ROOT file"),
    "cutflow truncated": (["cutflow", "cut.root"], "cut.root: truncated"),
    "cutflow no events tree": (["cutflow", "noevents.root"], "no 'events' in the file"),
}


@pytest.mark.parametrize("name", ISSUE_CASES)
def test_issue_cases_as_real_processes(tmp_path, events_file, name):
    args, message = ISSUE_CASES[name]
    args = [
        (_card(tmp_path, a) if a in ("radius", "binary", "directory", "big") else a) for a in args
    ]
    if name == "output /dev/full" and not Path("/dev/full").is_char_device():
        pytest.skip("no /dev/full")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "fifos").mkdir()
    for fifo in ("fifo.hepmc3", "fifos/grid.csv", "fifos/cut_impact.png"):
        os.mkfifo(tmp_path / fifo)
    data = events_file.read_bytes()
    (tmp_path / "empty.root").write_bytes(b"")
    (tmp_path / "cut.root").write_bytes(data[: int(len(data) * 0.99)])
    with uproot.recreate(tmp_path / "noevents.root") as f:
        f["mcsim_metadata"] = "{}"
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = subprocess.run([MCSIM, *args], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr
    assert message in proc.stderr, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_disk_full_is_one_line_and_leaves_nothing(tmp_path):
    """ENOSPC while writing (a 2 MB tmpfs in a private mount namespace)."""
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-m", "true"]).returncode != 0:
        pytest.skip("needs unshare -m (mount namespaces) to make a small file system")
    script = (
        f"mount -t tmpfs -o size=2m tmpfs {tmp_path} && cd {tmp_path} && "
        f"{MCSIM} generate {' '.join(DARK)} --events 1e5 --seed 1 --keep all -o out.root "
        f"--quiet; "
        f"echo rc=$?; ls -a {tmp_path}"
    )
    proc = subprocess.run(
        [unshare, "-m", "sh", "-c", script], capture_output=True, text=True, timeout=300
    )
    assert "rc=2" in proc.stdout, proc.stdout + proc.stderr
    assert proc.stdout.split("rc=2")[1].split() == [".", ".."]
    assert proc.stderr.strip() == "mcsim: error: cannot write out.root: No space left on device"


def test_reach_disk_full_names_the_path_and_leaves_nothing(tmp_path, monkeypatch):
    """A failed write() (ENOSPC) names no file: the message names --out."""
    import mcsim.scan.reach

    def full(grids, stem):
        Path(stem).parent.mkdir()
        Path(stem).with_suffix(".json").write_text("[")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(mcsim.scan.reach, "write_grids", full)
    result = CliRunner().invoke(main, _base("reach", tmp_path, Path(), "na62"))
    assert result.exit_code == 2, result.output
    out = tmp_path / "reach"
    assert result.stderr == f"mcsim: error: cannot write {out}: No space left on device\n"
    assert not out.exists()


def _damaged(tmp: Path, value: float) -> Path:
    """An uncompressed events file with one stored weight replaced by ``value``."""
    import numpy as np

    path = tmp / "damaged.root"
    model = DarkDipole(m1=0.1, delta=0.1, d=1e-6)
    write_events(model, "na62", path, n_events=700, seed=1, compression="none")
    with uproot.open(path) as f:
        weight = f["events"]["weight"].array(library="np")
    old = weight.astype(">f8").tobytes()  # the branch's one basket
    data = path.read_bytes()
    assert data.count(old) == 1
    weight[np.argmax(weight)] = value
    path.write_bytes(data.replace(old, weight.astype(">f8").tobytes()))
    return path


@pytest.mark.parametrize("value", [math.nan, 0.5, 1e3])
def test_cutflow_refuses_a_damaged_weight_branch(tmp_path, value):
    bad = _damaged(tmp_path, value)
    result = CliRunner().invoke(main, ["cutflow", str(bad)])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"mcsim: error: {bad}: branch 'weight' of the events tree differs")


def test_cutflow_in_a_read_only_directory_prints_the_table_and_refuses_plots_there(
    tmp_path, events_file
):
    ro = tmp_path / "ro"
    ro.mkdir()
    shutil.copy(events_file, ro / "ev.root")
    ro.chmod(0o555)
    immutable = False
    if os.access(ro, os.W_OK):  # root: permission bits do not stop it
        immutable = subprocess.run(["chattr", "+i", str(ro)], capture_output=True).returncode == 0
        if not immutable:
            pytest.skip("cannot make a directory read-only for root here")
    try:
        res = CliRunner().invoke(main, ["cutflow", str(ro / "ev.root")])
        beside = CliRunner().invoke(main, ["cutflow", str(ro / "ev.root"), "--plots"])
        named = CliRunner().invoke(
            main, ["cutflow", str(ro / "ev.root"), "--plots", str(ro / "plots")]
        )
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(ro)])
        ro.chmod(0o755)
    assert res.exit_code == 0 and "expected signal events" in res.stdout and res.stderr == ""
    for refused in (beside, named):
        assert refused.exit_code == 2 and refused.stdout == ""
        assert refused.stderr.startswith("mcsim: error: --plots: cannot write to")
    assert sorted(p.name for p in ro.iterdir()) == ["ev.root"]


@pytest.mark.slow
@pytest.mark.parametrize("command", ["generate", "reach", "figure", "validate-cone", "info"])
def test_help_and_a_bad_option_load_no_kernels(command):
    """`mcsim CMD --help` and a bad option are answered before numba (and the kernels) load:
    the options come from mcsim.runtime.defaults and the validators, the machinery loads when a
    command runs."""
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from mcsim.cli.main import main\n"
        f"for args in (['{command}', '--help'], ['{command}', '--no-such-option']):\n"
        "    res = CliRunner().invoke(main, args)\n"
        "    assert res.exit_code in (0, 2), res.output\n"
        "loaded = [m for m in ('numba', 'scipy', 'uproot', 'mcsim.scan.tasks') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
