"""Reach scans split into tasks, run on local processes or on a Dask cluster.

One task = (model family point: mass [, delta or flavour], beam).  It samples each open channel
ONCE (meson momenta and the production decay do not depend on the detector), propagates the
sample through every distinct geometry fed by that beam (NA62 1e17/1e18 and HIKE share one
propagation; SHiP and BEBC have their own), applies every photon selection (thresholds) to the
propagated events, and re-weights over the whole coupling grid
(:func:`mcsim.reach.summed_decay_probability`).  Per-task random streams come from
``numpy.random.SeedSequence(seed, spawn_key=(task index,))``, so the grids are the same, bit for
bit, whatever runs the tasks (:class:`concurrent.futures.ProcessPoolExecutor`, 2 workers by
default, or ``distributed.Client(scheduler)``).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import spectra
from .chain import SpectraSource, in_energy_window, produce
from .detector import Detector, load_detector
from .memory import keep_freed_memory
from .models import DarkDipole, Model, NeutrinoDipole
from .mesons import LEPTON_PDGID, sm
from .production import CHARGED_PSEUDOSCALARS, NEUTRAL_PSEUDOSCALARS, VECTORS, open_channels
from .propagate import MODES, propagate
from .reach import DISCOVERY_LEVEL, ReachGrid, recast_upper_limit, summed_decay_probability
from .validate import WORKERS

__all__ = ["Family", "Target", "Task", "make_tasks", "run_task", "run_tasks", "scan", "scan_set"]

#: Coupling at which samples are generated [GeV^-1]; any value works (exact re-weighting).
D_REF = 1e-5

# Local worker processes get single-threaded BLAS: the Gauss-Legendre nodes of the three-body
# widths (numpy eigvalsh) run ~50x slower with threaded BLAS on a busy 2-core machine.  Dask's
# nanny sets the same variables for its workers.
_BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True)
class Family:
    """A one-parameter (mass) family of models: the dark dipole at fixed ``delta`` (mass = M1)
    or the neutrino dipole of one ``flavour`` (mass = M_N)."""

    model: str
    delta: float | None = None
    flavour: str | None = None

    def at(self, mass: float, d: float = D_REF) -> Model:
        """The model at ``mass`` [GeV] and coupling ``d`` [GeV^-1]."""
        if self.model == DarkDipole.kind:
            if self.delta is None:
                raise ValueError("the dark-dipole family needs delta")
            return DarkDipole(m1=mass, delta=self.delta, d=d)
        if self.model == NeutrinoDipole.kind:
            if self.flavour is None:
                raise ValueError("the neutrino-dipole family needs a flavour (e, mu, tau)")
            return NeutrinoDipole(m_n=mass, d=d, flavour=self.flavour)
        raise ValueError(f"model must be 'dark-dipole' or 'neutrino-dipole', got {self.model!r}")

    @property
    def name(self) -> str:
        return (f"dark dipole, delta = {self.delta:g}" if self.model == DarkDipole.kind
                else f"neutrino dipole, flavour {self.flavour}")


@dataclass(frozen=True)
class Target:
    """One yield grid: ``detector`` (card name, ``card:config`` or path) in ``mode`` ('full' or
    'cone') with minimum photon energy ``threshold`` [GeV] (None: the card's)."""

    label: str
    detector: str
    mode: str = "full"
    threshold: float | None = None


@dataclass(frozen=True)
class Task:
    """Masses x one beam: what one worker call computes (see the module docstring)."""

    index: int
    family: Family
    mass: float
    beam: str
    targets: tuple[Target, ...]
    couplings: tuple[float, ...]
    n_events: int
    seed: int


@lru_cache(maxsize=64)
def _detector(spec: str) -> Detector:
    return load_detector(spec)


@lru_cache(maxsize=256)
def _n_mesons(spec: str, pdgid: int) -> float:
    return SpectraSource(_detector(spec)).n_mesons(pdgid)


@lru_cache(maxsize=64)
def _has_table(pdgid: int, beam: str) -> bool:
    return (beam, pdgid) in set(spectra.available_tables())


def _selection(target: Target) -> tuple[float, float, float]:
    det = _detector(target.detector)
    e_min = det.photon_energy_min if target.threshold is None else float(target.threshold)
    return e_min, det.photon_energy_max, det.efficiency


def _geometry_key(target: Target) -> tuple:
    """Targets with equal keys share one propagation."""
    det = _detector(target.detector)
    if target.mode == "cone":
        return ("cone", det.cone.code, tuple(det.cone.params))
    vol, calo = det.decay_volume, det.calorimeter
    return ("full", vol.code, tuple(vol.params), calo.code, tuple(calo.params))


def run_task(task: Task) -> tuple[np.ndarray, list[str]]:
    """Expected events (n_targets, n_couplings) of ``task`` and the names of the channels
    skipped for want of a spectrum table ('beam/meson').  Mesons the beam's normalisation does
    not list (not produced there) are left out without a note.  Keeps freed memory in the
    worker process for the next task (:func:`mcsim.memory.keep_freed_memory`)."""
    keep_freed_memory()
    model = task.family.at(task.mass, D_REF)
    couplings = np.asarray(task.couplings, dtype=np.float64)
    ratios = (couplings / D_REF) ** 2
    out = np.zeros((len(task.targets), couplings.size))
    groups: dict[tuple, list[int]] = {}
    for t, target in enumerate(task.targets):
        groups.setdefault(_geometry_key(target), []).append(t)
    rng = np.random.default_rng(np.random.SeedSequence(task.seed, spawn_key=(task.index,)))
    source = SpectraSource(_detector(task.targets[0].detector))
    missing = []
    n = task.n_events
    for channel in open_channels(model):
        if not source.produces(channel.mother):
            continue  # e.g. Upsilon at 70 GeV: below threshold, no normalisation, no table
        if not _has_table(channel.mother, task.beam):
            missing.append(f"{task.beam}/{spectra.table_name(channel.mother)}")
            continue
        llp = produce(channel, source, n, rng)[1]["llp"]
        for members in groups.values():
            lead = task.targets[members[0]]
            prop = propagate(llp, m_llp=model.llp_mass, m_invisible=model.invisible_mass,
                             detector=_detector(lead.detector), mode=lead.mode, ctau=model.ctau,
                             rng=rng, threshold=0.0)
            e_gamma = prop["p4_photon"][:, 0]
            summed: dict[tuple[float, float], np.ndarray] = {}
            for t in members:
                e_min, e_max, eff = _selection(task.targets[t])
                if (e_min, e_max) not in summed:
                    keep = prop["photon_hits_calo"] & in_energy_window(e_gamma, e_min, e_max)
                    summed[e_min, e_max] = summed_decay_probability(
                        prop["acc_intervals"][keep], prop["beta_gamma"][keep], model.ctau, ratios)
                norm = eff * _n_mesons(task.targets[t].detector, channel.mother) * channel.br / n
                out[t] += norm * ratios * summed[e_min, e_max]
    return out, missing


def _any_channel_open(model: Model) -> bool:
    """Whether any production channel of ``model`` is open by kinematics (without computing
    widths); channels only close as the mass grows, so the lightest mass decides for a grid."""
    pair = model.llp_mass + model.invisible_mass
    if any(pair < sm(p).mass for p in (*VECTORS, *NEUTRAL_PSEUDOSCALARS)):
        return True
    if isinstance(model, NeutrinoDipole):
        m_l = sm(LEPTON_PDGID[model.flavour]).mass
        return any(model.m_n + m_l < sm(p).mass for p in CHARGED_PSEUDOSCALARS)
    return False


def make_tasks(family: Family, masses, couplings, targets, *, n_events: int,
               seed: int, start: int = 0) -> list[Task]:
    """One task per (mass, beam) for ``targets`` over the grid (masses [GeV], couplings
    [GeV^-1], both ascending), numbered from ``start`` (the task index seeds its stream).  Raises ValueError on an empty grid, an unknown detector or
    mode, or a mass range where every production channel is closed."""
    masses = np.asarray(masses, dtype=np.float64)
    couplings = np.asarray(couplings, dtype=np.float64)
    if masses.ndim != 1 or masses.size == 0:
        raise ValueError("empty mass grid: give at least one mass")
    if couplings.ndim != 1 or couplings.size == 0:
        raise ValueError("empty coupling grid: give at least one coupling")
    for name, axis in (("mass", masses), ("coupling", couplings)):
        if not np.all(np.isfinite(axis)) or np.any(axis <= 0) or np.any(np.diff(axis) <= 0):
            raise ValueError(f"{name} grid must be finite, > 0 and strictly ascending")
    if not targets:
        raise ValueError("no detector given")
    if isinstance(n_events, bool) or not isinstance(n_events, (int, np.integer)) or n_events < 1:
        raise ValueError(f"n_events must be an integer >= 1, got {n_events!r}")
    by_beam: dict[str, list[Target]] = {}
    for target in targets:
        if target.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {target.mode!r}")
        if target.threshold is not None and not (target.threshold >= 0
                                                 and math.isfinite(target.threshold)):
            raise ValueError(f"threshold must be a finite energy >= 0 GeV, "
                             f"got {target.threshold!r}")
        by_beam.setdefault(_detector(target.detector).beam, []).append(target)
    if not _any_channel_open(family.at(float(masses[0]))):
        raise ValueError(f"{family.name}: every production channel is closed for masses "
                         f"{masses[0]:g}-{masses[-1]:g} GeV; nothing to scan")
    tasks = []
    for beam, beam_targets in by_beam.items():
        for m in masses:
            tasks.append(Task(start + len(tasks), family, float(m), beam, tuple(beam_targets),
                              tuple(couplings.tolist()), int(n_events), int(seed)))
    return tasks


def run_tasks(tasks: list[Task], *, workers: int = 2, scheduler: str | None = None,
              progress: bool = True, timeout: float | None = None
              ) -> list[tuple[np.ndarray, list[str]]]:
    """Results of :func:`run_task` for every task, in task order: on ``workers`` local processes
    (1: in this process), or on the Dask cluster at ``scheduler`` (an address).  Local workers
    are spawned, so a calling script must be importable (a file, not ``python - <<EOF``); they
    die with this process, and an exception here (Ctrl-C, SIGTERM included) stops them at once.
    A cluster that cannot be reached, or that has no worker for ``timeout`` seconds (default:
    Dask's ``distributed.comm.timeouts.connect``, 30 s, set by the environment variable
    DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT), raises a ConnectionError."""
    from tqdm.auto import tqdm

    WORKERS.check("workers", workers)
    results: list = [None] * len(tasks)
    bar = tqdm(total=len(tasks), desc="reach scan", unit="task", disable=not progress)
    if scheduler is not None:
        for i, result in _on_cluster(tasks, scheduler, timeout):
            results[i] = result
            bar.update()
    elif workers <= 1:
        for i, task in enumerate(tasks):
            results[i] = run_task(task)
            bar.update()
    else:
        pool = None
        try:
            with _single_threaded_blas(), _sigint_ignored():  # workers start at submit()
                pool = ProcessPoolExecutor(max_workers=workers,
                                           mp_context=multiprocessing.get_context("spawn"),
                                           initializer=_worker_init, initargs=(os.getpid(),))
                futures = {pool.submit(run_task, task): i for i, task in enumerate(tasks)}
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                bar.update()
        except BaseException:
            if pool is not None:
                _terminate(pool)
            raise
        pool.shutdown()
    bar.close()
    return results


@contextmanager
def _sigint_ignored():
    """SIGINT ignored while worker processes are started, so that they ignore it from birth
    (an ignored signal stays ignored across exec): a terminal's Ctrl-C reaches the whole
    process group, and a worker still importing would die with a traceback.  The parent
    handles Ctrl-C and stops the workers.  (Starting takes milliseconds; a Ctrl-C within them
    is lost.)"""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _worker_init(parent: int) -> None:
    """Local worker set-up: killed with SIGKILL when the parent dies (Linux), and deaf to the
    terminal's Ctrl-C (the parent handles it and stops the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for other in (signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)):
        signal.signal(other, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop a process pool now: pending tasks cancelled, workers terminated and reaped."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
            p.join()


def _on_cluster(tasks: list[Task], scheduler: str, timeout: float):
    """(task index, result) from the Dask cluster at ``scheduler`` as they complete."""
    import dask
    from dask.utils import parse_timedelta
    from distributed import Client, wait

    if timeout is None:
        timeout = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s")
    try:
        client = Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError) as err:
        raise ConnectionError(f"--scheduler {scheduler}: cannot reach the Dask scheduler within "
                              f"{timeout:g} s ({type(err).__name__})") from None
    with client:
        futures = client.map(run_task, tasks, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        pending, last_worker = set(futures), time.monotonic()
        while pending:
            try:
                done, pending = wait(pending, timeout=min(timeout, 1.0),
                                     return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            for fut in done:
                yield index[fut.key], fut.result()
            if client.nthreads():
                last_worker = time.monotonic()
            elif time.monotonic() - last_worker > timeout:
                raise ConnectionError(f"--scheduler {scheduler}: the Dask cluster has had no "
                                      f"worker for {timeout:g} s; {len(pending)} of "
                                      f"{len(tasks)} tasks not done")


@contextmanager
def _single_threaded_blas():
    """Environment for spawned workers: one BLAS/OpenMP thread each (restored on exit)."""
    saved = {k: os.environ.get(k) for k in _BLAS_THREAD_VARS}
    os.environ.update({k: "1" for k in _BLAS_THREAD_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def scan_set(jobs: list[tuple[Family, list[Target]]], masses, couplings, *, n_events: int,
             seed: int, workers: int = 2, scheduler: str | None = None,
             progress: bool = True) -> list[list[ReachGrid]]:
    """Several scans over the same masses [GeV] x couplings [GeV^-1] run as one set of tasks
    (one pool, one progress bar): for each (family, targets) job, one
    :class:`mcsim.reach.ReachGrid` per target, in order.  A target whose card has a [recast]
    table gets the 95% CL limit N_up as its contour level, the others N = 3."""
    if not jobs:
        raise ValueError("no scan requested")
    per_job = []
    for family, targets in jobs:
        per_job.append(make_tasks(family, masses, couplings, targets, n_events=n_events,
                                  seed=seed, start=sum(len(t) for t in per_job)))
    tasks = [t for job_tasks in per_job for t in job_tasks]
    results = run_tasks(tasks, workers=workers, scheduler=scheduler, progress=progress)
    masses = np.asarray(masses, dtype=np.float64)
    couplings = np.asarray(couplings, dtype=np.float64)
    out, offset = [], 0
    for (family, targets), job_tasks in zip(jobs, per_job):
        job_results = results[offset:offset + len(job_tasks)]
        offset += len(job_tasks)
        out.append([_grid(family, target, masses, couplings, job_tasks, job_results, n_events,
                          seed) for target in targets])
    return out


def scan(family: Family, masses, couplings, targets: list[Target], *, n_events: int,
         seed: int, workers: int = 2, scheduler: str | None = None,
         progress: bool = True) -> list[ReachGrid]:
    """Reach grids of ``targets`` for ``family`` (see :func:`scan_set`)."""
    return scan_set([(family, targets)], masses, couplings, n_events=n_events, seed=seed,
                    workers=workers, scheduler=scheduler, progress=progress)[0]


def _grid(family: Family, target: Target, masses, couplings, tasks, results, n_events: int,
          seed: int) -> ReachGrid:
    det = _detector(target.detector)
    events = np.zeros((masses.size, couplings.size))
    missing: set[str] = set()
    for task, (ev, miss) in zip(tasks, results):
        if target in task.targets:
            events[int(np.searchsorted(masses, task.mass))] = ev[task.targets.index(target)]
            missing.update(miss)
    level = recast_upper_limit(det) if det.observed_events is not None else DISCOVERY_LEVEL
    e_min, e_max, eff = _selection(target)
    meta = {"family": family.name, "model": family.model, "delta": family.delta,
            "flavour": family.flavour, "detector": det.name, "mode": target.mode,
            "photon_energy_min_GeV": e_min, "photon_energy_max_GeV": e_max, "efficiency": eff,
            "n_events_per_channel": int(n_events), "seed": int(seed),
            "missing_tables": sorted(missing)}
    return ReachGrid(target.label, masses, couplings, events, level, meta)
