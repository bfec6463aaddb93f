"""mcsim generate: the command, and output safety (no partial file, checks before generating)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import uproot
from click.testing import CliRunner
from conftest import generate_argv

import mcsim.generation.write as write
from mcsim import DarkDipole
from mcsim.cli.generate import timing
from mcsim.cli.main import main
from mcsim.runtime.jit_cache import COMPILE_NOTICE


def _run(*args):
    return CliRunner().invoke(main, [*generate_argv(), *args])


def _no_leftovers(directory):
    return [p.name for p in directory.iterdir() if p.suffix == ".part"] == []


def test_generate_writes_the_file(tmp_path):
    out = tmp_path / "na62.root"
    res = _run("--events", "7e3", "--seed", "1", "-o", str(out), "--quiet")
    assert res.exit_code == 0, res.output
    assert "7000 events generated in 10 channels" in res.output
    assert "expected signal events" in res.output and "(MC)" in res.output
    assert "eta -> gamma chi1 chi2" in res.output  # the per-channel summary
    with uproot.open(out) as f:
        kept = f["events"].num_entries
        assert 0 < kept < 7000 and f["events"]["selected"].array(library="np").all()
        assert f["run"]["n_generated"].array(library="np")[0] == 7000
    assert f"{kept} kept (--keep selected)" in res.output
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    assert _no_leftovers(tmp_path)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_neutrino_model_cone_mode_and_channels(tmp_path):
    out = tmp_path / "nu.root"
    res = CliRunner().invoke(
        main,
        [
            "generate",
            "--model",
            "neutrino-dipole",
            "--m-n",
            "0.3",
            "--flavour",
            "mu",
            "--d",
            "1e-6",
            "--events",
            "2000",
            "--seed",
            "2",
            "--mode",
            "cone",
            "--threshold",
            "2",
            "--channels",
            "K+,223",
            "-o",
            str(out),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    with uproot.open(out) as f:
        pdg = set(abs(f["events"]["mother_pdgid"].array(library="np")))
        run = f["run"].arrays(library="np")
    assert pdg == {321, 223}
    assert run["threshold"][0] == 2.0


@pytest.fixture
def no_generation(monkeypatch):
    """Fail the test if any event is generated."""

    def forbidden(*args, **kwargs):
        raise AssertionError("an event was generated")

    monkeypatch.setattr(write, "channel_events", forbidden)


def test_existing_file_fails_before_generating(tmp_path, no_generation):
    out = tmp_path / "x.root"
    out.write_text("keep me")
    res = _run("--events", "1000", "--seed", "1", "-o", str(out))
    assert res.exit_code == 2
    assert res.output.strip() == f"mcsim: error: {out} exists; use --overwrite to replace it"
    assert out.read_text() == "keep me"


@pytest.mark.parametrize("where", ["missing_dir", "under_a_file"])
def test_unwritable_path_fails_before_generating(tmp_path, no_generation, where):
    (tmp_path / "file").write_text("")
    out = tmp_path / ("missing/x.root" if where == "missing_dir" else "file/x.root")
    res = _run("--events", "1000", "--seed", "1", "-o", str(out))
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mcsim: error: cannot write {out}")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_directory_fails_before_generating(tmp_path, no_generation):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        res = _run("--events", "1000", "--seed", "1", "-o", str(ro / "x.root"))
    finally:
        ro.chmod(0o700)
    assert res.exit_code == 2 and "is not writable" in res.output


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_interrupted_generation_leaves_no_file(tmp_path, monkeypatch, error):
    calls = []
    real = write.channel_events

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(write, "channel_events", failing)
    out = tmp_path / "x.root"
    with pytest.raises(type(error)):
        write.write_events(
            DarkDipole(m1=0.1, delta=0.1, d=1e-6),
            "na62",
            out,
            n_events=7000,
            seed=1,
            chunk_size=400,
        )
    # it stops at the failing chunk: of the 10 chunks only those already in flight in the
    # generating threads (at most threads + 1) were started
    assert 3 <= len(calls) <= 3 + write.GENERATE_THREADS + 1 < 10
    assert not out.exists() and _no_leftovers(tmp_path)


def test_interrupt_keeps_an_existing_file_when_overwriting(tmp_path, monkeypatch):
    out = tmp_path / "x.root"
    out.write_text("old")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(write, "channel_events", interrupted)
    res = _run("--events", "1000", "--seed", "1", "-o", str(out), "--overwrite")
    assert res.exit_code != 0
    assert out.read_text() == "old" and _no_leftovers(tmp_path)


def test_overwrite_replaces(tmp_path):
    out = tmp_path / "x.root"
    out.write_text("old")
    res = _run(
        "--events", "700", "--seed", "1", "-o", str(out), "--overwrite", "--quiet", "--keep", "all"
    )
    assert res.exit_code == 0, res.output
    with uproot.open(out) as f:
        assert f["events"].num_entries == 700


@pytest.mark.parametrize(
    "events, message",
    [
        ("abc", "must be an integer in [1, 1e+10]"),
        ("1.5", "must be an integer in [1, 1e+10]"),
        ("3", "at least the number of channels"),
    ],
)
def test_bad_event_counts(tmp_path, events, message):
    res = _run("--events", events, "--seed", "1", "-o", str(tmp_path / "x.root"))
    assert res.exit_code == 2 and message in res.output
    assert not (tmp_path / "x.root").exists() and _no_leftovers(tmp_path)


def test_closed_channel_is_refused(tmp_path):
    res = _run(
        "--events", "100", "--seed", "1", "--channels", "111", "-o", str(tmp_path / "x.root")
    )
    assert res.exit_code == 2 and "no open channel for mother PDG ID(s) [111]" in res.output


def test_generate_leaves_out_mesons_the_beam_does_not_make(tmp_path):
    """NuCal's 70 GeV beam makes no Upsilon: the file has every other open channel."""
    out = tmp_path / "nucal.root"
    res = CliRunner().invoke(
        main, generate_argv(detector="nucal", events=2000, seed=1, o=out, keep="all")
    )
    assert res.exit_code == 0, res.output
    import uproot

    with uproot.open(out) as f:
        mothers = set(f["events"]["mother_pdgid"].array(library="np").tolist())
    assert 553 not in mothers and {113, 443} <= mothers


