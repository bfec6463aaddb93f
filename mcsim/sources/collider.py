"""The e+ e- source (BaBar): e+ e- -> gamma chi1 chi2 through the dark dipole, then
chi2 -> chi1 gamma in the detector around the interaction point.

The events are drawn in the CM frame from the full 2 -> 3 matrix element
(:mod:`mcsim.physics.monophoton`) and boosted to the lab (e- beam along +z, the asymmetric beams
of the card).  What the event arrays hold for an e+ e- event:

  p4_meson          the e+ e- system (sqrt(s) at rest in the CM), lab frame; mother_pdgid 0
  p4_prompt_photon  the photon radiated by the e+ or e- (lab);  p4_invisible: chi1 (lab)
  p4_llp, ...       chi2 and what the detector makes of it, as for every source
                    (:mod:`mcsim.detector.interaction_point`: both photons in the calorimeter's
                    acceptance, the paper's energy selection)
  w_norm            L x sigma(d) / N  (channel exposure L [fb^-1], rate sigma [fb])

Generation cuts (CM): the radiated photon inside the calorimeter's acceptance and above the
leading-photon cut -- it is always the leading photon when the decay photon cannot reach that
cut (checked; otherwise the generation goes down to the sub-leading cut) -- so no selected
event is lost.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from mcsim.detector.interaction_point import InteractionPointDetector, boost_z
from mcsim.models.registry import Model

__all__ = [
    "COLLISION_KEY",
    "CollisionChannel",
    "Collisions",
    "check_threshold",
    "cross_section_fb",
    "generation_cuts",
]


#: mother_pdgid and channel key (random streams) of e+ e- events.
COLLISION_KEY = 0


@dataclass(frozen=True)
class CollisionChannel:
    """The one channel of e+ e- beams: e+ e- -> gamma chi1 chi2; ``rate`` is the cross section
    inside the generation cuts [fb] and ``mother`` the key 0 (no meson)."""

    mother: int
    name: str
    rate: float
    kind: str = "e+e-"


def check_threshold(model, detector: InteractionPointDetector) -> None:
    """ValueError (one line) unless the model's LLP pair can be made with a photon above the
    generation cut (:func:`generation_cuts`) at the card's sqrt(s)."""
    rs = detector.sqrt_s
    cuts = generation_cuts(model, detector)
    if cuts["x_min"] >= cuts["x_max"]:
        m1, m2 = model.invisible_mass, model.llp_mass
        need = m1 + m2 + cuts["x_min"] * rs / 2
        raise ValueError(
            f"detector {detector.name}: sqrt(s) = {rs:.4g} GeV (beams "
            f"{detector.electron_energy:g} x {detector.positron_energy:g} GeV) is "
            f"below the threshold M1 + M2 + E_gamma,min = {need:.4g} GeV of e+ e- "
            f"-> gamma chi1 chi2 for M1 = {m1:g} GeV, M2 = {m2:g} GeV"
        )


def generation_cuts(model, detector: InteractionPointDetector) -> dict:
    """CM-frame generation cuts of the radiated photon: x = 2 E / sqrt(s) range and cos(theta)
    range (the lab acceptance mapped to the CM).  Empty x range: ``x_min >= x_max``."""
    rs = detector.sqrt_s
    s = rs * rs
    b = detector.beta
    c_lo = (detector.cos_theta_min - b) / (1.0 - b * detector.cos_theta_min)
    c_hi = (detector.cos_theta_max - b) / (1.0 - b * detector.cos_theta_max)
    m1, m2 = model.invisible_mass, model.llp_mass
    # hardest decay photon in the CM: chi2 at its largest CM momentum (photon x -> 0)
    e2 = (s + m2 * m2 - m1 * m1) / (2.0 * rs)
    p2 = math.sqrt(max(e2 * e2 - m2 * m2, 0.0))
    decay_max = (m2 * m2 - m1 * m1) / (2.0 * m2 * m2) * (e2 + p2)
    e_gen = (
        detector.leading_energy_min
        if decay_max < detector.leading_energy_min
        else detector.subleading_energy_min
    )
    return {"x_min": 2.0 * e_gen / rs, "x_max": 1.0 - (m1 + m2) ** 2 / s, "cos_range": (c_lo, c_hi)}


