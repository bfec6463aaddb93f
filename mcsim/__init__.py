"""mcsim: event-level Monte Carlo for long-lived dark states seen through a single photon.

Units of the public API: GeV (masses, energies), GeV^-1 (dipole coefficient d), metres.

``import mcsim`` loads nothing heavy and changes nothing: the names below are imported on first
use (numba, awkward and uproot only then), and the numba cache is checked when the first kernel
module is imported (:mod:`mcsim.jit_cache`).
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

from .signals import guard_startup

guard_startup()  # only in the `mcsim` command: a signal while importing ends it quietly

try:
    __version__ = version("mcsim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

#: Public name -> the module that defines it (imported on first access).
_LAZY = {
    "DarkDipole": ".models",
    "NeutrinoDipole": ".models",
    "model_from_options": ".models",
    "read": ".events",
    "iterate": ".events",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mcsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
