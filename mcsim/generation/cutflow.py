"""The paper's selection (Sec. 3, Eq. 4.1) as a ROOT-style cutflow over an events file.

Every row counts ONE set of events twice: ``raw`` is how many Monte Carlo events are in it,
``weighted`` the expected number for the file's exposure (POT or luminosity) that those events
carry, with its Monte Carlo error ``stat_error`` (:func:`mcsim.weights.stat_error`: the sum of squared weights,
less the part fixed by the number of events generated per channel).  Rows (full mode):

  row                                   events (file flag)   weight per event
  0  LLPs produced (N_M x BR)           all generated        w_norm
  1  LLP crosses the decay volume       in_volume            w_norm
  2  LLP decays inside the volume       in_volume            w_norm * p_decay_volume
  3  photon reaches the calorimeter     photon_hits_calo     w_norm * p_decay_accepted
  4  photon energy window (x eff.)      selected             weight

so a cut on the file's flag alone, with the row's weight, gives the row.  The decay is a weight,
not a cut: rows 1 and 2 hold the same events.  In ``cone`` mode (the paper's selection: the LLP
inside the cone, a decay between L_i and L_f, the photon not traced) row 3 would repeat row 2 and
is left out; so it is in a file of directed sampling, whose photons are drawn inside the energy
window (weight ``w_photon``, part of ``weight``): there it would repeat row 4.  Relative and
cumulative efficiencies are ratios of the weighted counts.

With ``d`` the file is re-weighted to another dipole coefficient exactly
(:func:`mcsim.weights.reweighted`: BR x r, c*tau / r, decay probabilities recomputed from the stored
paths), and so are the errors; with ``threshold`` the photon energy cut is re-applied to the
stored photon energies (files written with ``--keep selected`` hold the photons above the
generated threshold only, so only a higher one is allowed).  Row 0 comes from the metadata (the
events generated, whether kept or not) and the ``crossing`` tree supplies the LLPs of events not
kept, so the cutflow does not depend on ``--keep``.  The file is read in steps of bounded size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mcsim.detector.cards import exposure
from mcsim.detector.propagate import in_energy_window
from mcsim.io import jsonio
from mcsim.io.rootio import iterate, iterate_crossing, read_metadata
from mcsim.models.card import coupling_name
from mcsim.weights import coupling_ratio, event_weight, rescaled, reweighted, stat_error

__all__ = ["ROWS", "Cut", "Cutflow", "cutflow", "rows_of"]

#: Rows after row 0: key -> (name in full mode, name in cone mode or None if left out, file
#: flag selecting the events, weight per event (see :func:`_row_weights`)).
ROWS = {
    "crossing": (
        "LLP crosses the decay volume",
        "LLP inside the cone, theta < theta_max",
        "in_volume",
        "w_norm",
    ),
    "decay": (
        "LLP decays inside the decay volume",
        "LLP decays in [L_i, L_f]",
        "in_volume",
        "w_norm * p_decay_volume",
    ),
    "calo": (
        "photon reaches the calorimeter",
        None,
        "photon_hits_calo",
        "w_norm * p_decay_accepted",
    ),
    "selected": ("photon energy window", "photon energy window", "selected", "weight"),
}

_READ = (
    "channel",
    "in_volume",
    "photon_hits_calo",
    "above_threshold",
    "w_norm",
    "w_photon",
    "p_decay_volume",
    "p_decay_accepted",
    "weight",
    "p4_photon",
    "vertex",
    "impact",
)
_READ_REWEIGHT = ("s_in", "s_out", "acc_intervals", "beta_gamma", "p4_llp")


@dataclass(frozen=True)
class Cut:
    """One row of the cutflow: Monte Carlo events in it (``raw``), the expected events they
    carry (``weighted``) and its Monte Carlo error, relative and cumulative efficiencies; the
    file flag and the weight per event that give the row."""

    name: str
    raw: int
    weighted: float
    stat_error: float
    rel_eff: float
    cum_eff: float
    flag: str
    weight: str


@dataclass(frozen=True)
class Cutflow:
    """Rows of the cutflow and the run they belong to; ``by_channel``: per production channel,
    the rows' raw and weighted counts and errors; ``histograms``: control histograms of the
    selected events (name -> ``hist.Hist``, see :mod:`mcsim.io.histograms`)."""

    path: str
    cuts: tuple[Cut, ...]
    d: float
    ctau: float
    threshold: float
    metadata: dict = field(repr=False)
    by_channel: dict = field(repr=False, default_factory=dict)
    histograms: dict = field(repr=False, default_factory=dict)

    @property
    def expected_events(self) -> float:
        """Expected signal events: the weighted count after the last cut."""
        return self.cuts[-1].weighted

    @property
    def stat_error(self) -> float:
        """Monte Carlo error of the expected signal events."""
        return self.cuts[-1].stat_error

    def header(self) -> list[str]:
        """The run: model point, detector and exposure, selection, Monte Carlo sample."""
        m = self.metadata
        name, unit = coupling_name(m["model"])
        skip = ("model", name, "coupling_unit")
        params = ", ".join(f"{k} = {v}" for k, v in m["model"].items() if k not in skip)
        kept = m.get("n_kept", m["n_events"])
        return [
            f"{self.path}",
            f"model:    {m['model']['model']} ({params}), {name} = {self.d:.4g} {unit} "
            f"(c*tau = {self.ctau:.4g} m)",
            f"detector: {m['detector']} ({m['mode']} geometry), {exposure(m)}",
            f"photon:   {_window(m, self.threshold)}, efficiency {m['efficiency']:g}",
            f"sample:   {m['n_events']} MC events generated (seed {m['seed']}), {kept} kept "
            f"(--keep {m.get('keep', 'all')})",
        ]

    def table(self) -> str:
        """ROOT-style text table."""
        width = max(len(c.name) for c in self.cuts)
        lines = self.header() + [
            f"{'#':>2}  {'cut':<{width}}  {'raw':>9}  {'weighted':>11}  {'MC error':>9}  "
            f"{'rel. eff.':>9}  {'cum. eff.':>9}"
        ]
        for i, c in enumerate(self.cuts):
            lines.append(
                f"{i:>2}  {c.name:<{width}}  {c.raw:>9d}  {c.weighted:>11.4g}  "
                f"{c.stat_error:>9.2g}  {c.rel_eff:>9.4g}  {c.cum_eff:>9.4g}"
            )
        lines.append(
            f"expected signal events: {self.expected_events:.4g} +- {self.stat_error:.2g} (MC)"
        )
        lines.append(
            "raw: MC events in the row; weighted: the expected events they carry "
            "(row 0: LLPs produced, exact); MC error: from the squared weights"
        )
        return "\n".join(lines)

    def markdown(self) -> str:
        """Markdown table."""
        lines = [f"*{line}*  " for line in self.header()] + [
            "",
            "| # | cut | raw events | weighted events | MC error | rel. eff. | cum. eff. |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for i, c in enumerate(self.cuts):
            lines.append(
                f"| {i} | {c.name} | {c.raw} | {c.weighted:.4g} | {c.stat_error:.2g} | "
                f"{c.rel_eff:.4g} | {c.cum_eff:.4g} |"
            )
        lines.append(
            f"\nExpected signal events: **{self.expected_events:.4g} +- "
            f"{self.stat_error:.2g}** (Monte Carlo error)"
        )
        return "\n".join(lines)

    def channel_table(self) -> str:
        """Per-production-channel yields: MC events, LLPs produced, expected signal events."""
        rows = self.by_channel["rows"]
        width = max(len(r["channel"]) for r in rows)
        lines = [
            f"{'channel':<{width}}  {'MC events':>9}  {'LLPs produced':>13}  "
            f"{'selected':>8}  {'signal events':>13}  {'MC error':>8}  {'share':>6}"
        ]
        total = self.expected_events
        for r in rows:
            lines.append(
                f"{r['channel']:<{width}}  {r['raw'][0]:>9d}  {r['weighted'][0]:>13.4g}  "
                f"{r['raw'][-1]:>8d}  {r['weighted'][-1]:>13.4g}  "
                f"{r['stat_error'][-1]:>8.2g}  "
                f"{r['weighted'][-1] / total if total else 0.0:>6.3f}"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        m = self.metadata
        return {
            "file": self.path,
            "model": dict(m["model"], d=self.d),
            "ctau_m": self.ctau,
            "detector": m["detector"],
            "mode": m["mode"],
            "n_pot": m["n_pot"],
            "luminosity_inv_ab": m["luminosity_inv_ab"],
            "threshold_gev": self.threshold,
            "n_events": m["n_events"],
            "n_kept": m.get("n_kept", m["n_events"]),
            "seed": m["seed"],
            "cuts": [c.__dict__ for c in self.cuts],
            "expected_events": self.expected_events,
            "stat_error": self.stat_error,
            "by_channel": self.by_channel.get("rows", []),
        }

    def json(self) -> str:
        return jsonio.dumps(self.to_dict(), indent=2)


def _window(meta: dict, threshold: float) -> str:
    e_max = meta["photon_energy_max"]
    if math.isfinite(e_max):
        return f"{threshold:g} < E_gamma < {e_max:g} GeV"
    return f"E_gamma > {threshold:g} GeV"


def rows_of(mode: str, sampling: str = "plain") -> tuple[str, ...]:
    """Keys of :data:`ROWS` in the cutflow of a file of the given mode and sampling: directed
    sampling draws the photon inside the energy window, so the calorimeter row would repeat the
    selection's and is left out."""
    return tuple(
        k
        for k, v in ROWS.items()
        if (mode == "full" or v[1] is not None) and not (k == "calo" and sampling == "directed")
    )


