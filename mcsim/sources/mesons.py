"""The meson-decay source: mesons from spectrum tables (:mod:`mcsim.sources.spectra`),
normalised to the detector's exposure, decayed to the long-lived state through a model's
production channels (:mod:`mcsim.models.channels`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from mcsim.detector.cards import Detector
from mcsim.models.channels import Channel, decay_mothers, open_channels
from mcsim.models.registry import Model
from mcsim.physics.directed import meson_tilt
from mcsim.sources import spectra

__all__ = ["MesonDecays", "MesonSpectra", "SpectraSource", "produce", "select_channels"]


class MesonSpectra(Protocol):
    """Where the mesons come from: momenta and normalisation per table key (positive PDG ID)."""

    def sample(self, pdgid: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """n lab-frame 4-momenta (n, 4) [GeV] of the meson (both charges for charged species)."""

    def produces(self, pdgid: int) -> bool:
        """Whether the source has mesons of this species at all."""

    def n_mesons(self, pdgid: int) -> float:
        """N_M: mesons of the species (both charges) produced in the whole exposure."""

    def positive_fraction(self, pdgid: int) -> float:
        """Fraction of positive charges among them (charged species only)."""


@dataclass(frozen=True)
class SpectraSource:
    """Mesons from the shipped spectrum tables (:mod:`mcsim.sources.spectra`), normalised to the
    detector's exposure: N_M = n_collisions x f_M (Eq. 4.2)."""

    detector: Detector

    def sample(self, pdgid: int, n: int, rng: np.random.Generator) -> np.ndarray:
        return spectra.sample_momenta(spectra.load_table(pdgid, self.detector.beam), n, rng)

    def sample_directed(
        self, channel: Channel, n: int, rng: np.random.Generator, window: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mothers of ``channel`` tilted towards the table bins whose LLPs reach ``window``
        [rad] (:func:`mcsim.physics.directed.meson_tilt`) and their importance weights (n,)."""
        table, prob, alias, bin_weight = self.sampling(channel, window)
        momenta, bins = spectra.draw(table, prob, alias, n, rng)
        return momenta, bin_weight[bins]

    def sampling(self, channel: Channel, window: float = 0.0, tilt=None) -> tuple:
        """(table, prob, alias, bin_weight): the spectrum table of ``channel``'s mother, the
        alias table its mesons are drawn from and the importance weight of each flat bin --
        the table itself (weights 1) for plain sampling; tilted by ``tilt`` (a factor per bin
        or momentum bin, :func:`mcsim.sources.spectra.sample_momenta_tilted`) if given, else for
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
    model: Model, source: MesonSpectra, mothers: list[int] | None = None
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


def _charges(
    model: Model, channel: Channel, n: int, source: MesonSpectra, rng: np.random.Generator
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
    channel: Channel, source: MesonSpectra, n: int, rng: np.random.Generator, window: float = 0.0
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The detector-independent step: n mothers (n, 4) [GeV] from ``source`` and their decay
    products through ``channel`` (see :func:`mcsim.models.channels.decay_mothers`).  With ``window``
    [rad] > 0 (directed sampling) the mothers are drawn preferably where their LLP can fly
    within ``window`` of the beam axis (:meth:`SpectraSource.sample_directed`), and the LLP is
    pointed into it (:mod:`mcsim.physics.directed`); products['weight'] holds the importance weights."""
    sample_directed = getattr(source, "sample_directed", None)
    if window > 0.0 and sample_directed is not None:
        mothers, weights = sample_directed(channel, n, rng, window)
    else:
        mothers, weights = source.sample(channel.mother, n, rng), np.ones(n)
    mothers = np.ascontiguousarray(mothers, dtype=np.float64)
    products = decay_mothers(channel, mothers, rng, window)
    products["weight"] = products["weight"] * weights
    return mothers, products


@dataclass(frozen=True)
class MesonDecays:
    """The :class:`mcsim.sources.base.EventSource` of meson decays: ``model``'s production
    channels in the mesons of ``spectra`` (default: the shipped tables at ``detector``'s beam,
    normalised to its exposure).  A channel's rate is its BR, its exposure N_M."""

    model: Model
    detector: Detector
    spectra: MesonSpectra | None = None

    name = "meson decays"
    exposure_label = "N_M: mesons produced in the exposure"
    rate_label = "BR of the production channel"
    #: channels share the events by their contribution (mcsim.generation.allocation)
    allocatable = True
    #: a kernel of mcsim.scan.fused runs its events through the scan
    fused_scan = True

    @property
    def mesons(self) -> MesonSpectra:
        return SpectraSource(self.detector) if self.spectra is None else self.spectra

    def channels(self, mothers: list[int] | None = None) -> list[Channel]:
        return select_channels(self.model, self.mesons, mothers)

    def exposure(self, channel: Channel) -> float:
        return self.mesons.n_mesons(channel.mother)

    def produce(self, channel, n: int, rng, rng_charge, window: float = 0.0) -> dict:
        mothers, products = produce(channel, self.mesons, n, rng, window)
        anti = _charges(self.model, channel, n, self.mesons, rng_charge)
        sign = np.where(anti & (channel.kind == "charged"), -1, 1)
        return {
            "mother_pdgid": (sign * channel.mother).astype(np.int32),
            "is_antiparticle": anti,
            "p4_meson": mothers,
            "p4_llp": products["llp"],
            "p4_invisible": products.get("invisible", np.zeros((n, 4))),
            "p4_prompt_photon": products.get("photon", np.zeros((n, 4))),
            "p4_lepton": products.get("lepton", np.zeros((n, 4))),
            "w_sampling": products["weight"],
        }

    def why_closed(self) -> str:
        model = self.model
        point = ", ".join(
            f"{k} = {v:g}" for k, v in model.describe().items() if isinstance(v, float)
        )
        return (
            f"every production channel is closed for the {model.kind} model at {point} "
            f"(or the {self.detector.beam} beam makes none of its mesons)"
        )

    def metadata(self, channels: list[Channel]) -> dict:
        if self.spectra is not None:
            return {}
        beam = self.detector.beam
        return {"spectra": [_spectrum_info(c.mother, beam) for c in channels]}


def _spectrum_info(mother: int, beam: str) -> dict:
    """Provenance of the spectrum table a channel's mesons were drawn from."""
    table = spectra.load_table(mother, beam)
    meta = {k: v for k, v in table.meta.items() if k != "card_text"}
    return {"table": f"{beam}/{table.name}.npz", "multiplicity": table.multiplicity, **meta}
