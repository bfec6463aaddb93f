"""The event schema: the per-event arrays every event source and detector fill
(:func:`mcsim.generation.simulate.channel_events`) and every writer and reader uses (ROOT,
HepMC3, awkward), and the batch that holds them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcsim import weights
from mcsim.weights import Estimate

__all__ = ["ARRAYS", "EventBatch", "concatenate"]

#: Per-event arrays of an EventBatch: name -> (dtype, columns; 0 for a 1-D array).
ARRAYS: dict[str, tuple[type, int]] = {
    "channel": (np.int32, 0),  # index into metadata['channels']
    "mother_pdgid": (np.int32, 0),  # signed PDG ID of the decaying meson
    "is_antiparticle": (np.bool_, 0),  # N-bar (neutrino model); always False for chi2
    "p4_meson": (np.float64, 4),  # (E, px, py, pz) [GeV], lab frame, beam along +z
    "p4_llp": (np.float64, 4),  # chi2 or N
    "p4_invisible": (np.float64, 4),  # partner from the production decay (zeros if none)
    "p4_prompt_photon": (np.float64, 4),  # photon of a three-body production decay (zeros if none)
    "p4_lepton": (np.float64, 4),  # charged lepton of P+ -> l+ N gamma (zeros if none)
    "p4_decay_invisible": (np.float64, 4),  # chi1 or nu from the LLP decay
    "p4_photon": (np.float64, 4),  # the signal photon
    "vertex": (np.float64, 3),  # decay vertex (x, y, z) [m]
    "impact": (np.float64, 2),  # photon (x, y) on the calorimeter plane [m], NaN if none
    "s_in": (np.float64, 0),  # path of the LLP inside the decay volume [m]
    "s_out": (np.float64, 0),
    "acc_intervals": (np.float64, 4),  # accepted decay positions (a1, b1, a2, b2) [m]
    "beta_gamma": (np.float64, 0),  # |p| / m of the LLP
    "in_volume": (np.bool_, 0),  # the LLP path crosses the decay volume (cone: the cone)
    "photon_hits_calo": (np.bool_, 0),  # accepted set non-empty (cone: same as in_volume)
    "above_threshold": (np.bool_, 0),  # E_photon inside the card's (or given) energy window
    "w_sampling": (np.float64, 0),  # importance weight of directed sampling (1: plain)
    "w_photon": (np.float64, 0),  # the photon's: P(E_photon in the window) if directed, else 1
    "w_norm": (np.float64, 0),  # N_M x BR(d) / N_generated x w_sampling [events]
    "p_decay_volume": (np.float64, 0),  # probability to decay in [s_in, s_out]
    "p_decay_accepted": (np.float64, 0),  # probability to decay where the photon is accepted
    "weight": (np.float64, 0),  # expected signal events carried by this event
}


@dataclass(frozen=True)
class EventBatch:
    """Per-event arrays (names and shapes in :data:`ARRAYS`) and the run's metadata."""

    arrays: dict[str, np.ndarray]
    metadata: dict

    def __len__(self) -> int:
        return len(self.arrays["weight"])

    def expected_events(self, d: float | None = None) -> Estimate:
        """Expected number of signal events at coupling ``d`` (default: the sample's own), with
        its Monte Carlo uncertainty (a float with ``.stat_error``;
        :func:`mcsim.weights.expected_events`)."""
        return weights.expected_events(
            self.arrays, self.metadata, self.metadata["d"] if d is None else d
        )

    def reweight(self, d: float) -> EventBatch:
        """The same sample at coupling d (:func:`mcsim.weights.reweighted`)."""
        return EventBatch(*weights.reweighted(self.arrays, self.metadata, d))


def concatenate(parts: list[dict[str, np.ndarray]], keys=None) -> dict[str, np.ndarray]:
    """One dict of per-event arrays (or branch columns) from consecutive parts, of ``keys``
    only if given (default: the first part's); a single part is not copied."""
    keys = list(parts[0]) if keys is None else keys
    if len(parts) == 1:
        return {k: parts[0][k] for k in keys}
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}