def _row_weights(a: dict, efficiency: float) -> dict[str, np.ndarray]:
    """Weight per event of each row (arrays of the events tree; the crossing tree has no
    photon selection, so no 'selected' row)."""
    w = {
        "crossing": a["w_norm"],
        "decay": a["w_norm"] * a["p_decay_volume"],
        "calo": a["w_norm"] * a["p_decay_accepted"],
    }
    if "above_threshold" in a:
        w["selected"] = event_weight(a, efficiency)
    return w


def _check_weights(path, a: dict, efficiency: float) -> None:
    """A ValueError naming ``path`` if a stored weight is not finite or differs from the one
    its factors give (:func:`mcsim.weights.event_weight`, relative 1e-9): a damaged file."""
    if not np.allclose(a["weight"], event_weight(a, efficiency), rtol=1e-9, atol=0.0):
        raise ValueError(
            f"{path}: branch 'weight' of the events tree differs from w_norm x w_photon x "
            f"p_decay_accepted x above_threshold x efficiency (or is not finite): a damaged file"
        )


class _Sums:
    """raw, sum w and sum w^2 per (row, channel)."""

    def __init__(self, n_rows: int, n_channels: int):
        self.raw = np.zeros((n_rows, n_channels), dtype=np.int64)
        self.w = np.zeros((n_rows, n_channels))
        self.w2 = np.zeros((n_rows, n_channels))

    def add(self, row: int, channel: np.ndarray, mask: np.ndarray, w: np.ndarray) -> None:
        n = self.raw.shape[1]
        ch = channel[mask]
        self.raw[row] += np.bincount(ch, minlength=n)
        self.w[row] += np.bincount(ch, weights=w[mask], minlength=n)
        self.w2[row] += np.bincount(ch, weights=np.square(w[mask]), minlength=n)


