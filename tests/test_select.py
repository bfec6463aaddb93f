"""propagate.select, the reach scans' slim propagation: the same values as propagate() from the
same stream wherever the photon reaches the calorimeter, and nothing elsewhere."""

import numpy as np
import pytest

from mcsim.detector import load_detector
from mcsim.propagate import propagate, select

M_LLP, M_INV = 0.11, 0.10  # chi2, chi1 [GeV]


def _llps(n, rng, theta_scale):
    p = rng.uniform(5.0, 500.0, n)
    theta = np.abs(rng.normal(0.0, theta_scale, n))
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    return np.column_stack(
        [
            np.sqrt(p**2 + M_LLP**2),
            p * np.sin(theta) * np.cos(phi),
            p * np.sin(theta) * np.sin(phi),
            p * np.cos(theta),
        ]
    )


@pytest.mark.parametrize(
    "card,mode,theta_scale",
    [
        ("na62", "full", 0.01),
        ("na62", "cone", 0.01),
        ("ship", "full", 0.05),
        ("faser2", "full", 1e-3),
    ],
)
def test_select_equals_propagate_where_the_photon_is_accepted(card, mode, theta_scale):
    det = load_detector(card)
    llp = _llps(50_000, np.random.default_rng(3), theta_scale)
    kw = dict(m_llp=M_LLP, m_invisible=M_INV, detector=det, mode=mode)
    full = propagate(llp, ctau=1.0, rng=np.random.default_rng(7), threshold=0.0, **kw)
    slim = select(llp, rng=np.random.default_rng(7), **kw)
    hits = full["photon_hits_calo"]
    # both outcomes occur, so the comparison sees the skipped and the decayed branch
    assert 0.05 < hits.mean() < 0.95
    np.testing.assert_array_equal(slim["photon_hits_calo"], hits)
    np.testing.assert_array_equal(slim["beta_gamma"], full["beta_gamma"])
    np.testing.assert_array_equal(slim["acc_intervals"][hits], full["acc_intervals"][hits])
    np.testing.assert_array_equal(slim["e_photon"][hits], full["p4_photon"][hits, 0])
    assert not slim["acc_intervals"][~hits].any() and not slim["e_photon"][~hits].any()


def test_select_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode must be one of full, cone"):
        select(
            np.zeros((1, 4)),
            m_llp=M_LLP,
            m_invisible=M_INV,
            detector=load_detector("na62"),
            mode="box",
            rng=np.random.default_rng(1),
        )
