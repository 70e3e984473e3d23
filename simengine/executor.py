"""Where paths are simulated: one interface for `run`, `sweep` and
`optimize`, with local numba threads or a Dask cluster behind it.

An executor turns (packed scenario, seed, path numbers) into the kernel's
raw outputs for those paths:

    executor.simulate(packed, seed, paths, chunk, progress) -> chunks.RawOutputs

Each path's results depend only on the seed and its number, so every
executor gives bit-identical tables, whatever the chunking or the workers.
Executors are context managers; `close()` releases what they started (a
Dask cluster), and a closed local executor costs nothing. The shape of a
run is decided here, once: its threads (`thread_count`) and its paths per
chunk (`paths_per_chunk`).
"""
from __future__ import annotations

import logging
import math
import threading

import numba
import numpy as np

from .chunks import (allocate_outputs, compile_kernels, concat, simulate_chunk, simulate_into,
                     without_phantoms)
from .scenario import ScenarioError

KINDS = ("local", "dask")
CONNECT_TIMEOUT = 30        # seconds to reach a --scheduler
WAIT_FOR_WORKERS = 120      # seconds --workers N waits for N workers of an existing cluster
TASK_RETRIES = 2            # a task that raises is run again this many times
TASKS_PER_SLOT = 4          # a run is split so that each worker thread gets about this many


class ExecutorError(ScenarioError):
    """An executor that cannot start as asked (dask not installed, a
    scheduler that cannot be reached, bad options): the command cannot run,
    nothing was done; the CLI reports it as bad input (exit 2)."""


def thread_count(threads=None, option="--threads") -> int:
    """The numba threads of a local run: `threads`, all the cores when None.
    Anything but an integer from 1 to the cores is refused (ExecutorError
    naming `option`; exit 2 at the command line), never quietly changed."""
    cores = numba.config.NUMBA_NUM_THREADS
    if threads is None:
        return cores
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) \
            or not 1 <= threads <= cores:
        raise ExecutorError(f"{option}: expected an integer from 1 to {cores} (this machine's "
                            f"cores; default all of them), got {threads!r}")
    return int(threads)


def paths_per_chunk(threads: int, chunk_size=None) -> int:
    """Paths per chunk: `chunk_size` when given (an integer >= 1), else
    enough to keep every thread busy, few enough that an interrupt or a
    progress update comes within a second or two."""
    if chunk_size is None:
        return max(2 * threads, 8)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) \
            or chunk_size < 1:
        raise ExecutorError(f"chunk_size: expected an integer >= 1, got {chunk_size!r}")
    return int(chunk_size)


def run_shape(executor=None, chunk_size=None):
    """(threads, paths per chunk) of a run on `executor` (None: the default
    local one, all cores): the threads it simulates on in this process
    (1 when it does not say), the chunk from them."""
    threads = thread_count() if executor is None else getattr(executor, "threads", 1)
    return threads, paths_per_chunk(threads, chunk_size)


class LocalExecutor:
    """numba threads in this process; outputs are filled in place chunk by
    chunk, so the whole run is never copied."""

    name = "local"

    def __init__(self, threads=None):
        self.threads = thread_count(threads)

    def prepare(self, packed) -> float:
        """Compile the kernels for this scenario's types (or load them from
        numba's cache) before any path runs, so that the run's time excludes
        compilation; returns the seconds it took."""
        return compile_kernels(packed)

    def simulate(self, packed, seed, paths, chunk, progress=None):
        out = allocate_outputs(packed, paths)
        previous = numba.get_num_threads()
        numba.set_num_threads(self.threads)
        try:
            n = out.paths.shape[0]
            for lo in range(0, n, chunk):
                hi = min(lo + chunk, n)
                simulate_into(packed, seed, out, lo, hi)
                if progress is not None:
                    progress(hi, n)
        finally:
            numba.set_num_threads(previous)
        return without_phantoms(packed, out)

    def describe(self) -> dict:
        return {"executor": self.name, "threads": self.threads}

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# --------------------------------------------------------------------------
# Dask

def require_distributed():
    """The `distributed` module, or an ExecutorError with the advice. An
    optional extra, imported only when a Dask executor is asked for."""
    try:
        import distributed
    except ImportError:
        raise ExecutorError("--executor dask needs dask.distributed, an optional extra: "
                            "pip install 'simengine[dask]' (or 'dask[distributed]'); "
                            "or use --executor local") from None
    return distributed


# numba's default (workqueue) threading layer does not allow two parallel
# kernels at once in one process, and a worker may run several tasks at once
_KERNEL_LOCK = threading.Lock()


def _worker_threads() -> int:
    """The numba threads a task may use: its worker's thread count (the
    worker runs one kernel at a time, see _KERNEL_LOCK), as far as the
    worker's numba allows (a cluster's setting, not a user's option)."""
    try:
        # the task runs on a worker, where `distributed` is imported already
        from distributed import get_worker
        worker = get_worker()
        n = getattr(getattr(worker, "state", worker), "nthreads", 1)
    except (ImportError, ValueError):        # not on a worker
        n = 1
    return max(1, min(n, numba.config.NUMBA_NUM_THREADS))


def simulate_task(packed, seed, paths):
    """One Dask task: `chunks.simulate_chunk` on a worker. A pure function of
    its arguments, so a task lost with its worker is simply run again."""
    with _KERNEL_LOCK:
        previous = numba.get_num_threads()
        numba.set_num_threads(_worker_threads())
        try:
            return simulate_chunk(packed, seed, paths)
        finally:
            numba.set_num_threads(previous)


