"""Temporary ``.part`` files of writers, named after their process, and the clean-up of those
left by dead writers.

An output file is written to ``.<name>.<host>.<pid>.<token>.part`` next to its final path and
renamed when complete, so a crash or a signal never leaves a partial file at the output path.
A writer killed outright (SIGKILL, a node failure) cannot remove its ``.part`` file; the next
writer into the same directory on the same host removes every ``.part`` file whose process is
gone (:func:`remove_stale`).  Files of other hosts (a shared file system) are left alone.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mcsim.runtime import signals

__all__ = [
    "PATTERN",
    "atomic_path",
    "check_directory",
    "commit",
    "create",
    "not_regular",
    "remove_stale",
    "removed_on_failure",
    "unwritable",
]

#: .<name>.<host>.<pid>.<token>.part
PATTERN = re.compile(r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.part$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname().split(".")[0]) or "host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale(directory: str | Path) -> list[Path]:
    """Remove the ``.part`` files in ``directory`` left by dead processes of this host.
    Returns the paths removed."""
    removed: list[Path] = []
    host = _host()
    try:
        entries = list(Path(directory).iterdir())
    except OSError:
        return removed
    for path in entries:
        match = PATTERN.match(path.name)
        if match and match["host"] == host and not _alive(int(match["pid"])):
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


def create(path: str | Path) -> Path:
    """Create an empty ``.part`` file for ``path`` in its directory (after removing stale ones)
    with the permissions of a normal new file.  Returns its path."""
    path = Path(path)
    remove_stale(path.parent)
    tmp = path.parent / f".{path.name}.{_host()}.{os.getpid()}.{secrets.token_hex(4)}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    os.close(fd)
    return tmp


def commit(tmp: str | Path, path: str | Path, *, overwrite: bool = True) -> None:
    """Rename the finished ``tmp`` to ``path``; ``tmp`` is removed instead if ``path`` appeared
    meanwhile and ``overwrite`` is false (FileExistsError), or if a signal arrived on the way
    and was swallowed (raised inside a ``__del__`` of compiled code's bindings: Interrupted)."""
    try:
        if not overwrite and Path(path).exists():
            raise FileExistsError(f"{path} appeared while generating; nothing written")
        signum = signals.received()
        if signum is not None:
            raise signals.Interrupted(signum)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a ``.part`` path to write; on success it replaces ``path``, on any exception
    (KeyboardInterrupt included) it is removed."""
    tmp = create(path)
    try:
        yield tmp
        commit(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def removed_on_failure(directory: str | Path) -> Iterator[Path]:
    """For a command writing several files into ``directory``: on any exception
    (KeyboardInterrupt included) the entries it created there are removed again, and the
    directory too if the block created it.  Yields the directory."""
    directory = Path(directory)
    existed = directory.exists()
    before = set(directory.iterdir()) if directory.is_dir() else set()
    try:
        yield directory
    except BaseException:
        if directory.is_dir():
            for path in set(directory.iterdir()) - before:
                if path.is_file():
                    path.unlink(missing_ok=True)
            if not existed and not any(directory.iterdir()):
                directory.rmdir()
        raise


def check_directory(directory: str | Path, option: str, files=()) -> Path:
    """Refuse an output directory before any work: it must be a directory, or not exist yet
    below a writable one, and none of the ``files`` (names) in it may be an existing
    non-regular file (:func:`not_regular`).  PermissionError naming ``option`` otherwise.
    Returns the path."""
    directory = Path(directory)
    existing = next(p for p in (directory, *directory.absolute().parents) if p.exists())
    problem = unwritable(existing) or next(
        filter(None, (not_regular(directory / name) for name in files)), None
    )
    if problem:
        raise PermissionError(f"{option}: cannot write to {directory}: {problem}")
    return directory


_SPECIAL = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
)


def not_regular(path: str | Path) -> str | None:
    """Why the existing ``path`` must not be written or replaced (a directory, a device, a FIFO,
    a socket: never, even for root or with --overwrite), or None (a regular file or none)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISREG(mode):
        return None
    what = next((name for test, name in _SPECIAL if test(mode)), "a special file")
    return f"{path} is {what}, not a regular file"


def unwritable(directory: str | Path) -> str | None:
    """Why no file can be created in ``directory`` (tried, not guessed from permission bits:
    root, read-only file systems), or None if one can."""
    directory = Path(directory)
    if not directory.is_dir():
        return f"{directory} is not a directory"
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as err:
        return f"{directory}: {err.strerror or err}"
    return None
