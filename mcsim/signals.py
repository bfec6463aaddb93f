"""SIGTERM and SIGHUP (what ``timeout``, SLURM, HTCondor and a closed terminal send) get the
same clean-up as Ctrl-C, and the ``mcsim`` command exits with the shell's code 128 + signal.

:func:`handled` turns SIGINT, SIGTERM and SIGHUP into :class:`Interrupted` (a
KeyboardInterrupt), so every ``with``/``finally`` that removes a temporary file or stops worker
processes on Ctrl-C also runs for the other two.  After the first signal the three are ignored,
so a second one cannot cut the clean-up short.  :func:`guard_startup` covers the imports before
the command's code runs: nothing is written yet, so a signal there just ends the process with one
line on stderr.
"""

from __future__ import annotations

import os
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

__all__ = ["HANDLED", "Interrupted", "describe", "exit_code", "guard_startup", "handled"]

#: The signals turned into Interrupted (SIGHUP does not exist on Windows).
HANDLED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """A KeyboardInterrupt raised by SIGINT, SIGTERM or SIGHUP; ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise(signum, frame):
    for other in HANDLED:  # the clean-up now running must not be interrupted in turn
        signal.signal(other, signal.SIG_IGN)
    raise Interrupted(signum)


@contextmanager
def handled():
    """Within the block, SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted`; the previous
    handlers come back on exit.  A signal ignored on entry (``nohup``, a background job's
    SIGINT) stays ignored.  Main thread only."""
    previous = {s: signal.getsignal(s) for s in HANDLED}
    for s, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(s, _raise)
    try:
        yield
    finally:
        for s, handler in previous.items():
            if handler is not None:
                signal.signal(s, handler)


def exit_code(err: KeyboardInterrupt) -> int:
    """Shell convention: 128 + signal number (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP)."""
    return 128 + getattr(err, "signum", signal.SIGINT)


def describe(err: KeyboardInterrupt) -> str:
    """'SIGTERM' etc. (a plain KeyboardInterrupt counts as SIGINT)."""
    return signal.Signals(getattr(err, "signum", signal.SIGINT)).name


def _exit_at_startup(signum, frame):
    os.write(2, f"mcsim: interrupted by {signal.Signals(signum).name} during start-up; "
                f"nothing written\n".encode())
    os._exit(128 + signum)


def guard_startup() -> None:
    """In the ``mcsim`` command only (not in a program importing mcsim, nor in its worker
    processes): until :func:`handled` takes over, SIGINT, SIGTERM and SIGHUP end the process
    quietly with 128 + signal."""
    import multiprocessing

    if (not sys.argv or Path(sys.argv[0]).name != "mcsim"
            or multiprocessing.current_process().name != "MainProcess"):
        return
    for s in HANDLED:
        if signal.getsignal(s) in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(s, _exit_at_startup)
