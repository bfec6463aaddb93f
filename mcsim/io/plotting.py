"""matplotlib figures (imported only when used; the backend is never chosen here).

Control plots of a cutflow: photon energy, decay-vertex z, photon angle and the impact point on
the calorimeter of the selected events, in expected events with Monte Carlo error bars (the
``hist`` Weight storage of :mod:`mcsim.io.histograms`), drawn with ``mplhep``.
:func:`draw_histogram` and :func:`draw_impact` draw on a given ``ax``; :func:`control_plots`
writes the PNG files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = ["control_plots", "draw_histogram", "draw_impact", "run_label"]

_STYLE: dict[RcKeyType, Any] = {"font.size": 12, "axes.titlesize": "small"}


def draw_histogram(ax, h, *, label: str | None = None, log: bool = True) -> None:
    """A 1-D ``hist.Hist`` with Weight storage on ``ax``: steps with sqrt(sum w^2) error bars."""
    import mplhep  # mplhep and matplotlib: only to draw

    mplhep.histplot(
        h, ax=ax, yerr=np.sqrt(h.variances()), histtype="step", label=label, flow="none"
    )
    ax.set_xlabel(h.axes[0].label)
    ax.set_ylabel("expected events per bin")
    if log and np.any(h.values() > 0):
        ax.set_yscale("log")


def draw_impact(ax, h) -> None:
    """The 2-D impact-point ``hist.Hist`` on ``ax``, with its colour bar beside ``ax``."""
    import mplhep  # mplhep and matplotlib: only to draw

    values = h.values()
    if np.any(values > 0):
        mplhep.hist2dplot(h, ax=ax, cmin=np.min(values[values > 0]), flow="none", cbarextend=False)
        ax.figure.axes[-1].set_ylabel("expected events per bin")
    ax.set_aspect("equal")
    ax.set_xlabel(h.axes[0].label)
    ax.set_ylabel(h.axes[1].label)


def run_label(flow) -> str:
    """Two lines naming the run of a :class:`mcsim.generation.cutflow.Cutflow` (plain text, no LaTeX)."""
    m = flow.metadata
    return (
        f"{m['model']['model']}, d = {flow.d:.3g} GeV^-1, {m['detector']} ({m['mode']})\n"
        f"{flow.expected_events:.3g} +- {flow.stat_error:.2g} signal events"
    )


def control_plots(flow, out_dir: str | Path, *, stem: str) -> list[Path]:
    """Write the control plots of a :class:`mcsim.generation.cutflow.Cutflow` (filled with histograms) as
    ``<out_dir>/<stem>_<name>.png``; returns the paths."""
    if not flow.histograms:
        raise ValueError("control_plots: the cutflow was run without histograms")
    import matplotlib.pyplot as plt  # matplotlib: only to draw
    import mplhep  # mplhep and matplotlib: only to draw

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    title = run_label(flow)
    paths = []
    with plt.style.context(mplhep.style.ROOT), plt.rc_context(_STYLE):
        for name, h in flow.histograms.items():
            fig, ax = plt.subplots(figsize=(7.0, 5.6), layout="constrained")
            if name == "impact":
                draw_impact(ax, h)
            else:
                draw_histogram(ax, h, label="selected")
            ax.set_title(title, loc="left")
            out = out_dir / f"{stem}_{name}.png"
            fig.savefig(out, dpi=110)
            plt.close(fig)
            paths.append(out)
    return paths
