"""mcsim.scan.fused.select_block, the reach scans' one-pass kernel: from the same streams it gives,
for every geometry at once, exactly what the separate kernels give -- chain.produce (meson and
production decay, plain, directed or tilted) followed by propagate.propagate -- wherever the
photon reaches the calorimeter, and nothing elsewhere."""

import numpy as np
import pytest

from mcsim.detector.cards import load_detector
from mcsim.detector.propagate import propagate
from mcsim.models.channels import open_channels
from mcsim.models.dipoles import DarkDipole, NeutrinoDipole
from mcsim.scan.fused import Buffers, select_block
from mcsim.sources.mesons import SpectraSource, produce

N = 20_000


E_MIN = 1.0  #: the photon-energy threshold [GeV] of the tests (directed photons: drawn above)


def _geometry(det, mode):
    window = (E_MIN, det.photon_energy_max)
    if mode == "cone":
        return det.cone, det.calorimeter, False, *window
    return det.decay_volume, det.calorimeter, True, *window


def _separate(channel, model, source, det, mode, window, seed, tilt=None):
    """What the separate kernels give for the two streams of ``seed``."""
    rng_production = np.random.default_rng([seed, 0])
    if tilt is None:
        mothers, products = produce(channel, source, N, rng_production, window)
        weight = products["weight"]
    else:  # the scans' refinement: mesons tilted in momentum, the LLP as in produce
        from mcsim.models.channels import decay_mothers
        from mcsim.sources.spectra import load_table, sample_momenta_tilted

        table = load_table(channel.mother, det.beam)
        mothers, weight = sample_momenta_tilted(table, N, rng_production, tilt)
        products = decay_mothers(channel, mothers, rng_production, window)
        weight = weight * products["weight"]
    prop = propagate(
        products["llp"],
        m_llp=model.llp_mass,
        m_invisible=model.invisible_mass,
        detector=det,
        mode=mode,
        ctau=1.0,
        rng=np.random.default_rng([seed, 1]),
        threshold=E_MIN,
        directed=window > 0.0,
    )
    return mothers, weight * prop["w_photon"], prop


@pytest.mark.parametrize(
    "model,card,mother,window",
    [
        (DarkDipole(m1=0.1, delta=0.1, d=1e-5), "na62", 113, 0.0),  # rho, two-body
        (DarkDipole(m1=0.1, delta=0.1, d=1e-5), "na62", 221, 0.0),  # eta, Dalitz
        (DarkDipole(m1=0.1, delta=0.1, d=1e-5), "ship", 113, 0.05),  # directed
        (DarkDipole(m1=0.05, delta=0.1, d=1e-5), "faser2", 111, 2e-3),  # directed Dalitz
        (NeutrinoDipole(m_n=0.3, flavour="mu", d=1e-6), "ship", 321, 0.0),  # K -> mu N gamma
    ],
)
def test_one_pass_equals_the_separate_kernels_in_every_geometry(model, card, mother, window):
    det = load_detector(card)
    source = SpectraSource(det)
    (channel,) = [c for c in open_channels(model) if c.mother == mother]
    modes = ("full", "cone")
    buffers = Buffers(len(modes), N)
    all_hits = select_block(
        channel,
        source.sampling(channel, window),
        model,
        [_geometry(det, m) for m in modes],
        N,
        np.random.default_rng([5, 0]),
        np.random.default_rng([5, 1]),
        window,
        buffers,
    )
    for mode, hits in zip(modes, all_hits):
        mothers, weight, prop = _separate(channel, model, source, det, mode, window, 5)
        hit = prop["photon_hits_calo"]
        assert 0 < hit.sum() < N  # both branches of the kernel are exercised
        np.testing.assert_array_equal(hits.weight, weight[hit])
        np.testing.assert_array_equal(hits.acc_intervals, prop["acc_intervals"][hit])
        np.testing.assert_array_equal(hits.beta_gamma, prop["beta_gamma"][hit])
        np.testing.assert_array_equal(hits.e_photon, prop["p4_photon"][hit, 0])
        np.testing.assert_allclose(
            hits.p_meson, np.linalg.norm(mothers[hit, 1:], axis=1), rtol=1e-15
        )


def test_tilted_mesons_and_reused_buffers():
    """A momentum tilt (the refinement's), into buffers a longer block has filled before."""
    model = DarkDipole(m1=0.1, delta=0.1, d=1e-5)
    det = load_detector("na62")
    source = SpectraSource(det)
    (channel,) = [c for c in open_channels(model) if c.mother == 223]
    counts = source.sampling(channel)[0].counts
    tilt = np.linspace(0.2, 1.8, counts.shape[0])
    tilt /= counts.sum(axis=1) @ tilt / counts.sum()  # the tilted density sums to 1
    buffers = Buffers(1, 2 * N)
    geo = [_geometry(det, "full")]
    select_block(channel, source.sampling(channel), model, geo, 2 * N, *_rngs(9), 0.0, buffers)
    (hits,) = select_block(
        channel, source.sampling(channel, tilt=tilt), model, geo, N, *_rngs(5), 0.0, buffers
    )
    _, weight, prop = _separate(channel, model, source, det, "full", 0.0, 5, tilt)
    hit = prop["photon_hits_calo"]
    assert len(np.unique(weight)) > 10  # the tilt is at work
    np.testing.assert_array_equal(hits.weight, weight[hit])
    np.testing.assert_array_equal(hits.acc_intervals, prop["acc_intervals"][hit])


def _rngs(seed):
    return np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
