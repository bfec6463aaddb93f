"""The numba cache is cleared when any mcsim source changes (numba itself only notices changes
in the file defining a kernel, not in functions it inlines from other files)."""

from pathlib import Path

import mcsim
from mcsim.runtime.jit_cache import refresh, sources_hash


def _package(tmp_path: Path) -> tuple[Path, Path]:
    pkg = tmp_path / "pkg"
    cache = pkg / "__pycache__"
    cache.mkdir(parents=True)
    (pkg / "kinematics.py").write_text("def boost(): return 1\n")
    (pkg / "propagate.py").write_text("from .kinematics import boost\n")
    for name in (
        "propagate.kernel-10.py311.nbi",
        "propagate.kernel-10.py311.1.nbc",
        "kinematics.boost-1.py311.nbi",
        "other.f-1.py311.nbi",
        "propagate.cpython-311.pyc",
    ):
        (cache / name).write_bytes(b"x")
    return pkg, cache


def test_a_changed_source_removes_the_package_kernels(tmp_path):
    pkg, cache = _package(tmp_path)
    assert refresh(cache, pkg)  # no stamp yet: the cache cannot be trusted
    left = sorted(p.name for p in cache.iterdir() if not p.name.startswith("mcsim-sources"))
    assert left == ["other.f-1.py311.nbi", "propagate.cpython-311.pyc"]
    for name in ("propagate.kernel-10.py311.nbi", "kinematics.boost-1.py311.nbi"):
        (cache / name).write_bytes(b"x")  # recompiled
    assert not refresh(cache, pkg)  # unchanged sources: the cache is kept
    assert (cache / "propagate.kernel-10.py311.nbi").exists()
    (pkg / "kinematics.py").write_text("def boost(): return 2\n")  # only the inlined helper
    assert refresh(cache, pkg)
    assert not (cache / "propagate.kernel-10.py311.nbi").exists()


def test_data_files_count_and_the_stamp_matches_the_installed_package(tmp_path):
    pkg, _ = _package(tmp_path)
    (pkg / "data").mkdir()
    (pkg / "data" / "constants.toml").write_text("a = 1\n")
    before = sources_hash(pkg)
    (pkg / "data" / "constants.toml").write_text("a = 2\n")
    assert sources_hash(pkg) != before
    package_dir = Path(mcsim.__file__).parent
    stamp = package_dir / "__pycache__" / "mcsim-sources.sha256"
    if stamp.exists():  # default cache location (not NUMBA_CACHE_DIR)
        assert stamp.read_text().strip() == sources_hash(package_dir)


def test_kernels_cached_looks_for_the_propagator(tmp_path, monkeypatch):
    from mcsim.runtime import jit_cache

    monkeypatch.setattr(jit_cache, "_cache_dir", lambda: tmp_path)
    assert not jit_cache.kernels_cached()
    (tmp_path / "propagate.propagate_kernel-156.py311.nbi").write_bytes(b"")
    assert jit_cache.kernels_cached()
    monkeypatch.setattr(jit_cache, "_cache_dir", lambda: None)
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
from mcsim import jit_cache
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