def test_the_rate_leaves_out_the_compile_time():
    assert timing(1000, 2.0, 0.0) == "2.0 s (500 events/s)"
    assert timing(1000, 10.0, 9.0) == (
        "10.0 s, 9.0 s of it compiling numerical kernels (1e+03 events/s without them)"
    )


@pytest.mark.slow
def test_a_first_run_says_once_on_stderr_that_it_compiles(tmp_path):
    """With an empty numba cache (NUMBA_CACHE_DIR): the notice once on stderr, not a terminal,
    and the rate without the compile time; the next run neither compiles nor says so."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    mcsim = Path(sys.executable).with_name("mcsim")
    argv = [str(mcsim), *generate_argv(events=2000, seed=1, o=tmp_path / "x.root", quiet=True)]
    rate = r"^wrote .+ \(--keep selected\), [0-9.]+ s"
    runs = []
    for _ in range(2):
        runs.append(subprocess.run([*argv, "--overwrite"], env=env, capture_output=True, text=True))
        assert runs[-1].returncode == 0, runs[-1].stderr
    first, second = runs
    assert first.stderr.count(COMPILE_NOTICE) == 1 and COMPILE_NOTICE not in first.stdout
    assert re.search(
        rate
        + r", [0-9.]+ s of it compiling numerical kernels \([0-9.e+]+ events/s without them\)$",
        first.stdout,
        re.M,
    )
    assert second.stderr == ""
    assert re.search(rate + r" \([0-9.e+]+ events/s\)$", second.stdout, re.M)
