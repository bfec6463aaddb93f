"""``mcsim info``: width, c*tau and the production channels of one model point."""

from __future__ import annotations

import click

from . import jsonio
from .models import FLAVOURS, model_from_options
from .production import channels
from .validate import COUPLING, DELTA, MASS, click_type

__all__ = ["info", "model_options", "warn_branching_ratios"]


def warn_branching_ratios(point) -> None:
    """One warning line on stderr per open channel whose branching ratio exceeds 1: the
    effective dipole theory is not valid at such a coupling."""
    for c in channels(point):
        if c.is_open and c.br > 1.0:
            click.echo(f"mcsim: warning: BR({c.name}) = {c.br:.3g} > 1 at d = {point.d:g} "
                       f"GeV^-1: the effective dipole theory is not valid there", err=True)


def model_options(func):
    """Attach the model options shared by every command that takes a model point."""
    opts = [
        click.option("--model", "model", required=True,
                     type=click.Choice(["dark-dipole", "neutrino-dipole"]),
                     help="dark-dipole (chi2 -> chi1 gamma) or neutrino-dipole (N -> nu gamma)"),
        click.option("--m1", type=click_type(MASS),
                     help="chi1 mass [GeV] (dark-dipole; required there)"),
        click.option("--delta", type=click_type(DELTA),
                     help="relative splitting (M2 - M1)/M1, dimensionless (dark-dipole; "
                          "required there)"),
        click.option("--m-n", "m_n", type=click_type(MASS),
                     help="N mass [GeV] (neutrino-dipole; required there)"),
        click.option("--flavour", type=click.Choice(FLAVOURS),
                     help="active flavour (neutrino-dipole; required there)"),
        click.option("--d", "d", type=click_type(COUPLING), required=True,
                     help="dipole coefficient [GeV^-1]"),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


@click.command()
@model_options
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def info(model, m1, delta, m_n, flavour, d, as_json):
    """Width and c*tau of the long-lived state and the BR of every production channel."""
    point = model_from_options(model, d=d, m1=m1, delta=delta, m_n=m_n, flavour=flavour)
    warn_branching_ratios(point)
    chans = channels(point)
    if as_json:
        out = {
            "ctau_m": point.ctau,
            "width_gev": point.width,
            "channels": {str(c.mother): {"name": c.name, "br": c.br, "open": c.is_open}
                         for c in chans},
        }
        click.echo(jsonio.dumps(out))
        return
    params = ", ".join(f"{k} = {v}" for k, v in point.describe().items())
    click.echo(params)
    click.echo(f"width = {point.width:.6g} GeV   c*tau = {point.ctau:.6g} m")
    for c in chans:
        status = f"BR = {c.br:.4e}" if c.is_open else "closed"
        click.echo(f"  {c.mother:>6d}  {c.name:<40s} {status}")
