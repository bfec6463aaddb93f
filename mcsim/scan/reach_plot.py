"""Reach plots of :class:`mcsim.scan.reach.ReachGrid` s: contours with their one-sigma Monte Carlo
bands, relic lines, the ``mcsim reach`` figure.  Free of the simulation (no numba): ``mcsim
reach`` starts its plotting process before it loads the scan, so that matplotlib's imports and
first figure run beside the command's own start-up instead of beside the scan's workers.
matplotlib is imported only when plotting."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from mcsim.scan.family import Family
from mcsim.scan.reach import ReachGrid

__all__ = [
    "draw_uncertainty",
    "finish_reach_axes",
    "plot_detectors",
    "plot_relic",
    "reach_png",
    "warm_up",
]

#: Style of the thermal-relic line of `mcsim reach`: black dash-dot, a style no detector line
#: has (:data:`_COLOURS`, :data:`_STYLES`).
_RELIC_STYLE: dict[str, Any] = {"color": "k", "ls": "-.", "lw": 1.4}


def draw_uncertainty(ax, g: ReachGrid, colour) -> bool:
    """Shade the contour's one-sigma Monte Carlo band (|N - level| < sigma) and mark with x the
    contour points at masses whose decisive cells still miss the error target.  Returns
    whether any point was marked."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(
            g.stat_error > 0,
            (g.events - g.level) / g.stat_error,
            np.sign(g.events - g.level) * np.inf,
        )
    if np.any(np.abs(z) < 1):
        ax.contourf(
            g.masses,
            g.couplings,
            np.nan_to_num(z, posinf=1e3, neginf=-1e3).T,
            levels=[-1.0, 1.0],
            colors=[colour],
            alpha=0.25,
        )
    flagged = np.isin(g.masses, g.metadata.get("unconverged_masses", []))
    if not flagged.any():
        return False
    log_m = np.log(g.masses)
    for line in g.contours():
        nearest = np.abs(np.log(line[:, 0])[:, None] - log_m[None, :]).argmin(axis=1)
        mark = flagged[nearest]
        ax.plot(line[mark, 0], line[mark, 1], ls="none", marker="x", ms=3, color=colour)
    return True


def finish_reach_axes(
    ax, grids: list[ReachGrid], flagged: bool, *, xlabel: str, ylabel: str, flag_label: str
) -> None:
    """Log axes over the grids' (mass, d) range with labels and a grid; a legend entry for the
    x marks of :func:`draw_uncertainty` if any were ``flagged``."""
    if flagged:
        ax.plot([], [], ls="none", marker="x", ms=4, color="k", label=flag_label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(grids[0].masses[0], grids[0].masses[-1])
    ax.set_ylim(grids[0].couplings[0], grids[0].couplings[-1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)


def plot_relic(ax, line: np.ndarray, ls: str = "-.") -> None:
    """Draw a thermal-relic line (n, 2) of (M1 [GeV], d [GeV^-1]) with Omega h^2 = 0.12
    (:func:`mcsim.models.relic.relic_line`) on ``ax``, black, dash-dot unless ``ls`` says
    otherwise."""
    ax.plot(line[:, 0], line[:, 1], label=r"$\Omega h^2 = 0.12$", **{**_RELIC_STYLE, "ls": ls})


#: Colours and line styles of the detectors of one `mcsim reach` plot, in order (30 distinct
#: pairs; none black or dash-dot, the relic line's).
_COLOURS = ("C0", "C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9")
_STYLES = ("-", "--", ":")


def plot_detectors(ax, grids, *, xlabel: str, ylabel: str = "d [GeV^-1]") -> None:
    """The contours of ``grids`` on ``ax``, each detector with its own colour and line style,
    its one-sigma Monte Carlo band and x marks where the contour misses the error target, and a
    legend naming the card, its exposure and the contour level."""
    flagged = False
    for i, g in enumerate(grids):
        style = {
            "color": _COLOURS[i % len(_COLOURS)],
            "ls": _STYLES[(i // len(_COLOURS) + i) % len(_STYLES)],
            "lw": 1.8,
        }
        lines = g.contours()
        for line in lines:
            ax.plot(line[:, 0], line[:, 1], **style)
        flagged |= draw_uncertainty(ax, g, style["color"])
        note = "" if lines else ", not reached"
        ax.plot(
            [], [], label=f"{g.label}: {g.metadata['exposure']}, N = {g.level:.3g}{note}", **style
        )
    finish_reach_axes(
        ax,
        grids,
        flagged,
        xlabel=xlabel,
        ylabel=ylabel,
        flag_label="MC error at the contour above the target",
    )
    ax.legend(fontsize="small", loc="upper right")


def warm_up() -> None:
    """A first :func:`reach_png` of a made-up 3 x 3 grid: matplotlib's imports, fonts, mathtext,
    contouring and PNG writer, ~0.45 s, done in the plotting helper beside the command's own
    start-up (the real plot then takes ~0.16 s instead of ~0.35 s)."""
    axis = np.array([0.1, 1.0, 10.0])
    events = np.array([[1.0, 5.0, 1.0], [2.0, 10.0, 2.0], [1.0, 5.0, 1.0]])
    made_up = ReachGrid(
        "warm-up",
        axis,
        axis,
        events,
        metadata={"exposure": "1 POT", "unconverged_masses": [1.0]},
        stat_error=0.4 * events,
    )
    reach_png([made_up], Family("dark-dipole", delta=0.1), np.stack([axis, axis], 1))


def reach_png(grids: list[ReachGrid], family: Family, relic=None) -> bytes:
    """The plot of ``mcsim reach``: the grids' contours (:func:`plot_detectors`) with the
    relic line (n, 2), if any, as PNG bytes (a helper process draws, the command writes the
    file)."""
    import matplotlib.pyplot as plt  # matplotlib: only to draw

    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    # fixed margins (one axes, log-scale tick labels): constrained layout took 40% of the plot
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.11, top=0.93)
    if relic is not None:
        plot_relic(ax, relic)
    plot_detectors(ax, grids, xlabel=family.kind.mass_label, ylabel=family.kind.coupling_label)
    ax.set_title(family.name, loc="left", fontsize="small")
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    plt.close(fig)
    return png.getvalue()
