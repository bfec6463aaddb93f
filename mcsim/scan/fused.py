"""One kernel for the events of a reach scan: meson -> production decay -> LLP propagation ->
photon on the calorimeter, event by event, with nothing in between kept in memory.

:func:`select_block` gives what :func:`mcsim.sources.mesons.produce` followed by
:func:`mcsim.detector.propagate.propagate` gives for one random-number block where the photon reaches
the calorimeter, in one pass over the events and for several geometries at once: it draws from the same streams in the same order as those
separate kernels (the meson, the production decay and the Dalitz point each from their own
xoshiro stream of the production Generator; each geometry from its own copy of the propagation
stream), so a scan's sums equal :func:`mcsim.generation.simulate.simulate`'s bit for bit.  It writes, per
geometry, only the events whose photon reaches the calorimeter -- importance weight, meson
momentum, accepted decay intervals, beta*gamma and photon energy -- into :class:`Buffers` that
the caller keeps from block to block.  An LLP that misses a volume costs little: one test of its
polar angle rejects most, and no photon or vertex is drawn for it (the separate propagator
draws those of a miss from a stream of their own).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mcsim.detector.propagate import decay_in_detector
from mcsim.physics.dalitz import dalitz_point, three_body_one
from mcsim.physics.kinematics import to_llp_one, two_body_momentum
from mcsim.physics.xoshiro import stream, uniform
from mcsim.runtime.jit_cache import kernel
from mcsim.sources import spectra
from mcsim.sources.spectra import meson_in_bin

__all__ = ["Buffers", "Hits", "select_block"]

TWO_BODY = -1  #: the ``kind`` of a two-body production channel in the kernel


@kernel(nogil=True)
def _block_kernel(
    n,
    table,
    prob,
    alias,
    bin_weight,
    kind,
    m_parent,
    m_x,
    m_y,
    cdf,
    bounds,
    one_minus_cos_w,
    m_llp,
    m_inv,
    vol_codes,
    vol_params,
    calo_codes,
    calo_params,
    use_calo,
    e_window,
    tan2_max,
    rng_production,
    rng_propagation,
    count,
    weight,
    p_meson,
    acc,
    beta_gamma,
    e_photon,
):
    """n events of one channel (``kind`` TWO_BODY or a :mod:`mcsim.physics.dalitz` sampler) through
    every geometry g (codes and parameter rows; e_window[g]: the photon-energy window [GeV] a
    directed photon is drawn in; tan2_max[g]: tan^2 of the volume's largest polar angle, inf if
    90 degrees or more); fills the first count[g] rows of the output arrays of geometry g.
    Returns the number of Dalitz trial weights above their bound."""
    p_edge, p_step, t_edge, t_step, n_theta, m_meson = table
    meson = stream(rng_production)  # the streams in the order of the separate kernels
    decay = stream(rng_production)
    momenta = stream(rng_production) if kind != TWO_BODY else decay
    start = stream(rng_propagation)
    n_geo = vol_codes.size
    states = np.empty((n_geo, 4), dtype=np.uint64)
    for g in range(n_geo):
        states[g] = start
        count[g] = 0
    p_star = two_body_momentum(m_parent, m_x, m_y)
    e_inv = math.sqrt(p_star * p_star + m_x * m_x)
    e_llp = math.sqrt(p_star * p_star + m_y * m_y)
    p_star_llp = two_body_momentum(m_llp, m_inv, 0.0)
    points = np.empty(8)  # scratch of llp_direction
    overflow = 0
    n_bins = prob.size
    for _ in range(n):
        x = (
            uniform(meson) * n_bins
        )  # the alias draw (mcsim.sources.spectra, note above _sample_kernel)
        b = min(int(x), n_bins - 1)
        if x - b >= prob[b]:
            b = alias[b]
        e, px, py, pz = meson_in_bin(b, p_edge, p_step, t_edge, t_step, n_theta, m_meson, meson)
        if kind == TWO_BODY:
            _, llp, w_decay = to_llp_one(
                e, px, py, pz, m_parent, p_star, e_inv, e_llp, one_minus_cos_w, decay, points
            )
        else:
            s_ab, s_bc, over = dalitz_point(cdf, bounds, kind, m_parent, m_x, m_y, decay)
            overflow += over
            _, _, llp, w_decay = three_body_one(
                s_ab,
                s_bc,
                kind,
                m_parent,
                m_x,
                m_y,
                e,
                px,
                py,
                pz,
                one_minus_cos_w,
                momenta,
                points,
            )
        w = bin_weight[b] * w_decay
        p = math.sqrt(px * px + py * py + pz * pz)
        pt2 = llp[1] * llp[1] + llp[2] * llp[2]
        for g in range(n_geo):
            if tan2_max[g] < math.inf and not (llp[3] > 0.0 and pt2 <= tan2_max[g] * llp[3] ** 2):
                continue  # outside the volume's polar angle: it misses, and nothing is drawn
            state = states[g]
            pabs, _, _, _, s_in, s_out, gam, _, a1, b1, a2, b2, w_photon = decay_in_detector(
                llp[0],
                llp[1],
                llp[2],
                llp[3],
                m_llp,
                p_star_llp,
                vol_codes[g],
                vol_params[g],
                calo_codes[g],
                calo_params[g],
                use_calo[g],
                e_window[g, 0],
                e_window[g, 1],
                one_minus_cos_w > 0.0,
                state,
                state,
                True,
            )
            if s_out > s_in:
                uniform(state)  # propagate_kernel's draw of the decay vertex
            if b1 > a1:
                k = count[g]
                weight[g, k] = w * w_photon
                p_meson[g, k] = p
                acc[g, k, 0], acc[g, k, 1], acc[g, k, 2], acc[g, k, 3] = a1, b1, a2, b2
                beta_gamma[g, k] = pabs / m_llp
                e_photon[g, k] = gam[0]
                count[g] = k + 1
    return overflow


@dataclass
class Hits:
    """The events of a block whose photon reaches the calorimeter of one geometry (views into
    :class:`Buffers`, valid until the next block): importance ``weight``, meson momentum
    ``p_meson`` [GeV], accepted decay intervals ``acc_intervals`` (k, 4) [m], ``beta_gamma``
    and photon energy ``e_photon`` [GeV]."""

    weight: np.ndarray
    p_meson: np.ndarray
    acc_intervals: np.ndarray
    beta_gamma: np.ndarray
    e_photon: np.ndarray


class Buffers:
    """The output arrays of :func:`select_block` for ``n_geometries`` and blocks of up to
    ``size`` events, allocated once and reused."""

    def __init__(self, n_geometries: int, size: int):
        self.count = np.zeros(n_geometries, dtype=np.int64)
        self.weight = np.empty((n_geometries, size))
        self.p_meson = np.empty((n_geometries, size))
        self.acc = np.empty((n_geometries, size, 4))
        self.beta_gamma = np.empty((n_geometries, size))
        self.e_photon = np.empty((n_geometries, size))

    def hits(self, g: int) -> Hits:
        k = self.count[g]
        return Hits(
            self.weight[g, :k],
            self.p_meson[g, :k],
            self.acc[g, :k],
            self.beta_gamma[g, :k],
            self.e_photon[g, :k],
        )


def _tan2(angle: float) -> float:
    """tan^2 of a volume's largest polar angle [rad], a hair wider so that the kernel's test
    never rejects an LLP that crosses; inf from 90 degrees on (no test)."""
    return math.tan(angle) ** 2 * (1.0 + 1e-9) if angle < 0.5 * math.pi - 1e-9 else math.inf


def _rows(arrays) -> np.ndarray:
    """Parameter arrays of different lengths as the rows of one zero-padded 2-D array."""
    out = np.zeros((len(arrays), max(len(a) for a in arrays)))
    for g, a in enumerate(arrays):
        out[g, : len(a)] = a
    return out


def select_block(
    channel,
    sampling: tuple,
    model,
    geometries: list[tuple],
    n: int,
    rng_production: np.random.Generator,
    rng_propagation: np.random.Generator,
    window: float,
    buffers: Buffers,
) -> list[Hits]:
    """The hits (:class:`Hits`) of ``n`` events of ``channel`` in each geometry of
    ``geometries`` ((volume, calorimeter, use_calo, e_min, e_max): 'full' mode uses the
    calorimeter, 'cone' mode not; the photon-energy window [GeV] of its selections), the mesons
    drawn from ``sampling`` = (table, prob, alias, bin_weight) (see
    :meth:`mcsim.sources.mesons.SpectraSource.sampling`), the LLP directed into ``window`` [rad] and its
    photon into the energy window (0: both isotropic).  Raises RuntimeError if a Dalitz weight
    exceeds its sampling bound."""
    # numba kernels (Dalitz widths): loaded when channels are asked
    from mcsim.models.channels import (
        KINDS,
        _envelope,
    )

    table, prob, alias, bin_weight = sampling
    kind = KINDS[channel.kind]
    if kind is None:
        kind, bounds = TWO_BODY, np.ones(1)
    else:
        bounds = _envelope(kind, channel.mother_mass, *channel.masses)
    volumes, calos, use, e_min, e_max = zip(*geometries)
    overflow = _block_kernel(
        int(n),
        spectra.bin_geometry(table),
        prob,
        alias,
        bin_weight,
        kind,
        channel.mother_mass,
        channel.masses[0],
        channel.masses[1],
        np.cumsum(bounds),
        bounds,
        2.0 * math.sin(0.5 * window) ** 2,
        model.llp_mass,
        model.invisible_mass,
        np.array([v.code for v in volumes], dtype=np.int64),
        _rows([v.params for v in volumes]),
        np.array([c.code for c in calos], dtype=np.int64),
        _rows([c.params for c in calos]),
        np.array(use, dtype=np.bool_),
        np.column_stack([e_min, e_max]).astype(np.float64),
        np.array([_tan2(v.max_polar_angle) for v in volumes]),
        rng_production,
        rng_propagation,
        buffers.count,
        buffers.weight,
        buffers.p_meson,
        buffers.acc,
        buffers.beta_gamma,
        buffers.e_photon,
    )
    if overflow:
        raise RuntimeError(f"{channel.name}: |M|^2 exceeded the sampling bound {overflow} times")
    return [buffers.hits(g) for g in range(len(geometries))]
