"""The e+ e- collider source (BaBar): e+ e- -> gamma chi1 chi2, then chi2 -> chi1 gamma.

One more event source of the chain, with the same event arrays (:data:`mcsim.io.schema.ARRAYS`),
ntuples, cutflows and exact re-weighting in d.  The events are drawn in the CM frame from the full
2 -> 3 matrix element (:mod:`mcsim.physics.monophoton`), boosted to the lab (e- beam along +z, the
asymmetric beams of the card), and chi2 is handed to the propagator
(:func:`mcsim.detector.propagate.propagate_kernel`) with the detector volume around the interaction point
as its decay volume.  What the arrays hold for a collider event:

  p4_meson          the e+ e- system (sqrt(s) at rest in the CM), lab frame; mother_pdgid 0
  p4_prompt_photon  the photon radiated by the e+ or e- (lab);  p4_invisible: chi1 (lab)
  p4_llp, p4_photon, p4_decay_invisible, vertex, ...: chi2, its decay photon and chi1, as for
                    the meson sources; impact: the photon's crossing of the plane z = z_end
                    (the detector volume's forward end z_end), for control plots only
  photon_hits_calo  both photons inside the calorimeter's polar-angle acceptance (lab)
  above_threshold   the paper's selection (Sec. 4.2) on top: leading photon E >= E_lead,
                    sub-leading E >= E_sub, missing energy sqrt(s) - E1 - E2 >= E_miss (CM)
  w_norm            L x sigma(d) / N  (channel 'n_mesons' = L [fb^-1], 'br' = sigma [fb])

The accepted decay set is the chi2 path inside the detector volume (the photon acceptance is
judged from its direction, i.e. as seen from the interaction point: the displacement of the
vertex, below a metre, is neglected against the calorimeter's angular coverage), so
re-weighting to another d is exact.  Generation cuts (CM): the radiated photon inside the
calorimeter's acceptance and above the leading-photon cut -- it is always the leading photon
when the decay photon cannot reach that cut (checked; otherwise the generation goes down to the
sub-leading cut) -- so no selected event is lost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mcsim.detector.collider import COLLISION_KEY, ColliderDetector
from mcsim.detector.propagate import KERNEL_OUTPUTS, propagate_kernel
from mcsim.io.schema import ARRAYS, EventBatch
from mcsim.weights import event_weight, run_metadata, yield_sums

__all__ = [
    "CollisionChannel",
    "check_threshold",
    "collider_channels",
    "collider_metadata",
    "collider_sums",
    "cross_section_fb",
    "expected_events",
    "generation_cuts",
    "selection",
    "sensitivity_coupling",
    "simulate",
]


@dataclass(frozen=True)
class CollisionChannel:
    """The one 'channel' of a collider: e+ e- -> gamma chi1 chi2; ``br`` is the cross section
    inside the generation cuts [fb] and ``mother`` the key 0 (no meson)."""

    mother: int
    name: str
    br: float
    kind: str = "collider"


# ------------------------------------------------------------------------------------ the card


# ------------------------------------------------------------------------------- generation


def check_threshold(model, detector: ColliderDetector) -> None:
    """ValueError (one line) unless ``model`` is a dark dipole whose chi1 chi2 pair can be made
    with a photon above the generation cut (:func:`generation_cuts`) at the card's sqrt(s)."""
    if not getattr(model, "ee_pair_production", False):  # bad input of the command line
        raise ValueError(
            f"detector {detector.name}: the e+ e- source makes chi1 chi2 pairs of the "
            f"dark dipole only (ee_pair_production), got {model.kind}"
        )
    rs = detector.sqrt_s
    cuts = generation_cuts(model, detector)
    if cuts["x_min"] >= cuts["x_max"]:
        need = model.m1 + model.m2 + cuts["x_min"] * rs / 2
        raise ValueError(
            f"detector {detector.name}: sqrt(s) = {rs:.4g} GeV (beams "
            f"{detector.electron_energy:g} x {detector.positron_energy:g} GeV) is "
            f"below the threshold M1 + M2 + E_gamma,min = {need:.4g} GeV of e+ e- "
            f"-> gamma chi1 chi2 for M1 = {model.m1:g} GeV, delta = "
            f"{model.delta:g}"
        )


def generation_cuts(model, detector: ColliderDetector) -> dict:
    """CM-frame generation cuts of the radiated photon: x = 2 E / sqrt(s) range and cos(theta)
    range (the lab acceptance mapped to the CM).  Empty x range: ``x_min >= x_max``."""
    rs = detector.sqrt_s
    s = rs * rs
    b = detector.beta
    c_lo = (detector.cos_theta_min - b) / (1.0 - b * detector.cos_theta_min)
    c_hi = (detector.cos_theta_max - b) / (1.0 - b * detector.cos_theta_max)
    m1, m2 = model.m1, model.m2
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


