"""The paper's selection (Sec. 3, Eq. 4.1) as a ROOT-style cutflow over an events file.

Cuts, in order, each on top of the previous ones (raw = events passing the flags; weighted =
expected numbers for the file's exposure):

  0  generated                          weighted: LLPs produced, sum of w_norm = sum N_M x BR
  1  LLP crosses the decay volume       in_volume;        LLPs decaying in it (x p_decay_volume)
  2  photon reaches the calorimeter     photon_hits_calo; decays whose photon is accepted
                                        (x p_decay_accepted)
  3  photon energy window x efficiency  above_threshold;  signal events: sum of ``weight``

(``cone`` mode: the volume is the paper's cone, theta < theta_max and L_i < s < L_f, and the photon
is not traced, so cut 2 equals cut 1.)  Relative and cumulative efficiencies are ratios of the
weighted counts.

With ``d`` the file is re-weighted to another dipole coefficient, exactly, by
:func:`mcsim.chain.reweight` on the stored intervals and beta*gamma (vertices moved accordingly);
with ``threshold`` the photon energy cut is re-applied to the stored photon energies (any value:
every event's photon is in the file).  The file is read in steps of bounded size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import jsonio
from .chain import EventBatch, event_weight, in_energy_window, reweight
from .rootio import iterate, read_metadata

__all__ = ["Cut", "Cutflow", "cutflow", "CUT_FLAGS", "HISTOGRAMS"]

#: Flag of each cut after 'generated' (cumulative).
CUT_FLAGS = ("in_volume", "photon_hits_calo", "above_threshold")

_READ = ("in_volume", "photon_hits_calo", "above_threshold", "w_norm", "p_decay_volume",
         "p_decay_accepted", "weight", "p4_photon", "vertex", "impact")
_READ_REWEIGHT = ("s_in", "s_out", "acc_intervals", "beta_gamma", "p4_llp")

#: Control histograms: name -> (axis label, number of bins).  Ranges come from the metadata.
HISTOGRAMS = {
    "photon_energy": (r"$\log_{10}(E_\gamma$ / GeV$)$", 100),
    "vertex_z": (r"decay vertex $z$ [m]", 100),
    "photon_angle": (r"$\log_{10}(\theta_\gamma$ / rad$)$", 100),
    "impact": (r"photon impact $x$, $y$ on the calorimeter [m]", 60),
}


@dataclass(frozen=True)
class Cut:
    """One row of the cutflow: events passing, expected (weighted) events, efficiencies."""

    name: str
    raw: int
    weighted: float
    rel_eff: float
    cum_eff: float


@dataclass(frozen=True)
class Cutflow:
    """Rows of the cutflow and the run they belong to.  ``histograms``: name -> dict with
    ``edges`` (a tuple of bin-edge arrays) and ``series`` (label -> weighted counts)."""

    path: str
    cuts: tuple[Cut, ...]
    d: float
    ctau: float
    threshold: float
    metadata: dict = field(repr=False)
    histograms: dict = field(repr=False, default_factory=dict)

    @property
    def expected_events(self) -> float:
        """Expected signal events: the weighted count after the last cut."""
        return self.cuts[-1].weighted

    def header(self) -> str:
        m = self.metadata
        params = ", ".join(f"{k} = {v}" for k, v in m["model"].items() if k not in ("model", "d"))
        return (f"{self.path}: {m['model']['model']} ({params}), d = {self.d:.4g} GeV^-1 "
                f"(c*tau = {self.ctau:.4g} m); detector {m['detector']}, mode {m['mode']}, "
                f"{_window(m, self.threshold)}; {m['n_events']} events, seed {m['seed']}")

    def table(self) -> str:
        """ROOT-style text table."""
        width = max(len(c.name) for c in self.cuts)
        lines = [self.header(),
                 f"{'#':>2}  {'cut':<{width}}  {'raw':>10}  {'weighted':>12}  {'rel. eff.':>10}"
                 f"  {'cum. eff.':>10}"]
        for i, c in enumerate(self.cuts):
            lines.append(f"{i:>2}  {c.name:<{width}}  {c.raw:>10d}  {c.weighted:>12.5g}  "
                         f"{c.rel_eff:>10.4g}  {c.cum_eff:>10.4g}")
        lines.append(f"expected signal events: {self.expected_events:.6g}")
        return "\n".join(lines)

    def markdown(self) -> str:
        """Markdown table."""
        lines = [f"*{self.header()}*", "",
                 "| # | cut | raw events | weighted events | rel. eff. | cum. eff. |",
                 "|---|---|---:|---:|---:|---:|"]
        for i, c in enumerate(self.cuts):
            lines.append(f"| {i} | {c.name} | {c.raw} | {c.weighted:.5g} | {c.rel_eff:.4g} | "
                         f"{c.cum_eff:.4g} |")
        lines.append(f"\nExpected signal events: **{self.expected_events:.6g}**")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        m = self.metadata
        return {"file": self.path, "model": dict(m["model"], d=self.d), "ctau_m": self.ctau,
                "detector": m["detector"], "mode": m["mode"], "threshold_gev": self.threshold,
                "n_events": m["n_events"], "seed": m["seed"],
                "cuts": [c.__dict__ for c in self.cuts],
                "expected_events": self.expected_events}

    def json(self) -> str:
        return jsonio.dumps(self.to_dict(), indent=2)


def _window(meta: dict, threshold: float) -> str:
    e_max = meta["photon_energy_max"]
    if math.isfinite(e_max):
        return f"{threshold:g} < E_gamma < {e_max:g} GeV"
    return f"E_gamma > {threshold:g} GeV"


def _cut_names(meta: dict, threshold: float) -> tuple[str, ...]:
    window = _window(meta, threshold)
    eff = meta["efficiency"]
    window += f" (x efficiency {eff:g})" if eff != 1.0 else ""
    if meta["mode"] == "cone":
        return ("generated", "LLP in the cone, theta < theta_max",
                "decay in [L_i, L_f] (cone: photon not traced)", window)
    return ("generated", "LLP crosses the decay volume", "photon reaches the calorimeter",
            window)


def _ranges(meta: dict) -> dict[str, tuple[float, float]]:
    half = 1.1 * meta["calorimeter_half_size_m"]
    return {"photon_energy": (-2.0, 4.0), "vertex_z": (0.0, 1.05 * meta["calorimeter_z_m"]),
            "photon_angle": (-6.0, 0.0), "impact": (-half, half)}


class _Histograms:
    """Weighted control histograms filled step by step."""

    SERIES = ("photon reaches the calorimeter", "selected")

    def __init__(self, meta: dict):
        self.edges = {}
        for name, (lo, hi) in _ranges(meta).items():
            edges = np.linspace(lo, hi, HISTOGRAMS[name][1] + 1)
            self.edges[name] = (edges, edges) if name == "impact" else (edges,)
        self.counts = {name: {s: 0.0 for s in self.SERIES} for name in self.edges}

    def fill(self, a: dict, masks, weights) -> None:
        photon = a["p4_photon"]
        values = {
            "photon_energy": np.log10(photon[:, 0]),
            "vertex_z": a["vertex"][:, 2],
            "photon_angle": np.log10(np.arctan2(np.hypot(photon[:, 1], photon[:, 2]),
                                                photon[:, 3])),
        }
        for series, mask, w in zip(self.SERIES, masks, weights):
            for name, x in values.items():
                ok = mask & np.isfinite(x)
                h, _ = np.histogram(x[ok], bins=self.edges[name][0], weights=w[ok])
                self.counts[name][series] = self.counts[name][series] + h
            x, y = a["impact"][:, 0], a["impact"][:, 1]
            ok = mask & np.isfinite(x) & np.isfinite(y)
            h, _, _ = np.histogram2d(x[ok], y[ok], bins=self.edges["impact"], weights=w[ok])
            self.counts["impact"][series] = self.counts["impact"][series] + h

    def result(self) -> dict:
        return {name: {"edges": self.edges[name], "label": HISTOGRAMS[name][0],
                       "series": self.counts[name]} for name in self.edges}


def cutflow(path: str | Path, *, d: float | None = None, threshold: float | None = None,
            step_size: int = 200_000, histograms: bool = True) -> Cutflow:
    """The cutflow of the events file ``path``, at the file's coupling or re-weighted to ``d``
    [GeV^-1], with the file's photon threshold or ``threshold`` [GeV]; control histograms
    filled unless ``histograms`` is False."""
    meta = read_metadata(path)
    if threshold is not None and not (threshold >= 0.0 and math.isfinite(threshold)):
        raise ValueError(f"threshold must be a finite energy >= 0 GeV, got {threshold!r}")
    if d is not None and not (d > 0.0 and math.isfinite(d)):
        raise ValueError(f"d must be a finite coupling > 0 GeV^-1, got {d!r}")
    d_out = meta["d"] if d is None else float(d)
    thr = meta["threshold"] if threshold is None else float(threshold)
    keys = _READ + (_READ_REWEIGHT if d is not None else ())
    n_cuts = 1 + len(CUT_FLAGS)
    raw = np.zeros(n_cuts, dtype=np.int64)
    weighted = np.zeros(n_cuts)
    hists = _Histograms(meta) if histograms else None
    ctau = meta["ctau"]
    for a in iterate(path, keys, step_size=step_size):
        if threshold is not None:
            a["above_threshold"] = in_energy_window(a["p4_photon"][:, 0], thr,
                                                    meta["photon_energy_max"])
            a["weight"] = event_weight(a, meta["efficiency"])
        if d is not None:
            batch = reweight(EventBatch(a, meta), d_out)
            a, ctau = batch.arrays, batch.metadata["ctau"]
        masks = [np.ones(len(a["weight"]), dtype=bool)]
        for flag in CUT_FLAGS:
            masks.append(masks[-1] & a[flag])
        weights = (a["w_norm"], a["w_norm"] * a["p_decay_volume"],
                   a["w_norm"] * a["p_decay_accepted"], a["weight"])
        for i, (mask, w) in enumerate(zip(masks, weights)):
            raw[i] += int(mask.sum())
            weighted[i] += float(w[mask].sum())
        if hists is not None:
            hists.fill(a, masks[2:], (weights[2] * meta["efficiency"], weights[3]))
    cuts = []
    for i, name in enumerate(_cut_names(meta, thr)):
        prev, first = weighted[i - 1] if i else weighted[0], weighted[0]
        cuts.append(Cut(name, int(raw[i]), float(weighted[i]),
                        float(weighted[i] / prev) if prev else 0.0,
                        float(weighted[i] / first) if first else 0.0))
    return Cutflow(str(path), tuple(cuts), d_out, ctau, thr, meta,
                   hists.result() if hists is not None else {})
