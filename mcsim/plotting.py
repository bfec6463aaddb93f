"""matplotlib figures (imported only when used).

Control plots of a cutflow (:func:`control_plots`): photon energy, decay-vertex z, photon angle
and the impact point on the calorimeter, weighted to expected events.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["control_plots"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _step_plot(plt, hist: dict, title: str, out: Path) -> None:
    (edges,) = hist["edges"]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    drawn = False
    for label, counts in hist["series"].items():
        counts = np.asarray(counts, dtype=float)
        if counts.sum() > 0:
            ax.stairs(counts, edges, label=f"{label} ({counts.sum():.3g})")
            drawn = True
    if drawn:
        ax.set_yscale("log")
        ax.legend(fontsize="small")
    ax.set_xlabel(hist["label"])
    ax.set_ylabel("expected events per bin")
    ax.set_title(title, fontsize="small")
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _impact_plot(plt, hist: dict, title: str, out: Path) -> None:
    xedges, yedges = hist["edges"]
    counts = np.asarray(hist["series"]["selected"], dtype=float)
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    masked = np.ma.masked_less_equal(counts.T, 0.0)
    if masked.count():
        mesh = ax.pcolormesh(xedges, yedges, masked)
        fig.colorbar(mesh, ax=ax, label="expected events per bin")
    ax.set_aspect("equal")
    ax.set_xlabel("photon impact $x$ [m]")
    ax.set_ylabel("photon impact $y$ [m]")
    ax.set_title(title, fontsize="small")
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)


def control_plots(flow, out_dir: str | Path, *, stem: str) -> list[Path]:
    """Write the control plots of a :class:`mcsim.cutflow.Cutflow` (filled with histograms) as
    ``<out_dir>/<stem>_<name>.png``; returns the paths."""
    if not flow.histograms:
        raise ValueError("control_plots: the cutflow was run without histograms")
    plt = _pyplot()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    m = flow.metadata
    title = (f"{m['model']['model']}, d = {flow.d:.3g} GeV$^{{-1}}$, {m['detector']} "
             f"({m['mode']}): {flow.expected_events:.3g} signal events")
    paths = []
    for name, hist in flow.histograms.items():
        out = out_dir / f"{stem}_{name}.png"
        if name == "impact":
            _impact_plot(plt, hist, title, out)
        else:
            _step_plot(plt, hist, title, out)
        paths.append(out)
    return paths