def task_size(paths: int, chunk: int, slots: int) -> int:
    """Paths per task: at most `chunk`, and small enough that every worker
    thread gets about TASKS_PER_SLOT tasks (a slow or lost task then costs
    little)."""
    return max(1, min(int(chunk), math.ceil(paths / (TASKS_PER_SLOT * max(1, slots)))))


class DaskExecutor:
    """Tasks of path chunks on a dask.distributed cluster: the one at
    `scheduler`, or a LocalCluster of `workers` processes (default 2, one
    thread and one numba thread each) started here and closed by `close()`.

    The packed inputs (a few kilobytes) travel inside each task, so any
    task can run again anywhere: a task that raises is retried
    (TASK_RETRIES), and the tasks of a worker that dies are rescheduled by
    the scheduler (up to its `allowed-failures`). Chunks are gathered in
    path order and concatenated: the outputs equal the local executor's,
    bit for bit."""

    name = "dask"

    def __init__(self, scheduler=None, workers=None, connect_timeout=None):
        distributed = require_distributed()
        self._distributed = distributed
        self.scheduler = scheduler
        self.cluster = None
        if scheduler:
            self.client = _connect(distributed, scheduler, workers,
                                   connect_timeout or CONNECT_TIMEOUT)
        else:
            self.cluster = distributed.LocalCluster(
                n_workers=workers or 2, threads_per_worker=1, processes=True,
                dashboard_address=":0", silence_logs=logging.ERROR,
                env={"NUMBA_NUM_THREADS": "1"})
            self.client = distributed.Client(self.cluster)
        self.threads = planned_threads("dask", None, scheduler, workers)

    def slots(self) -> int:
        """Worker threads in the cluster now."""
        return sum(self.client.nthreads().values()) or 1

    def simulate(self, packed, seed, paths, chunk, progress=None):
        paths = np.ascontiguousarray(paths, dtype=np.int64)
        n = paths.shape[0]
        if n == 0:
            return simulate_chunk(packed, seed, paths)
        size = task_size(n, chunk, self.slots())
        futures = [self.client.submit(simulate_task, packed, seed, paths[lo:lo + size],
                                      pure=False, retries=TASK_RETRIES)
                   for lo in range(0, n, size)]
        order = {f.key: i for i, f in enumerate(futures)}
        parts = [None] * len(futures)
        done = 0
        try:
            for f in self._distributed.as_completed(futures):
                part = f.result()
                parts[order[f.key]] = part
                done += part.paths.shape[0]
                if progress is not None:
                    progress(done, n)
        finally:
            self.client.cancel([f for f in futures if not f.done()])
            del futures
        return concat(parts)

    def describe(self) -> dict:
        nthreads = self.client.nthreads()
        return {"executor": self.name, "scheduler": self.scheduler or "LocalCluster",
                "workers": len(nthreads), "worker_threads": sum(nthreads.values())}

    def close(self):
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _connect(distributed, scheduler, workers, timeout):
    try:
        client = distributed.Client(scheduler, timeout=f"{timeout}s")
    except (OSError, TimeoutError, ValueError) as e:
        raise ExecutorError(
            f"--scheduler {scheduler}: cannot reach a Dask scheduler there "
            f"({str(e).splitlines()[0] if str(e) else type(e).__name__}); check the address "
            "(tcp://HOST:8786) and that the scheduler runs, or leave --scheduler out to "
            "start a local cluster") from None
    if workers:
        try:
            client.wait_for_workers(workers, timeout=WAIT_FOR_WORKERS)
        except (TimeoutError, getattr(distributed, "TimeoutError", TimeoutError)):
            joined = len(client.nthreads())
            client.close()
            raise ExecutorError(f"--workers {workers}: only {joined} worker(s) joined the "
                                f"scheduler {scheduler} within {WAIT_FOR_WORKERS} s") from None
    return client


def planned_threads(kind="local", threads=None, scheduler=None, workers=None) -> int:
    """The threads of this machine an executor of these options simulates
    on, as `run_shape` counts them for memory and chunks: numba threads
    (local, `thread_count`); the LocalCluster's worker processes, one path at a time each;
    1 with a scheduler (this process only gathers the outputs)."""
    if kind == "local":
        return thread_count(threads)
    return 1 if scheduler else (workers or 2)


def check_options(kind="local", threads=None, scheduler=None, workers=None):
    """ExecutorError unless the options fit the kind (nothing is started)."""
    if kind not in KINDS:
        raise ExecutorError(f"--executor: expected one of {', '.join(KINDS)}, got {kind!r}")
    thread_count(threads)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ExecutorError(f"--workers: expected an integer >= 1, got {workers!r}")
    if scheduler and kind != "dask":
        raise ExecutorError("--scheduler: only with --executor dask")


def make_executor(kind="local", threads=None, scheduler=None, workers=None,
                  connect_timeout=None):
    """`kind` "local" (`threads` numba threads, default all cores) or "dask"
    (the cluster at `scheduler`, or a LocalCluster of `workers` processes,
    default 2). Raises ExecutorError, before starting anything, for options
    that do not fit the kind or a dask that is not installed."""
    check_options(kind, threads, scheduler, workers)
    if kind == "local":
        return LocalExecutor(threads)
    return DaskExecutor(scheduler=scheduler, workers=workers, connect_timeout=connect_timeout)
