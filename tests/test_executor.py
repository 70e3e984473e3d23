"""Executors (simengine/executor.py): local numba threads and Dask give the
same tables bit for bit; a Dask worker killed mid-run is replaced and its
tasks run again, with the same tables; clear errors when dask is missing or
a scheduler cannot be reached."""
import dataclasses
import os
import pickle
import signal
import sys
import time

import distributed  # noqa: F401 - the dev extra's dask[distributed]
import numpy as np
import pytest

import simengine
from simengine import executor, store
from simengine.chunks import simulate_chunk
from simengine.packing import pack_scenario
from simengine.scenario import Campaign, Uncertainty, replace_run

TABLES = ("paths", "periods", "monthly", "summary")
PATHS = 16      # the bundled default at 0.1 s a path: tasks long enough to be caught running


@pytest.fixture(scope="module")
def scenario():
    return replace_run(simengine.load_scenario("default"), paths=PATHS)


@pytest.fixture(scope="module")
def local(scenario):
    return simengine.run(scenario, threads=2)


@pytest.fixture(scope="module")
def dask():
    """A real LocalCluster: 2 worker processes, 1 thread each."""
    with executor.make_executor("dask", workers=2) as ex:
        yield ex


def assert_same_tables(a, b):
    """Bit for bit: every table serialised, schema metadata included."""
    for t in TABLES:
        assert store.table_bytes(getattr(a, t)) == store.table_bytes(getattr(b, t)), t


def test_dask_tables_equal_the_local_run_bit_for_bit(scenario, local, dask):
    assert dask.describe() == {"executor": "dask", "scheduler": "LocalCluster",
                               "workers": 2, "worker_threads": 2}
    seen = []
    res = simengine.run(scenario, executor=dask, progress=lambda d, n: seen.append((d, n)))
    assert_same_tables(local, res)
    assert res.paths.num_rows == PATHS * len(scenario.strategies)
    # every chunk reported, in whatever order they finished
    assert seen[-1] == (PATHS, PATHS) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    # uneven chunks (3 paths: 6 tasks, the last of one path) change nothing
    assert_same_tables(local, simengine.run(scenario, executor=dask, chunk_size=3))


@pytest.mark.parametrize("sampling", ["sobol", "mc"])
def test_path_level_numbers_travel_to_the_workers(dask, sampling):
    """Sobol' replicates and [uncertainty] draws are drawn once per run and
    shipped with the packed scenario, campaign runs are drawn per path: the
    workers' tables are the local run's, bit for bit (and chunks drawn on
    their own agree with them)."""
    scn = simengine.load_scenario("default", [
        "population.size=20000", "scenario.paths=24", f"scenario.sampling={sampling}",
        "segment.vip.initial_contacts=300", "segment.repeat.initial_contacts=900",
        "segment.new.initial_contacts=700", "segment.prospect.initial_contacts=100",
        'uncertainty.segment.new.churn_rate={dist="lognormal", sigma=0.3}',
        'uncertainty.segment.vip.readd_prob={dist="logitnormal", sigma=0.5}'])
    scn = dataclasses.replace(scn, campaigns=(
        Campaign(name="d11", day_of_year=310, duration_days=3, lift=6.0,
                 segments=("new", "prospect")),
        Campaign(name="live", per_year=6.0, duration_days=2, lift=4.0, lift_sigma=0.5,
                 segments=("vip", "repeat", "new", "prospect"))),
        uncertainty=scn.uncertainty + (Uncertainty("campaign.live.lift", "lognormal", sigma=0.3),))
    local = simengine.run(scn, threads=2)
    assert_same_tables(local, simengine.run(scn, executor=dask, chunk_size=5))
    raw = simulate_chunk(pack_scenario(scn), scn.seed, np.arange(7, 12))
    S = len(scn.strategies)
    np.testing.assert_array_equal(
        raw.uncertain[:, 0], local.paths["segment.new.churn_rate"].to_numpy()[7 * S:12 * S:S])


def test_a_worker_killed_mid_run_is_retried_and_tables_stay_identical(scenario, local, dask):
    pids = dask.client.run(os.getpid)           # worker address -> process id
    killed = []

    def kill_a_busy_worker(done, total):
        if killed:
            return
        busy = [w for w, keys in dask.client.processing().items() if keys]
        assert busy, "no worker was running a task: the run ended too soon to test"
        os.kill(pids[busy[0]], signal.SIGKILL)
        killed.append(pids[busy[0]])

    res = simengine.run(scenario, executor=dask, progress=kill_a_busy_worker)
    assert killed
    with pytest.raises(ProcessLookupError):     # the worker really died
        os.kill(killed[0], 0)
    assert_same_tables(local, res)
    # the nanny starts a fresh worker in its place; the cluster keeps working
    deadline = time.monotonic() + 60
    while len(dask.client.nthreads()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(dask.client.nthreads()) == 2
    assert killed[0] not in dask.client.run(os.getpid).values()


def test_packed_inputs_survive_pickling(scenario):
    packed = pack_scenario(scenario)
    again = pickle.loads(pickle.dumps(packed))
    paths = np.arange(3)
    a = simulate_chunk(packed, scenario.seed, paths)
    b = simulate_chunk(again, scenario.seed, paths)
    for field in ("paths", "path", "period", "month", "mult", "events"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field


def test_tasks_split_a_run_among_the_worker_threads():
    assert executor.task_size(16, 8, 2) == 2          # 8 tasks for 2 slots
    assert executor.task_size(1000, 8, 2) == 8        # never above the chunk
    assert executor.task_size(3, 8, 16) == 1
    assert executor.task_size(5, 5, 1) == 2


def test_missing_distributed_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)     # import fails
    with pytest.raises(executor.ExecutorError, match=r"pip install 'simengine\[dask\]'"):
        executor.make_executor("dask")


def test_an_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(executor.ExecutorError) as e:
        executor.make_executor("dask", scheduler="tcp://127.0.0.1:1", connect_timeout=1)
    assert "--scheduler tcp://127.0.0.1:1: cannot reach a Dask scheduler" in str(e.value)
    assert isinstance(e.value, simengine.ScenarioError)       # exit 2 at the command line


def test_bad_executor_options_are_refused_before_starting_anything():
    for kwargs, words in (({"kind": "spark"}, "--executor: expected one of local, dask"),
                          ({"kind": "local", "scheduler": "tcp://x:1"},
                           "--scheduler: only with --executor dask"),
                          ({"kind": "dask", "workers": 0}, "--workers: expected an integer >= 1"),
                          ({"kind": "local", "threads": 1.5}, "--threads: expected an integer")):
        with pytest.raises(executor.ExecutorError, match=words):
            executor.make_executor(**kwargs)
    with executor.make_executor("local", threads=1) as ex:
        assert ex.describe() == {"executor": "local", "threads": 1}
