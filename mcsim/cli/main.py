"""The ``mcsim`` command line.

Each sub-command lives next to the code it drives; this module only assembles them and turns bad
input (``ValueError``, a click usage error) and failed reads or writes (``OSError``) into a
one-line message with exit status 2, and SIGINT, SIGTERM and SIGHUP into the clean-up of a
Ctrl-C with exit status 128 + signal.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from importlib import import_module

import click

from mcsim.runtime import signals
from mcsim.runtime.memory import keep_freed_memory

__all__ = ["main"]


class _Stop(Exception):
    """Ends the command with one line on stderr and an exit status."""

    def __init__(self, line: str, code: int):
        super().__init__(line)
        self.line, self.code = line, code


def _os_message(err: OSError) -> str:
    if err.strerror and err.filename:
        return f"{err.filename}: {err.strerror}"
    return err.strerror or str(err)


#: Sub-command -> (module, function, the line `mcsim --help` shows).  A command's module (and
#: numba, uproot, scipy behind it) is imported only when that command runs, so `mcsim --help`
#: starts in a fraction of a second; tests/test_info_cli.py checks the lines against the commands.
_COMMANDS = {
    "cutflow": (
        ".cutflow",
        "cutflow",
        "Cutflow of FILE (written by `mcsim generate`): raw and weighted events per cut.",
    ),
    "detectors": (
        ".detectors",
        "detectors",
        "Detector cards: list them, print one and draw its side view.",
    ),
    "figure": (".reach", "figure", "The paper's Figure NUMBER (2, 3 or 4): scan, plot, write."),
    "generate": (
        ".generate",
        "generate_command",
        "Generate events with the full chain and write them to a ROOT file.",
    ),
    "info": (
        ".info",
        "info",
        "Width and c*tau of the long-lived state and the BR of every production channel.",
    ),
    "reach": (
        ".reach",
        "reach",
        "Expected signal events over a (mass, d) grid and the N = --level contours.",
    ),
    "spectra": (".spectra", "spectra", "Meson spectrum tables (PYTHIA8, lab frame)."),
    "validate-cone": (
        ".reach",
        "validate_cone_command",
        "Full geometry vs the paper's cone approximation: yield ratio and both N = 3 contours.",
    ),
}


class _Group(click.Group):
    """Click group that reports bad input and failed writes as one line with exit status 2,
    usage errors likewise, and SIGINT, SIGTERM, SIGHUP (after the clean-up of a Ctrl-C) as one
    line with exit status 128 + signal (:mod:`mcsim.runtime.signals`)."""

    def list_commands(self, ctx) -> list[str]:
        return sorted({*self.commands, *_COMMANDS})

    def get_command(self, ctx, name: str):
        if name not in self.commands and name in _COMMANDS:  # import on first use
            module, attr, _ = _COMMANDS[name]
            self.add_command(getattr(import_module(module, __package__), attr), name)
        return self.commands.get(name)

    def format_commands(self, ctx, formatter) -> None:
        rows = [
            (
                name,
                _COMMANDS[name][2]
                if name in _COMMANDS
                else self.commands[name].get_short_help_str(),
            )
            for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as err:
            raise _Stop(
                f"mcsim: interrupted by {signals.describe(err)}; partial output removed",
                signals.exit_code(err),
            ) from None
        except OSError as err:
            raise _Stop(f"mcsim: error: {_os_message(err)}", 2) from None
        except ValueError as err:
            raise _Stop(f"mcsim: error: {err}", 2) from None
        except Exception:
            signum = signals.received()
            if signum is None:
                raise
            # a signal inside compiled code arrives as a SystemError; the clean-up has run
            name = signals.describe(signals.Interrupted(signum))
            raise _Stop(
                f"mcsim: interrupted by {name}; partial output removed", 128 + signum
            ) from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        with signals.handled():
            try:
                try:
                    rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
                except click.Abort as err:  # a signal while click parsed the command line
                    raise _Stop(
                        f"mcsim: interrupted by {signals.describe(err.__cause__)}",
                        signals.exit_code(err.__cause__),
                    ) from None
                except KeyboardInterrupt as err:
                    raise _Stop(
                        f"mcsim: interrupted by {signals.describe(err)}", signals.exit_code(err)
                    ) from None
                except click.UsageError as err:
                    where = f" (see '{err.ctx.command_path} --help')" if err.ctx else ""
                    raise _Stop(
                        f"mcsim: error: {err.format_message().rstrip('.')}{where}", err.exit_code
                    ) from None
                except click.ClickException as err:
                    raise _Stop(f"mcsim: error: {err.format_message()}", err.exit_code) from None
            except _Stop as stop:
                click.echo(" ".join(stop.line.split()), err=True)
                if (
                    stop.code > 128
                    and signals.is_command()
                    and "multiprocessing.resource_tracker" not in sys.modules
                ):
                    # after a signal in a single-process command the clean-up is done: skip
                    # the interpreter's teardown, which can crash (double free) after a signal
                    # in compiled code; with worker processes the normal exit releases them
                    atexit._run_exitfuncs()
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(stop.code)
                _skip_final_collection()
                sys.exit(stop.code)
        _skip_final_collection()
        sys.exit(rv if isinstance(rv, int) else 0)


def _skip_final_collection() -> None:
    """Spare the exiting interpreter its last garbage collection: it walks every object numba
    and matplotlib made, 0.4-0.5 s once the kernels are loaded (``gc.freeze`` moves them out
    of its reach; they are freed with the process)."""
    gc.freeze()


@click.group(cls=_Group)
@click.version_option(package_name="mcsim")
def main() -> None:
    """Long-lived dark states from meson decays, seen through a single photon."""
    keep_freed_memory()  # chunks reuse the memory of the previous chunk


if __name__ == "__main__":
    main()
