"""keep_freed_memory: a chunk of freed arrays is reused by the next chunk without page faults
(run in a subprocess: the setting is process-wide)."""

import platform
import subprocess
import sys

import pytest

SCRIPT = """
import resource, sys
import numpy as np
from mcsim.runtime.memory import keep_freed_memory

applied = keep_freed_memory() if sys.argv[1] == "keep" else None
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def chunk():  # like one chunk of the chain: ten 8 MB per-event arrays, freed at the end
    arrays = [np.ones(1_000_000) for _ in range(10)]
for _ in range(2):
    chunk()
before = faults()
for _ in range(5):
    chunk()
print(applied, faults() - before)
"""


def _faults(setting: str) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, setting], capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.slow
@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc malloc only")
def test_freed_chunks_are_reused_without_page_faults():
    applied, kept = _faults("keep")
    assert applied == "True"
    _, default = _faults("default")
    # 5 chunks x 80 MB = 1e5 pages faulted in afresh by default (fewer with huge pages)
    assert kept < 100 < default
