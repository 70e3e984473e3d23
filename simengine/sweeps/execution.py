"""Running a sweep: every unfinished point through `engine.run` on one
executor (local numba threads or Dask, see executor.py), one point after
another, each written as soon as it is done.

Every point uses its scenario's seed, so points share their random numbers
(common random numbers across the sweep), and a path's numbers depend only
on (seed, path number): every executor writes the same files, bit for bit.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import engine, store
from ..executor import (ExecutorError, check_options, make_executor, paths_per_chunk,
                        planned_threads, require_distributed, run_shape, thread_count)
from ..report.progress import Progress, plural
from ..scenario import ScenarioError
from . import storage
from .spec import Sweep
from .storage import DEFAULT_OUT, MANIFEST_FILE, STALE


@dataclass
class SweepRun:
    """What `run_sweep` did."""
    directory: Path
    simulated: list = field(default_factory=list)   # point indices run now
    skipped: list = field(default_factory=list)     # already finished
    notes: list = field(default_factory=list)       # what was done to the folder first
    manifest: dict = field(default_factory=dict)
    wall_seconds: float = 0.0


def _simulate_point(scn, executor, chunk_size, progress):
    """One point (a seam for tests that count simulations)."""
    return engine.run(scn, executor=executor, chunk_size=chunk_size, progress=progress)


def _check_points(sweep: Sweep, threads, chunk):
    """Every point fits in memory (as engine.run checks it), before any work."""
    problems = []
    for p in sweep.points:
        try:
            engine.check_resources(p.scenario, threads, chunk)
        except ScenarioError as e:
            problems += [f"{sweep.source}: point {p.label}: {m}" for m in e.problems]
    if problems:
        raise ScenarioError(problems, sweep.source)


def _executor_options(kind, scheduler, workers) -> dict:
    """make_executor's options: a sweep's `--workers` are numba threads for
    the local executor, worker processes for Dask."""
    local = kind == "local"
    return {"kind": kind, "threads": workers if local else None, "scheduler": scheduler,
            "workers": None if local else workers}


def _open_executor(executor, options, needed):
    """(executor or None, whether we close it): an executor object is used
    as given; a kind is made here, only when a point needs running."""
    if not isinstance(executor, str):
        return executor, False
    return (make_executor(**options), True) if needed else (None, False)


def run_sweep(sweep: Sweep, out=None, executor="local", scheduler=None, workers=None,
              chunk_size=None, progress=None, on_note=None) -> SweepRun:
    """Run the unfinished points of `sweep` into `out/<sweep.folder>/` (its
    name, and what the command line changed: `sweep.folder`).

    executor: "local" (`workers` numba threads, default all), "dask" (the
    cluster at `scheduler`, or a LocalCluster of `workers` processes, default
    2, started when a point needs running and closed at the end), or an
    executor object (used as given, not closed). `chunk_size`: paths per
    chunk (local) or at most per task (dask). `progress`: show a bar
    (default: when stderr is a terminal). `on_note(text)` hears, before
    any point runs, what was done to the folder (finished points of an
    earlier version of the sweep set aside into .stale/, or moved back);
    `SweepRun.notes` keeps them.

    Raises ScenarioError (ExecutorError, SweepError) before any simulation on
    bad options, a point too large for memory, a missing dask or unreachable
    scheduler, or a folder that cannot be written, holds another sweep or is
    being written."""
    options = _executor_options(executor, scheduler, workers)
    if isinstance(executor, str):
        if executor == "local":         # a local sweep's --workers are its numba threads
            thread_count(workers, "--workers")
        check_options(**options)
        threads = planned_threads(**options)
        chunk = paths_per_chunk(threads, chunk_size)
    else:
        threads, chunk = run_shape(executor, chunk_size)
    root = Path(out or DEFAULT_OUT) / sweep.folder
    storage.check_writable(root)
    storage.check_owner(root, sweep)
    _check_points(sweep, threads, chunk)
    if executor == "dask":
        require_distributed()
    created = not root.exists()
    try:
        with storage.locked(root):
            storage.check_owner(root, sweep)
            return _run_points(sweep, root, (executor, options), chunk_size, progress,
                               on_note)
    except ExecutorError:
        if created:                 # the executor could not start: leave nothing behind
            shutil.rmtree(root, ignore_errors=True)
        raise


def _folder_notes(root: Path, set_aside, restored) -> list:
    """What reconciling the folder did, in words."""
    notes = []
    if set_aside:
        notes.append(f"{root}: {plural(len(set_aside), 'finished point')} of an earlier "
                     f"version of this sweep (not in it now) set aside into {STALE}/, out of "
                     "the dataset (a later sweep that needs them moves them back; delete "
                     f"{root / STALE} to reclaim the space)")
    if restored:
        notes.append(f"{root}: {plural(len(restored), 'finished point')} moved back from "
                     f"{STALE}/ into the dataset, not simulated again")
    return notes


def _run_points(sweep: Sweep, root: Path, how, chunk_size, progress, on_note) -> SweepRun:
    start = time.perf_counter()
    run = SweepRun(root)
    done, set_aside, restored = storage.reconcile(root, sweep)
    run.notes = _folder_notes(root, set_aside, restored)
    for line in run.notes if on_note is not None else ():
        on_note(line)
    pending = [p for p in sweep.points if p.index not in done]
    run.skipped = sorted(done)
    ex, ours = _open_executor(*how, needed=bool(pending))
    try:
        info = ex.describe() if ex is not None else {"executor": how[0]}
        _simulate_points(sweep, root, ex, info, pending, done, run, chunk_size, progress)
    finally:
        if ours:
            ex.close()
    run.wall_seconds = time.perf_counter() - start
    return run


def _simulate_points(sweep, root, ex, info, pending, done, run, chunk_size, progress):
    """Run and write the pending points; the manifest after each, the
    sweep summary at the end (an interrupt included)."""
    start = time.perf_counter()
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    status = {p.index: "done" if p.index in done else "pending" for p in sweep.points}
    walls = {}

    def write_manifest():
        store.write_json(root / MANIFEST_FILE, storage.sweep_manifest(
            sweep, status, info, started, time.perf_counter() - start, walls))

    write_manifest()
    n = len(sweep.points)
    try:
        with Progress(f"sweep {sweep.name} ({plural(len(pending), 'point')} to run)",
                      sum(p.scenario.paths for p in pending), enabled=progress,
                      announce=bool(pending), status=f"{n - len(pending)}/{n} points") as bar:
            for p in pending:
                t0 = time.perf_counter()
                seen = [0]

                def advance(d, total, seen=seen):
                    bar.advance(d - seen[0])
                    seen[0] = d

                res = _simulate_point(p.scenario, ex, chunk_size, advance)
                walls[p.index] = time.perf_counter() - t0
                storage.write_point(root, p, res, dict(res.manifest, **info), sweep.fmt)
                status[p.index] = "done"
                done.add(p.index)
                run.simulated.append(p.index)
                write_manifest()
                bar.status(f"{len(done)}/{n} points")
    finally:
        storage.write_summary(root, sweep, done)
        write_manifest()
        run.manifest = store.read_json(root / MANIFEST_FILE)
