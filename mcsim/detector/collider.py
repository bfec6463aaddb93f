"""e+ e- collider detectors (BaBar) read from a card with a [collider] table: beams and
luminosity, the detector volume around the interaction point, the calorimeter's polar-angle
acceptance and the photon selection.  The events come from :mod:`mcsim.sources.collider`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mcsim.detector.geometry import CYLINDER, Calorimeter

if TYPE_CHECKING:
    from typing_extensions import TypeIs  # typing.TypeIs from Python 3.13 on

__all__ = [
    "COLLIDER_BEAM",
    "COLLISION_KEY",
    "ColliderDetector",
    "DetectorCylinder",
    "build_collider",
    "is_collider",
]

#: The ``beam`` of a collider card (groups its scan tasks apart from the meson beams).
COLLIDER_BEAM = "e+e-"


#: mother_pdgid and channel key of collider events.
COLLISION_KEY = 0


@dataclass(frozen=True)
class DetectorCylinder:
    """The detector volume around the interaction point (the origin): a cylinder on the beam
    axis of radius [m] from z_start < 0 to z_end > 0 [m] (the propagator's cylinder kernel;
    :class:`mcsim.detector.geometry.Cylinder` itself starts at z >= 0)."""

    z_start: float
    z_end: float
    radius: float

    code = CYLINDER

    @property
    def params(self) -> np.ndarray:
        return np.array([self.z_start, self.z_end, self.radius])


@dataclass(frozen=True)
class ColliderDetector:
    """An e+ e- experiment read from a card with a [collider] table (energies in GeV, lengths in
    m; the selection energies are CM-frame, the photon acceptance is on the lab polar angle)."""

    name: str
    description: str
    card_path: str
    card_text: str
    electron_energy: float
    positron_energy: float
    luminosity_inv_fb: float
    decay_volume: DetectorCylinder
    cos_theta_min: float
    cos_theta_max: float
    leading_energy_min: float
    subleading_energy_min: float
    missing_energy_min: float
    efficiency: float
    sensitivity_events: float

    beam = COLLIDER_BEAM
    observed_events = None
    n_pot = None
    sigma_inel_mb = None
    photon_energy_max = math.inf

    @property
    def sqrt_s(self) -> float:
        """CM energy [GeV] of head-on beams."""
        return 2.0 * math.sqrt(self.electron_energy * self.positron_energy)

    @property
    def beta(self) -> float:
        """Velocity of the CM frame in the lab (along +z, the e- direction)."""
        return (self.electron_energy - self.positron_energy) / (
            self.electron_energy + self.positron_energy
        )

    @property
    def photon_energy_min(self) -> float:
        """The leading-photon cut [GeV] (the 'threshold' of run metadata)."""
        return self.leading_energy_min

    @property
    def luminosity_inv_ab(self) -> float:
        return self.luminosity_inv_fb * 1e-3

    @property
    def n_collisions(self) -> float:
        """Integrated luminosity [fb^-1]: the normalisation per fb of cross section."""
        return self.luminosity_inv_fb

    @property
    def calorimeter(self) -> Calorimeter:
        """The plane z = z_end of the volume's forward end (photon impacts of control plots)."""
        v = self.decay_volume
        return Calorimeter(z_face=v.z_end, shape="disc", radius=v.radius)


def is_collider(detector: object) -> TypeIs[ColliderDetector]:
    """Whether ``detector`` is a collider card (a :class:`ColliderDetector`)."""
    return isinstance(detector, ColliderDetector)


_COLLIDER_KEYS = (
    "electron_energy_GeV",
    "positron_energy_GeV",
    "luminosity_inv_fb",
    "sensitivity_events",
)


_VOLUME_KEYS = ("shape", "z_start_m", "z_end_m", "radius_m")


_CALO_KEYS = ("cos_theta_min", "cos_theta_max")


_SELECTION_KEYS = (
    "leading_photon_energy_min_GeV",
    "subleading_photon_energy_min_GeV",
    "missing_energy_min_GeV",
    "efficiency",
)


