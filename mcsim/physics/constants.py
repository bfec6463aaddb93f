"""Physical constants and the meson inputs of the paper's Appendix A.

SM masses and widths come from `particle` (see :mod:`mcsim.physics.particles`); the decay constants and
CKM elements live in ``mcsim/data/constants.toml``.  Units: GeV, metres.
"""

from __future__ import annotations

import math
import tomllib
from importlib import resources

from hepunits import GeV, m
from hepunits.constants import hbarc as _hbarc

__all__ = ["ALPHA", "E_CHARGE_SQ", "G_F", "HBARC_GEV_M", "INPUTS"]

#: fine-structure constant at q^2 = 0 (CODATA 2022, the value of scipy.constants.fine_structure;
#: a literal here: importing scipy.constants costs every command 0.3 s)
ALPHA: float = 7.2973525643e-3
E_CHARGE_SQ: float = 4.0 * math.pi * ALPHA  #: e^2 in natural units
HBARC_GEV_M: float = _hbarc / (GeV * m)  #: hbar c [GeV m]


def _load() -> dict:
    text = resources.files("mcsim.data").joinpath("constants.toml").read_text()
    raw = tomllib.loads(text)
    for table in ("pseudoscalar_two_photon", "vector_mesons", "charged_pseudoscalars"):
        raw[table] = {int(k): v for k, v in raw[table].items()}
    return raw


INPUTS: dict = _load()
G_F: float = INPUTS["G_F"]
