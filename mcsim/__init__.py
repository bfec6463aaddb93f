"""mcsim: event-level Monte Carlo for long-lived dark states seen through a single photon.

Units of the public API: GeV (masses, energies), GeV^-1 (dipole coefficient d), metres.
"""

from __future__ import annotations

from .signals import guard_startup

guard_startup()  # the `mcsim` command: a signal while importing ends it quietly

from importlib.metadata import PackageNotFoundError, version  # noqa: E402

from .jit_cache import refresh_package_cache  # noqa: E402

refresh_package_cache()  # before any kernel loads its cache: see mcsim/jit_cache.py

from .events import iterate, read  # noqa: E402
from .models import DarkDipole, NeutrinoDipole, model_from_options  # noqa: E402

try:
    __version__ = version("mcsim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["DarkDipole", "NeutrinoDipole", "model_from_options", "read", "iterate",
           "__version__"]
