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

__all__ = [
    "HANDLED",
    "Interrupted",
    "describe",
    "exit_code",
    "guard_startup",
    "handled",
    "is_command",
    "received",
]

#: The signals turned into Interrupted (SIGHUP does not exist on Windows).
HANDLED = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Interrupted(KeyboardInterrupt):
    """A KeyboardInterrupt raised by SIGINT, SIGTERM or SIGHUP; ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_received: int | None = None


def received() -> int | None:
    """The signal :func:`handled` turned into :class:`Interrupted` in its current block, if any.
    Raised inside a callback from compiled code (numba loading a cached kernel), the
    Interrupted arrives wrapped in a SystemError: this tells that it was still a signal."""
    return _received


def _raise(signum, frame):
    global _received
    _received = signum
    for other in HANDLED:  # the clean-up now running must not be interrupted in turn
        signal.signal(other, signal.SIG_IGN)
    raise Interrupted(signum)


def _quiet_interrupted(unraisable) -> None:
    """An Interrupted raised where Python cannot propagate it (a ``__del__`` or a ctypes
    callback of numba's compiler) is not printed: :func:`received` keeps the signal, and the
    writers refuse to finish (:func:`mcsim.io.partfiles.commit`)."""
    if not isinstance(unraisable.exc_value, Interrupted):
        sys.__unraisablehook__(unraisable)


@contextmanager
def handled():
    """Within the block, SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted`; the previous
    handlers come back on exit.  A signal ignored on entry (``nohup``, a background job's
    SIGINT) stays ignored.  Main thread only."""
    global _received
    _received = None
    previous = {s: signal.getsignal(s) for s in HANDLED}
    for s, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(s, _raise)
    hook = sys.unraisablehook
    sys.unraisablehook = _quiet_interrupted
    try:
        yield
    finally:
        sys.unraisablehook = hook
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
    os.write(
        2,
        f"mcsim: interrupted by {signal.Signals(signum).name} during start-up; "
        f"nothing written\n".encode(),
    )
    os._exit(128 + signum)


def is_command() -> bool:
    """Whether this process is the ``mcsim`` command itself (not a program importing mcsim,
    a test runner, nor a worker process)."""
    import multiprocessing  # multiprocessing: only when asked

    return (
        bool(sys.argv)
        and Path(sys.argv[0]).name == "mcsim"
        and multiprocessing.current_process().name == "MainProcess"
    )


def guard_startup() -> None:
    """For the ``mcsim`` command only (``mcsim/__init__`` calls it there, :func:`is_command`):
    until :func:`handled` takes over, SIGINT, SIGTERM and SIGHUP end the process quietly with
    128 + signal."""
    for s in HANDLED:
        if signal.getsignal(s) in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(s, _exit_at_startup)
