"""The ``mcsim`` command line.

Each sub-command lives next to the code it drives; this module only assembles them and turns a
``ValueError`` (bad input) into a one-line message with exit status 2.
"""

from __future__ import annotations

import sys

import click

from .memory import keep_freed_memory

__all__ = ["main"]


class _Group(click.Group):
    """Click group that reports bad physics input as one line and exit status 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (ValueError, FileNotFoundError, FileExistsError, PermissionError) as err:
            click.echo(f"mcsim: error: {err}", err=True)
            sys.exit(2)


#: Sub-commands that run the numba kernels.
_SIMULATING = ("generate", "reach", "figure", "validate-cone")


@click.group(cls=_Group)
@click.version_option(package_name="mcsim")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Long-lived dark states from meson decays, seen through a single photon."""
    keep_freed_memory()  # chunks reuse the memory of the previous chunk
    if ctx.invoked_subcommand in _SIMULATING and sys.stderr.isatty():
        from .jit_cache import kernels_cached

        if not kernels_cached():  # a notice for people at a terminal, not for logs and pipes
            click.echo("mcsim: compiling the numba kernels (first run after installing or "
                       "updating; about a minute, once)...", err=True)


def _register() -> None:
    from .cutflow_cli import cutflow
    from .detectors_cli import detectors
    from .generate_cli import generate
    from .info_cli import info
    from .reach_cli import figure, reach, validate_cone_command
    from .spectra_cli import spectra

    main.add_command(info)
    main.add_command(spectra)
    main.add_command(reach)
    main.add_command(figure)
    main.add_command(validate_cone_command)
    main.add_command(generate)
    main.add_command(cutflow)
    main.add_command(detectors)


_register()


if __name__ == "__main__":
    main()
