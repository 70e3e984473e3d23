"""Where paths are simulated: one interface for `run`, `sweep` (and later
`optimize`), with local numba threads or a Dask cluster behind it.

An executor turns (packed scenario, seed, path numbers) into the kernel's
raw outputs for those paths. Each path's results depend only on its number,
so every executor gives bit-identical tables, whatever the chunking.
"""
from __future__ import annotations

import numba

from . import engine


def thread_count(threads=None) -> int:
    """The numba threads to use: all cores by default, at most the cores."""
    n = numba.config.NUMBA_NUM_THREADS if threads is None else int(threads)
    return max(1, min(n, numba.config.NUMBA_NUM_THREADS))


def default_chunk(threads: int) -> int:
    """Paths per chunk: enough to keep every thread busy, few enough that an
    interrupt or a progress update comes within a second or two."""
    return max(2 * threads, 8)


class LocalExecutor:
    """numba threads in this process; outputs are filled in place chunk by
    chunk, so the whole run is never copied."""

    name = "local"

    def __init__(self, threads=None):
        self.threads = thread_count(threads)

    def simulate(self, packed, seed, paths, chunk, progress=None):
        out = engine.allocate_outputs(packed, paths)
        previous = numba.get_num_threads()
        numba.set_num_threads(self.threads)
        try:
            n = out.paths.shape[0]
            for lo in range(0, n, chunk):
                hi = min(lo + chunk, n)
                engine.simulate_into(packed, seed, out, lo, hi)
                if progress is not None:
                    progress(hi, n)
        finally:
            numba.set_num_threads(previous)
        return engine.without_phantoms(packed, out)

    def describe(self) -> dict:
        return {"executor": self.name, "threads": self.threads}


def make_executor(kind="local", threads=None, scheduler=None, workers=None):
    """`kind` "local" (numba threads) or "dask" (a cluster at `scheduler`, or
    a LocalCluster of `workers` processes)."""
    if kind == "local":
        return LocalExecutor(threads)
    if kind == "dask":
        raise NotImplementedError("the dask executor is not built yet")
    raise ValueError(f"executor: expected local or dask, got {kind!r}")



