"""Control histograms of the selected events: ``hist`` objects with Weight storage (sum of
weights and sum of squared weights per bin, so every bin carries its Monte Carlo error).

The same histograms are drawn by :mod:`mcsim.io.plotting`, printed by the cutflow and written into
the events file by :mod:`mcsim.generation.write` (directory ``histograms``: TH1D, and TH2D for the impact
point), so ROOT users get them without mcsim.  Bin contents are expected signal events.
"""

from __future__ import annotations

import numpy as np

__all__ = ["HISTOGRAMS", "book", "fill"]

#: name -> (axis label, number of bins); the ranges follow the detector (:func:`book`).
HISTOGRAMS = {
    "photon_energy": ("log10(E_gamma / GeV)", 100),
    "vertex_z": ("decay vertex z [m]", 100),
    "photon_angle": ("log10(theta_gamma / rad)", 100),
    "impact": ("photon impact on the calorimeter [m]", 60),
}


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
    import hist

    out = {}
    for name, (lo, hi) in _ranges(meta).items():
        label, bins = HISTOGRAMS[name]
        if name == "impact":
            out[name] = hist.Hist(
                hist.axis.Regular(bins, lo, hi, name="x", label="impact x [m]"),
                hist.axis.Regular(bins, lo, hi, name="y", label="impact y [m]"),
                storage=hist.storage.Weight(),
                label="expected events",
            )
        else:
            out[name] = hist.Hist(
                hist.axis.Regular(bins, lo, hi, name=name, label=label),
                storage=hist.storage.Weight(),
                label="expected events",
            )
    return out


def _log10(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(x)


def fill(hists: dict, arrays: dict, weight: np.ndarray) -> None:
    """Fill the histograms with events (arrays of :data:`mcsim.io.schema.ARRAYS`) of the given
    weights [expected events]; events of weight 0 are skipped, values outside the axes go to
    the flow bins."""
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
        hists[name].fill(x[ok], weight=w[ok])
    x, y = arrays["impact"][keep, 0], arrays["impact"][keep, 1]
    ok = np.isfinite(x) & np.isfinite(y)
    hists["impact"].fill(x[ok], y[ok], weight=w[ok])
