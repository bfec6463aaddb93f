"""Numba's on-disk kernel cache, kept consistent with the package sources.

Numba recompiles a cached kernel when the file that defines it changes, but not when a function
it inlines from another file does (a limitation stated in numba's caching notes): after an update
that edits only ``kinematics.py``, the cached propagator would keep the old kinematics.  When
the first of mcsim's kernel modules is imported (not at ``import mcsim``), :func:`ensure_fresh`
hashes the package's sources and data files and, if the hash differs from the stamp stored in
the cache directory, removes mcsim's cache files there, so that every kernel is compiled afresh
once (about a minute) instead of running stale code.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

import numba

__all__ = [
    "ensure_fresh",
    "kernels_cached",
    "refresh",
    "refresh_package_cache",
    "trim_numba_startup",
]

_STAMP = "mcsim-sources.sha256"
_CACHE_SUFFIXES = (".nbi", ".nbc")


def sources_hash(package_dir: Path) -> str:
    """SHA-256 over the names and contents of the package's .py and data .toml files."""
    digest = hashlib.sha256()
    for path in sorted([*package_dir.rglob("*.py"), *package_dir.glob("data/*.toml")]):
        digest.update(path.relative_to(package_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def refresh(cache_dir: Path, package_dir: Path) -> bool:
    """Remove the numba cache files of the modules in ``package_dir`` from ``cache_dir`` if the
    stored source hash is missing or different, then store the current one.  Returns True if
    files were removed.  An unwritable cache directory is left alone (numba then cannot cache
    either)."""
    current = sources_hash(package_dir)
    stamp = cache_dir / _STAMP
    try:
        if stamp.read_text().strip() == current:
            return False
    except OSError:
        pass
    removed = False
    try:
        for folder, cached in _kernel_dirs(cache_dir, package_dir):
            modules = {p.stem for p in folder.glob("*.py")}
            for path in cached.iterdir() if cached.is_dir() else ():
                if path.suffix in _CACHE_SUFFIXES and path.name.split(".", 1)[0] in modules:
                    path.unlink(missing_ok=True)
                    removed = True
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".stamp-")
        with os.fdopen(fd, "w") as f:
            f.write(current + "\n")
        os.replace(tmp, stamp)
    except OSError:
        return removed
    return removed


def _kernel_dirs(cache_dir: Path, package_dir: Path) -> list[tuple[Path, Path]]:
    """(source folder, its numba cache folder) for the package and each sub-package, given the
    cache folder ``cache_dir`` of the package's top level: numba keeps one per source folder,
    ``__pycache__`` beside it or its mirror under NUMBA_CACHE_DIR."""
    folders = [package_dir, *(p.parent for p in package_dir.glob("*/__init__.py"))]
    if cache_dir.name == "__pycache__":
        return [(f, f / "__pycache__") for f in folders]
    return [(f, cache_dir / f.relative_to(package_dir)) for f in folders]


def _probe():  # a cached dispatcher defined here tells where numba caches this package
    return 0


def _cache_dir() -> Path | None:
    """The directory numba caches mcsim's kernels in (next to the sources, or under
    NUMBA_CACHE_DIR), if it exists."""
    cache = getattr(numba.njit(cache=True)(_probe), "_cache", None)
    cache_dir = getattr(cache, "_cache_path", None)
    if cache_dir is None or not Path(cache_dir).is_dir():
        return None
    here = Path(cache_dir)  # this sub-package's; the package's top level is one folder up
    return here.parent.parent / "__pycache__" if here.name == "__pycache__" else here.parent


def refresh_package_cache() -> bool:
    """:func:`refresh` for mcsim itself, in the directory numba uses for its modules (next to
    the sources, or under NUMBA_CACHE_DIR).  Nothing is compiled."""
    cache_dir = _cache_dir()
    if cache_dir is None:
        return False
    return refresh(cache_dir, Path(__file__).parent.parent)


_checked = False


def ensure_fresh() -> None:
    """:func:`refresh_package_cache` once per process; the kernel modules call it on import,
    before any kernel can load its cache (numba loads it at a kernel's first call).  In the
    ``mcsim`` command it also trims numba's start-up (:func:`trim_numba_startup`) and, at
    a terminal, says so when the kernels are about to be compiled."""
    global _checked
    if _checked:
        return
    _checked = True
    refresh_package_cache()
    from mcsim.runtime.signals import is_command

    if is_command():
        trim_numba_startup()
        if _simulating() and sys.stderr.isatty() and not kernels_cached():  # people, not logs
            print(
                "mcsim: compiling the numba kernels (first run after installing or updating; "
                "about a minute, once)...",
                file=sys.stderr,
                flush=True,
            )


def _simulating() -> bool:
    """Whether the running ``mcsim`` sub-command is one that simulates (:data:`SIMULATING`)."""
    import click

    from mcsim.runtime.defaults import SIMULATING

    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.info_name in SIMULATING


def kernels_cached() -> bool:
    """Whether the propagator kernel (the last one the chain compiles) is in numba's cache: if
    not, the next simulation compiles the kernels first (once, about a minute)."""
    cache_dir = _cache_dir()
    if cache_dir is None:
        return False
    kernels = dict(_kernel_dirs(cache_dir, Path(__file__).parent.parent))
    propagator = kernels.get(Path(__file__).parent.parent / "detector")
    return propagator is not None and any(propagator.glob("propagate.propagate_kernel-*.nbi"))


def trim_numba_startup() -> None:
    """Skip two parts of numba's start-up that mcsim's kernels do not need, in mcsim's own
    processes only (the command and its local workers), never at ``import mcsim``, where a
    user's own numba code may need them:

    - its extensions (``numba_extensions`` entry points: awkward's and vector's numba
      backends; 0.4 s per process), marked as loaded with numba's private flag
      ``numba.core.entrypoints._already_initialized``;
    - the probe for BLAS when numba's numpy support loads (``numba.np.arraymath``), which
      imports scipy.linalg (0.12-0.17 s) only to choose how np.correlate and np.convolve
      multiply; scipy is one of mcsim's dependencies, so the probe is answered "present".  A
      kernel that calls np.dot or np.linalg still imports scipy when it compiles.
    """
    import sys

    from numba.core import entrypoints

    entrypoints._already_initialized = True
    if "numba.np.arraymath" in sys.modules:
        return
    from numba.np import linalg

    probe = linalg.ensure_blas
    linalg.ensure_blas = _blas_present  # arraymath binds it at import, for its probe alone
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        linalg.ensure_blas = probe


def _blas_present() -> None:
    """The answer to numba's BLAS probe (:func:`trim_numba_startup`)."""
