"""Models: widths and c*tau against the reference table of spec/physics-inputs.md; bad input."""

import math

import pytest

from mcsim.models.dipoles import DarkDipole, NeutrinoDipole
from mcsim.models.registry import model_from_options


@pytest.mark.parametrize(
    "m1, delta, d, ctau_ref",
    [
        (0.1, 0.1, 1e-4, 1.78e-2),  # 1.78 cm
        (1.0, 0.1, 1e-5, 1.78e-3),  # 1.78 mm
    ],
)
def test_dark_ctau_reference(m1, delta, d, ctau_ref):
    assert DarkDipole(m1, delta, d).ctau == pytest.approx(ctau_ref, rel=5e-3)


def test_neutrino_ctau_reference():
    assert NeutrinoDipole(0.1, 1e-6, "mu").ctau == pytest.approx(2.48, rel=5e-3)


def test_dark_width_equals_paper_form_a1():
    """Eq. (A.1) written with delta equals d^2 (M2^2 - M1^2)^3 / (2 pi M2^3)."""
    m = DarkDipole(0.37, 0.23, 3e-5)
    delta = m.delta
    paper = m.d**2 * m.m1**3 / (2 * math.pi) * delta**3 * (2 + delta) ** 3 / (1 + delta) ** 3
    assert m.width == pytest.approx(paper, rel=1e-12)


def test_ctau_scales_as_inverse_d_squared():
    m = DarkDipole(0.2, 0.05, 1e-4)
    assert m.with_coupling(1e-3).ctau == pytest.approx(m.ctau / 100.0, rel=1e-12)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(m1=0.0, delta=0.1, d=1e-4), "m1"),
        (dict(m1=-1.0, delta=0.1, d=1e-4), "m1"),
        (dict(m1=0.1, delta=0.0, d=1e-4), "delta"),
        (dict(m1=0.1, delta=-0.1, d=1e-4), "delta"),
        (dict(m1=0.1, delta=0.1, d=0.0), "d"),
        (dict(m1=0.1, delta=0.1, d=float("nan")), "d"),
    ],
)
def test_dark_bad_input_names_parameter_and_range(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} must be a number in \[.*\].*, got"):
        DarkDipole(**kwargs)


def test_neutrino_bad_input():
    with pytest.raises(ValueError, match=r"^m_n must be a number in \[1e-06, 100\] GeV, got"):
        NeutrinoDipole(-0.1, 1e-6, "mu")
    with pytest.raises(ValueError, match=r"^d must be"):
        NeutrinoDipole(0.1, -1e-6, "mu")
    with pytest.raises(ValueError, match=r"flavour must be one of e, mu, tau"):
        NeutrinoDipole(0.1, 1e-6, "sterile")


def test_unknown_model():
    with pytest.raises(ValueError, match="model must be 'dark-dipole' or 'neutrino-dipole'"):
        model_from_options("axion", d=1e-4, m1=0.1, delta=0.1)
