"""Numba's cache is cleared per kernel module, when the module or one it imports changes (numba
itself only notices changes in the file defining a kernel, not in functions it inlines from
other files); other modules' edits keep every compiled kernel."""

import shutil
from pathlib import Path

import numba
import pytest

import mcsim
from mcsim.runtime import jit_cache
from mcsim.runtime.jit_cache import dependencies, refresh

#: every module of mcsim that defines cached kernels
KERNEL_MODULES = (
    "mcsim.detector.geometry",
    "mcsim.detector.propagate",
    "mcsim.models.relic",
    "mcsim.physics.dalitz",
    "mcsim.physics.directed",
    "mcsim.physics.kinematics",
    "mcsim.physics.monophoton",
    "mcsim.physics.xoshiro",
    "mcsim.scan.fused",
    "mcsim.sources.spectra",
    "mcsim.weights",
)
PACKAGE = Path(mcsim.__file__).parent


def _source(pkg: Path, module: str) -> Path:
    path = pkg.joinpath(*module.split(".")[1:]).with_suffix(".py")
    assert path.is_file()
    return path


def _folder(pkg: Path, module: str) -> Path:
    folder = jit_cache._numba_cache_dir(_source(pkg, module))
    assert folder is not None
    return folder


@pytest.fixture(params=["beside the sources", "NUMBA_CACHE_DIR"])
def package(request, tmp_path, monkeypatch) -> Path:
    """A copy of mcsim's sources, stamped, with (fake) cache files for every kernel module where
    numba keeps them: ``__pycache__`` beside each source folder, or under NUMBA_CACHE_DIR."""
    mirrored = request.param == "NUMBA_CACHE_DIR"
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "nb") if mirrored else "")
    pkg = tmp_path / "src" / "mcsim"
    shutil.copytree(PACKAGE, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for module in KERNEL_MODULES:
        folder = _folder(pkg, module)
        assert folder.is_relative_to(tmp_path / "nb" if mirrored else pkg)
        assert not refresh(module, pkg)  # no cache files yet, the stamp is stored
        stem = _source(pkg, module).stem
        for name in (f"{stem}.kernel-10.py311.nbi", f"{stem}.kernel-10.py311.1.nbc"):
            (folder / name).write_bytes(b"x")
        (folder / f"{stem}.cpython-311.pyc").write_bytes(b"x")
    return pkg


def _refresh_all(pkg: Path) -> set[str]:
    """The kernel modules whose cache files a refresh removes (checking that only their .nbi and
    .nbc files went)."""
    removed = {m for m in KERNEL_MODULES if refresh(m, pkg)}
    for module in KERNEL_MODULES:
        stem, folder = _source(pkg, module).stem, _folder(pkg, module)
        left = sorted(p.name for p in folder.glob(f"{stem}.*") if not p.name.endswith("sha256"))
        kept = [f"{stem}.cpython-311.pyc"]
        if module not in removed:
            kept = sorted([*kept, f"{stem}.kernel-10.py311.1.nbc", f"{stem}.kernel-10.py311.nbi"])
        assert left == kept, module
    return removed


def test_a_module_no_kernel_module_imports_keeps_every_kernel(package):
    (package / "models" / "third.py").write_text("X = 1\n")
    with (package / "cli" / "info.py").open("a") as f:
        f.write("\nY = 2\n")
    with (package / "models" / "dipoles.py").open("a") as f:
        f.write("\nZ = 3\n")
    assert _refresh_all(package) == set()


def test_an_edit_of_kinematics_removes_the_kernels_of_the_modules_that_import_it(package):
    """Only kinematics and the kernel modules importing it (directly or not) lose their cache;
    the stamps are then current, so the next check removes nothing."""
    with (package / "physics" / "kinematics.py").open("a") as f:
        f.write("\nX = 1\n")
    importers = {
        "mcsim.physics.kinematics",
        "mcsim.physics.dalitz",
        "mcsim.detector.propagate",
        "mcsim.scan.fused",
        "mcsim.weights",
    }
    assert _refresh_all(package) == importers
    assert not any(refresh(m, package) for m in KERNEL_MODULES)


def test_an_edit_of_the_constants_file_removes_the_kernels_reading_it(package):
    with (package / "data" / "constants.toml").open("a") as f:
        f.write("\n# edited\n")
    assert _refresh_all(package) == {"mcsim.physics.monophoton", "mcsim.models.relic"}


def test_a_missing_or_foreign_stamp_removes_the_module_cache(package):
    stamp = _folder(package, "mcsim.physics.xoshiro") / "xoshiro.sources.sha256"
    stamp.unlink()
    assert _refresh_all(package) == {"mcsim.physics.xoshiro"}
    stamp.write_text("0" * 64 + "\nphysics/xoshiro.py")
    (_folder(package, "mcsim.physics.xoshiro") / "xoshiro.kernel-10.py311.nbi").write_bytes(b"")
    assert refresh("mcsim.physics.xoshiro", package)


def test_dependencies_are_the_module_level_imports_within_the_package(tmp_path):
    """Relative and absolute imports at module level count, transitively; imports inside
    functions or for type checking only do not (they cannot give a kernel a callee)."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "data").mkdir()
    for name, text in {
        "__init__.py": "",
        "sub/__init__.py": "",
        "sub/a.py": "from . import b\nfrom ..c import f\nimport numpy\n",
        "sub/b.py": "import pkg.d\n",
        "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.e\n",
        "d.py": "def g():\n    import pkg.e\nT = 'x.toml'\n",
        "e.py": "",
        "data/x.toml": "",
        "data/y.toml": "",
    }.items():
        (pkg / name).write_text(text)
    found = [p.relative_to(pkg).as_posix() for p in dependencies("pkg.sub.a", pkg)]
    assert found == ["c.py", "d.py", "data/x.toml", "sub/__init__.py", "sub/a.py", "sub/b.py"]


def test_every_kernel_goes_through_the_checked_decorator():
    """No module but jit_cache asks numba for a cached kernel itself: every one is defined with
    jit_cache.kernel, which checks its module's cache first."""
    using = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name == "jit_cache.py":
            continue
        text = path.read_text()
        assert "cache=True" not in text, path
        if "@kernel(" in text:
            using.add(".".join(("mcsim", *path.relative_to(PACKAGE).with_suffix("").parts)))
    assert using == set(KERNEL_MODULES)


def _twice(x):
    return 2 * x


def test_the_decorator_checks_the_module_before_compiling(monkeypatch):
    """jit_cache.kernel refreshes the defining module's cache and returns a cached dispatcher
    with the options given (not called here: nothing is compiled into the tests' folder)."""
    seen = []
    monkeypatch.setattr(jit_cache, "ensure_fresh", seen.append)
    compiled = jit_cache.kernel(inline="always")(_twice)
    assert seen == [__name__]
    assert compiled.targetoptions["inline"] == "always"
    assert type(compiled._cache).__name__ == "FunctionCache"  # cache=True


def test_the_installed_kernel_modules_are_stamped():
    import mcsim.weights  # noqa: F401

    for module in ("mcsim.physics.xoshiro", "mcsim.detector.propagate", "mcsim.weights"):
        stem = _source(PACKAGE, module).stem
        assert jit_cache._is_current(_folder(PACKAGE, module) / f"{stem}.sources.sha256", PACKAGE)


def test_kernels_cached_looks_for_a_current_propagator(tmp_path, monkeypatch):
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    folder = _folder(PACKAGE, "mcsim.detector.propagate")
    assert folder.is_relative_to(tmp_path)
    assert not jit_cache.kernels_cached()
    (folder / "propagate.propagate_kernel-156.py311.nbi").write_bytes(b"")
    assert not jit_cache.kernels_cached()  # no stamp: the file would be removed
    refresh("mcsim.detector.propagate")
    (folder / "propagate.propagate_kernel-156.py311.nbi").write_bytes(b"")
    assert jit_cache.kernels_cached()
    (folder / "propagate.sources.sha256").write_text("0" * 64 + "\ndetector/propagate.py")
    assert not jit_cache.kernels_cached()


def test_import_mcsim_loads_nothing_heavy_and_touches_no_cache():
    """`import mcsim` imports neither numba nor the I/O stack and does not run the cache check
    (which may delete stale kernels); the public names load on first use."""
    import subprocess
    import sys

    code = (
        "import sys, mcsim; heavy = [m for m in ('numba', 'awkward', 'uproot', 'vector', "
        "'scipy', 'matplotlib', 'mcsim.runtime.jit_cache') if m in sys.modules]; print(heavy); "
        "print(mcsim.DarkDipole.__name__, 'mcsim.models.dipoles' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "DarkDipole True"


def test_the_compile_notice_is_for_the_simulating_commands():
    """The compile notice (about a minute) is printed for generate, reach, figure and
    validate-cone, not for info or cutflow, which compile a few kernels at most."""
    import click

    from mcsim.runtime import jit_cache

    assert not jit_cache._simulating()  # no command running
    cases = (("generate", True), ("figure", True), ("info", False), ("cutflow", False))
    for name, expected in cases:
        with click.Context(click.Command(name), info_name=name):
            assert jit_cache._simulating() is expected


def test_trimmed_numba_startup_skips_extensions_and_the_blas_import_yet_dot_still_compiles():
    """In mcsim's own processes numba loads neither its extensions (awkward's, vector's) nor
    scipy.linalg for its BLAS probe when a kernel runs; np.dot and np.correlate in a kernel
    compiled afterwards still give numpy's answers (np.dot imports scipy's BLAS then).  Without
    the trim, the same kernel call imports all three (the test that the check can fail)."""
    import json
    import subprocess
    import sys

    code = """
import json, sys
import numpy as np
from mcsim.runtime import jit_cache
if sys.argv[1] == "trim":
    jit_cache.trim_numba_startup()
from mcsim.detector.propagate import decay_probability
decay_probability(np.array([[0.0, 1.0]]), np.array([1.0]), 1.0)  # numba's registries load
loaded = [m for m in ("awkward", "vector", "scipy.linalg") if m in sys.modules]
import numba
a, b = np.arange(1.0, 6.0), np.array([2.0, -1.0, 0.5])
dot = numba.njit(lambda x: np.dot(x, x))(a)
corr = numba.njit(lambda x, y: np.correlate(x, y))(a, b)
ok = dot == np.dot(a, a) and np.allclose(corr, np.correlate(a, b))
print(json.dumps([loaded, bool(ok)]))
"""
    runs = {
        mode: json.loads(
            subprocess.run(
                [sys.executable, "-c", code, mode], capture_output=True, text=True, check=True
            ).stdout.splitlines()[-1]
        )
        for mode in ("trim", "plain")
    }
    assert runs["trim"] == [[], True]
    assert runs["plain"] == [["awkward", "vector", "scipy.linalg"], True]


def test_the_command_runs_numpy_with_one_blas_thread_unless_asked_otherwise(tmp_path):
    """The `mcsim` command (a program of that name) sets OPENBLAS_NUM_THREADS and its siblings
    to 1 before numpy loads, keeps a value the user set, and a program that merely imports mcsim
    gets no setting (the check can fail)."""
    import os
    import subprocess
    import sys

    code = "import os, mcsim; print(os.environ.get('OPENBLAS_NUM_THREADS'))"
    for name in ("mcsim", "not-mcsim"):
        (tmp_path / name).write_text(code)
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}

    def threads(name: str, **extra: str) -> str:
        run = subprocess.run(
            [sys.executable, str(tmp_path / name)],
            capture_output=True,
            text=True,
            check=True,
            env={**env, **extra},
        )
        return run.stdout.strip()

    assert threads("mcsim") == "1"
    assert threads("mcsim", OPENBLAS_NUM_THREADS="3") == "3"
    assert threads("not-mcsim") == "None"