def cross_section_fb(model, detector: InteractionPointDetector) -> float:
    """sigma(e+ e- -> gamma chi1 chi2) inside the generation cuts [fb], at the model's d."""
    check_threshold(model, detector)
    from mcsim.physics.monophoton import (  # scipy and its kernels: only for BaBar
        GEV2_TO_FB,
        sigma_cut,
    )

    cuts = generation_cuts(model, detector)
    return GEV2_TO_FB * sigma_cut(
        detector.sqrt_s**2,
        model.invisible_mass,
        model.llp_mass,
        model.d,
        x_min=cuts["x_min"],
        cos_range=cuts["cos_range"],
    )


@dataclass(frozen=True)
class Collisions:
    """The :class:`mcsim.sources.base.EventSource` of e+ e- -> gamma chi1 chi2 in the beams of
    ``detector``: one channel, its rate the cross section inside the generation cuts [fb], its
    exposure the luminosity [fb^-1].  Events are drawn in the CM frame from the full 2 -> 3
    matrix element and boosted to the lab (e- beam along +z)."""

    model: Model
    detector: InteractionPointDetector

    name = "e+ e- collisions"
    exposure_label = "L: integrated luminosity [fb^-1]"
    rate_label = "sigma(e+ e- -> gamma chi1 chi2) inside the generation cuts [fb]"
    allocatable = False  # one channel
    #: a kernel of mcsim.scan.fused runs its events through the scan
    fused_scan = False

    def channels(self, mothers: list[int] | None = None) -> list[CollisionChannel]:
        """The one channel; none below threshold (unless asked for by ``mothers``, which must
        be [0]: then the threshold's one-line error)."""
        if mothers is None:
            cuts = self._cuts
            if cuts["x_min"] >= cuts["x_max"]:
                return []
        elif {abs(int(m)) for m in mothers} != {COLLISION_KEY}:
            raise ValueError(
                f"channels: e+ e- beams have the one channel {COLLISION_KEY} "
                f"(e+ e- -> gamma chi1 chi2), got {list(mothers)}"
            )
        sigma = cross_section_fb(self.model, self.detector)
        return [CollisionChannel(COLLISION_KEY, "e+ e- -> gamma chi1 chi2", sigma)]

    @functools.cached_property
    def _cuts(self) -> dict:
        return generation_cuts(self.model, self.detector)

    @functools.cached_property
    def _envelope(self) -> float:
        """The matrix element's bound over the generation cuts, once per source (not per
        block of events)."""
        from mcsim.physics.monophoton import envelope_bound  # scipy: e+ e- only

        cuts, det = self._cuts, self.detector
        return envelope_bound(
            det.sqrt_s**2,
            self.model.invisible_mass,
            self.model.llp_mass,
            cuts["x_min"],
            cuts["x_max"],
        )

    def exposure(self, channel: CollisionChannel) -> float:
        return self.detector.luminosity_inv_fb

    def produce(self, channel, n: int, rng, rng_charge, window: float = 0.0) -> dict:
        from mcsim.physics.monophoton import sample_cm  # scipy: e+ e- only

        model, det, cuts = self.model, self.detector, self._cuts
        rs, m1, m2 = det.sqrt_s, model.invisible_mass, model.llp_mass
        k, q1, q2, _, violations = sample_cm(
            n, rs, m1, m2, cuts["x_min"], cuts["x_max"], *cuts["cos_range"], self._envelope, rng
        )
        if violations:
            raise RuntimeError(
                f"e+ e- sampler: {violations} events above the envelope "
                f"(M1 = {m1}, M2 = {m2}); the bound must be raised"
            )
        system = [det.electron_energy + det.positron_energy, 0.0, 0.0]
        system.append(det.electron_energy - det.positron_energy)
        return {
            "mother_pdgid": np.full(n, COLLISION_KEY, dtype=np.int32),
            "is_antiparticle": np.zeros(n, dtype=np.bool_),
            "p4_meson": np.tile(system, (n, 1)),
            "p4_llp": boost_z(q2, det.beta),
            "p4_invisible": boost_z(q1, det.beta),
            "p4_prompt_photon": boost_z(k, det.beta),
            "p4_lepton": np.zeros((n, 4)),
            "w_sampling": np.ones(n),
        }

    def why_closed(self) -> str:
        try:
            check_threshold(self.model, self.detector)
        except ValueError as err:
            return str(err)
        return f"no e+ e- channel at {self.detector.name}"

    def metadata(self, channels: list[CollisionChannel]) -> dict:
        return self.detector.generation_metadata()
