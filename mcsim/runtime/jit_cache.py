"""Numba's on-disk kernel cache, kept consistent with the package sources, one kernel module at
a time.

Numba recompiles a cached kernel when the file that defines it changes, but not when a jitted
function it calls or inlines from another file does (a limitation stated in numba's caching
notes): after an update that edits only ``kinematics.py``, the cached propagator would keep the
old kinematics.  A kernel can take jitted callees and compile-time constants only from the
modules its own module imports, so each kernel module calls :func:`ensure_fresh` on import: it
hashes the sources of that module's import closure within mcsim (plus the data files they
name, such as ``constants.toml``), and if the hash differs from the module's stamp in numba's
cache folder it removes that module's cache files alone.  Editing a module no kernel module
imports (a command, a new model) keeps every compiled kernel.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import os
import re
import sys
import tempfile
from pathlib import Path

import numba

from mcsim.runtime.defaults import SIMULATING
from mcsim.runtime.signals import is_command

__all__ = [
    "compile_timer",
    "dependencies",
    "ensure_fresh",
    "kernel",
    "kernels_cached",
    "refresh",
    "sources_hash",
    "stamp",
    "trim_numba_startup",
    "ufunc",
]

_PACKAGE = Path(os.path.abspath(__file__)).parent.parent
_STAMP = ".sources.sha256"  # "<module>.sources.sha256" beside the module's cache files
_CACHE_SUFFIXES = (".nbi", ".nbc")


def sources_hash(package_dir: Path) -> str:
    """SHA-256 over the names and contents of the package's .py and data .toml files."""
    digest = hashlib.sha256()
    for path in sorted([*package_dir.rglob("*.py"), *package_dir.glob("data/*.toml")]):
        digest.update(path.relative_to(package_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


#: per process: each parsed source's (imports, data names), keyed by the hash of the source
_parsed: dict[bytes, tuple[tuple[str, ...], tuple[str, ...]]] = {}
_TOML_NAME = re.compile(rb"""["']([\w./-]+\.toml)["']""")


def _references(
    source: bytes, name: str, is_package: bool
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the dotted names module ``name`` imports at module level, the .toml names it quotes).
    Imports inside functions or under ``if TYPE_CHECKING`` cannot give a kernel a callee."""
    key = hashlib.sha256(source).digest() + name.encode()
    if key in _parsed:
        return _parsed[key]
    package = name if is_package else name.rpartition(".")[0]
    imported: list[str] = []
    stack: list[ast.AST] = [ast.parse(source)]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                head = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{head}.{base}" if base else head
            imported += [base, *(f"{base}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.If) and _type_checking(node.test):
            stack += node.orelse
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.expr)):
            stack += ast.iter_child_nodes(node)
    data = tuple(m.decode() for m in _TOML_NAME.findall(source))
    _parsed[key] = result = (tuple(imported), data)
    return result


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_file(name: str, package_dir: Path) -> Path | None:
    """The source of the package's module ``name`` (dotted), if it is one of its modules."""
    parts = name.split(".")
    if parts[0] != package_dir.name:
        return None
    base = package_dir.joinpath(*parts[1:])
    candidates = [base / "__init__.py"]
    if len(parts) > 1:
        candidates.insert(0, base.with_suffix(".py"))
    return next((p for p in candidates if p.is_file()), None)


def dependencies(module: str, package_dir: Path = _PACKAGE) -> list[Path]:
    """The files the kernels of ``module`` (dotted) may depend on: its source, those of the
    package's modules it imports at module level, transitively (the only places its kernels
    can take jitted callees and captured globals from), and the package's data files they name
    (``constants.toml``, read when ``physics.constants`` is imported)."""
    data_files = {p.name: p for p in (package_dir / "data").glob("*.toml")}
    found: set[Path] = set()
    todo, seen = [module], set()
    while todo:
        name = todo.pop()
        path = None if name in seen else _module_file(name, package_dir)
        seen.add(name)
        if path is None or path in found:
            continue
        found.add(path)
        imported, named = _references(path.read_bytes(), name, path.name == "__init__.py")
        todo += [n for n in imported if n.partition(".")[0] == package_dir.name]
        found.update(
            data_files[n] for n in (v.rpartition("/")[2] for v in named) if n in data_files
        )
    return sorted(found)


#: per process: {path: (mtime, size, SHA-256)}, the kernel modules' closures overlap
_file_digests: dict[Path, tuple[int, int, bytes]] = {}


def _file_digest(path: Path) -> bytes:
    info = path.stat()
    known = _file_digests.get(path)
    if known is not None and known[:2] == (info.st_mtime_ns, info.st_size):
        return known[2]
    digest = hashlib.sha256(path.read_bytes()).digest()
    _file_digests[path] = (info.st_mtime_ns, info.st_size, digest)
    return digest


def _digest(package_dir: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0")
        digest.update(_file_digest(path))
    return digest.hexdigest()


def stamp(module: str, package_dir: Path = _PACKAGE) -> str:
    """SHA-256 over the names and contents of the module's :func:`dependencies`."""
    return _digest(package_dir, dependencies(module, package_dir))


def _is_current(stored: Path, package_dir: Path) -> bool:
    """Whether a stamp file (the hash, then the files it covers) still matches those files.
    The import closure follows from the contents of its own files, so when they are unchanged
    it is too and nothing needs parsing (about 2 ms a module otherwise)."""
    try:
        digest, *names = stored.read_text().split("\n")
        return bool(names) and _digest(package_dir, [package_dir / n for n in names]) == digest
    except (OSError, ValueError):
        return False


def _probe():  # numba's cache locators need a function; only its first line number is read
    return 0


def _numba_cache_dir(source: Path) -> Path | None:
    """The folder numba keeps the cache files of the kernels of ``source`` in, as its own
    locators choose it (``__pycache__`` beside it, NUMBA_CACHE_DIR/<folder>_<hash>, or the
    user's cache folder); None if none is writable."""
    from numba.core import caching  # numba internals: only for this look-up

    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")  # noqa: B009
    for locator in impl._locator_classes:
        found = locator.from_function(_probe, str(source))
        if found is not None:
            return Path(found.get_cache_path())
    return None


def refresh(module: str, package_dir: Path = _PACKAGE) -> bool:
    """Remove the numba cache files of the kernel module ``module`` (dotted, in ``package_dir``)
    if its stored :func:`stamp` is missing or different, then store the current one.  Returns
    True if files were removed.  An unwritable cache folder is left alone (numba then cannot
    cache either)."""
    source = _module_file(module, package_dir)
    folder = None if source is None else _numba_cache_dir(source)
    if source is None or folder is None:
        return False
    stored = folder / f"{source.stem}{_STAMP}"
    if _is_current(stored, package_dir):
        return False
    removed = False
    try:
        for path in folder.glob(f"{source.stem}.*"):
            if path.suffix in _CACHE_SUFFIXES:
                path.unlink(missing_ok=True)
                removed = True
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".stamp-")
        with os.fdopen(fd, "w") as f:
            files = dependencies(module, package_dir)
            names = [p.relative_to(package_dir).as_posix() for p in files]
            f.write("\n".join([_digest(package_dir, files), *names]))
        os.replace(tmp, stored)
    except OSError:
        return removed
    return removed


_checked: set[str] = set()


def kernel(**options):
    """``numba.njit(cache=True, **options)`` for mcsim's kernels, with the defining module's
    cache checked first (:func:`ensure_fresh`, at the module's import: before any of its
    kernels can load the cache, which numba does at a kernel's first call)."""

    def decorate(func):
        ensure_fresh(func.__module__)
        return numba.njit(cache=True, **options)(func)

    return decorate


def ufunc(signatures: list[str]):
    """``numba.vectorize(signatures, cache=True)`` (compiled at once, from the cache if
    current), with the defining module's cache checked first, as :func:`kernel`."""

    def decorate(func):
        ensure_fresh(func.__module__)
        return numba.vectorize(signatures, cache=True)(func)

    return decorate


def ensure_fresh(module: str) -> None:
    """:func:`refresh` for the kernel module ``module`` (its ``__name__``) once per process
    (:func:`kernel` calls it as each kernel is defined).  In the ``mcsim`` command the first call
    also trims numba's start-up (:func:`trim_numba_startup`) and, for a simulating sub-command,
    prints :data:`COMPILE_NOTICE` on stderr when the kernels are about to be compiled."""
    if module in _checked:
        return
    first = not _checked
    _checked.add(module)
    refresh(module)
    if not first:
        return
    if is_command():
        trim_numba_startup()
        if _simulating() and not kernels_cached():
            print(COMPILE_NOTICE, file=sys.stderr, flush=True)


#: The one line ``mcsim`` prints on stderr before a simulating command compiles its kernels.
COMPILE_NOTICE = "mcsim: compiling numerical kernels (first run only, about a minute)..."


@contextlib.contextmanager
def compile_timer():
    """Measure the time numba spends compiling kernels (not loading them from its cache) within
    the block: yields a function returning the seconds so far [s]."""
    from numba.core import event  # numba internals: only for this measurement

    listener = event.TimingListener()
    with event.install_listener("numba:compile", listener):
        yield lambda: listener.duration if listener.done else 0.0


def _simulating() -> bool:
    """Whether the running ``mcsim`` sub-command is one that simulates (:data:`SIMULATING`)."""
    import click  # click: only for command-line types

    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.info_name in SIMULATING


def kernels_cached() -> bool:
    """Whether the propagator kernel (the last one the chain compiles) is in numba's cache and
    current (its stamp matches the sources): if not, the next simulation compiles the kernels
    first (about a minute)."""
    module = "mcsim.detector.propagate"
    source = _module_file(module, _PACKAGE)
    folder = None if source is None else _numba_cache_dir(source)
    if source is None or folder is None:
        return False
    current = _is_current(folder / f"{source.stem}{_STAMP}", _PACKAGE)
    return current and any(folder.glob(f"{source.stem}.propagate_kernel-*.nbi"))


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
    from numba.core import entrypoints  # numba internals: only for this look-up

    entrypoints._already_initialized = True
    if "numba.np.arraymath" in sys.modules:
        return
    from numba.np import linalg  # numba internals: the probe it patches loads here

    probe = linalg.ensure_blas
    linalg.ensure_blas = _blas_present  # arraymath binds it at import, for its probe alone
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        linalg.ensure_blas = probe


def _blas_present() -> None:
    """The answer to numba's BLAS probe (:func:`trim_numba_startup`)."""
