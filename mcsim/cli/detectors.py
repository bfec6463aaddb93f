"""``mcsim detectors``: list the detector cards, print one and draw its side view."""

from __future__ import annotations

import math
from pathlib import Path

import click

__all__ = ["describe", "detectors", "draw_side_view"]


def describe(det) -> list[str]:
    """The geometry, exposure and selection of a :class:`mcsim.detector.cards.Detector`, as lines."""
    # numba kernels: loaded when the command runs, not for --help
    from mcsim.detector.cards import detector_exposure

    # numba kernels: loaded when the command runs, not for --help
    from mcsim.detector.interaction_point import InteractionPointDetector

    if isinstance(det, InteractionPointDetector):
        return _describe_collider(det)
    vol, calo, cone = det.decay_volume, det.calorimeter, det.cone
    kind = type(vol).__name__
    if kind == "Cylinder":
        shape = f"cylinder, radius {vol.radius:g} m"
    elif kind == "Box":
        shape = f"box, {vol.width:g} m wide (x) x {vol.height:g} m high (y)"
    else:
        shape = (
            f"rectangular frustum, {vol.width_start:g} x {vol.height_start:g} m at the "
            f"start to {vol.width_end:g} x {vol.height_end:g} m at the end (x x y)"
        )
    face = (
        f"disc of radius {calo.radius:g} m"
        if calo.shape == "disc"
        else f"rectangle {calo.width:g} m (x) x {calo.height:g} m (y)"
    )
    hole = f", beam hole of radius {calo.hole_radius:g} m" if calo.hole_radius else ""
    e_max = (
        f" and below {det.photon_energy_max:g} GeV" if math.isfinite(det.photon_energy_max) else ""
    )
    lines = [
        f"{det.name}: {det.description}",
        f"  card:         {det.card_path}",
        f"  beam:         {det.beam} spectra, {det.proton_energy:g} GeV protons on "
        f"{det.target or 'the target'} (A = {det.target_A:g})",
        f"  exposure:     {detector_exposure(det)} ({det.n_collisions:.3g} proton interactions)",
        f"  decay volume: {shape}, z = {vol.z_start:g} to {vol.z_end:g} m from the target",
        f"  calorimeter:  face at z = {calo.z_face:g} m, {face}{hole}",
        f"  selection:    one photon above {det.photon_energy_min:g} GeV{e_max}, "
        f"efficiency {det.efficiency:g}",
        f"  cone mode:    theta < {cone.theta_max:.4g} rad, decay between "
        f"L_i = {cone.l_i:g} m and L_f = {cone.l_f:g} m",
    ]
    if det.observed_events is not None:
        lines.append(
            f"  recast:       {det.observed_events} events observed, background "
            f"{det.expected_background} +- {det.expected_background_uncertainty}"
        )
    return lines


def _describe_collider(det) -> list[str]:
    """The beams, volume and selection of a :class:`mcsim.detector.interaction_point.InteractionPointDetector`."""
    vol = det.decay_volume
    theta = [math.degrees(math.acos(c)) for c in (det.cos_theta_max, det.cos_theta_min)]
    return [
        f"{det.name}: {det.description}",
        f"  card:         {det.card_path}",
        f"  beams:        {det.electron_energy:g} GeV e- (+z) on {det.positron_energy:g} GeV "
        f"e+, sqrt(s) = {det.sqrt_s:.4g} GeV, CM velocity {det.beta:.3f}",
        f"  exposure:     {det.luminosity_inv_fb:g} fb^-1",
        f"  decay volume: cylinder of radius {vol.radius:g} m around the beam, "
        f"z = {vol.z_start:g} to {vol.z_end:g} m from the interaction point",
        f"  calorimeter:  photons at lab polar angle {theta[0]:.1f} to {theta[1]:.1f} deg",
        f"  selection:    leading photon above {det.leading_energy_min:g} GeV, sub-leading "
        f"above {det.subleading_energy_min:g} GeV, missing energy above "
        f"{det.missing_energy_min:g} GeV (CM frame), efficiency {det.efficiency:g}",
        f"  sensitivity:  {det.sensitivity_events:g} signal events",
    ]


def _half_heights(vol) -> tuple[float, float, float, float]:
    """(half extent in x at start, at end, in y at start, at end) [m] of the decay volume."""
    if hasattr(vol, "radius"):  # the fixed-target and the collider cylinders
        return vol.radius, vol.radius, vol.radius, vol.radius
    if type(vol).__name__ == "Box":
        return vol.width / 2, vol.width / 2, vol.height / 2, vol.height / 2
    return vol.width_start / 2, vol.width_end / 2, vol.height_start / 2, vol.height_end / 2


