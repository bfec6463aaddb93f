"""``mcsim info``: width, c*tau and the production channels of one model point."""

from __future__ import annotations

import functools

import click

from mcsim.io import jsonio
from mcsim.models import registry
from mcsim.runtime.validate import COUPLING, click_type, number_option

__all__ = ["info", "model_options", "warn_branching_ratios"]


def warn_branching_ratios(point) -> None:
    """One warning line on stderr per open channel whose branching ratio exceeds 1: the
    effective dipole theory is not valid at such a coupling."""
    # numba kernels (Dalitz widths): loaded when channels are asked
    from mcsim.models.card import coupling_name  # model cards: loaded with the channels
    from mcsim.models.channels import channels  # numba kernels (Dalitz widths)

    name, unit = coupling_name(point.describe())
    for c in channels(point):
        if c.is_open and c.br > 1.0:
            click.echo(
                f"mcsim: warning: BR({c.name}) = {c.br:.3g} > 1 at {name} = {point.d:g} "
                f"{unit}: the effective theory is not valid there",
                err=True,
            )


class ModelName(click.ParamType):
    """--model: a registered kind's name or card:PATH (a model card)."""

    name = "MODEL"

    def convert(self, value, param, ctx):
        try:
            registry.get(value)
        except (ValueError, OSError) as err:
            self.fail(str(err), param, ctx)
        return value


def _parameter_options() -> list:
    """One option per parameter name of the built-in kinds (shared where two kinds share a
    name), with the kinds that take it."""
    by_name: dict[str, list] = {}
    for kind in registry.kinds():
        for p in kind.parameters:
            by_name.setdefault(p.name, []).append((kind, p))
    options = []
    for name, uses in by_name.items():
        p = uses[0][1]
        where = ", ".join(k.name for k, _ in uses)
        kind_type = click.Choice(p.choices) if p.choices else click_type(p.range)
        options.append(
            click.option(p.option, name, type=kind_type, help=f"{p.help} ({where}; required there)")
        )
    return options


def model_options(func):
    """Attach the model options shared by every command that takes a model point: --model,
    the parameters of every registered kind (derived from the registry) and --d; the command
    receives the model point as ``point`` (:func:`mcsim.models.registry.model_from_options`)."""
    names = [p.name for kind in registry.kinds() for p in kind.parameters]

    @functools.wraps(func)
    def wrapper(**kwargs):
        model, d = kwargs.pop("model"), kwargs.pop("d")
        params = {n: kwargs.pop(n, None) for n in dict.fromkeys(names)}
        kwargs["point"] = registry.model_from_options(model, d=d, **params)
        return func(**kwargs)

    kinds = " or ".join(f"{k.name} ({k.summary})" for k in registry.kinds())
    opts = [
        click.option(
            "--model",
            "model",
            required=True,
            type=ModelName(),
            help=f"{kinds}, or card:PATH: a model card (TOML; keys in docs/cards.md)",
        ),
        *_parameter_options(),
        number_option(
            "--d",
            "d",
            allowed=COUPLING,
            required=True,
            help="coupling: the dipole coefficient [GeV^-1], or a card's coupling "
            "in the card's unit",
        ),
    ]
    for opt in reversed(opts):
        wrapper = opt(wrapper)
    return wrapper


@click.command()
@model_options
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def info(point, as_json):
    """Width and c*tau of the long-lived state and the BR of every production channel."""
    # numba kernels (Dalitz widths): loaded when channels are asked
    from mcsim.models.channels import channels

    warn_branching_ratios(point)
    chans = channels(point)
    if as_json:
        out = {
            "ctau_m": point.ctau,
            "width_gev": point.width,
            "channels": {
                str(c.mother): {"name": c.name, "br": c.br, "open": c.is_open} for c in chans
            },
        }
        click.echo(jsonio.dumps(out))
        return
    params = ", ".join(f"{k} = {v}" for k, v in point.describe().items())
    click.echo(params)
    click.echo(f"width = {point.width:.6g} GeV   c*tau = {point.ctau:.6g} m")
    for c in chans:
        status = f"BR = {c.br:.4e}" if c.is_open else "closed"
        click.echo(f"  {c.mother:>6d}  {c.name:<40s} {status}")
