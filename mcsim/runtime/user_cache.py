"""Results mcsim computes once and keeps between runs: JSON files in ``$XDG_CACHE_HOME/mcsim``
(``~/.cache/mcsim``), each named for what its contents depend on (a version, a hash of mcsim's
sources), so that a stale file is never read.  A missing or unreadable file reads as empty; an
unwritable directory only means computing again."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

__all__ = ["cache_path", "read", "store"]


def cache_path(name: str) -> Path:
    """The path of the cache file ``name`` (not created)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "mcsim" / name


def read(path: Path) -> dict:
    """The cached dict at ``path``; {} if there is none or it cannot be read."""
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def store(path: Path, known: dict) -> None:
    """Replace the file at ``path`` with ``known`` atomically (another process reads the old
    file or the new, never a half-written one); an unwritable cache is left alone, and an
    interruption (Ctrl-C, a signal) leaves no temporary file behind."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(known))
        os.replace(tmp, path)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
