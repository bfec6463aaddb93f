"""Independent references for the tests: numbers taken from the paper and from
spec/physics-inputs.md, and plain-numpy computations that share no code with mcsim.

* :func:`invariant_mass` -- the mass of 4-momenta, numerically sound for ultra-relativistic
  particles, so that a mass-shell check can be made on the mass itself;
* :data:`SPEC_DETECTORS` and :func:`brute_force_acceptance` -- the decay and photon acceptance
  of a cylindrical decay volume with a disc calorimeter, estimated by Monte Carlo integration of
  the exponential decay density along each LLP path (no interval algebra, no mcsim geometry).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def invariant_mass(p: np.ndarray) -> np.ndarray:
    """m = sqrt(E^2 - |p|^2) of 4-momenta p (n, 4) [GeV], as sqrt((E - |p|)(E + |p|)): E - |p|
    is exact for E and |p| within a factor 2 (Sterbenz), so the only error is the rounding of
    the stored components, delta(m^2) ~ eps E^2, not the cancellation of E^2 - |p|^2.  A
    negative m^2 from rounding gives a negative m (so that |m - M| still measures it)."""
    e = p[:, 0]
    pabs = np.linalg.norm(p[:, 1:], axis=1)
    m2 = (e - pabs) * (e + pabs)
    return np.sign(m2) * np.sqrt(np.abs(m2))


def mass_shell_violation(p: np.ndarray, mass: float) -> float:
    """max |m - M| [GeV] over the 4-momenta p (n, 4) of particles of mass M [GeV] (0 if none)."""
    return float(np.max(np.abs(invariant_mass(p) - mass), initial=0.0))


#: A mass-shell tolerance [GeV], on the mass itself: 0.5 MeV, twenty times below the 10 MeV a
#: wrong mass would give at any energy, and above the rounding of the stored components of a
#: massless particle at 3 TeV (m ~ sqrt(2 k eps) E ~ 1e-4 GeV for a few ulps k; a massive
#: particle rounds to only ~ k eps E^2 / M).
MASS_TOLERANCE = 5e-4


@dataclass(frozen=True)
class SpecDetector:
    """A cylindrical decay volume z0 < z < z1, r < radius, and a disc calorimeter face at
    z_face (hole_radius < r < calo_radius), with the photon energy threshold and efficiency."""

    z0: float
    z1: float
    radius: float
    z_face: float
    calo_radius: float
    hole_radius: float
    e_min: float
    efficiency: float


#: From the paper (Sec. 3, 4.2) and physics-inputs.md, typed here, not read from the cards.
SPEC_DETECTORS = {
    # decay volume 79 m to 79 + 138 = 217 m, radius 1 m; LKr face at 217 m, radius 1.2 m, beam
    # hole 8 cm; E_gamma > 1 GeV
    "na62": SpecDetector(79.0, 217.0, 1.0, 217.0, 1.2, 0.08, 1.0, 1.0),
    # 2.6 m diameter, 23 m long, 64 m from the target, the photon reaches its downstream face;
    # E_gamma > 3 GeV, 70% efficiency
    "nucal": SpecDetector(64.0, 87.0, 1.3, 87.0, 1.3, 0.0, 3.0, 0.7),
}


def brute_force_acceptance(
    llp: np.ndarray,
    m_llp: float,
    photon: np.ndarray,
    ctau: float,
    det: SpecDetector,
    rng: np.random.Generator,
    draws: int = 16,
) -> np.ndarray:
    """Per-event Monte Carlo estimate (n,) of efficiency x P(the LLP decays inside the decay
    volume and its photon, above threshold, hits the calorimeter face), for LLPs llp (n, 4)
    [GeV] from the origin and their photons (n, 4) [GeV].

    The decay position s along each path is drawn ``draws`` times uniformly between the planes
    z0 and z1, and weighted by (s1 - s0) x exp(-s / lam) / lam, lam = |p| / m x c*tau: the mean
    is the integral of the exponential decay density over the accepted decay positions (each
    draw tested here with plain numpy)."""
    n = len(llp)
    pabs = np.linalg.norm(llp[:, 1:], axis=1)
    u = llp[:, 1:] / pabs[:, None]
    lam = pabs / m_llp * ctau
    forward = u[:, 2] > 0
    uz = np.where(forward, u[:, 2], 1.0)
    s0, s1 = det.z0 / uz, det.z1 / uz
    s = s0[:, None] + (s1 - s0)[:, None] * rng.random((n, draws))
    density = (s1 - s0)[:, None] * np.exp(-s / lam[:, None]) / lam[:, None]
    vertex = s[..., None] * u[:, None, :]  # (n, draws, 3)
    inside = np.hypot(vertex[..., 0], vertex[..., 1]) < det.radius
    t = photon[:, 1:] / np.linalg.norm(photon[:, 1:], axis=1)[:, None]
    tz = np.where(t[:, 2] > 0, t[:, 2], np.nan)  # a backward photon never reaches the face
    step = (det.z_face - vertex[..., 2]) / tz[:, None]
    r_face = np.hypot(vertex[..., 0] + step * t[:, None, 0], vertex[..., 1] + step * t[:, None, 1])
    hits = (r_face > det.hole_radius) & (r_face < det.calo_radius)  # NaN compares False
    above = photon[:, 0] > det.e_min
    accepted = inside & hits & (forward & above)[:, None]
    return det.efficiency * np.mean(np.where(accepted, density, 0.0), axis=1)


def pull(values: np.ndarray, reference: np.ndarray) -> float:
    """(sum values - sum reference) / its standard error, from the per-event differences: for
    exact per-event values and an unbiased per-event Monte Carlo reference, a standard normal."""
    diff = np.asarray(values, dtype=float) - np.asarray(reference, dtype=float)
    return float(diff.sum() / (diff.std() * np.sqrt(diff.size)))
