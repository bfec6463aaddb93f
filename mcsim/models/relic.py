"""Thermal relic abundance of chi1 (the chi2 -> chi1 gamma dipole): freeze-out with co-annihilation.

chi1 and chi2 (Majorana, g = 2 each, M2 = M1 (1 + delta)) are kept in chemical equilibrium with
each other (chi2 -> chi1 gamma and chi1 f <-> chi2 f through the dipole), so the summed abundance
Y = (n1 + n2) / s obeys one Boltzmann equation (Griest & Seckel, Phys. Rev. D 43 (1991) 3191;
Edsjo & Gondolo, Phys. Rev. D 56 (1997) 1879):

    dY/dx = -sqrt(pi/45) M_Pl g_*^(1/2)(T) M1 / x^2  <sigma_eff v>  (Y^2 - Y_eq^2),   x = M1/T,
    n_eq^2 <sigma_eff v> = 2 n1 n2 <sigma_12 v>
                         = 2 g1 g2 T / (32 pi^4) int ds sigma_12(s) lambda(s, M1^2, M2^2)
                                                      K1(sqrt(s)/T) / sqrt(s),
    Y_eq = (45 / (4 pi^4 h_eff)) sum_i g_i (M_i/T)^2 K2(M_i/T).

The dipole has no chi1 chi1 or chi2 chi2 annihilation: only chi1 chi2 -> gamma* -> f fbar,

    sigma_12(s) = e^2 d^2 F(s) / (3 pi s lambda^(1/2)(s, M1^2, M2^2))
                  x [sum_{l = e, mu, tau} (1 + 2 m_l^2 / s) beta_l + R(s)],

(F(s) as in :mod:`mcsim.physics.monophoton`; this is sigma(e+ e- -> chi1 chi2) crossed by detailed
balance), hadrons through the R ratio (:func:`r_ratio`).  g_eff, h_eff and g_*^(1/2) come from
:mod:`mcsim.physics.thermo`.  The equation is solved from x = 1 (deep in equilibrium) to x = 2000 (frozen)
by an L-stable implicit scheme (:func:`freeze_out`); Omega h^2 = M1 Y_0 s_0 / (rho_c / h^2) with
s_0 from h_eff today and T_0 = 2.7255 K.  Everything scales with d^2 through sigma_12, so the
thermal average is tabulated once per (M1, delta) and the coupling of Omega h^2 = 0.12 is found
by root finding in log d.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from mcsim.physics.constants import ALPHA, E_CHARGE_SQ, INPUTS
from mcsim.physics.particles import sm
from mcsim.physics.thermo import g_star_half, h_eff
from mcsim.runtime import user_cache
from mcsim.runtime.jit_cache import kernel, stamp

__all__ = [
    "M_PLANCK",
    "OMEGA_DM_H2",
    "RelicPoint",
    "cache_file",
    "freeze_out",
    "omega_h2",
    "r_ratio",
    "relic_coupling",
    "relic_line",
    "sigma_coannihilation",
    "write_relic_lines",
]

#: Planck 2018 (A&A 641 (2020) A6): Omega_c h^2 = 0.120.
OMEGA_DM_H2 = 0.12
#: Planck mass [GeV] (PDG).
M_PLANCK = 1.220890e19
#: CMB temperature today [GeV] (2.7255 K, Fixsen 2009) and critical density / h^2 [GeV cm^-3]
#: (PDG: 1.05371e-5) with (hbar c) = 1.97327e-14 GeV cm.
T_CMB = 2.7255 * 8.617333e-14
RHO_CRIT_H2 = 1.05371e-5
HBARC_GEV_CM = 1.973269804e-14

_ALPHA_S = 0.2  # alpha_s in the parton-model continuum of R (1 + alpha_s / pi)


def _bw(s, mass, width_of_s, br_ee):
    """R of one vector meson (relativistic Breit-Wigner, all non-ee decays hadronic):
    sigma = 12 pi BR_ee Gamma(M^2) Gamma(s) / ((s - M^2)^2 + M^2 Gamma(s)^2),
    R = sigma / sigma_pt with sigma_pt = 4 pi alpha^2 / (3 s)."""
    gam_peak = width_of_s(np.array(mass * mass))
    gam = width_of_s(s)
    sigma = 12.0 * math.pi * br_ee * gam_peak * gam / ((s - mass**2) ** 2 + mass**2 * gam**2)
    return sigma / (4.0 * math.pi * ALPHA**2 / (3.0 * s))


def r_ratio(sqrt_s):
    """R(s) = sigma(e+ e- -> hadrons) / sigma_pt(e+ e- -> mu+ mu-) at CM energy sqrt_s [GeV]
    (float or array): vector-meson dominance below about 1.5 GeV (rho with its P-wave pi pi
    width below the peak, omega, phi, J/psi, Upsilon(1S): masses and widths from `particle`, BR(V -> e+ e-)
    from data/constants.toml) plus the parton model N_c sum Q_q^2 (1 + alpha_s/pi) above the
    open thresholds (u, d, s switched on around 1.25 GeV, c above 2 m_D, b above 2 m_B).  It
    follows the measured R (PDG review 'Plots of cross sections and related quantities', R in
    e+ e- collisions) to about 30% outside the narrow resonances."""
    rs = np.asarray(sqrt_s, dtype=np.float64)
    s = rs * rs
    m_pi = sm(211).mass
    r = np.zeros_like(rs)
    for pdgid, row in INPUTS["vector_mesons"].items():
        v = sm(pdgid)
        if pdgid == 113:
            p0 = math.sqrt(v.mass**2 / 4 - m_pi**2)

            def rho_width(t, v=v, p0=p0):  # P-wave pi pi threshold, constant above the peak
                p = np.sqrt(np.maximum(t / 4 - m_pi**2, 0.0))
                return v.width * np.minimum((p / p0) ** 3 * v.mass / np.sqrt(t), 1.0)

            r += np.where(rs > 2 * m_pi, _bw(s, v.mass, rho_width, row["BR_ee"]), 0.0)
        else:

            def width(t, v=v):
                return np.full_like(t, v.width)

            r += np.where(rs > 3 * m_pi, _bw(s, v.mass, width, row["BR_ee"]), 0.0)
    qcd = 1.0 + _ALPHA_S / math.pi
    r += 0.5 * (1.0 + np.tanh((rs - 1.25) / 0.1)) * 2.0 * qcd  # u, d, s continuum
    r += np.where(rs > 2 * sm(411).mass, 4.0 / 3.0 * qcd, 0.0)
    r += np.where(rs > 2 * sm(521).mass, 1.0 / 3.0 * qcd, 0.0)
    return r if r.ndim else float(r)


def sigma_coannihilation(s, m1: float, m2: float, d: float):
    """sigma(chi1 chi2 -> f fbar) [GeV^-2], summed over e, mu, tau and hadrons, averaged over the
    initial spins, at squared CM energy s [GeV^2] (float or array; 0 below threshold)."""
    s = np.asarray(s, dtype=np.float64)
    big2 = (m1 + m2) ** 2
    above = s > big2
    s_ok = np.where(above, s, 2.0 * big2)
    lam = (s_ok - big2) * (s_ok - (m1 - m2) ** 2)
    f = (s_ok - big2) * (s_ok + 4.0 * m1 * m2) / 2.0 + big2 * (s_ok - big2 + 6.0 * m1 * m2)
    final = r_ratio(np.sqrt(s_ok))
    for pdgid in (11, 13, 15):
        m2l = sm(pdgid).mass ** 2
        final = final + np.where(
            s_ok > 4 * m2l,
            (1.0 + 2.0 * m2l / s_ok) * np.sqrt(np.maximum(1.0 - 4.0 * m2l / s_ok, 0.0)),
            0.0,
        )
    out = np.where(
        above, E_CHARGE_SQ * d * d * f * final / (3.0 * math.pi * s_ok * np.sqrt(lam)), 0.0
    )
    return out if out.ndim else float(out)


def _energy_grid(m1: float, m2: float, t_max: float) -> np.ndarray:
    """sqrt(s) - M1 - M2 [GeV] nodes for the thermal average: geometric from 1e-9 (M1 + M2) to
    60 T_max, plus dense nodes across every vector meson above threshold (+- 30 widths)."""
    big = m1 + m2
    nodes = [np.geomspace(1e-9 * big, 60.0 * t_max, 4000)]
    for pdgid in INPUTS["vector_mesons"]:
        v = sm(pdgid)
        if v.mass > big:
            nodes.append(
                np.clip(v.mass - big + np.linspace(-30, 30, 601) * v.width, 1e-9 * big, None)
            )
    return np.unique(np.concatenate(nodes))


def _log_sigma_v_eff_over_d2(m1: float, m2: float, x: np.ndarray) -> np.ndarray:
    """ln(<sigma_eff v> / d^2 [GeV^-4]) at x = M1/T (module docstring): trapezoid on
    :func:`_energy_grid` in e = sqrt(s) - M1 - M2, with exp(-(M1 + M2)/T) factored out of K1
    (it cancels against n_eq^2)."""
    from scipy import special  # only when a relic point is computed (0.6 s to import)

    t = m1 / np.asarray(x, dtype=np.float64)
    big = m1 + m2
    e = _energy_grid(m1, m2, float(t.max()))
    rs = big + e
    s = rs * rs
    lam = (s - big * big) * (s - (m1 - m2) ** 2)
    # ds sigma lambda K1(sqrt(s)/T) / sqrt(s) = de 2 sigma lambda K1
    base = 2.0 * sigma_coannihilation(s, m1, m2, 1.0) * lam
    k1 = special.k1e(rs[None, :] / t[:, None]) * np.exp(-e[None, :] / t[:, None])
    pair = 4.0 * t / (32.0 * math.pi**4) * np.trapezoid(base[None, :] * k1, e, axis=1)
    n1 = 2.0 * m1**2 * t * special.kve(2, m1 / t) / (2.0 * math.pi**2)
    n2 = 2.0 * m2**2 * t * special.kve(2, m2 / t) / (2.0 * math.pi**2) * np.exp(-(m2 - m1) / t)
    return np.log(2.0 * pair) - (m2 - m1) / t - 2.0 * np.log(n1 + n2)


def _log_y_eq(m1: float, m2: float, x: np.ndarray) -> np.ndarray:
    """ln Y_eq, Y_eq = (n1 + n2)_eq / s at x = M1/T (Boltzmann statistics, exp(-x) factored
    out of the Bessel functions so that any x is representable)."""
    from scipy import special  # scipy (0.6 s): only for this computation

    t = m1 / np.asarray(x, dtype=np.float64)
    n = sum(2.0 * m * m * t * special.kve(2, m / t) * np.exp(-(m - m1) / t) for m in (m1, m2)) / (
        2.0 * math.pi**2
    )
    return -x + np.log(n / (2.0 * math.pi**2 / 45.0 * h_eff(t) * t**3))


@dataclass(frozen=True)
class RelicPoint:
    """Tabulated freeze-out inputs of one (M1 [GeV], delta): ln <sigma_eff v>/d^2 and ln Y_eq
    against ln x, and the Hubble factor sqrt(pi/45) M_Pl g_*^(1/2) M1."""

    m1: float
    delta: float
    log_x: np.ndarray
    log_sv: np.ndarray
    log_yeq: np.ndarray
    hubble: np.ndarray

    @classmethod
    @lru_cache(maxsize=256)
    def build(cls, m1: float, delta: float) -> RelicPoint:
        m2 = m1 * (1.0 + delta)
        x = np.geomspace(1.0, 2000.0, 160)
        log_sv = _log_sigma_v_eff_over_d2(m1, m2, x)
        yeq = _log_y_eq(m1, m2, x)
        hub = math.sqrt(math.pi / 45.0) * M_PLANCK * np.asarray(g_star_half(m1 / x)) * m1
        return cls(m1, delta, np.log(x), log_sv, yeq, hub)


@kernel()
def _backward_euler(log_x, log_rate, log_y_eq, n):
    """Y at the last node of log_x from dY/du = -exp(log_rate(u) - u) (Y^2 - Y_eq^2), u = ln x,
    backward Euler in n equal steps of u (each step's quadratic solved exactly; L-stable, so
    the stiff equilibrium phase needs no small steps), starting at Y_eq."""
    u0, u1 = log_x[0], log_x[-1]
    h = (u1 - u0) / n
    y = math.exp(log_y_eq[0])
    for i in range(1, n + 1):
        u = u0 + i * h
        a = h * math.exp(np.interp(u, log_x, log_rate) - u)
        ye = math.exp(np.interp(u, log_x, log_y_eq))
        c = y + a * ye * ye
        y = 2.0 * c / (1.0 + math.sqrt(1.0 + 4.0 * a * c))
    return y


def freeze_out(log_x, log_rate, log_y_eq, *, steps: int = 20_000) -> float:
    """Y at the last x from dY/dx = -rate(x) / x^2 (Y^2 - Y_eq^2) with rate = sqrt(pi/45) M_Pl
    g_*^(1/2) M1 <sigma_eff v>, both tabulated against ln x (linear interpolation), starting in
    equilibrium at the first x: backward Euler in ln x with ``steps`` and 2 ``steps`` steps,
    Richardson-extrapolated (second order)."""
    args = [np.ascontiguousarray(a, dtype=np.float64) for a in (log_x, log_rate, log_y_eq)]
    return 2.0 * _backward_euler(*args, 2 * steps) - _backward_euler(*args, steps)


def _entropy_today() -> float:
    """s_0 [cm^-3] = (2 pi^2 / 45) h_eff(T_0) T_0^3."""
    return 2 * math.pi**2 / 45 * float(h_eff(T_CMB)) * T_CMB**3 / HBARC_GEV_CM**3


def omega_h2(m1: float, delta: float, d: float) -> float:
    """Omega h^2 of chi1 for M1 [GeV], delta, d [GeV^-1] (all chi2 have decayed to chi1)."""
    if not (m1 > 0 and delta > 0 and d > 0):
        raise ValueError(f"relic: need M1, delta, d > 0, got {m1}, {delta}, {d}")
    p = RelicPoint.build(float(m1), float(delta))
    y = freeze_out(p.log_x, np.log(p.hubble) + p.log_sv + 2 * math.log(d), p.log_yeq)
    return m1 * y * _entropy_today() / RHO_CRIT_H2


def relic_coupling(m1: float, delta: float, omega: float = OMEGA_DM_H2) -> float:
    """The d [GeV^-1] with Omega h^2 = ``omega``: secant iterations on ln Omega h^2 against
    ln d (nearly linear, slope about -2), to 1e-4 in ln d."""

    from scipy import optimize  # scipy (0.6 s): only for this computation

    def f(log_d):
        return math.log(omega_h2(m1, delta, math.exp(log_d)) / omega)

    root = optimize.newton(f, math.log(3e-4), x1=math.log(1e-3), tol=1e-4, maxiter=50)
    return math.exp(float(root))


def relic_line(masses, delta: float) -> np.ndarray:
    """(n, 2) array of (M1 [GeV], d [GeV^-1]) on the Omega h^2 = 0.12 line.  Each point costs
    about 0.2 s, so the couplings found are kept on disk (:func:`cache_file`) and read back by
    later calls with the same mcsim sources."""
    path = cache_file()
    known = user_cache.read(path)
    line, added = [], False
    for m in masses:
        key = f"{float(m)!r} {float(delta)!r}"
        if key not in known:
            known[key], added = relic_coupling(float(m), float(delta)), True
        line.append((float(m), known[key]))
    if added:
        user_cache.store(path, known)
    return np.array(line)


def cache_file() -> Path:
    """The relic couplings computed so far (:mod:`mcsim.runtime.user_cache`): one file per version of
    the sources this module computes them from (:func:`mcsim.runtime.jit_cache.stamp`), JSON
    {"M1 delta": d}."""
    return user_cache.cache_path(f"relic-{stamp(__name__)[:16]}.json")


def write_relic_lines(lines: dict[str, np.ndarray], stem: str | Path) -> list[Path]:
    """Write {label: (n, 2) line} to ``stem``.json ({label: [[M1, d], ...]}) and ``stem``.csv
    (label, M1_GeV, d_inv_GeV).  Returns the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    js, cs = stem.with_suffix(".json"), stem.with_suffix(".csv")
    js.write_text(
        json.dumps(
            {k: [[float(f"{m:.6g}"), float(f"{d:.6g}")] for m, d in v] for k, v in lines.items()}
        )
    )
    with cs.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["label", "M1_GeV", "d_inv_GeV"])
        for k, v in lines.items():
            for m, d in v:
                w.writerow([k, f"{m:.6g}", f"{d:.6g}"])
    return [js, cs]
