"""SM particle properties from the `particle` package, in GeV.

Loading the package's table takes 0.15 s, in every mcsim process; the masses and widths looked
up are therefore kept in a cache file per version of `particle` (:mod:`mcsim.runtime.user_cache`) and
read from there by later runs -- the same numbers, not typed in by hand."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version

from mcsim.runtime import user_cache

__all__ = ["LEPTON_PDGID", "MESON_NAMES", "SMParticle", "pdgid_of", "sm"]

#: The mesons of the paper (Table 1, Sec. 4.1) and the excited quarkonia psi(2S), Upsilon(2S, 3S)
#: by short name -> PDG ID.
MESON_NAMES: dict[str, int] = {
    "pi0": 111,
    "eta": 221,
    "etap": 331,
    "rho": 113,
    "omega": 223,
    "phi": 333,
    "jpsi": 443,
    "upsilon": 553,
    "psi2S": 100443,
    "upsilon2S": 100553,
    "upsilon3S": 200553,
    "K+": 321,
    "K-": -321,
    "D+": 411,
    "D-": -411,
    "Ds+": 431,
    "Ds-": -431,
    "B+": 521,
    "B-": -521,
}

#: Charged-lepton PDG ID (l-) by flavour.
LEPTON_PDGID: dict[str, int] = {"e": 11, "mu": 13, "tau": 15}


@dataclass(frozen=True)
class SMParticle:
    """Mass and total width [GeV] of an SM particle."""

    pdgid: int
    name: str
    mass: float
    width: float


_TABLE_LOCK = threading.Lock()  # the particle package loads its table lazily, not thread-safe


@cache
def sm(pdgid: int) -> SMParticle:
    """Look up an SM particle by PDG ID (masses and widths converted MeV -> GeV); safe in
    threads (a Dask cluster of threads)."""
    path = user_cache.cache_path(f"particles-{version('particle')}.json")
    known = user_cache.read(path)
    key = str(int(pdgid))
    entry = known.get(key)
    if not (isinstance(entry, list) and len(entry) == 3):  # not cached (or a damaged file)
        from particle import Particle  # 0.03 s of imports, only for a value not cached

        with _TABLE_LOCK:
            p = Particle.from_pdgid(int(pdgid))
        assert p.mass is not None, f"PDG ID {pdgid} has no mass in the particle table"
        width = p.width if p.width is not None else 0.0
        entry = known[key] = [p.name, p.mass * 1e-3, width * 1e-3]
        user_cache.store(path, known)
    name, mass, width = entry
    return SMParticle(int(pdgid), str(name), float(mass), float(width))


def pdgid_of(name: str) -> int:
    """PDG ID of a meson given by short name ('pi0', 'jpsi', 'Ds+', ...) or by PDG ID string."""
    if name in MESON_NAMES:
        return MESON_NAMES[name]
    try:
        return int(name)
    except ValueError:
        raise ValueError(
            f"unknown meson {name!r}: use one of {', '.join(MESON_NAMES)} or a PDG ID"
        ) from None
