"""HepMC3 output (ASCII, through ``pyhepmc``) for detector simulations such as Geant4.

One GenEvent per kept event, in GeV and mm, the beam along +z and the target at the origin::

  meson (status 2, from the target) --vertex at (0, 0, 0, 0)--> LLP (status 2), invisible
      partner (status 1; none in P+ -> l+ N gamma), prompt photon and charged lepton (status 1)
      where the channel has them
  LLP --decay vertex (x, y, z, c*t) [mm]--> photon (status 1), invisible daughter (status 1)

with c*t = s / beta the LLP's flight time from the target (s its path length).  PDG IDs: the
signed meson of the file, and the model's own particles (its ``particles``, recorded in the
file's metadata; the dipoles' are in :mod:`mcsim.models.dipoles`), conjugated in antiparticle
events.  Codes above 9000000 are not known to Geant4: treat them as invisible, e.g. as
geantinos.

Event weights (named in the run info): ``weight`` (expected signal events at the generated d:
the default weight), ``w_norm`` (N_M x BR / N_generated x w_sampling), the importance weights
``w_sampling`` and ``w_photon`` of directed sampling, ``p_decay_volume`` and
``p_decay_accepted`` (decay probabilities).  The run info names mcsim as the tool and holds the
model point, detector and exposure as attributes; each event has the attributes ``channel`` and
``selected``.  Files are written under a temporary ``.part`` name and renamed when complete, as
the ROOT files are (:mod:`mcsim.io.partfiles`: the ``.part`` file of a writer killed outright is
removed by the next writer; on any failure, a close that fails on a full disk included, the
``.part`` file is removed before the close is attempted).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from mcsim import __version__
from mcsim.io import partfiles
from mcsim.io.rootio import check_output
from mcsim.models.registry import SELF_CONJUGATE

__all__ = ["WEIGHT_NAMES", "HepMCWriter", "pdg_codes"]

#: Names of the event weights, the default (total) weight first.
WEIGHT_NAMES = (
    "weight",
    "w_norm",
    "w_sampling",
    "w_photon",
    "p_decay_volume",
    "p_decay_accepted",
)
_M_TO_MM = 1000.0
#: The event arrays of the LLP's decay products, in the order of Particles.decay.
_DECAY_ARRAYS = ("p4_decay_invisible", "p4_photon")


def pdg_codes(particles: dict, mother_pdgid: np.ndarray, is_antiparticle: np.ndarray) -> dict:
    """Signed PDG IDs per event of the LLP, the production partner, the LLP's decay products
    and the charged lepton, from the model's particles (``particles``: a file's metadata entry,
    :class:`mcsim.models.registry.Particles`): an antiparticle event conjugates every code, and
    the lepton of P+ -> l+ LLP gamma is l+ (a negative PDG ID) from a positive meson."""
    flip = np.where(is_antiparticle, -1, 1)

    def signed(pid: int) -> np.ndarray:
        return pid * (np.ones_like(flip) if pid in SELF_CONJUGATE else flip)

    return {
        "llp": signed(particles["llp"]),
        "invisible": signed(particles["partner"]),
        "decay": [signed(pid) for pid in particles["decay"]],
        "lepton": -np.sign(mother_pdgid) * particles["lepton"],
    }


def _four(p) -> object:
    import pyhepmc  # pyhepmc: only for HepMC3 output

    return pyhepmc.FourVector(float(p[1]), float(p[2]), float(p[3]), float(p[0]))


def _run_info(meta: dict):
    import pyhepmc  # pyhepmc: only for HepMC3 output

    info = pyhepmc.GenRunInfo()
    info.tools = [
        pyhepmc.GenRunInfo.ToolInfo(
            "mcsim", __version__, "long-lived dark states seen through one photon"
        )
    ]
    info.weight_names = list(WEIGHT_NAMES)
    attrs = {
        "model": meta["model"]["model"],
        "detector": meta["detector"],
        "mode": meta["mode"],
        "seed": int(meta["seed"]),
        "n_generated": int(meta["n_events"]),
        "keep": meta["keep"],
        "d_inv_gev": float(meta["d"]),
        "ctau_m": float(meta["ctau"]),
        "llp_mass_gev": float(meta["llp_mass"]),
        "invisible_mass_gev": float(meta["invisible_mass"]),
        "threshold_gev": float(meta["threshold"]),
        "n_collisions": float(meta["n_collisions"]),
        "channels": "; ".join(meta["channels"]),
    }
    for key, value in meta["model"].items():
        if key not in ("model", "d"):
            attrs[key] = value if isinstance(value, str) else float(value)
    for key, value in attrs.items():
        info.attributes[key] = value
    return info


class HepMCWriter:
    """Context manager writing kept events to a HepMC3 ASCII file, with the interface of
    :class:`mcsim.io.rootio.NtupleWriter` (``extend``, ``extend_crossing``, ``finish``).  The run
    info needs the run's metadata up front: ``meta`` (as :func:`mcsim.generation.write.write_events` writes
    it; counts and yields may be missing)."""

    def __init__(self, path: str | Path, meta: dict, *, overwrite: bool = False):
        self.path = check_output(path, overwrite=overwrite)
        self.overwrite = overwrite
        self.meta = meta
        self.n_written = 0
        self._tmp: Path | None = None
        self._raw: Any = None  # the .part file, opened by us; set on __enter__
        self._file: Any = None  # pyhepmc's writer (untyped) on it; set on __enter__
        self._run_info = None
        self._finished = False

    def __enter__(self) -> HepMCWriter:
        import pyhepmc  # pyhepmc: only for HepMC3 output

        try:
            self._tmp = partfiles.create(self.path)
        except OSError as err:
            raise PermissionError(f"cannot write {self.path}: {err.strerror}") from None
        try:
            self._run_info = _run_info(self.meta)
            # the file object is ours, so that it is closed (its descriptor released) even when
            # pyhepmc's close fails half-way
            self._raw = open(self._tmp, "wb")
            self._file = pyhepmc.open(self._raw, "w", format="HepMC3")
        except BaseException:
            self._discard()
            raise
        return self

    def extend(self, arrays: dict[str, np.ndarray], events) -> None:
        """Write one chunk of per-event arrays (names of :data:`mcsim.io.schema.ARRAYS`) with their
        event numbers."""
        import pyhepmc  # pyhepmc: only for HepMC3 output

        codes = pdg_codes(self.meta["particles"], arrays["mother_pdgid"], arrays["is_antiparticle"])
        weights = np.column_stack([arrays[name] for name in WEIGHT_NAMES])
        for i, number in enumerate(np.asarray(events)):
            event = pyhepmc.GenEvent(pyhepmc.Units.GEV, pyhepmc.Units.MM)
            event.run_info = self._run_info
            event.event_number = int(number)
            meson = pyhepmc.GenParticle(
                _four(arrays["p4_meson"][i]), int(arrays["mother_pdgid"][i]), 2
            )
            production = pyhepmc.GenVertex(pyhepmc.FourVector(0.0, 0.0, 0.0, 0.0))
            production.add_particle_in(meson)
            llp_p4 = arrays["p4_llp"][i]
            llp = pyhepmc.GenParticle(_four(llp_p4), int(codes["llp"][i]), 2)
            production.add_particle_out(llp)
            for key, pid in (
                ("p4_invisible", codes["invisible"][i]),
                ("p4_prompt_photon", 22),
                ("p4_lepton", codes["lepton"][i]),
            ):
                p4 = arrays[key][i]
                if p4[0] > 0.0:
                    production.add_particle_out(pyhepmc.GenParticle(_four(p4), int(pid), 1))
            x, y, z = arrays["vertex"][i] * _M_TO_MM
            beta = math.sqrt(llp_p4[1] ** 2 + llp_p4[2] ** 2 + llp_p4[3] ** 2) / llp_p4[0]
            decay = pyhepmc.GenVertex(
                pyhepmc.FourVector(x, y, z, math.sqrt(x * x + y * y + z * z) / beta)
            )
            decay.add_particle_in(llp)
            for key, pids in zip(_DECAY_ARRAYS, codes["decay"]):
                decay.add_particle_out(pyhepmc.GenParticle(_four(arrays[key][i]), int(pids[i]), 1))
            event.add_vertex(production)
            event.add_vertex(decay)
            event.weights = weights[i].tolist()
            event.attributes["channel"] = int(arrays["channel"][i])
            event.attributes["selected"] = int(
                bool(arrays["above_threshold"][i] and arrays["photon_hits_calo"][i])
            )
            self._file.write(event)
        self.n_written += len(events)

    def extend_crossing(self, arrays: dict, events) -> None:
        """Nothing: a HepMC file holds the kept events only (use the ROOT file for cutflows
        before the selection)."""

    def finish(self, metadata: dict, histograms: dict | None = None) -> None:
        """Check the count; the run info was written with the first event."""
        if metadata["n_kept"] != self.n_written:
            raise ValueError(
                f"metadata says {metadata['n_kept']} events kept, {self.n_written} were written"
            )
        self._finished = True

    def _close(self) -> None:
        """Close pyhepmc's writer (the footer; flushes into our file), then our file (flushes
        to disk): both are closed whatever fails; the first error is raised."""
        file, raw, self._file, self._raw = self._file, self._raw, None, None
        try:
            if file is not None:
                file.close()
        finally:
            if raw is not None:
                raw.close()

    def _discard(self) -> None:
        """Remove the ``.part`` file first, then close (a close that fails on a full disk
        must not leave the file behind); errors of the close are dropped."""
        tmp, self._tmp = self._tmp, None
        try:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        finally:
            try:
                self._close()
            except OSError:
                pass  # e.g. ENOSPC while flushing: the file is gone anyway

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or not self._finished:
            self._discard()
            if exc_type is None:
                raise RuntimeError(f"{self.path}: HepMCWriter closed without finish()")
            return
        try:
            self._close()
        except BaseException:
            self._discard()
            raise
        tmp, self._tmp = self._tmp, None
        assert tmp is not None  # created on __enter__
        partfiles.commit(tmp, self.path, overwrite=self.overwrite)
