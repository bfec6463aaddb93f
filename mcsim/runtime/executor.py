"""One executor for independent tasks: in this process, on local worker processes, or on a
Dask cluster, with results in task order whatever the order of completion.  A
:class:`Session` keeps its workers (or its cluster client) over several runs.

Worker set-up happens in the workers, never in the calling process: :func:`_worker_init` (local
processes, at their start) and :func:`_on_worker` (Dask, before each task; idempotent) make a
worker single-threaded in BLAS/OpenMP (threadpoolctl: the workers already fill the cores, and
the Gauss-Legendre nodes of the three-body widths, numpy's eigvalsh, ran ~50x slower with
threaded BLAS on a busy 2-core machine), ask
malloc to keep freed chunk memory (:func:`mcsim.runtime.memory.keep_freed_memory`), and -- local
workers only -- make them ignore the terminal's Ctrl-C and die with their parent (Linux).
On Linux, local workers are forked from the calling process once it has run the session's
warm-up (its imports and loaded kernels are theirs at no cost: a worker is ready in ~10 ms
instead of ~1.2 s); elsewhere, or while the caller runs other threads, they are spawned, and a
calling script must then be importable (a file, not ``python - <<EOF``).  An exception in the
caller (Ctrl-C, SIGTERM included) stops them at once.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import itertools
import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import closing, contextmanager
from typing import Any

from mcsim.runtime.defaults import BLAS_THREAD_VARIABLES
from mcsim.runtime.validate import WORKERS

__all__ = ["Helper", "Session", "in_threads", "run"]

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_configured = False  # this process is a worker that has been set up


def run(
    fn: Callable[[Any], Any],
    items: Sequence,
    *,
    workers: int = 2,
    scheduler: str | None = None,
    timeout: float | None = None,
    **options,
) -> list:
    """``[fn(item) for item in items]`` in a :class:`Session` of its own (``workers``,
    ``scheduler``, ``timeout`` as there; ``options`` as in :meth:`Session.run`)."""
    with Session(workers=workers, scheduler=scheduler, timeout=timeout) as session:
        return session.run(fn, items, **options)


class Session:
    """Where tasks run, kept over several :meth:`run` calls (a scan's first pass and its
    refinement rounds start their workers once): ``workers`` local processes (1: this process,
    untouched by any worker set-up), or the Dask cluster at ``scheduler`` (an address).  A
    cluster that cannot be reached, or that has no worker for ``timeout`` seconds (default:
    Dask's ``distributed.comm.timeouts.connect``, 30 s, set by the environment variable
    DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT), raises a ConnectionError.  ``warm_up`` (a
    module-level function without arguments) prepares the local workers: run once here before
    they are forked from this process (:func:`_start_method`), or once on each spawned worker as
    soon as the session opens."""

    def __init__(
        self,
        *,
        workers: int = 2,
        scheduler: str | None = None,
        timeout: float | None = None,
        warm_up: Callable[[], Any] | None = None,
    ):
        WORKERS.check("workers", workers)
        self.workers, self.scheduler, self.warm_up = workers, scheduler, warm_up
        self.timeout = timeout
        self._pool: ProcessPoolExecutor | None = None
        self._client: Any = None

    def __enter__(self) -> Session:
        if self.scheduler is not None:
            self._client, self.timeout = _connect(self.scheduler, self.timeout)
        elif self.workers > 1:
            method = _start_method()
            if method == "fork" and self.warm_up is not None:
                self.warm_up()  # once, here: the forked workers inherit its imports and kernels
            with _sigint_ignored():  # workers start at submit()
                self._pool = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context(method),
                    initializer=_worker_init,
                    initargs=(os.getpid(),),
                )
                if method == "fork":  # all of them now, before this process starts a thread
                    self._pool.submit(_started)
                elif self.warm_up is not None:
                    for _ in range(self.workers):
                        self._pool.submit(self.warm_up)
        return self

    def __exit__(self, exc_type, *_) -> None:
        if self._pool is not None:
            if exc_type is None:  # the workers exit (~0.25 s) while the caller goes on
                self._pool.shutdown(wait=False)
            else:  # Ctrl-C, SIGTERM, a failed task: stop the workers now
                _terminate(self._pool)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def run(
        self,
        fn: Callable[[Any], Any],
        items: Sequence,
        *,
        progress: bool = True,
        desc: str = "tasks",
        unit: str = "task",
        sizes: Sequence[int] | None = None,
    ) -> list:
        """``[fn(item) for item in items]``; ``fn`` must be a module-level function and the
        items picklable.  The progress bar counts ``sizes[i]`` per item (default 1) in
        ``unit``."""
        sizes = [1] * len(items) if sizes is None else list(sizes)
        results: list = [None] * len(items)
        bar = _progress_bar()(total=sum(sizes), desc=desc, unit=unit, disable=not progress)
        if self._client is not None:
            assert self.scheduler is not None and self.timeout is not None  # set by __enter__
            done: Generator[tuple[int, Any]] = _on_cluster(
                fn, items, self._client, self.scheduler, self.timeout
            )
        elif self._pool is not None:
            done = _on_processes(fn, items, self._pool)
        else:
            done = ((i, fn(item)) for i, item in enumerate(items))
        with closing(done):  # an exception here stops the workers now, not when collected
            for i, result in done:
                results[i] = result
                bar.update(sizes[i])
        bar.close()
        return results


def _progress_bar():
    """tqdm's bar class: a notebook's widget in Jupyter, else the terminal's (tqdm.auto without
    its asyncio support, which costs every command 0.02 s of imports)."""
    from tqdm import TqdmExperimentalWarning  # tqdm (0.1 s): only with a progress bar

    with warnings.catch_warnings():  # as tqdm.auto: notebook mode is not experimental for us
        warnings.simplefilter("ignore", category=TqdmExperimentalWarning)
        from tqdm.autonotebook import tqdm  # tqdm (0.1 s): only with a progress bar
    return tqdm


class Helper:
    """One local process for work that comes later, started now and prepared by ``warm_up`` (a
    module-level function without arguments: its imports, a first drawing) while this process
    goes on; forked on Linux (:func:`_start_method`), so start it early, before this process
    runs threads.  :meth:`submit` runs a function there.  A context
    manager: the process ends with the block (at once on an exception), and with this process.
    ``mcsim reach`` plots in one, started before it imports the scan: matplotlib's import and
    first figure (~0.45 s) overlap the command's own start-up."""

    def __init__(self, warm_up: Callable[[], Any]):
        self.warm_up = warm_up
        self._conn: Any = None
        self._process: Any = None

    def __enter__(self) -> Helper:
        # a Process and a Pipe, not a one-worker pool: a pool's manager thread would make the
        # scan's Session spawn its workers instead of forking them
        context: Any = multiprocessing.get_context(_start_method())  # typeshed: no .Process
        self._conn, theirs = context.Pipe()
        with _sigint_ignored():  # as for the workers of a Session
            self._process = context.Process(
                target=_serve, args=(theirs, self.warm_up, os.getpid()), daemon=True
            )
            self._process.start()
        theirs.close()
        return self

    def submit(self, fn: Callable[..., Any], *args) -> Callable[[], Any]:
        """Start ``fn(*args)`` in the helper process (``fn`` module-level, the arguments and
        the result picklable) while this process goes on; returns the function that waits for
        its result and raises its exception here (one call at a time: wait before submitting
        again).  Any exception while waiting (Ctrl-C) stops the helper first: it writes
        nothing after the caller's clean-up."""
        try:
            self._conn.send((fn, args))
        except BaseException:
            self._stop()
            raise
        return functools.partial(self._result, fn.__name__)

    def _result(self, name: str) -> Any:
        try:
            ok, value = self._conn.recv()
        except BaseException as err:
            self._stop()
            if isinstance(err, EOFError):
                raise RuntimeError(f"the helper process died running {name}") from None
            raise
        if not ok:
            raise value
        return value

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is None:
            self._conn.send(None)  # it exits when done
        else:
            self._stop()
        self._conn.close()

    def _stop(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()


def _serve(conn, warm_up: Callable[[], Any], parent: int) -> None:
    """The loop of a :class:`Helper` process: tied to its parent (nothing of a worker's
    set-up: it would import numba), ``warm_up``, then each (function, arguments) received
    until None or the caller's end."""
    _tie_to_parent(parent)
    try:
        warm_up()
    except Exception:  # not fatal: a call that needs what failed raises it in the caller
        pass
    # what the warm-up made (matplotlib's modules, fonts, caches) lives as long as this process:
    # out of the garbage collector's reach, later calls are spared full collections walking it
    # (the reach plot: 0.21 -> 0.16 s)
    gc.freeze()
    try:
        while (job := conn.recv()) is not None:
            fn, args = job
            try:
                result = (True, fn(*args))
            except Exception as err:  # raised in the caller
                result = (False, err)
            conn.send(result)
    except EOFError:  # the caller has gone
        pass


def _start_method() -> str:
    """How local workers start: "fork" on Linux while this process runs no other thread (a
    thread could hold a lock that the fork copies held for good), else "spawn"."""
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return "fork"
    return "spawn"


def _started() -> None:
    """A first task that makes the pool start its (forked) workers."""


def _on_processes(fn, items, pool: ProcessPoolExecutor) -> Generator[tuple[int, Any]]:
    """(index, result) from the local worker processes of ``pool`` as they complete."""
    with _sigint_ignored():  # a worker that died is replaced at submit()
        futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
    try:
        for fut in as_completed(futures):
            yield futures[fut], fut.result()
    finally:
        for fut in futures:
            fut.cancel()  # a failed or abandoned run leaves nothing queued


def _configure_worker() -> None:
    """Single-threaded BLAS/OpenMP and malloc keeping freed memory, once per worker process:
    the thread-count variables for libraries loaded later (scipy's own BLAS), threadpoolctl for
    those loaded already (numpy's, here or by the caller's main module)."""
    global _configured
    if _configured:
        return
    os.environ.update({k: "1" for k in BLAS_THREAD_VARIABLES})
    import numpy  # noqa: F401 -- loads its BLAS, so that the limit below reaches it
    from threadpoolctl import threadpool_limits  # threadpoolctl: only around this BLAS call

    from mcsim.runtime.memory import keep_freed_memory  # worker set-up only

    threadpool_limits(1)
    keep_freed_memory()
    _configured = True


def _worker_init(parent: int) -> None:
    """Local worker set-up: :func:`_tie_to_parent`, numba's start-up trimmed
    (:func:`mcsim.runtime.jit_cache.trim_numba_startup`) and :func:`_configure_worker`."""
    _tie_to_parent(parent)
    from mcsim.runtime.jit_cache import trim_numba_startup  # numba: worker set-up only

    trim_numba_startup()  # an mcsim worker: no user code needs what it skips
    _configure_worker()


def _tie_to_parent(parent: int) -> None:
    """A local child process killed with SIGKILL when its parent dies (Linux), and deaf to the
    terminal's Ctrl-C (the parent handles it and stops its children)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for other in (signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)):
        signal.signal(other, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _on_worker(fn, item):
    """A task on a Dask worker: the worker set-up (once), then ``fn(item)``."""
    _configure_worker()
    return fn(item)


@contextmanager
def _sigint_ignored():
    """SIGINT ignored while worker processes are started, so that they ignore it from birth
    (an ignored signal stays ignored across exec): a terminal's Ctrl-C reaches the whole
    process group, and a worker hit while still importing would print a traceback."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop a process pool now: workers terminated, pending tasks cancelled, workers reaped.
    The workers go first: a worker still starting up reads its set-up from a pipe that the
    shutdown closes, and would print an EOFError traceback."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for p in processes:
        if p.is_alive():
            p.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
            p.join()


def _connect(scheduler: str, timeout: float | None) -> tuple[Any, float]:
    """A Dask client of the cluster at ``scheduler``, and the timeout in seconds (Dask's
    connect timeout if None)."""
    import dask  # dask: optional extra, only with --scheduler
    from dask.utils import parse_timedelta  # dask: optional extra, only with --scheduler
    from distributed import Client  # dask: optional extra, only with --scheduler

    if timeout is None:
        timeout = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s")
    try:
        return Client(scheduler, timeout=timeout), timeout
    except (OSError, TimeoutError) as err:
        raise ConnectionError(
            f"--scheduler {scheduler}: cannot reach the Dask scheduler within "
            f"{timeout:g} s ({type(err).__name__})"
        ) from None


def _on_cluster(fn, items, client, scheduler: str, timeout: float) -> Generator[tuple[int, Any]]:
    """(index, result) from the Dask cluster of ``client`` as they complete."""
    from distributed import wait  # dask: optional extra, only with --scheduler

    futures = client.map(_on_worker, [fn] * len(items), items, pure=False)
    index = {f.key: i for i, f in enumerate(futures)}
    pending, last_worker = set(futures), time.monotonic()
    try:
        while pending:
            try:
                done, pending = wait(
                    pending, timeout=min(timeout, 1.0), return_when="FIRST_COMPLETED"
                )
            except TimeoutError:
                done = set()
            for fut in done:
                yield index[fut.key], fut.result()
            if client.nthreads():
                last_worker = time.monotonic()
            elif time.monotonic() - last_worker > timeout:
                raise ConnectionError(
                    f"--scheduler {scheduler}: the Dask cluster has had no "
                    f"worker for {timeout:g} s; {len(pending)} of "
                    f"{len(items)} tasks not done"
                )
    finally:
        client.cancel(list(pending))


def in_threads(fn: Callable[[Any], Any], items: Iterable, threads: int = 2) -> Generator[Any]:
    """``fn(item)`` for each item, in order, computed by ``threads`` threads while the caller
    consumes the results (mcsim's kernels release the GIL), with at most threads + 1 items in
    flight (their memory).  Closing the generator (``contextlib.closing``: an exception in the
    caller, a signal) cancels the items not started and waits for those running."""
    if threads <= 1:
        yield from map(fn, items)
        return
    pool = ThreadPoolExecutor(max_workers=threads)
    try:
        upcoming = iter(items)
        pending: deque[Future] = deque(
            pool.submit(fn, x) for x in itertools.islice(upcoming, threads + 1)
        )
        while pending:
            result = pending.popleft().result()
            pending.extend(pool.submit(fn, x) for x in itertools.islice(upcoming, 1))
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
