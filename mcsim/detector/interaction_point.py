"""Detectors around an interaction point of e+ e- beams (BaBar), read from a card with a
[beams] table: beams and luminosity, the volume around the interaction point, the
calorimeter's polar-angle acceptance and the two-photon selection (paper Sec. 4.2).  Their
events come from the source the detector names (:attr:`InteractionPointDetector.source`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mcsim.detector.geometry import CYLINDER, Calorimeter

__all__ = ["DetectorCylinder", "InteractionPointDetector", "build_interaction_point"]

#: The ``beam`` (and the source) of an interaction-point card.
E_PLUS_E_MINUS = "e+e-"


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
class InteractionPointDetector:
    """An e+ e- experiment read from a card with a [beams] table (energies in GeV, lengths in
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

    beam = E_PLUS_E_MINUS
    source = E_PLUS_E_MINUS  # the event source of mcsim.sources that feeds it
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

    def propagation(self, mode: str, threshold: float | None) -> tuple:
        """(volume, calorimeter plane, photon acceptance judged by the propagator, E_min,
        E_max) for :func:`mcsim.detector.propagate.observe`: the whole path inside the volume
        is accepted and the photons are judged by :meth:`select` (their acceptance is seen
        from the interaction point: the vertex displacement, below a metre, is neglected against
        the calorimeter's angular coverage), so re-weighting in d stays exact."""
        if mode != "full":
            raise ValueError(f"mode: {self.name} has its own selection; only 'full', got {mode!r}")
        if threshold is not None and threshold != self.leading_energy_min:
            raise ValueError(
                f"threshold: the photon cuts of {self.name} are in its card's [selection] "
                f"table; got threshold = {threshold!r}"
            )
        return self.decay_volume, self.calorimeter, False, 0.0, math.inf

    def directed_window(self, mode: str) -> float:
        """No directed sampling around an interaction point (0: plain)."""
        return 0.0

    def select(self, production: dict, observed: dict) -> None:
        """Set ``observed``'s photon_hits_calo (both photons -- the radiated one of the
        production, ``p4_prompt_photon``, and the decay photon -- inside the calorimeter's
        lab polar-angle acceptance) and above_threshold (the paper's energy selection on top:
        leading E >= E_lead, sub-leading E >= E_sub, missing energy >= E_miss, CM frame)."""
        observed["photon_hits_calo"], observed["above_threshold"] = selection(
            production["p4_prompt_photon"], observed["p4_photon"], self
        )

    def generation_metadata(self) -> dict:
        """What an events file records about the beams and the selection."""
        return {
            "interaction_point": {
                "sqrt_s_GeV": self.sqrt_s,
                "electron_energy_GeV": self.electron_energy,
                "positron_energy_GeV": self.positron_energy,
                "luminosity_inv_fb": self.luminosity_inv_fb,
                "cos_theta_lab": [self.cos_theta_min, self.cos_theta_max],
                "decay_volume_z_m": [self.decay_volume.z_start, self.decay_volume.z_end],
                "leading_photon_energy_min_GeV": self.leading_energy_min,
                "subleading_photon_energy_min_GeV": self.subleading_energy_min,
                "missing_energy_min_GeV": self.missing_energy_min,
            }
        }


def boost_z(p: np.ndarray, beta: float) -> np.ndarray:
    """4-momenta (n, 4) boosted by velocity beta along +z."""
    g = 1.0 / math.sqrt(1.0 - beta * beta)
    out = p.copy()
    out[:, 0] = g * (p[:, 0] + beta * p[:, 3])
    out[:, 3] = g * (p[:, 3] + beta * p[:, 0])
    return out


def selection(
    prompt_lab: np.ndarray, photon_lab: np.ndarray, detector: InteractionPointDetector
) -> tuple[np.ndarray, np.ndarray]:
    """(both photons in the calorimeter acceptance, the paper's energy selection on top) for the
    lab 4-momenta (n, 4) of the radiated and the decay photon."""

    def cos_lab(p):
        return p[:, 3] / np.sqrt(p[:, 1] ** 2 + p[:, 2] ** 2 + p[:, 3] ** 2)

    def accepted(p):
        c = cos_lab(p)
        return (detector.cos_theta_min < c) & (c < detector.cos_theta_max)

    in_calo = accepted(prompt_lab) & accepted(photon_lab)
    e_a = boost_z(prompt_lab, -detector.beta)[:, 0]
    e_b = boost_z(photon_lab, -detector.beta)[:, 0]
    lead, sub = np.maximum(e_a, e_b), np.minimum(e_a, e_b)
    energy = (
        (lead >= detector.leading_energy_min)
        & (sub >= detector.subleading_energy_min)
        & (detector.sqrt_s - e_a - e_b >= detector.missing_energy_min)
    )
    return in_calo, in_calo & energy


_BEAM_KEYS = (
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
    "beams": _BEAM_KEYS,
    "decay_volume": _VOLUME_KEYS,
    "calorimeter": _CALO_KEYS,
    "selection": _SELECTION_KEYS,
}


def build_interaction_point(card, name: str, path: str, text: str) -> InteractionPointDetector:
    """The :class:`InteractionPointDetector` of a card holding a [beams] table; ``card`` is the
    checker of :mod:`mcsim.detector.cards` (its errors name the card and the key).

    Layout: [beams] electron_energy_GeV, positron_energy_GeV, luminosity_inv_fb,
    sensitivity_events; [decay_volume] shape = "cylinder", z_start_m < 0 < z_end_m, radius_m;
    [calorimeter] cos_theta_min, cos_theta_max (lab polar-angle acceptance); [selection]
    leading_photon_energy_min_GeV, subleading_photon_energy_min_GeV, missing_energy_min_GeV
    (CM frame), efficiency (default 1)."""
    top = ("name", "description", "default_configuration")
    for key in card.data:
        if key not in top and key not in _TABLES:
            raise card.error(
                key, f"unknown key; an interaction-point card holds {', '.join([*top, *_TABLES])}"
            )
    t = {section: card.table(section, keys) for section, keys in _TABLES.items()}
    col = t["beams"]
    e_minus = card.positive("beams", col, "electron_energy_GeV")
    e_plus = card.positive("beams", col, "positron_energy_GeV")
    lumi = card.positive("beams", col, "luminosity_inv_fb")
    level = card.positive("beams", col, "sensitivity_events")
    vol = t["decay_volume"]
    shape = card.value("decay_volume", vol, "shape", "string", required=True)
    if shape != "cylinder":
        raise card.error(
            "decay_volume.shape",
            f"the volume is a 'cylinder' around the interaction point, got {shape!r}",
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
    return InteractionPointDetector(
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