def draw_side_view(ax, det, *, plane: str = "y") -> None:
    """Side view of ``det`` on ``ax`` in the (z, ``plane``) plane [m]: decay volume, calorimeter
    face (with its beam hole) and the paper's acceptance cone.  The transverse axis is
    stretched: the volumes are long and thin."""
    from matplotlib.patches import Polygon  # matplotlib: only to draw

    vol, calo, cone = det.decay_volume, det.calorimeter, getattr(det, "cone", None)
    hx0, hx1, hy0, hy1 = _half_heights(vol)
    h0, h1 = (hy0, hy1) if plane == "y" else (hx0, hx1)
    ax.add_patch(
        Polygon(
            [(vol.z_start, -h0), (vol.z_end, -h1), (vol.z_end, h1), (vol.z_start, h0)],
            closed=True,
            facecolor="tab:blue",
            alpha=0.25,
            edgecolor="tab:blue",
            label="decay volume",
        )
    )
    if calo.shape == "disc":
        half = calo.radius
    else:
        half = (calo.height if plane == "y" else calo.width) / 2
    for lo, hi in ((calo.hole_radius, half), (-half, -calo.hole_radius)):
        ax.plot([calo.z_face, calo.z_face], [lo, hi], color="tab:red", lw=4, solid_capstyle="butt")
    ax.plot([], [], color="tab:red", lw=4, label="calorimeter face")
    reach = 0.0
    if cone is not None:  # fixed-target cards: the paper's acceptance cone
        t = math.tan(cone.theta_max)
        reach = cone.l_f * t
        ax.plot(
            [0, cone.l_f],
            [0, reach],
            color="0.3",
            ls="--",
            lw=1,
            label=f"cone, theta < {cone.theta_max:.3g} rad",
        )
        ax.plot([0, cone.l_f], [0, -reach], color="0.3", ls="--", lw=1)
        ax.axvline(cone.l_i, color="0.5", ls=":", lw=1)
        ax.axvline(cone.l_f, color="0.5", ls=":", lw=1)
    ax.plot(
        [0],
        [0],
        marker="*",
        color="k",
        ms=10,
        ls="none",
        label="target (origin)" if cone is not None else "interaction point",
    )
    top = 1.3 * max(h0, h1, half, reach)
    z_lo = min(vol.z_start, 0.0)
    ax.set_xlim(z_lo - 0.03 * (calo.z_face - z_lo), 1.08 * max(calo.z_face, vol.z_end))
    ax.set_ylim(-top, top)
    ax.set_xlabel("z [m] (beam axis)")
    ax.set_ylabel(f"{plane} [m] (stretched)")
    ax.legend(loc="upper left", fontsize="small", frameon=False)


@click.group()
def detectors() -> None:
    """Detector cards: list them, print one and draw its side view."""


@detectors.command("list")
def list_cards() -> None:
    """List the shipped detector cards (and their named configurations)."""
    # numba kernels: loaded when the command runs, not for --help
    from mcsim.detector.cards import (
        available_detectors,
        detector_exposure,
        load_detector,
    )

    for name in available_detectors():
        det = load_detector(name)
        click.echo(f"{name:<12s} {detector_exposure(det):<28s} {det.description}")


@detectors.command()
@click.argument("name")
@click.option(
    "--png",
    type=click.Path(dir_okay=False),
    help="side view to write  [default: <card>_side_view.png in the current directory]",
)
@click.option("--no-png", is_flag=True, help="print only, draw nothing")
def show(name, png, no_png) -> None:
    """Print the geometry, exposure and selection of detector NAME (a shipped name such as
    na62, na62:1e17, or a card path) and draw its side view (z-y plane)."""
    # numba kernels: loaded when the command runs, not for --help
    from mcsim.detector.cards import load_detector

    det = load_detector(name)
    click.echo("\n".join(describe(det)))
    if no_png:
        return
    import matplotlib.pyplot as plt  # matplotlib: only to draw

    out = Path(png or f"{det.name.replace(':', '_')}_side_view.png")
    fig, ax = plt.subplots(figsize=(9, 3.6), layout="constrained")
    draw_side_view(ax, det)
    ax.set_title(f"{det.name}: {det.description}", loc="left", fontsize="small")
    fig.savefig(out, dpi=110)
    plt.close(fig)
    click.echo(f"wrote {out}")
