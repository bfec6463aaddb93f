"""mcsim.runtime.executor (through scan.run_tasks): workers die with the parent, are single-threaded in
BLAS, a lost or unreachable Dask cluster is a clear error within the timeout instead of a hang."""

import ctypes
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from mcsim.runtime import executor
from mcsim.runtime.executor import Helper, Session, _worker_init
from mcsim.scan.family import Family
from mcsim.scan.sums import Target
from mcsim.scan.tasks import make_tasks, run_tasks

TASKS = make_tasks(
    Family("dark-dipole", delta=0.1),
    [0.1],
    [1e-6, 1e-5],
    [Target("NA62", "na62")],
    n_events=100,
    seed=1,
)


def _worker_state():
    from threadpoolctl import threadpool_info

    value = ctypes.c_int(-1)
    ctypes.CDLL(None).prctl(2, ctypes.byref(value), 0, 0, 0)  # PR_GET_PDEATHSIG
    threads = {pool["num_threads"] for pool in threadpool_info()}
    return value.value, signal.getsignal(signal.SIGINT) == signal.SIG_IGN, threads


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux only")
def test_workers_get_killed_with_the_parent_ignore_ctrl_c_and_run_single_threaded():
    with ProcessPoolExecutor(
        1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_init,
        initargs=(os.getpid(),),
    ) as pool:
        assert pool.submit(_worker_state).result() == (signal.SIGKILL, True, {1})


def _pid(_):
    return os.getpid()


_WARMED: list[int] = []


def _warm_up():
    _WARMED.append(os.getpid())


def _warmed(_):
    time.sleep(0.2)  # long enough for both workers to take some
    return os.getpid(), tuple(_WARMED)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_session_keeps_its_workers_over_runs_and_warms_them_up_first(monkeypatch, method):
    if method == "fork" and not sys.platform.startswith("linux"):
        pytest.skip("workers are forked on Linux only")
    monkeypatch.setattr(executor, "_start_method", lambda: method)
    _WARMED.clear()
    with Session(workers=2, warm_up=_warm_up) as session:
        first = set(session.run(_pid, range(8), progress=False))
        second = set(session.run(_pid, range(8), progress=False))
        warmed = session.run(_warmed, range(8), progress=False)
    # the same two processes serve both runs (which of them takes a run's tasks depends on
    # when each finishes its warm-up: under load one may take all of the first run's)
    assert os.getpid() not in first | second and len(first | second) <= 2
    by_worker = dict(warmed)
    if method == "fork":  # warmed up once, here, before the workers were forked: inherited
        assert _WARMED == [os.getpid()]
        assert all(done == (os.getpid(),) for done in by_worker.values())
    else:  # the warm-ups ran before the tasks, in the workers, one per worker
        assert sum(len(done) for done in by_worker.values()) == 2 and not _WARMED
        assert all(set(done) <= {pid} for pid, done in by_worker.items())


def test_workers_are_forked_on_linux_unless_a_thread_runs():
    fresh = subprocess.run(
        [
            sys.executable,
            "-c",
            "from mcsim.runtime.executor import _start_method; print(_start_method())",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert fresh.stdout.strip() == ("fork" if sys.platform.startswith("linux") else "spawn")
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert executor._start_method() == "spawn"
    finally:
        stop.set()
        other.join()


@pytest.mark.slow
def test_unreachable_scheduler_is_a_connection_error_within_the_timeout():
    pytest.importorskip("distributed")
    start = time.monotonic()
    with pytest.raises(
        ConnectionError,
        match=r"^--scheduler tcp://127.0.0.1:9: cannot reach "
        r"the Dask scheduler within 2 s",
    ):
        run_tasks(TASKS, scheduler="tcp://127.0.0.1:9", progress=False, timeout=2)
    assert time.monotonic() - start < 10


@pytest.mark.slow
def test_cluster_without_workers_is_a_connection_error_not_a_hang():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster:
        start = time.monotonic()
        with pytest.raises(ConnectionError, match=r"has had no worker for 2 s; 1 of 1 tasks"):
            run_tasks(TASKS, scheduler=cluster.scheduler_address, progress=False, timeout=2)
        assert time.monotonic() - start < 10


def test_zero_workers_is_refused():
    with pytest.raises(ValueError, match=r"^workers must be an integer in \[1, 256\], got 0"):
        run_tasks(TASKS, workers=0, progress=False)


def _write_later(path: str, delay: float) -> str:
    time.sleep(delay)
    Path(path).write_text("late")
    return path


def _fail(message: str):
    raise ValueError(message)


def _helper_pid() -> int:
    return os.getpid()


@pytest.mark.slow
def test_a_helper_returns_results_raises_errors_and_stops_when_its_caller_is_interrupted(tmp_path):
    with Helper(_warm_up) as helper:
        assert helper.submit(_helper_pid)() != os.getpid()
        pending = helper.submit(_write_later, str(tmp_path / "c"), 0.2)
        assert not (tmp_path / "c").exists()  # the caller goes on meanwhile
        assert pending() == str(tmp_path / "c") and (tmp_path / "c").exists()
        assert helper.submit(_write_later, str(tmp_path / "a"), 0.0)() == str(tmp_path / "a")
        with pytest.raises(ValueError, match=r"^bad input$"):
            helper.submit(_fail, "bad input")()

    def interrupt(*_):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        with pytest.raises(KeyboardInterrupt), Helper(_warm_up) as helper:
            signal.setitimer(signal.ITIMER_REAL, 0.5)
            helper.submit(_write_later, str(tmp_path / "b"), 1.5)()
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert not helper._process.is_alive()  # stopped before the caller's clean-up runs
    time.sleep(1.5)
    assert not (tmp_path / "b").exists()
