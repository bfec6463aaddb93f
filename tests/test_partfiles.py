"""partfiles: .part files carry their writer's host and PID; dead writers' files are removed."""

import os
import subprocess
import sys

import pytest

from mcsim.io import partfiles


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_part_files_of_dead_writers_are_removed(tmp_path):
    host = partfiles._host()
    dead = tmp_path / f".x.root.{host}.{_dead_pid()}.0123abcd.part"
    live = tmp_path / f".y.root.{host}.{os.getpid()}.0123abcd.part"
    other_host = tmp_path / f".z.root.elsewhere-{host}.{_dead_pid()}.0123abcd.part"
    not_ours = tmp_path / ".notes.part"
    for p in (dead, live, other_host, not_ours):
        p.write_text("partial")
    assert partfiles.remove_stale(tmp_path) == [dead]
    assert not dead.exists() and live.exists() and other_host.exists() and not_ours.exists()


def test_create_names_the_writer_and_cleans_up_first(tmp_path):
    stale = tmp_path / f".out.root.{partfiles._host()}.{_dead_pid()}.0123abcd.part"
    stale.write_text("left by a SIGKILL")
    tmp = partfiles.create(tmp_path / "out.root")
    match = partfiles.PATTERN.match(tmp.name)
    assert match and match["name"] == "out.root" and int(match["pid"]) == os.getpid()
    assert not stale.exists()
    mask = os.umask(0)
    os.umask(mask)
    assert tmp.stat().st_mode & 0o777 == 0o666 & ~mask


def test_atomic_path_and_removed_on_failure(tmp_path):
    target = tmp_path / "a.txt"
    with pytest.raises(KeyboardInterrupt):
        with partfiles.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with partfiles.removed_on_failure(out):
            out.mkdir()
            (out / "grid.csv").write_text("x")
            raise RuntimeError
    assert not out.exists()
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "old.csv").write_text("x")
    with pytest.raises(RuntimeError):
        with partfiles.removed_on_failure(tmp_path / "keep"):
            (tmp_path / "keep" / "new.csv").write_text("y")
            raise RuntimeError
    assert [p.name for p in (tmp_path / "keep").iterdir()] == ["old.csv"]
