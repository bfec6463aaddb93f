"""mcsim: event-level Monte Carlo for long-lived dark states seen through a single photon.

Units of the public API: GeV (masses, energies), GeV^-1 (dipole coefficient d), metres.

``import mcsim`` loads nothing heavy and changes nothing: the names below are imported on first
use (numba, awkward and uproot only then), and each kernel module's numba cache is checked when
that module is imported (:mod:`mcsim.runtime.jit_cache`).
"""

from __future__ import annotations

import os
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec

from mcsim.runtime.defaults import BLAS_THREAD_VARIABLES
from mcsim.runtime.signals import guard_startup, is_command

if is_command():  # the `mcsim` command itself, before numpy is imported:
    guard_startup()  # a signal while importing ends it quietly
    # one BLAS thread unless the user asks for more: ~0.3 s less CPU in a one-curve reach scan
    os.environ.update({k: os.environ.get(k, "1") for k in BLAS_THREAD_VARIABLES})

try:
    __version__ = version("mcsim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

#: Modules whose public names (their ``__all__``) are mcsim's too: the built-in models
#: (:mod:`mcsim.models.dipoles`) and the event readers (``mcsim.read``, ``mcsim.iterate``), imported on
#: first access.
_PUBLIC_MODULES = (".models.dipoles", ".io.events")

__all__ = ["__version__"]


def __getattr__(name: str):
    # a submodule (``from mcsim import spectra``) is the import system's business, not ours
    if not name.startswith("_") and find_spec(f"{__name__}.{name}") is None:
        for module_name in _PUBLIC_MODULES:
            module = import_module(module_name, __name__)
            if name in module.__all__:
                value = getattr(module, name)
                globals()[name] = value
                return value
    raise AttributeError(f"module 'mcsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    public = [n for m in _PUBLIC_MODULES for n in import_module(m, __name__).__all__]
    return sorted([*globals(), *public])
