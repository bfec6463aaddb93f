"""Signals at random moments: `mcsim generate` and `mcsim reach` killed by SIGINT (Ctrl-C, to
the whole process group as a terminal sends it), SIGTERM and SIGHUP (to the main process, as
`timeout`, SLURM and HTCondor send them) exit with 128 + signal after one line on stderr, and
leave no output, no .part file and no process behind (workers and resource tracker included).
The moments are drawn from [0.5, 8] s, which covers the start-up (imports, worker spawning) and
the computation; the seed is printed on failure (MCSIM_SIGNAL_SEED sets it)."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import generate_argv

pytestmark = pytest.mark.slow

MCSIM = str(Path(sys.executable).with_name("mcsim"))
SEED = int(os.environ.get("MCSIM_SIGNAL_SEED", random.SystemRandom().randrange(2**32)))
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


def _session(sid: int) -> list[str]:
    """Processes of session ``sid``: (pid, command) of every process the command started."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(f"{stat.parent.name} {text[: text.rindex(')') + 1]}")
    return found


def _command(kind: str, out: Path) -> list[str]:
    """Commands that run well beyond the latest signal (8 s), so that it always arrives
    mid-run (5e6 events ended around 7 s: a signal in the exit then found no handler; 3e7
    events took 8.1 s in December 2026, and a late signal found them done)."""
    if kind == "generate":
        return [MCSIM, *generate_argv(events="1e8", seed=1, o=out, quiet=True)]
    return [
        MCSIM,
        "reach",
        "--detector",
        "na62",
        "--masses",
        "12",
        "--couplings",
        "10",
        "--events",
        "300000",
        "--workers",
        "2",
        "--no-progress",
        "--out",
        str(out),
    ]


@pytest.mark.parametrize("kind", ["generate", "reach"])
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_signal_leaves_nothing_behind(tmp_path, kind, sig):
    rng = random.Random(f"{SEED}-{kind}-{int(sig)}")
    delay = rng.uniform(0.5, 8.0)
    out = tmp_path / ("x.root" if kind == "generate" else "reach")
    proc = subprocess.Popen(
        _command(kind, out),
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    note = f"{kind}, {signal.Signals(sig).name} after {delay:.2f} s (MCSIM_SIGNAL_SEED={SEED})"
    try:
        time.sleep(delay)
        assert proc.poll() is None, f"{note}: finished before the signal"
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 128 + sig, f"{note}: exit {proc.returncode}, stderr {err!r}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, f"{note}: {err!r}"
    assert lines[0].startswith(f"mcsim: interrupted by {signal.Signals(sig).name}"), note
    assert sorted(p.name for p in tmp_path.iterdir()) == [], f"{note}: files left"
    deadline = time.monotonic() + 10.0
    while _session(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _session(proc.pid) == [], f"{note}: processes left"