def cross_section_fb(model, detector: ColliderDetector) -> float:
    """sigma(e+ e- -> gamma chi1 chi2) inside the generation cuts [fb], at the model's d."""
    check_threshold(model, detector)
    from mcsim.physics.monophoton import (  # scipy and its kernels: only for BaBar
        GEV2_TO_FB,
        sigma_cut,
    )

    cuts = generation_cuts(model, detector)
    return GEV2_TO_FB * sigma_cut(
        detector.sqrt_s**2,
        model.m1,
        model.m2,
        model.d,
        x_min=cuts["x_min"],
        cos_range=cuts["cos_range"],
    )


def collider_channels(model, detector: ColliderDetector, mothers=None) -> list[CollisionChannel]:
    """The collider's one channel (``mothers``, if given, must be [0])."""
    if mothers is not None and {abs(int(m)) for m in mothers} != {COLLISION_KEY}:
        raise ValueError(
            f"channels: a collider card has the one channel {COLLISION_KEY} "
            f"(e+ e- -> gamma chi1 chi2), got {list(mothers)}"
        )
    return [
        CollisionChannel(
            COLLISION_KEY, "e+ e- -> gamma chi1 chi2", cross_section_fb(model, detector)
        )
    ]


def _boost_z(p: np.ndarray, beta: float) -> np.ndarray:
    """4-momenta (n, 4) boosted by velocity beta along +z."""
    g = 1.0 / math.sqrt(1.0 - beta * beta)
    out = p.copy()
    out[:, 0] = g * (p[:, 0] + beta * p[:, 3])
    out[:, 3] = g * (p[:, 3] + beta * p[:, 0])
    return out


def selection(
    prompt_lab: np.ndarray, photon_lab: np.ndarray, detector: ColliderDetector
) -> tuple[np.ndarray, np.ndarray]:
    """(both photons in the calorimeter acceptance, the paper's energy selection on top) for the
    lab 4-momenta (n, 4) of the radiated and the decay photon."""

    def cos_lab(p):
        return p[:, 3] / np.sqrt(p[:, 1] ** 2 + p[:, 2] ** 2 + p[:, 3] ** 2)

    def accepted(p):
        c = cos_lab(p)
        return (detector.cos_theta_min < c) & (c < detector.cos_theta_max)

    in_calo = accepted(prompt_lab) & accepted(photon_lab)
    e_a = _boost_z(prompt_lab, -detector.beta)[:, 0]
    e_b = _boost_z(photon_lab, -detector.beta)[:, 0]
    lead, sub = np.maximum(e_a, e_b), np.minimum(e_a, e_b)
    energy = (
        (lead >= detector.leading_energy_min)
        & (sub >= detector.subleading_energy_min)
        & (detector.sqrt_s - e_a - e_b >= detector.missing_energy_min)
    )
    return in_calo, in_calo & energy


def simulate(
    model,
    detector: ColliderDetector,
    *,
    n_events: int,
    seed: int | np.random.Generator,
    mode: str = "full",
    threshold: float | None = None,
    channels=None,
) -> EventBatch:
    """``n_events`` events of e+ e- -> gamma chi1 chi2, chi2 -> chi1 gamma in ``detector``: the
    collider branch of :func:`mcsim.generation.simulate.simulate` (same arguments and EventBatch; ``mode``
    must be 'full' and ``threshold`` None or the card's leading-photon cut: the selection is
    the card's)."""
    if mode != "full":
        raise ValueError(f"mode: a collider card has its own selection; only 'full', got {mode!r}")
    if threshold is not None and threshold != detector.leading_energy_min:
        raise ValueError(
            f"threshold: a collider card's photon cuts are in its [selection] "
            f"table; got threshold = {threshold!r}"
        )
    if isinstance(n_events, bool) or not isinstance(n_events, (int, np.integer)) or n_events < 1:
        raise ValueError(f"n_events must be an integer >= 1, got {n_events!r}")
    from mcsim.physics.monophoton import (  # scipy and its kernels: only for BaBar
        envelope_bound,
        sample_cm,
    )

    (chan,) = collider_channels(model, detector, channels)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n = int(n_events)
    cuts = generation_cuts(model, detector)
    rs, m1, m2 = detector.sqrt_s, model.m1, model.m2
    bound = envelope_bound(rs * rs, m1, m2, cuts["x_min"], cuts["x_max"])
    # mypy assumes *cos_range may fill every parameter (python/mypy#14648); it is (c0, c1)
    k, q1, q2, _, violations = sample_cm(  # type: ignore[call-arg]
        n, rs, m1, m2, cuts["x_min"], cuts["x_max"], *cuts["cos_range"], bound, rng
    )
    if violations:
        raise RuntimeError(
            f"e+ e- sampler: {violations} events above the envelope "
            f"(M1 = {m1}, M2 = {m2}); the bound must be raised"
        )
    b = detector.beta
    k, q1, q2 = _boost_z(k, b), _boost_z(q1, b), _boost_z(q2, b)
    vol, calo = detector.decay_volume, detector.calorimeter
    out = propagate_kernel(
        q2,
        m2,
        m1,
        vol.code,
        vol.params,
        calo.code,
        calo.params,
        False,
        0.0,
        math.inf,
        False,
        model.ctau,
        rng,
    )
    prop = dict(zip(KERNEL_OUTPUTS, out))
    prop["photon_hits_calo"], prop["above_threshold"] = selection(k, prop["p4_photon"], detector)
    system = np.tile(
        [
            detector.electron_energy + detector.positron_energy,
            0.0,
            0.0,
            detector.electron_energy - detector.positron_energy,
        ],
        (n, 1),
    )
    arrays = {
        "channel": np.zeros(n, dtype=np.int32),
        "mother_pdgid": np.full(n, COLLISION_KEY, dtype=np.int32),
        "is_antiparticle": np.zeros(n, dtype=np.bool_),
        "p4_meson": system,
        "p4_llp": q2,
        "p4_invisible": q1,
        "p4_prompt_photon": k,
        "p4_lepton": np.zeros((n, 4)),
        **prop,
        "w_sampling": np.ones(n),
        "w_norm": np.full(n, detector.n_collisions * chan.br / n),
    }
    arrays["weight"] = event_weight(arrays, detector.efficiency)
    metadata = {
        **run_metadata(model, detector, mode, detector.leading_energy_min),
        "seed": seed if isinstance(seed, (int, np.integer)) else None,
        "channels": [chan.name],
        "mother_pdgids": [chan.mother],
        "n_mesons": [detector.n_collisions],
        "br": [chan.br],
        "n_generated": [n],
        **collider_metadata(detector),
    }
    return EventBatch({key: arrays[key] for key in ARRAYS}, metadata)