_TABLES = {
    "collider": _COLLIDER_KEYS,
    "decay_volume": _VOLUME_KEYS,
    "calorimeter": _CALO_KEYS,
    "selection": _SELECTION_KEYS,
}


def build_collider(card, name: str, path: str, text: str) -> ColliderDetector:
    """The :class:`ColliderDetector` of a card holding a [collider] table; ``card`` is the
    checker of :mod:`mcsim.detector.cards` (its errors name the card and the key).

    Layout: [collider] electron_energy_GeV, positron_energy_GeV, luminosity_inv_fb,
    sensitivity_events; [decay_volume] shape = "cylinder", z_start_m < 0 < z_end_m, radius_m;
    [calorimeter] cos_theta_min, cos_theta_max (lab polar-angle acceptance); [selection]
    leading_photon_energy_min_GeV, subleading_photon_energy_min_GeV, missing_energy_min_GeV
    (CM frame), efficiency (default 1)."""
    top = ("name", "description", "default_configuration")
    for key in card.data:
        if key not in top and key not in _TABLES:
            raise card.error(
                key, f"unknown key; a collider card holds {', '.join([*top, *_TABLES])}"
            )
    t = {section: card.table(section, keys) for section, keys in _TABLES.items()}
    col = t["collider"]
    e_minus = card.positive("collider", col, "electron_energy_GeV")
    e_plus = card.positive("collider", col, "positron_energy_GeV")
    lumi = card.positive("collider", col, "luminosity_inv_fb")
    level = card.positive("collider", col, "sensitivity_events")
    vol = t["decay_volume"]
    shape = card.value("decay_volume", vol, "shape", "string", required=True)
    if shape != "cylinder":
        raise card.error(
            "decay_volume.shape",
            f"a collider volume is a 'cylinder' around the interaction point, got {shape!r}",
        )
    z_start = card.value("decay_volume", vol, "z_start_m", "number", required=True)
    z_end = card.positive("decay_volume", vol, "z_end_m")
    if not z_start < 0.0:
        raise card.error(
            "decay_volume.z_start_m",
            f"must be < 0 (the interaction point is inside the volume), got {z_start!r}",
        )
    radius = card.positive("decay_volume", vol, "radius_m")
    calo = t["calorimeter"]
    c_lo = card.value("calorimeter", calo, "cos_theta_min", "number", required=True)
    c_hi = card.value("calorimeter", calo, "cos_theta_max", "number", required=True)
    if not -1.0 < c_lo < c_hi < 1.0:
        raise card.error(
            "calorimeter.cos_theta_max",
            f"need -1 < cos_theta_min < cos_theta_max < 1, got {c_lo}, {c_hi}",
        )
    sel = t["selection"]
    lead = card.positive("selection", sel, "leading_photon_energy_min_GeV")
    sub = card.positive("selection", sel, "subleading_photon_energy_min_GeV")
    miss = card.positive("selection", sel, "missing_energy_min_GeV", allow_zero=True)
    eff = card.positive("selection", sel, "efficiency", required=False, default=1.0)
    if sub > lead:
        raise card.error(
            "selection.subleading_photon_energy_min_GeV",
            f"must not exceed the leading-photon cut {lead}, got {sub}",
        )
    if eff > 1.0:
        raise card.error("selection.efficiency", f"must be in (0, 1], got {eff}")
    return ColliderDetector(
        name=name,
        description=card.data.get("description", ""),
        card_path=path,
        card_text=text,
        electron_energy=e_minus,
        positron_energy=e_plus,
        luminosity_inv_fb=lumi,
        decay_volume=DetectorCylinder(float(z_start), z_end, radius),
        cos_theta_min=float(c_lo),
        cos_theta_max=float(c_hi),
        leading_energy_min=lead,
        subleading_energy_min=sub,
        missing_energy_min=miss,
        efficiency=eff,
        sensitivity_events=level,
    )
