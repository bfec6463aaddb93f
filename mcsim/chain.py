"""The full chain for one model point and one detector (paper Eq. 4.1):

    meson spectrum -> production decay -> propagation (decay in the volume, photon to the
    calorimeter) -> photon selection -> expected number of signal events.

:func:`simulate` runs it for every open production channel and returns an :class:`EventBatch`
of per-event arrays.  The weight of an event is

    weight = w_norm x w_photon x p_decay_accepted x above_threshold x efficiency,
    w_norm = N_M x BR(d) / N_generated(channel) x w_sampling        [expected events],

w_sampling and w_photon are the importance weights of directed sampling (1 for plain): of the
meson and the LLP's direction, and of the photon's (drawn inside the energy window).

with N_M = N_POT x f_M (fixed target) or sigma_inel x L x f_M (collider).  BR scales as d^2 and
c*tau as 1/d^2, and the decay probabilities are exact functions of c*tau, so :func:`reweight`
gives the sample at any other coupling exactly, without generating again.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from . import spectra
from .allocation import ALLOCATIONS, from_pilots
from .defaults import BLOCK_SIZE, SAMPLINGS
from .detector import Detector, load_detector
from .directed import meson_tilt
from .model_registry import Model
from .production import Channel, decay_mothers, open_channels
from .propagate import MODES, decay_probability, propagate, remap_vertices
from .schema import ARRAYS, EventBatch, concatenate
from .yields import Estimate, estimate, yield_sums

if TYPE_CHECKING:
    from .collider import ColliderDetector

__all__ = [
    "BLOCK_SIZE",
    "SAMPLINGS",
    "STREAMS",
    "MesonSource",
    "SpectraSource",
    "block_rng",
    "block_rngs",
    "block_sizes",
    "channel_normalisation",
    "coupling_ratio",
    "event_weight",
    "expected_events_at",
    "in_energy_window",
    "master_seed",
    "produce",
    "reweight",
    "run_metadata",
    "select_channels",
    "simulate",
    "window",
]


class MesonSource(Protocol):
    """Where the mesons come from: momenta and normalisation per table key (positive PDG ID)."""

    def sample(self, pdgid: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """n lab-frame 4-momenta (n, 4) [GeV] of the meson (both charges for charged species)."""

    def produces(self, pdgid: int) -> bool:
        """Whether the source has mesons of this species at all."""

    def n_mesons(self, pdgid: int) -> float:
        """N_M: mesons of the species (both charges) produced in the whole exposure."""

    def positive_fraction(self, pdgid: int) -> float:
        """Fraction of positive charges among them (charged species only)."""

    # Optional, for directed sampling (used when present):
    # def sample_directed(self, channel, n, rng, window) -> (momenta (n, 4), weights (n,)):
    #     mothers of the channel drawn preferably where their LLP can fly within window [rad]
    #     of the beam axis, with the importance weights that keep weighted sums unbiased.


@dataclass(frozen=True)
class SpectraSource:
    """Mesons from the shipped spectrum tables (:mod:`mcsim.spectra`), normalised to the
    detector's exposure: N_M = n_collisions x f_M (Eq. 4.2)."""

    detector: Detector

    def sample(self, pdgid: int, n: int, rng: np.random.Generator) -> np.ndarray:
        return spectra.sample_momenta(spectra.load_table(pdgid, self.detector.beam), n, rng)

    def sample_directed(
        self, channel: Channel, n: int, rng: np.random.Generator, window: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mothers of ``channel`` tilted towards the table bins whose LLPs reach ``window``
        [rad] (:func:`mcsim.directed.meson_tilt`) and their importance weights (n,)."""
        table, prob, alias, bin_weight = self.sampling(channel, window)
        momenta, bins = spectra.draw(table, prob, alias, n, rng)
        return momenta, bin_weight[bins]

    def sampling(self, channel: Channel, window: float = 0.0, tilt=None) -> tuple:
        """(table, prob, alias, bin_weight): the spectrum table of ``channel``'s mother, the
        alias table its mesons are drawn from and the importance weight of each flat bin --
        the table itself (weights 1) for plain sampling; tilted by ``tilt`` (a factor per bin
        or momentum bin, :func:`mcsim.spectra.sample_momenta_tilted`) if given, else for
        ``window`` [rad] > 0 towards the bins whose LLPs reach it (weights 0 if none can)."""
        table = spectra.load_table(channel.mother, self.detector.beam)
        if tilt is None and window > 0.0:
            tilt = _meson_tilt(
                channel.mother,
                self.detector.beam,
                window,
                channel.mother_mass,
                channel.masses[1],
                channel.llp_momentum_max,
            )
            if tilt is None:  # no LLP can reach the detector: every weight is 0
                return (table, *table.alias, np.zeros(table.counts.size))
        if tilt is None:
            return (table, *table.alias, np.ones(table.counts.size))
        return (table, *spectra.tilted_alias(table, tilt))

    def produces(self, pdgid: int) -> bool:
        return spectra.is_produced(pdgid, self.detector.beam)

    def n_mesons(self, pdgid: int) -> float:
        d = self.detector
        return d.n_collisions * spectra.mesons_per_pot(pdgid, d.beam, d.target_A)

    def positive_fraction(self, pdgid: int) -> float:
        return spectra.positive_fraction(pdgid, self.detector.beam)


@functools.lru_cache(maxsize=256)
def _meson_tilt(
    pdgid: int, beam: str, window: float, m_parent: float, m_llp: float, p_star: float
) -> np.ndarray | None:
    table = spectra.load_table(pdgid, beam)
    return meson_tilt(
        table.log10p_edges,
        table.log10theta_edges,
        table.counts,
        window=window,
        m_parent=m_parent,
        m_llp=m_llp,
        p_star=p_star,
    )


def select_channels(
    model: Model, source: MesonSource, mothers: list[int] | None = None
) -> list[Channel]:
    """The open channels of ``model`` whose mother the source produces, or those of the given
    mother PDG IDs (either sign); ValueError for a requested mother without such a channel."""
    chans = [c for c in open_channels(model) if source.produces(c.mother)]
    if mothers is None:
        return chans
    wanted = {abs(int(m)) for m in mothers}
    missing = wanted - {c.mother for c in chans}
    if missing:
        raise ValueError(
            f"channels: no open channel for mother PDG ID(s) {sorted(missing)} at "
            f"this model point (or the beam makes no such meson); available: "
            f"{[c.mother for c in chans]}"
        )
    return [c for c in chans if c.mother in wanted]


def master_seed(seed: int | np.random.Generator) -> int:
    """The integer master seed of a sample: ``seed`` itself (0 <= seed < 2^63), or 63 bits
    drawn from a Generator."""
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(2**63))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be an integer in [0, 2^63), got {seed!r}")
    return int(seed)


#: The streams of an event block, in the order of :func:`block_rngs`.
STREAMS = ("production", "charge", "propagation")


def block_rngs(seed: int, mother: int, block: int) -> tuple[np.random.Generator, ...]:
    """The three streams of event block ``block`` of the channel of ``mother`` (positive PDG
    ID): production (meson and its decay), charge (N or N-bar) and propagation (LLP decay and
    vertex), the children of ``SeedSequence(seed, spawn_key=(mother, block))``.  Each kernel
    draws a fixed 256 bits from its Generator, so a shorter block is a prefix of a longer one."""
    return tuple(block_rng(seed, mother, block, name) for name in STREAMS)


def block_rng(seed: int, mother: int, block: int, stream: str) -> np.random.Generator:
    """One stream of :func:`block_rngs` (``stream`` one of :data:`STREAMS`), made alone: the
    reach scans need two of the three, many times."""
    # child i of SeedSequence(seed, spawn_key=(mother, block)), made without its siblings
    child = (int(mother), int(block), STREAMS.index(stream))
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=child))


def block_sizes(n: int, first_block: int = 0) -> list[tuple[int, int]]:
    """(block index, events) of ``n`` events in blocks of :data:`BLOCK_SIZE` from
    ``first_block`` on (the last block shorter)."""
    full, rest = divmod(int(n), BLOCK_SIZE)
    out = [(first_block + b, BLOCK_SIZE) for b in range(full)]
    return out + ([(first_block + full, rest)] if rest else [])


def _charges(
    model: Model, channel: Channel, n: int, source: MesonSource, rng: np.random.Generator
) -> np.ndarray:
    """is_antiparticle per event: for a model whose LLP has an antiparticle (``model.dirac``,
    the neutrino dipole's N-bar), N-bar from P- (drawn with the positive-charge fraction) in
    charged channels, N or N-bar with probability 1/2 in neutral ones; none for a Majorana LLP
    (chi2)."""
    if not model.dirac:
        return np.zeros(n, dtype=np.bool_)
    f_plus = source.positive_fraction(channel.mother) if channel.kind == "charged" else 0.5
    return rng.random(n) >= f_plus


def produce(
    channel: Channel, source: MesonSource, n: int, rng: np.random.Generator, window: float = 0.0
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The detector-independent step: n mothers (n, 4) [GeV] from ``source`` and their decay
    products through ``channel`` (see :func:`mcsim.production.decay_mothers`).  With ``window``
    [rad] > 0 (directed sampling) the mothers are drawn preferably where their LLP can fly
    within ``window`` of the beam axis (:meth:`SpectraSource.sample_directed`), and the LLP is
    pointed into it (:mod:`mcsim.directed`); products['weight'] holds the importance weights."""
    sample_directed = getattr(source, "sample_directed", None)
    if window > 0.0 and sample_directed is not None:
        mothers, weights = sample_directed(channel, n, rng, window)
    else:
        mothers, weights = source.sample(channel.mother, n, rng), np.ones(n)
    mothers = np.ascontiguousarray(mothers, dtype=np.float64)
    products = decay_mothers(channel, mothers, rng, window)
    products["weight"] = products["weight"] * weights
    return mothers, products


def window(detector: Detector, mode: str, sampling: str) -> float:
    """The angular window [rad] of directed sampling: the largest polar angle of the decay
    volume ('full') or the cone ('cone') -- no LLP outside it can decay inside -- or 0 for
    plain sampling."""
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {', '.join(SAMPLINGS)}, got {sampling!r}")
    if sampling == "plain":
        return 0.0
    return (detector.decay_volume if mode == "full" else detector.cone).max_polar_angle


def channel_normalisation(n_mesons: float, br: float, n_generated: int) -> float:
    """w_norm of every event of a channel: N_M x BR / N_generated [expected events]."""
    return n_mesons * br / n_generated


def _run_block(
    index: int,
    channel: Channel,
    model: Model,
    detector: Detector,
    source,
    n: int,
    rngs,
    mode: str,
    threshold,
    angle: float,
) -> dict:
    rng_production, rng_charge, rng_propagation = rngs
    mothers, products = produce(channel, source, n, rng_production, angle)
    anti = _charges(model, channel, n, source, rng_charge)
    prop = propagate(
        products["llp"],
        m_llp=model.llp_mass,
        m_invisible=model.invisible_mass,
        detector=detector,
        mode=mode,
        ctau=model.ctau,
        rng=rng_propagation,
        threshold=threshold,
        directed=angle > 0.0,
    )
    sign = np.where(anti & (channel.kind == "charged"), -1, 1)
    return {
        "channel": np.full(n, index, dtype=np.int32),
        "mother_pdgid": (sign * channel.mother).astype(np.int32),
        "is_antiparticle": anti,
        "p4_meson": mothers,
        "p4_llp": products["llp"],
        "p4_invisible": products.get("invisible", np.zeros((n, 4))),
        "p4_prompt_photon": products.get("photon", np.zeros((n, 4))),
        "p4_lepton": products.get("lepton", np.zeros((n, 4))),
        **prop,
        "w_sampling": products["weight"],
    }


def _run_channel(
    index: int,
    channel: Channel,
    model: Model,
    detector: Detector,
    source,
    n: int,
    seed: int,
    first_block: int,
    mode: str,
    threshold,
    angle: float,
) -> tuple[dict, float]:
    n_m = source.n_mesons(channel.mother)
    blocks = [
        _run_block(
            index,
            channel,
            model,
            detector,
            source,
            size,
            block_rngs(seed, channel.mother, block),
            mode,
            threshold,
            angle,
        )
        for block, size in block_sizes(n, first_block)
    ]
    arrays = concatenate(blocks)
    normalise(arrays, channel_normalisation(n_m, channel.br, n), detector.efficiency)
    return arrays, n_m


def normalise(arrays: dict, w_norm: float, efficiency: float) -> dict:
    """Give a channel's events the normalisation ``w_norm`` = N_M x BR / N_generated(channel)
    (times each event's importance weight w_sampling) and the weight that follows from it."""
    arrays["w_norm"] = w_norm * arrays["w_sampling"]
    arrays["weight"] = event_weight(arrays, efficiency)
    return arrays


def event_weight(arrays: dict, efficiency: float) -> np.ndarray:
    """Expected signal events per event: w_norm x w_photon x p_decay_accepted x above_threshold
    x efficiency."""
    return (
        arrays["w_norm"]
        * arrays["w_photon"]
        * arrays["p_decay_accepted"]
        * arrays["above_threshold"]
        * efficiency
    )


def in_energy_window(energy: np.ndarray, e_min: float, e_max: float) -> np.ndarray:
    """The photon selection E_min < E < E_max [GeV] (as applied by the propagator)."""
    return (e_min < energy) & (energy < e_max)


def _empty(n: int = 0) -> dict:
    return {k: np.zeros((n, w) if w else n, dtype=t) for k, (t, w) in ARRAYS.items()}


def simulate(
    model: Model,
    detector: Detector | ColliderDetector | str,
    *,
    n_events: int,
    seed: int | np.random.Generator,
    mode: str = "full",
    threshold: float | None = None,
    channels: list[int] | None = None,
    source: MesonSource | None = None,
    first_block: int = 0,
    sampling: str = "plain",
    allocation: str = "equal",
) -> EventBatch:
    """Run the chain for ``model`` in ``detector`` (a Detector or a card name/path) with
    ``n_events`` Monte Carlo events in EACH open channel (or in those of the given mother PDG
    IDs).  ``mode`` 'full' (3-D geometry) or 'cone' (the paper's selection); ``threshold`` [GeV]
    replaces the card's minimum photon energy; ``source`` replaces the shipped spectra (tests).
    Events come in blocks of :data:`BLOCK_SIZE` with their own random streams
    (:func:`block_rngs`), from block ``first_block`` on: the same seed gives the same batch, bit
    for bit, and the same events as a reach scan or an events file of that seed.  ``sampling``
    'directed' points the LLPs into the detector (:data:`SAMPLINGS`, :func:`window`) and draws
    their photons inside the energy window; the importance weights are part of ``w_norm``
    (w_sampling) and ``w_photon``.  ``allocation`` 'neyman' shares the same total,
    n_events x channels, by each channel's contribution (:mod:`mcsim.allocation`: at least one
    block per channel, the rest in proportion to the spread its first block measured).
    """
    if isinstance(detector, str):
        detector = load_detector(detector)
    if detector.beam == "e+e-":  # a collider card: e+ e- -> gamma chi1 chi2 (mcsim.collider)
        from .collider import ColliderDetector
        from .collider import simulate as simulate_collider

        assert isinstance(detector, ColliderDetector)
        block_seed = np.random.SeedSequence(master_seed(seed), spawn_key=(0, int(first_block)))
        return simulate_collider(
            model,
            detector,
            n_events=n_events,
            seed=np.random.default_rng(block_seed),
            mode=mode,
            threshold=threshold,
            channels=channels,
        )
    assert isinstance(detector, Detector)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if isinstance(n_events, bool) or not isinstance(n_events, (int, np.integer)) or n_events < 1:
        raise ValueError(f"n_events must be an integer >= 1, got {n_events!r}")
    if threshold is not None and not (threshold >= 0.0 and math.isfinite(threshold)):
        raise ValueError(f"threshold must be a finite energy >= 0 GeV, got {threshold!r}")
    seed = master_seed(seed)
    angle = window(detector, mode, sampling)
    source = SpectraSource(detector) if source is None else source
    chans = select_channels(model, source, channels)
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {', '.join(ALLOCATIONS)}, got {allocation!r}")

    def run(index: int, n: int, block: int) -> tuple[dict, float]:
        return _run_channel(
            index, chans[index], model, detector, source, n, seed, block, mode, threshold, angle
        )

    n_events, first_block = int(n_events), int(first_block)
    parts, n_mesons = [], []
    for index in range(len(chans)):
        arrays, n_m = run(index, min(n_events, BLOCK_SIZE), first_block)
        parts.append(arrays)
        n_mesons.append(n_m)
    counts = [n_events] * len(chans)
    if allocation == "neyman" and n_events > BLOCK_SIZE:
        counts = from_pilots(n_events * len(chans), [p["weight"] for p in parts], BLOCK_SIZE)
    for index, (channel, n) in enumerate(zip(chans, counts)):
        if n > BLOCK_SIZE:  # the events after the first block
            parts[index] = concatenate(
                [parts[index], run(index, n - BLOCK_SIZE, first_block + 1)[0]]
            )
            w_norm = channel_normalisation(n_mesons[index], channel.br, n)
            normalise(parts[index], w_norm, detector.efficiency)
    merged = concatenate(parts, ARRAYS) if parts else _empty()
    metadata = {
        **run_metadata(model, detector, mode, threshold, sampling),
        "seed": seed,
        "channels": [c.name for c in chans],
        "mother_pdgids": [c.mother for c in chans],
        "n_mesons": n_mesons,
        "br": [c.br for c in chans],
        "n_generated": counts,
    }
    return EventBatch(merged, metadata)


def run_metadata(
    model: Model,
    detector: Detector | ColliderDetector,
    mode: str,
    threshold: float | None,
    sampling: str = "plain",
) -> dict:
    """What a sample's re-weighting and selection need to know of its model point and detector:
    model parameters, d and c*tau, the card, the calorimeter plane, the photon selection and
    how the events were sampled."""
    return {
        "sampling": sampling,
        "model": model.describe(),
        "llp_mass": model.llp_mass,
        "invisible_mass": model.invisible_mass,
        "d": model.d,
        "coupling_power": model.coupling_power,
        "ctau": model.ctau,
        "detector": detector.name,
        "card_path": detector.card_path,
        "card_text": detector.card_text,
        "calorimeter_z_m": detector.calorimeter.z_face,
        "mode": mode,
        "threshold": detector.photon_energy_min if threshold is None else float(threshold),
        "photon_energy_max": detector.photon_energy_max,
        "efficiency": detector.efficiency,
    }


def _coupling_ratio(batch: EventBatch, d: float) -> float:
    if not (d > 0.0 and math.isfinite(d)):
        raise ValueError(f"d must be a finite coupling > 0 GeV^-1, got {d!r}")
    return float(coupling_ratio(d, batch.metadata))


def coupling_ratio(d, metadata: dict):
    """r = (d / d_sample)^p: BR x r and c*tau / r at coupling d (scalar or array), p the
    model's coupling power (metadata 'coupling_power'; 2, the dipoles', if absent)."""
    return (np.asarray(d, dtype=np.float64) / metadata["d"]) ** metadata.get("coupling_power", 2.0)


def expected_events_at(batch: EventBatch, d: float) -> Estimate:
    """Expected signal events of ``batch`` at dipole coefficient d [GeV^-1] with their Monte
    Carlo error, exactly: BR x r and c*tau / r with r = (d / d_batch)^p (:func:`coupling_ratio`), decay probabilities
    recomputed (:func:`mcsim.yields.yield_sums` per channel, as the reach scans do)."""
    r = _coupling_ratio(batch, d)
    a, meta = batch.arrays, batch.metadata
    n_channels = len(meta["n_generated"])
    sums = np.zeros((2, n_channels))
    for c in range(n_channels):
        mine = a["channel"] == c
        s1, s2 = yield_sums(
            a["w_norm"][mine] * a["w_photon"][mine] * a["above_threshold"][mine],
            a["acc_intervals"][mine],
            a["beta_gamma"][mine],
            meta["ctau"],
            [r],
        )
        sums[:, c] = s1[0], s2[0]
    eff = meta["efficiency"]
    return estimate(eff * sums[0], eff * eff * sums[1], meta["n_generated"])


def reweight(batch: EventBatch, d: float) -> EventBatch:
    """``batch`` at dipole coefficient d [GeV^-1]: w_norm x r, c*tau / r (r = (d/d_batch)^p),
    decay probabilities recomputed exactly, and decay vertices (and photon impacts) moved by the
    quantile map so that they follow the new decay length.  Kinematics and flags are kept."""
    r = _coupling_ratio(batch, d)
    meta = batch.metadata
    ctau = meta["ctau"] / r
    a = dict(batch.arrays)
    a["w_norm"] = a["w_norm"] * r
    a["p_decay_volume"] = decay_probability(
        np.column_stack([a["s_in"], a["s_out"]]), a["beta_gamma"], ctau
    )
    a["p_decay_accepted"] = decay_probability(a["acc_intervals"], a["beta_gamma"], ctau)
    if len(batch):
        a["vertex"], a["impact"] = remap_vertices(a, meta["ctau"], ctau, meta["calorimeter_z_m"])
    a["weight"] = event_weight(a, meta["efficiency"])
    model = dict(meta["model"], d=float(d))
    new_meta = dict(meta, model=model, d=float(d), ctau=ctau, br=[b * r for b in meta["br"]])
    return EventBatch(a, new_meta)