def collider_metadata(detector: ColliderDetector) -> dict:
    """What an events file of a collider card records about the collider and its selection."""
    return {
        "collider": {
            "sqrt_s_GeV": detector.sqrt_s,
            "electron_energy_GeV": detector.electron_energy,
            "positron_energy_GeV": detector.positron_energy,
            "luminosity_inv_fb": detector.luminosity_inv_fb,
            "normalisation": "n_mesons = luminosity [fb^-1], br = sigma in the generation cuts [fb]",
            "cos_theta_lab": [detector.cos_theta_min, detector.cos_theta_max],
            "decay_volume_z_m": [detector.decay_volume.z_start, detector.decay_volume.z_end],
            "leading_photon_energy_min_GeV": detector.leading_energy_min,
            "subleading_photon_energy_min_GeV": detector.subleading_energy_min,
            "missing_energy_min_GeV": detector.missing_energy_min,
        }
    }


# --------------------------------------------------------------------------------- yields


def expected_events(batch: EventBatch, couplings) -> tuple[np.ndarray, np.ndarray]:
    """Expected selected events and their Monte Carlo variance (sum of squared weights) of a
    collider batch at each coupling d [GeV^-1] (ascending), by exact re-weighting."""
    from mcsim.detector.propagate import decay_probability

    a, meta = batch.arrays, batch.metadata
    keep = a["above_threshold"]
    ratios = (np.asarray(couplings, dtype=np.float64) / meta["d"]) ** 2
    norm = a["w_norm"][keep] * meta["efficiency"]
    events, variance = np.zeros(ratios.size), np.zeros(ratios.size)
    for j, r in enumerate(ratios):
        w = (
            norm
            * r
            * decay_probability(a["acc_intervals"][keep], a["beta_gamma"][keep], meta["ctau"] / r)
        )
        events[j], variance[j] = w.sum(), (w * w).sum()
    return events, variance


def sensitivity_coupling(batch: EventBatch, level: float) -> float:
    """The d [GeV^-1] with ``level`` expected events (the lower edge of the reach: the yield
    grows monotonically with d), by bisection in log d on the exact re-weighting; NaN if even
    d = 1 GeV^-1 stays below."""
    from scipy import optimize

    def f(log_d):
        return math.log(max(expected_events(batch, [math.exp(log_d)])[0][0], 1e-300) / level)

    lo, hi = math.log(1e-12), math.log(1.0)
    if f(hi) < 0:
        return math.nan
    return math.exp(optimize.brentq(f, lo, hi, xtol=1e-6))


def collider_sums(
    model, detector: ColliderDetector, n_events: int, seed: int, ratios
) -> tuple[int, float, np.ndarray, np.ndarray]:
    """The reach-scan sums of ``n_events`` collider events of ``model`` (at d_ref = model.d) in
    ``detector``: (n, produced, s1, s2) with produced = sigma x L (every event's w_norm x n) and
    s1, s2 the sums of r x P and (r x P)^2 over the selected events for each ratio
    r = (d / d_ref)^2 (ascending; :func:`mcsim.weights.yield_sums`).  Zero above threshold."""
    ratios = np.asarray(ratios, dtype=np.float64)
    cuts = generation_cuts(model, detector)
    if cuts["x_min"] >= cuts["x_max"]:
        return n_events, 0.0, np.zeros(ratios.size), np.zeros(ratios.size)
    batch = simulate(model, detector, n_events=n_events, seed=seed)
    a = batch.arrays
    s1, s2 = yield_sums(
        a["above_threshold"].astype(np.float64),
        a["acc_intervals"],
        a["beta_gamma"],
        model.ctau,
        ratios,
    )
    return n_events, float(a["w_norm"][0]) * n_events, s1, s2