def cutflow(
    path: str | Path,
    *,
    d: float | None = None,
    threshold: float | None = None,
    step_size: int = 200_000,
    histograms: bool = True,
) -> Cutflow:
    """The cutflow of the events file ``path``, at the file's coupling or re-weighted to ``d``
    [GeV^-1], with the file's photon threshold or ``threshold`` [GeV]; control histograms of
    the selected events filled unless ``histograms`` is False."""
    meta = read_metadata(path)
    if threshold is not None and not (threshold >= 0.0 and math.isfinite(threshold)):
        raise ValueError(f"threshold must be a finite energy >= 0 GeV, got {threshold!r}")
    # files whose photons below the generated threshold were never drawn or not kept
    for key, value, holds, instead in (
        ("sampling", "directed", "has its photons drawn above", "--sampling plain"),
        ("keep", "selected", "keeps only photons above", "--keep crossing"),
    ):
        if threshold is not None and meta.get(key) == value and threshold < meta["threshold"]:
            raise ValueError(
                f"threshold: {path} {holds} {meta['threshold']:g} GeV (--{key} {value}); a "
                f"threshold >= {meta['threshold']:g} GeV is allowed, or generate with {instead}"
            )
    if d is not None and not (d > 0.0 and math.isfinite(d)):
        raise ValueError(f"d must be a finite coupling > 0 GeV^-1, got {d!r}")
    if threshold is not None and "interaction_point" in meta:
        raise ValueError(
            "threshold: the photon cuts of an e+ e- file are its card's "
            "[selection]; they cannot be re-applied"
        )
    d_out = meta["d"] if d is None else float(d)
    r = float(coupling_ratio(d_out, meta))
    ctau = meta["ctau"] / r
    thr = meta["threshold"] if threshold is None else float(threshold)
    keys = rows_of(meta["mode"], meta.get("sampling", "plain"))
    n_ch = len(meta["channels"])
    sums = _Sums(1 + len(keys), n_ch)
    hists = None
    if histograms:
        from mcsim.io.histograms import book, fill  # hist (0.3 s): only when histograms are filled

        hists = book(meta)
    read = _READ + (_READ_REWEIGHT if d is not None else ())
    for a in iterate(path, read, step_size=step_size):
        _check_weights(path, a, meta["efficiency"])
        if threshold is not None:
            a["above_threshold"] = (
                in_energy_window(a["p4_photon"][:, 0], thr, meta["photon_energy_max"])
                & a["photon_hits_calo"]
            )
        if d is not None:
            a = reweighted(a, meta, d_out)[0]
        a["selected"] = a["above_threshold"]
        weights = _row_weights(a, meta["efficiency"])
        for row, key in enumerate(keys, start=1):
            sums.add(row, a["channel"], a[ROWS[key][2]], weights[key])
        if hists is not None:
            fill(hists, a, weights["selected"])
    for a in iterate_crossing(path, step_size=step_size):
        a = rescaled(a, meta, d_out)
        weights = _row_weights(a, meta["efficiency"])
        for row, key in enumerate(keys, start=1):
            if key != "selected":
                sums.add(row, a["channel"], a[ROWS[key][2]], weights[key])
    llps = np.asarray(meta["exposure"]) * np.asarray(meta["rate"]) * r
    n_gen = np.asarray(meta["n_generated"])
    sums.raw[0], sums.w[0], sums.w2[0] = n_gen, llps, llps**2 / n_gen
    names = ["LLPs produced (exposure x rate)"] + [
        ROWS[k][0 if meta["mode"] == "full" else 1] for k in keys
    ]
    eff = meta["efficiency"]
    names[-1] = _window(meta, thr) + (f" (x efficiency {eff:g})" if eff != 1.0 else "")
    flags = ["(all generated)"] + [ROWS[k][2] for k in keys]
    wnames = ["w_norm"] + [ROWS[k][3] for k in keys]
    errors = [stat_error(sums.w[i], sums.w2[i], n_gen) for i in range(len(names))]
    cuts = _cuts(names, flags, wnames, sums.raw.sum(1), sums.w.sum(1), errors)
    by_channel = {
        "rows": [
            {
                "channel": meta["channels"][c],
                "mother_pdgid": meta["mother_pdgids"][c],
                "raw": sums.raw[:, c].tolist(),
                "weighted": sums.w[:, c].tolist(),
                "stat_error": [
                    stat_error(sums.w[i, c], sums.w2[i, c], n_gen[c]) for i in range(len(names))
                ],
            }
            for c in range(n_ch)
        ]
    }
    return Cutflow(
        str(path), cuts, d_out, ctau, thr, meta, by_channel, hists if hists is not None else {}
    )


def _cuts(names, flags, wnames, raw, weighted, errors) -> tuple[Cut, ...]:
    out = []
    for i, name in enumerate(names):
        prev, first = weighted[i - 1] if i else weighted[0], weighted[0]
        out.append(
            Cut(
                name,
                int(raw[i]),
                float(weighted[i]),
                errors[i],
                float(weighted[i] / prev) if prev else 0.0,
                float(weighted[i] / first) if first else 0.0,
                flags[i],
                wnames[i],
            )
        )
    return tuple(out)
