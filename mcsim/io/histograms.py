"""Control histograms of the selected events: ``hist`` objects with Weight storage (sum of
weights and sum of squared weights per bin, so every bin carries its Monte Carlo error).

The same histograms are drawn by :mod:`mcsim.io.plotting`, printed by the cutflow and written into
the events file by :mod:`mcsim.generation.write` (directory ``histograms``: TH1D, and TH2D for the impact
point), so ROOT users get them without mcsim.  Bin contents are expected signal events.

ROOT statistics: a ``hist`` histogram keeps neither the number of fills nor the sums of w*x that
ROOT's TH1 keeps next to the bins, and uproot's own conversion of a ``hist`` object sets
``fEntries`` to the sum of weights and ``fTsumw2`` to ``fTsumw`` (right only for unit weights).
:func:`fill` therefore also accumulates ROOT's statistics (:class:`RootStats`, attached to each
histogram as ``root_stats``) exactly as ``TH1::Fill(x, w)`` does: every fill counts as an entry,
the sums of w, w^2, w*x and w*x^2 (and w*y, w*y^2, w*x*y) take the in-range fills at their
values.  :func:`to_root` builds the TH1D/TH2D from them, with titles and axis titles, so
ROOT's ``GetEntries()`` is the number of events filled and ``GetEffectiveEntries()`` is
(sum w)^2 / sum w^2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["HISTOGRAMS", "ROOT_TITLES", "RootStats", "book", "fill", "to_root"]

#: name -> (axis label, number of bins); the ranges follow the detector (:func:`book`).
HISTOGRAMS = {
    "photon_energy": ("log10(E_gamma / GeV)", 100),
    "vertex_z": ("decay vertex z [m]", 100),
    "photon_angle": ("log10(theta_gamma / rad)", 100),
    "impact": ("photon impact on the calorimeter [m]", 60),
}

#: name -> (ROOT title, x axis title, y axis title[, z axis title]) of the written TH1D/TH2D
#: (ROOT's TLatex: #gamma, #theta, _{...}).
ROOT_TITLES = {
    "photon_energy": (
        "signal photon energy (selected events)",
        "log_{10}(E_{#gamma} / GeV)",
        "expected events / bin",
    ),
    "vertex_z": (
        "LLP decay vertex z (selected events)",
        "decay vertex z [m]",
        "expected events / bin",
    ),
    "photon_angle": (
        "signal photon polar angle (selected events)",
        "log_{10}(#theta_{#gamma} / rad)",
        "expected events / bin",
    ),
    "impact": (
        "photon impact point on the calorimeter (selected events)",
        "impact x [m]",
        "impact y [m]",
        "expected events / bin",
    ),
}


@dataclass
class RootStats:
    """ROOT's fill statistics of one histogram: ``entries`` (number of fills, flow bins
    included) and the sums over in-range fills of w, w^2, w*x, w*x^2 and, in 2D, w*y, w*y^2,
    w*x*y (ROOT's fTsumw, fTsumw2, fTsumwx, fTsumwx2, fTsumwy, fTsumwy2, fTsumwxy)."""

    ndim: int
    entries: int = 0
    sums: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = ["fTsumw", "fTsumw2", "fTsumwx", "fTsumwx2"]
        if self.ndim == 2:
            names += ["fTsumwy", "fTsumwy2", "fTsumwxy"]
        for name in names:
            self.sums.setdefault(name, 0.0)

    def add(self, inside: np.ndarray, w: np.ndarray, x: np.ndarray, y=None) -> None:
        """Add fills of weights ``w`` at ``x`` (and ``y``); ``inside``: in range of every axis."""
        self.entries += len(w)
        w, x = w[inside], x[inside]
        s = self.sums
        s["fTsumw"] += float(w.sum())
        s["fTsumw2"] += float(np.square(w).sum())
        s["fTsumwx"] += float((w * x).sum())
        s["fTsumwx2"] += float((w * x * x).sum())
        if y is not None:
            y = y[inside]
            s["fTsumwy"] += float((w * y).sum())
            s["fTsumwy2"] += float((w * y * y).sum())
            s["fTsumwxy"] += float((w * x * y).sum())


def _ranges(meta: dict) -> dict[str, tuple[float, float]]:
    half = 1.1 * meta["calorimeter_half_size_m"]
    return {
        "photon_energy": (-2.0, 4.0),
        "vertex_z": (0.0, 1.05 * meta["calorimeter_z_m"]),
        "photon_angle": (-6.0, 0.0),
        "impact": (-half, half),
    }


def book(meta: dict) -> dict:
    """Empty control histograms (name -> ``hist.Hist``) for a run's metadata (the calorimeter's
    position and half size set the ranges of the vertex and impact histograms)."""
    import hist  # hist and boost-histogram (0.3 s): only when histograms are booked

    out = {}
    for name, (lo, hi) in _ranges(meta).items():
        label, bins = HISTOGRAMS[name]
        h: Any  # hist.Hist, with the attribute root_stats added
        if name == "impact":
            h = hist.Hist(
                hist.axis.Regular(bins, lo, hi, name="x", label="impact x [m]"),
                hist.axis.Regular(bins, lo, hi, name="y", label="impact y [m]"),
                storage=hist.storage.Weight(),
                label="expected events",
            )
        else:
            h = hist.Hist(
                hist.axis.Regular(bins, lo, hi, name=name, label=label),
                storage=hist.storage.Weight(),
                label="expected events",
            )
        h.root_stats = RootStats(ndim=len(h.axes))
        out[name] = h
    return out


def _log10(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(x)


def _inside(axis, x: np.ndarray) -> np.ndarray:
    """In range of ``axis`` (ROOT's bins 1..n: not an underflow or overflow fill)."""
    index = np.asarray(axis.index(x))
    return (index >= 0) & (index < axis.size)


def fill(hists: dict, arrays: dict, weight: np.ndarray) -> None:
    """Fill the histograms with events (arrays of :data:`mcsim.io.schema.ARRAYS`) of the given
    weights [expected events]; events of weight 0 are skipped, values outside the axes go to
    the flow bins.  The ROOT statistics (``root_stats``) are accumulated on the way."""
    keep = weight != 0.0
    photon = arrays["p4_photon"][keep]
    w = weight[keep]
    values = {
        "photon_energy": _log10(photon[:, 0]),
        "vertex_z": arrays["vertex"][keep, 2],
        "photon_angle": _log10(np.arctan2(np.hypot(photon[:, 1], photon[:, 2]), photon[:, 3])),
    }
    for name, x in values.items():
        ok = np.isfinite(x)
        h = hists[name]
        h.fill(x[ok], weight=w[ok])
        _stats(h).add(_inside(h.axes[0], x[ok]), w[ok], x[ok])
    x, y = arrays["impact"][keep, 0], arrays["impact"][keep, 1]
    ok = np.isfinite(x) & np.isfinite(y)
    h = hists["impact"]
    h.fill(x[ok], y[ok], weight=w[ok])
    inside = _inside(h.axes[0], x[ok]) & _inside(h.axes[1], y[ok])
    _stats(h).add(inside, w[ok], x[ok], y[ok])


def _stats(h) -> RootStats:
    stats = getattr(h, "root_stats", None)
    if stats is None:  # a histogram not made by book()
        stats = h.root_stats = RootStats(ndim=len(h.axes))
    return stats


def _bin_stats(h) -> RootStats:
    """Statistics from the bins alone, for a histogram without (valid) fill statistics: bin
    centres for x, the sum of the variances for sum w^2, the effective entries for entries."""
    values = h.values(flow=False)
    stats = RootStats(ndim=len(h.axes))
    s = stats.sums
    centres = [np.asarray(axis.centers) for axis in h.axes]
    s["fTsumw"] = float(values.sum())
    s["fTsumw2"] = float(h.variances(flow=False).sum())
    s["fTsumwx"] = float((values.T * centres[0]).sum())
    s["fTsumwx2"] = float((values.T * centres[0] ** 2).sum())
    if len(h.axes) == 2:
        s["fTsumwy"] = float((values * centres[1]).sum())
        s["fTsumwy2"] = float((values * centres[1] ** 2).sum())
        s["fTsumwxy"] = float(centres[0] @ values @ centres[1])
    sumw2 = s["fTsumw2"]
    stats.entries = round(s["fTsumw"] ** 2 / sumw2) if sumw2 > 0 else 0
    return stats


def to_root(name: str, h) -> Any:
    """The TH1D (one axis) or TH2D (two axes) of the ``hist`` histogram ``h`` (Weight storage,
    regular axes), for ``uproot`` to write: contents and sums of squared weights per bin (flow
    bins included), ROOT's statistics from :func:`fill` (or, if ``h`` has none or they no longer
    match its bins, e.g. after ``h1 + h2``, from the bins: bin centres for x, the sum of the
    variances for sum w^2, the effective entries as entries), the title and axis titles of
    :data:`ROOT_TITLES` (or the histogram's and axes' labels)."""
    # uproot: only when a histogram is written
    from uproot.writing.identify import (
        to_TAxis,
        to_TH1x,
        to_TH2x,
    )

    ndim = len(h.axes)
    if ndim not in (1, 2):
        raise ValueError(f"{name}: only 1D and 2D histograms are written, not {ndim}D")
    stats = getattr(h, "root_stats", None)
    total = float(h.values(flow=False).sum())
    if stats is None or not np.isclose(stats.sums["fTsumw"], total, rtol=1e-9, atol=0.0):
        stats = _bin_stats(h)
    default = (h.label or name, *(axis.label or axis.name for axis in h.axes), "")
    titles = ROOT_TITLES.get(name, default)
    # ROOT stores the cells with x running fastest (the transpose of numpy's C order)
    data = np.ascontiguousarray(h.values(flow=True).T, dtype=">f8").reshape(-1)
    sumw2 = np.ascontiguousarray(h.variances(flow=True).T, dtype=">f8").reshape(-1)
    axes = [
        to_TAxis(f"{xyz}axis", title, len(axis), axis.edges[0], axis.edges[-1])
        for xyz, axis, title in zip("xy", h.axes, titles[1:])
    ]
    s = stats.sums
    common = dict(
        fName=None,
        fTitle=titles[0],
        data=data,
        fEntries=float(stats.entries),
        fTsumw=s["fTsumw"],
        fTsumw2=s["fTsumw2"],
        fTsumwx=s["fTsumwx"],
        fTsumwx2=s["fTsumwx2"],
        fSumw2=sumw2,
        fXaxis=axes[0],
    )
    if ndim == 1:
        y = to_TAxis("yaxis", titles[2], 1, 0.0, 1.0)
        return to_TH1x(**common, fYaxis=y)
    z = to_TAxis("zaxis", titles[3], 1, 0.0, 1.0)
    return to_TH2x(
        **common,
        fTsumwy=s["fTsumwy"],
        fTsumwy2=s["fTsumwy2"],
        fTsumwxy=s["fTsumwxy"],
        fYaxis=axes[1],
        fZaxis=z,
    )
