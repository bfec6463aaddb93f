"""Tests of mcsim.sources.spectra: shipped tables, the sampler, the normalisation, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from references import MASS_TOLERANCE, mass_shell_violation
from scipy import stats

from mcsim.physics.particles import sm
from mcsim.runtime.defaults import BEAMS
from mcsim.sources.spectra import (
    TABLE_MESONS,
    available_tables,
    is_produced,
    load_table,
    mesons_per_pot,
    positive_fraction,
    sample_momenta,
    table_path,
)

#: Paper Table 1, per pp collision.
TABLE1 = {"pi0": 4.3, "eta": 0.49, "etap": 0.055, "rho": 0.58, "omega": 0.57, "phi": 0.021}


def test_every_paper_meson_has_a_table_where_it_matters():
    shipped = set(available_tables())
    for beam in ("sps400", "sps450", "lhc14"):
        assert {(beam, m) for m in TABLE_MESONS} <= shipped
    assert {
        ("u70", m) for m in (111, 221, 331, 113, 223, 333, 443, 321, 411, 431, 100443)
    } <= shipped


@pytest.mark.parametrize("beam, pdgid", available_tables())
def test_shipped_tables_are_consistent(beam, pdgid):
    t = load_table(pdgid, beam)
    assert t.counts.shape == (t.log10p_edges.size - 1, t.log10theta_edges.size - 1)
    assert t.meta["beam"] == beam and t.meta["pdgid"] == pdgid
    assert t.meta["kind"] in ("physical", "shape")
    assert t.meta["pythia_version"] == "8.317"
    assert 0 < t.multiplicity == pytest.approx(t.n_entries / t.meta["events"])
    # everything in the lab frame: no meson above the beam momentum (edge-bin width 0.05 dex)
    p_beam = {"sps400": 400, "sps450": 450, "u70": 70, "lhc14": 7000}[beam]
    filled = np.nonzero(t.counts.sum(axis=1))[0]
    assert t.log10p_edges[filled[-1]] < np.log10(p_beam)


@pytest.mark.parametrize("name", list(TABLE1))
def test_sps400_light_multiplicities_match_table1(name):
    """PYTHIA8 SoftQCD:all at 400 GeV, counting every occurrence (pi0 from all sources)."""
    t = load_table(name, "sps400")
    assert t.meta["kind"] == "physical"
    assert t.multiplicity == pytest.approx(TABLE1[name], rel=0.15)


def test_charged_mesons_share_one_table():
    for neg, pos in (("K-", "K+"), ("D-", "D+"), ("Ds-", "Ds+"), ("B-", "B+"), (-321, 321)):
        assert load_table(neg, "sps400").pdgid == load_table(pos, "sps400").pdgid
    t = load_table("D+", "sps400")
    assert 0.3 < t.n_positive / t.n_entries < 0.7


def _marginal_pvalues(table, sample, edges_p, edges_t):
    p = np.linalg.norm(sample[:, 1:], axis=1)
    theta = np.arccos(sample[:, 3] / p)
    pvals = []
    for values, edges, marginal in (
        (np.log10(p), edges_p, table.counts.sum(axis=1)),
        (np.log10(theta), edges_t, table.counts.sum(axis=0)),
    ):
        observed, _ = np.histogram(values, bins=edges)
        expected = marginal / marginal.sum() * len(values)
        keep = expected > 20  # chi-square validity; the rest is a tiny tail
        obs, exp = observed[keep], expected[keep]
        pvals.append(stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue)
    return pvals


@pytest.mark.parametrize("meson, beam", [("pi0", "sps400"), ("D+", "sps400"), ("eta", "lhc14")])
def test_samples_reproduce_table_marginals(meson, beam):
    t = load_table(meson, beam)
    sample = sample_momenta(t, 200_000, np.random.default_rng(7))
    for pvalue in _marginal_pvalues(t, sample, t.log10p_edges, t.log10theta_edges):
        assert pvalue > 1e-3


def test_marginal_test_detects_a_wrong_shape():
    t = load_table("pi0", "sps400")
    sample = sample_momenta(t, 200_000, np.random.default_rng(7))
    sample[:, 1:] *= 1.2  # momenta 20% too high
    assert _marginal_pvalues(t, sample, t.log10p_edges, t.log10theta_edges)[0] < 1e-6


def test_samples_are_on_shell_and_isotropic_in_phi():
    t = load_table("K+", "sps400")
    p4 = sample_momenta(t, 100_000, np.random.default_rng(3))
    assert mass_shell_violation(p4, sm(321).mass) < MASS_TOLERANCE
    phi = np.arctan2(p4[:, 2], p4[:, 1])
    assert stats.kstest(phi, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3


def test_same_seed_same_samples():
    t = load_table("omega", "lhc14")
    a = sample_momenta(t, 1000, np.random.default_rng(11))
    b = sample_momenta(t, 1000, np.random.default_rng(11))
    assert a.dtype == np.float64 and a.shape == (1000, 4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, sample_momenta(t, 1000, np.random.default_rng(12)))


def test_normalisation_follows_the_paper():
    assert mesons_per_pot("pi0", "sps400", 63.5) == 4.3
    assert mesons_per_pot("D+", "sps400", 63.5) == pytest.approx(4.3e-4 * 63.5**0.29)
    assert mesons_per_pot("B-", "sps400", 96) == pytest.approx(6.0e-8 * 96**0.29)
    assert mesons_per_pot("jpsi", "sps400", 96) == pytest.approx(4.7e-6 * 96**0.29)
    assert mesons_per_pot("upsilon", "sps400", 63.5) == pytest.approx(2.2e-9 * 63.5**0.29)
    assert mesons_per_pot("K+", "sps400", 63.5) == mesons_per_pot("K-", "sps400", 9) == 0.36
    assert positive_fraction("K-", "sps400") == pytest.approx(0.29 / 0.36)
    assert mesons_per_pot("pi0", "u70", 56) == load_table("pi0", "u70").multiplicity
    assert mesons_per_pot("eta", "lhc14", 1) == load_table("eta", "lhc14").multiplicity
    assert not is_produced("K+", "lhc14") and is_produced("K+", "sps400")  # no K+- decays at the IP
    assert not is_produced("upsilon", "u70")
    # sps450: Table 1 scaled by PYTHIA8's energy dependence, a small correction
    assert mesons_per_pot("pi0", "sps450", 9) == pytest.approx(4.3, rel=0.1)
    assert 0.3 < positive_fraction("Ds+", "lhc14") < 0.7
    # J/psi per pp collision rises with the collision energy from near threshold at 70 GeV
    jpsi = [mesons_per_pot("jpsi", beam, 1.0) for beam in ("u70", "sps400", "sps450", "lhc14")]
    assert set(BEAMS) == {"u70", "sps400", "sps450", "lhc14"}
    assert jpsi[1] == 4.7e-6 and np.all(np.diff(jpsi) > 0)


def test_bad_input_is_reported():
    with pytest.raises(ValueError, match="unknown meson 'kaon'"):
        load_table("kaon", "sps400")
    with pytest.raises(ValueError, match="no spectrum table for meson 211"):
        load_table(211, "sps400")
    with pytest.raises(ValueError, match="unknown beam 'tevatron'"):
        load_table("pi0", "tevatron")
    with pytest.raises(ValueError, match="not produced"):
        mesons_per_pot("upsilon", "u70", 56)
    with pytest.raises(ValueError, match="neutral"):
        positive_fraction("pi0", "sps400")
    with pytest.raises(ValueError, match="samples must be >= 0"):
        sample_momenta(load_table("pi0", "sps400"), -1, np.random.default_rng(1))


def test_missing_and_corrupt_tables_name_the_file(tmp_path):
    path = table_path("pi0", "sps400", directory=tmp_path)
    with pytest.raises(ValueError, match=f"{path} does not exist"):
        load_table("pi0", "sps400", directory=tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a table")
    with pytest.raises(ValueError, match=f"corrupt spectrum table {path}"):
        load_table("pi0", "sps400", directory=tmp_path)
    # a valid file for another meson is also refused
    path.write_bytes(table_path("eta", "sps400").read_bytes())
    with pytest.raises(ValueError, match=r"corrupt spectrum table .* holds pdgid 221"):
        load_table("pi0", "sps400", directory=tmp_path)


def test_in_bin_series_are_exact_to_rounding():
    """The sampler's series for exp (in-bin offsets) and (sin, cos) of the polar angle against
    libm, over the whole range [0, pi] and at the smallest forward angles."""
    from mcsim.sources.spectra import exp_in_bin, sin_cos_polar

    x = np.linspace(-0.3, 0.3, 6001)
    assert np.max(np.abs(np.array([exp_in_bin(v) for v in x]) / np.exp(x) - 1)) < 5e-16
    theta = np.concatenate([np.geomspace(1e-12, 0.3, 3000), np.linspace(0.3, np.pi, 3001)])
    sin_t, cos_t = np.array([sin_cos_polar(t) for t in theta]).T
    assert np.max(np.abs(sin_t / np.sin(theta) - 1)) < 1e-15
    assert np.max(np.abs(cos_t - np.cos(theta))) < 1e-15
    forward = theta < 1.0
    assert np.max(np.abs(cos_t[forward] / np.cos(theta[forward]) - 1)) < 3e-16


# ------------------------------------------------ quarkonia normalised to measured cross sections

#: LHCb prompt cross sections at 13 TeV in 2 < y < 4.5 [ub] and their pT range [GeV]:
#: J/psi 15.30 ub (pT < 14, JHEP 10 (2015) 172 and erratum JHEP 05 (2017) 063); Upsilon(1S)
#: sigma x B(mu mu) = 4.687 nb (pT < 15, JHEP 07 (2018) 134) / B(mu mu) = 2.48% (PDG 2024).
LHCB_13TEV = {"jpsi": (15.30, 14.0), "upsilon": (4.687e-3 / 0.0248, 15.0)}
TO_14TEV = 1.05  # power law in sqrt(s) through LHCb's 8 and 13 TeV cross sections
SIGMA_INEL_UB = 79.5e3


def _rapidity_pt(p):
    pt = np.hypot(p[:, 1], p[:, 2])
    return 0.5 * np.log((p[:, 0] + p[:, 3]) / (p[:, 0] - p[:, 3])), pt


@pytest.mark.parametrize("meson", list(LHCB_13TEV))
def test_lhc14_quarkonium_cross_section_in_lhcb_acceptance(meson):
    """sigma(2 < y < 4.5, pT < pT_max) from the shipped table (sampled) and the normalisation
    equals LHCb's 13 TeV value x 1.05 within 10%; PYTHIA8's own LO yield is > 2x off."""
    sigma_meas, pt_max = LHCB_13TEV[meson]
    table = load_table(meson, "lhc14")
    y, pt = _rapidity_pt(sample_momenta(table, 2_000_000, np.random.default_rng(5)))
    inside = np.mean((2.0 < y) & (y < 4.5) & (pt < pt_max))
    sigma = mesons_per_pot(meson, "lhc14", 1.0) * SIGMA_INEL_UB * inside
    assert sigma == pytest.approx(sigma_meas * TO_14TEV, rel=0.10)
    pythia_lo = table.multiplicity * table.meta["sigma_gen_mb"] * 1e3 * inside
    assert pythia_lo > 2.0 * sigma_meas * TO_14TEV


def test_acceptance_fraction_against_sampling():
    """The bin quadrature of acceptance_fraction agrees with the sampler to 1% for the LHCb
    region, and a window shifted by one unit of rapidity gives a clearly different fraction.
    (No forward-backward comparison: the tables resolve theta in log10 bins, fine forward and
    one bin wide near theta = pi.)"""
    from mcsim.sources.spectra import acceptance_fraction

    table = load_table("jpsi", "lhc14")
    y, pt = _rapidity_pt(sample_momenta(table, 1_000_000, np.random.default_rng(8)))
    for window in ((2.0, 4.5), (3.0, 5.5)):
        sampled = np.mean((window[0] < y) & (y < window[1]) & (2.0 < pt) & (pt < 14.0))
        assert acceptance_fraction(table, y=window, pt=(2.0, 14.0)) == pytest.approx(
            sampled, rel=0.01
        )
    assert acceptance_fraction(table, y=(3.0, 5.5), pt=(2.0, 14.0)) < 0.9 * acceptance_fraction(
        table, y=(2.0, 4.5), pt=(2.0, 14.0)
    )


def test_excited_quarkonia_normalisation():
    """psi(2S), Upsilon(2S, 3S): fixed target relative to J/psi and Upsilon(1S) (A^0.29
    included through the reference), LHC from LHCb; produced wherever their tables exist."""
    assert mesons_per_pot("psi2S", "sps400", 96) == pytest.approx(0.134 * 4.7e-6 * 96**0.29)
    assert mesons_per_pot("upsilon2S", "sps400", 63.5) == pytest.approx(0.34 * 2.2e-9 * 63.5**0.29)
    assert mesons_per_pot("upsilon3S", "sps450", 9) == pytest.approx(
        0.15 * mesons_per_pot("upsilon", "sps450", 9)
    )
    assert mesons_per_pot("psi2S", "u70", 56) == pytest.approx(
        0.134 * mesons_per_pot("jpsi", "u70", 56)
    )
    assert is_produced("psi2S", "u70") and not is_produced("upsilon2S", "u70")
    for beam in ("sps400", "sps450", "lhc14"):
        for meson in ("psi2S", "upsilon2S", "upsilon3S"):
            assert is_produced(meson, beam) and load_table(meson, beam).n_entries > 100
    # LHC: psi(2S)/J/psi and Upsilon(nS)/Upsilon(1S) in the LHCb acceptance as measured
    from mcsim.sources.spectra import acceptance_fraction

    def sigma_acc(meson, pt):
        t = load_table(meson, "lhc14")
        return mesons_per_pot(meson, "lhc14", 1) * acceptance_fraction(t, y=(2, 4.5), pt=pt)

    assert sigma_acc("psi2S", (2, 20)) * SIGMA_INEL_UB == pytest.approx(1.430 * TO_14TEV)
    ups = sigma_acc("upsilon", (0, 15))
    assert sigma_acc("upsilon2S", (0, 15)) / ups == pytest.approx(
        (1.134 / 0.0193) / (4.687 / 0.0248)
    )
    assert sigma_acc("upsilon3S", (0, 15)) / ups == pytest.approx(
        (0.561 / 0.0218) / (4.687 / 0.0248)
    )
