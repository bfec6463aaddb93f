"""The names and defaults the command line offers before anything is computed.

Light to import (the standard library only), so that ``mcsim CMD --help`` and a bad option
answer at once; the modules that use these names import them from here.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "BEAMS",
    "BLAS_THREAD_VARIABLES",
    "BLOCK_SIZE",
    "DISCOVERY_LEVEL",
    "FIRST_PASS_EVENTS",
    "FORMATS",
    "KEEP",
    "MODES",
    "REFINE_BUDGET",
    "SAMPLINGS",
    "SCAN_SAMPLING",
    "SIMULATING",
    "TABLES_ENV",
    "UNREFINED_EVENTS_FACTOR",
    "user_tables_directory",
]

#: The environment variables that set the thread count of numpy's BLAS (OpenBLAS, MKL, OpenMP):
#: 1 in mcsim's processes, which multiply no large matrices (an idle pool of BLAS threads spins
#: at numpy's import and in every forked process).
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

#: Beam name -> description (beam energy in GeV, target at rest unless stated): the spectrum
#: tables there are and the beams a detector card may name.
BEAMS: dict[str, str] = {
    "sps400": "SPS 400 GeV protons on a fixed target (NA62, HIKE, SHiP, BEBC)",
    "sps450": "SPS 450 GeV protons on a fixed target (CHARM-II)",
    "u70": "70 GeV protons on a fixed target (NuCal)",
    "lhc14": "LHC pp collisions at sqrt(s) = 14 TeV (FASER 2)",
}

#: Geometry of the propagation: the full 3-D decay volume ('full') or the paper's cone ('cone').
MODES = ("full", "cone")

#: How the production decay orients the long-lived particle: isotropically in the meson's rest
#: frame ('plain'), or pointed into the detector's angular window, its photon drawn inside the
#: energy window, with the exact importance weights ('directed', :mod:`mcsim.physics.directed`).
SAMPLINGS = ("plain", "directed")

#: Events per random-number block: block b of a channel's events draws from its own streams
#: (:func:`mcsim.sources.base.block_rngs`), so a sample's events depend on the seed alone -- not on how
#: they are cut into chunks, tasks or workers.
BLOCK_SIZE = 16_384

#: What ``write_events`` keeps in the events tree (see :mod:`mcsim.generation.write`).
KEEP = ("selected", "crossing", "all")

#: Output formats of ``write_events`` and the file suffixes that select them.
FORMATS = {"root": (".root",), "hepmc3": (".hepmc3", ".hepmc")}

#: Default sampling of the reach scans: directed events all reach the detector with a photon
#: in the energy window, so a small first pass finds the contours, also in the spectra's tails.
SCAN_SAMPLING = "directed"

#: Default first pass of a scan, events per mass and channel (an eighth of a random-number
#: block): it locates the contours; the refinement then spends events where they are decided.
FIRST_PASS_EVENTS = BLOCK_SIZE // 8

#: Events the refinement of a scan may add, as a multiple of the first pass's (first pass and
#: refinement then hold at most 15 x 2048 events per mass and channel on average, about the
#: 8 x 4096 of the defaults before): with 2048 directed events first, 1 of Figure 2's 765
#: contour pieces stays above 5% (times and the alternatives: docs/performance.md).
REFINE_BUDGET = 14.0

#: Sources without a fused scan kernel (e+ e-: BaBar) are not refined: their scan tasks run
#: this many times the first pass's events (8 x 2048: 0.2-1% Monte Carlo error at BaBar's
#: N = 10 line).
UNREFINED_EVENTS_FACTOR = 8

#: Expected signal events required for a sensitivity contour (paper Sec. 4.3).
DISCOVERY_LEVEL = 3.0

#: The sub-commands that run the simulation (their first run compiles the kernels: about a
#: minute, which mcsim announces at a terminal).
SIMULATING = ("generate", "reach", "figure", "validate-cone")

#: Environment variable naming a directory of spectrum tables used before the shipped ones.
TABLES_ENV = "MCSIM_TABLES"


def user_tables_directory() -> Path:
    """Where ``mcsim spectra generate`` writes by default: ``$XDG_DATA_HOME/mcsim/tables``
    (``~/.local/share/mcsim/tables`` if XDG_DATA_HOME is unset)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "mcsim" / "tables"
