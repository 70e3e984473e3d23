"""Sweeps (docs/model.md section 10): the sweep file, the hive-partitioned dataset,
resuming, the local and Dask executors (bit-identical), and the report."""
import json
import math
import os
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest

from simengine import cli, store, sweeps as sw
from simengine.executor import ExecutorError, LocalExecutor
from simengine.scenario import ScenarioError
from simengine.sweeps import execution, report

# A small scenario whose tiers bind: 4,000 customers, 1,500 contacts at the
# start, a 2,000 free quota, so "fit" buys the 5k tier and "none" blocks.
SCENARIO = """
[sweep.scenario.scenario]
name = "small"
horizon_years = 1
paths = 12
seed = 7
sampling = "mc"       # path counts as written (sobol rounds them to the replicates)

[sweep.scenario.population]
size = 4000

[[sweep.scenario.segment]]
name = "a"
share = 0.4
initial_contacts = 1000
adoption_rate = 0.004
churn_rate = 0.002
readd_prob = 0.5
readd_delay_days = 20
lost_value = 50

[[sweep.scenario.segment]]
name = "b"
share = 0.6
initial_contacts = 500
adoption_rate = 0.002
churn_rate = 0.004
churn_shape = 1.5
lost_value = 5

[sweep.scenario.growth]
sigma = 0.3

[sweep.scenario.billing]
certification_fee = 300

[[sweep.scenario.strategy]]
name = "none"
renewal = "none"
upgrade = "none"

[[sweep.scenario.strategy]]
name = "fit"
on_blocked = "retry"

[[sweep.scenario.strategy]]
name = "oracle"
renewal = "oracle"
"""

GRID = """
[sweep.grid]
"billing.rule" = ["concurrent", "cumulative"]
"segment.a.churn_rate" = [0.001, 0.01]
"""


def write_sweep(tmp_path, grid=GRID, head='[sweep]\nname = "s4"\n', scenario=SCENARIO,
                name="sweep.toml"):
    path = tmp_path / name
    path.write_text(head + grid + scenario)
    return path


@pytest.fixture
def counted(monkeypatch):
    """Count the points simulated (by their scenario's sha256), whatever the executor."""
    calls = []
    real = execution._simulate_point

    def counting(scn, executor, chunk_size, progress):
        calls.append(scn.sha256)
        return real(scn, executor, chunk_size, progress)
    monkeypatch.setattr(execution, "_simulate_point", counting)
    return calls


def part_files(root):
    return sorted(p.relative_to(root).as_posix() for t in sw.TABLES
                  for p in (root / t).rglob("*") if p.is_file())


def read(root, table):
    return ds.dataset(root / table, format="arrow", partitioning="hive").to_table()


def same_tables(a, b):
    """Exact equality, NaN equal to NaN (the summary has NaN for small n)."""
    assert a.schema.equals(b.schema, check_metadata=True)
    assert a.num_rows == b.num_rows
    for name in a.column_names:
        x, y = a[name].to_pylist(), b[name].to_pylist()
        assert all(u == v or (isinstance(u, float) and math.isnan(u) and math.isnan(v))
                   for u, v in zip(x, y)), name


# ------------------------------------------------------------------ the file

def test_points_are_the_grid_product_with_zip_groups_as_axes(tmp_path):
    path = write_sweep(tmp_path, grid=GRID + """
[[sweep.zip]]
"segment.b.churn_rate" = [0.004, 0.008, 0.012]
"strategy.fit.headroom" = [0.0, 0.1, 0.2]
""", head='[sweep]\nname = "z"\nstrategies = ["oracle", "fit"]\n[sweep.set]\n"scenario.paths" = 9\n')
    s = sw.load_sweep(path)
    assert s.keys == ("billing.rule", "segment.a.churn_rate", "segment.b.churn_rate",
                      "strategy.fit.headroom")
    assert len(s.points) == 2 * 2 * 3
    assert s.strategies == ("oracle", "fit")
    p = s.points[5]     # first axis slowest
    assert p.values == {"billing.rule": "concurrent", "segment.a.churn_rate": 0.01,
                        "segment.b.churn_rate": 0.012, "strategy.fit.headroom": 0.2}
    assert p.partition == ("billing.rule=concurrent/segment.a.churn_rate=0.01/"
                           "segment.b.churn_rate=0.012/strategy.fit.headroom=0.2")
    scn = p.scenario
    assert scn.paths == 9 and scn.billing.rule == "concurrent"
    assert [x.name for x in scn.strategies] == ["oracle", "fit"]
    assert scn.strategies[1].headroom == 0.2 and scn.segments[1].churn_rate == 0.012
    assert len({q.sha256 for q in s.points}) == 12
    assert s.key_types == {"billing.rule": "string", "segment.a.churn_rate": "float64",
                           "segment.b.churn_rate": "float64", "strategy.fit.headroom": "float64"}


def test_base_is_relative_to_the_sweep_file_or_bundled(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "base.toml").write_text(
        SCENARIO.replace("sweep.scenario.", ""))
    path = tmp_path / "sub" / "s.toml"
    path.write_text('[sweep]\nname = "b"\nbase = "base.toml"\n' + GRID)
    s = sw.load_sweep(path)
    assert s.base.endswith("base.toml") and s.points[0].scenario.population == 4000
    path.write_text('[sweep]\nname = "b"\nbase = "default.toml"\n'
                    '[sweep.set]\n"scenario.paths" = 3\n[sweep.grid]\n"billing.rule" = ["concurrent"]\n')
    s = sw.load_sweep(path)
    # the bundled default samples by sobol, 8 replicates: 3 paths round up to 8
    assert s.base == "<bundled>/default.toml" and s.points[0].scenario.paths == 8


def problems_of(path):
    with pytest.raises(ScenarioError) as e:
        sw.load_sweep(path)
    return str(e.value)


def test_bad_sweep_files_name_the_file_and_the_key(tmp_path):
    src = str(tmp_path / "sweep.toml")
    msg = problems_of(write_sweep(tmp_path, head='[sweep]\nname = "x"\ncolour = 1\n'))
    assert f"{src}: sweep.colour: unknown key" in msg
    msg = problems_of(write_sweep(tmp_path, grid=GRID + '"segment.zz.churn_rate" = [1]\n'))
    assert f'{src}: sweep.grid."segment.zz.churn_rate": no segment named "zz"' in msg
    msg = problems_of(write_sweep(tmp_path, grid=GRID + '"billing.colour" = [1]\n'))
    assert f'{src}: sweep.grid."billing.colour": unknown key' in msg
    msg = problems_of(write_sweep(tmp_path, grid=GRID + '"billing.certified" = []\n'))
    assert "expected a non-empty list of values" in msg
    msg = problems_of(write_sweep(tmp_path, grid=GRID + '[[sweep.zip]]\n'
                                  '"segment.b.churn_rate" = [1, 2]\n"segment.b.readd_prob" = [0.1]\n'))
    assert f"{src}: sweep.zip #1: expected lists of equal length" in msg
    msg = problems_of(write_sweep(tmp_path, head='[sweep]\nname = "x"\n[sweep.set]\n'
                                  '"billing.rule" = "cumulative"\n'))
    assert 'sweep.grid."billing.rule": expected each key once; it is also in sweep.set' in msg
    msg = problems_of(write_sweep(tmp_path, head='[sweep]\nname = "x"\nbase = "nope.toml"\n',
                                  scenario=""))
    assert f"{src}: sweep.base: no scenario file" in msg
    msg = problems_of(write_sweep(tmp_path, head='[sweep]\nname = "x"\nstrategies = ["fit", "zz"]\n'))
    assert f'{src}: sweep.strategies: expected names of the base\'s strategies' in msg
    msg = problems_of(write_sweep(tmp_path, head='[sweep]\nname = "bad name"\n'))
    assert f"{src}: sweep.name:" in msg
    msg = problems_of(write_sweep(tmp_path, grid="[sweep.grid\n"))
    assert f"{src}: invalid TOML" in msg


def test_every_mistake_of_a_sweep_file_is_reported_in_one_go(tmp_path):
    """Independent mistakes at every level (the [sweep] table, a swept key,
    the kept strategies, a set value, a point, the command line) come out
    together, not a round of fixes for each."""
    path = write_sweep(tmp_path, head='[sweep]\nname = "bad name"\ncolour = 1\n'
                       'strategies = ["fit", "zz"]\n[sweep.set]\n"growth.sigma" = -1\n',
                       grid='[sweep.grid]\n"billing.rule" = ["concurrent", "cumulative"]\n'
                       '"segment.zz.churn_rate" = [0.1, 0.2]\n'
                       '"segment.a.churn_rate" = [0.001, -0.5]\n')
    src = str(path)
    with pytest.raises(ScenarioError) as e:
        sw.load_sweep(path, overrides=["billing.rule=cumulative"])
    problems = e.value.problems
    for words in (f"{src}: sweep.colour: unknown key",
                  f"{src}: sweep.name: required",
                  f"{src}: --set billing.rule: the sweep varies this key",
                  f'{src}: sweep.grid."segment.zz.churn_rate": no segment named "zz"',
                  f"{src}: sweep.strategies: expected names of the base's strategies",
                  f'{src}: sweep.set."growth.sigma": expected a non-negative volatility',
                  f"{src}: point billing.rule=concurrent, segment.a.churn_rate=-0.5: "
                  "segment.a.churn_rate (from the sweep): expected a non-negative rate"):
        assert sum(p.startswith(words) for p in problems) == 1, (words, problems)
    assert len(problems) == 8          # the bad churn rate once per billing rule


def test_every_bad_point_is_reported_with_its_values(tmp_path):
    path = write_sweep(tmp_path, grid="""
[sweep.grid]
"billing.rule" = ["concurrent", "cumulative"]
"segment.a.churn_rate" = [0.001, -0.5, -1]
""")
    msg = problems_of(path)
    src = str(path)
    for rule in ("concurrent", "cumulative"):
        for bad in ("-0.5", "-1"):
            assert (f"{src}: point billing.rule={rule}, segment.a.churn_rate={bad}: "
                    f"segment.a.churn_rate (from the sweep): expected a non-negative rate per day, "
                    f"got {bad}") in msg
    assert "churn_rate=0.001" not in msg
    # a problem every point shares is reported once, naming its file
    path = write_sweep(tmp_path, scenario=SCENARIO.replace("seed = 7", "seed = -7"))
    msg = problems_of(path)
    assert msg.count("scenario.seed") == 1 and "[sweep.scenario]: scenario.seed" in msg


def sweep_command(path, out, *options):
    return cli.main(["sweep", str(path), "--out", str(out), *options])


def test_cli_exit_status_2_and_nothing_written_for_bad_input(tmp_path, capsys, counted):
    path = write_sweep(tmp_path, grid='[sweep.grid]\n"segment.a.churn_rate" = [0.1, -1]\n')
    assert sweep_command(path, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "point segment.a.churn_rate=-1" in err and str(path) in err
    assert counted == [] and not (tmp_path / "out").exists()
    path = write_sweep(tmp_path)
    assert sweep_command(path, tmp_path / "out", "--scheduler", "tcp://127.0.0.1:1") == 2
    assert "--scheduler: only with --executor dask" in capsys.readouterr().err
    assert counted == [] and not (tmp_path / "out").exists()


def test_missing_dask_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)     # import fails
    s = sw.load_sweep(write_sweep(tmp_path))
    with pytest.raises(ExecutorError, match=r"pip install 'simengine\[dask\]'"):
        sw.run_sweep(s, out=tmp_path / "out", executor="dask")
    assert not (tmp_path / "out").exists()


def test_an_unreachable_scheduler_leaves_nothing_behind(tmp_path, monkeypatch, counted):
    from simengine import executor
    monkeypatch.setattr(executor, "CONNECT_TIMEOUT", 1)
    s = sw.load_sweep(write_sweep(tmp_path))
    with pytest.raises(ExecutorError, match="cannot reach a Dask scheduler"):
        sw.run_sweep(s, out=tmp_path / "out", executor="dask", scheduler="tcp://127.0.0.1:1")
    assert counted == [] and not (tmp_path / "out" / "s4").exists()


# ---------------------------------------------------------- the dataset

def test_dataset_reads_in_one_call_with_swept_keys_as_columns(tmp_path, counted):
    s = sw.load_sweep(write_sweep(tmp_path))
    run = sw.run_sweep(s, out=tmp_path / "out")
    root = tmp_path / "out" / "s4"
    assert run.directory == root and len(counted) == 4 and run.simulated == [0, 1, 2, 3]
    paths = read(root, "paths")
    assert paths.num_rows == 4 * 12 * 3
    assert paths["billing.rule"].type == pa.string()
    assert sorted(set(paths["billing.rule"].to_pylist())) == ["concurrent", "cumulative"]
    assert sorted(set(paths["segment.a.churn_rate"].to_pylist())) == ["0.001", "0.01"]
    typed = sw.open_dataset(root).to_table()          # the keys typed as in the file
    assert typed["segment.a.churn_rate"].type == pa.float64()
    assert sorted(set(typed["segment.a.churn_rate"].to_pylist())) == [0.001, 0.01]
    for t, per_path in (("periods", 3), ("monthly", 36)):
        assert read(root, t).num_rows == 4 * 12 * per_path
    # each point's tables equal a plain run of its scenario
    import simengine
    p = s.points[3]
    res = simengine.run(p.scenario)
    part = store.read_table(root / "paths" / p.partition / "part.arrow")
    assert part.equals(res.paths, check_metadata=True)
    same_tables(store.read_table(root / "summary" / p.partition / "part.arrow"), res.summary)
    one = paths.filter(pc.and_(pc.equal(paths["billing.rule"], "cumulative"),
                               pc.equal(paths["segment.a.churn_rate"], "0.01")))
    assert one.drop_columns(["billing.rule", "segment.a.churn_rate"]).equals(res.paths)
    # costs move with the swept keys (the point of sweeping)
    tot = {q.index: sum(store.read_table(root / "paths" / q.partition / "part.arrow")
                        ["economic_cost"].to_pylist()) for q in s.points}
    assert len(set(tot.values())) == 4

    summary = sw.read_sweep_summary(root)
    n_metrics = len(set(summary["metric"].to_pylist()))
    assert summary.num_rows == 4 * (3 * n_metrics - 1)     # the oracle has no cheapest row
    assert summary.column_names[:4] == ["billing.rule", "segment.a.churn_rate", "point",
                                        "scenario_sha256"]
    assert summary["segment.a.churn_rate"].type == pa.float64()
    assert {"total_cost", "economic_cost", "peak_contacts", "blocked"} <= set(summary["metric"].to_pylist())

    m = json.loads((root / "manifest.json").read_text())
    assert m["kind"] == "sweep" and m["complete"] and m["sweep_toml"] == s.text
    assert [q["scenario_sha256"] for q in m["points"]] == [q.sha256 for q in s.points]
    assert {q["status"] for q in m["points"]} == {"done"}
    assert not (root / ".tmp").exists()


def test_dask_local_cluster_gives_identical_datasets(tmp_path, counted):
    s = sw.load_sweep(write_sweep(tmp_path))
    local = sw.run_sweep(s, out=tmp_path / "local", workers=2).directory
    # tasks of at most 5 paths (uneven: the last is shorter)
    dask = sw.run_sweep(s, out=tmp_path / "dask", executor="dask", workers=2,
                        chunk_size=5).directory
    # both executors run every point through the same path (engine.run)
    assert counted == [p.sha256 for p in s.points] * 2
    assert part_files(local) == part_files(dask)
    for f in part_files(local):                       # bit for bit
        assert (local / f).read_bytes() == (dask / f).read_bytes(), f
    for t in ("paths", "periods", "monthly"):
        assert read(local, t).equals(read(dask, t), check_metadata=True)
    same_tables(read(local, "summary"), read(dask, "summary"))
    assert (local / "sweep_summary.arrow").read_bytes() == (dask / "sweep_summary.arrow").read_bytes()
    m = json.loads((dask / "manifest.json").read_text())
    assert m["executor"]["executor"] == "dask" and m["executor"]["workers"] == 2
    assert m["complete"]


# ---------------------------------------------------------- resuming

def test_rerun_skips_finished_points_and_reruns_a_deleted_one(tmp_path, counted):
    s = sw.load_sweep(write_sweep(tmp_path))
    out = tmp_path / "out"
    root = sw.run_sweep(s, out=out).directory
    before = {f: (root / f).read_bytes() for f in part_files(root)}
    assert len(counted) == 4

    run = sw.run_sweep(s, out=out)
    assert len(counted) == 4 and run.simulated == [] and run.skipped == [0, 1, 2, 3]

    # lose point 2's marker and one of its files (as after a kill -9 mid-write)
    p = s.points[2]
    (root / ".done" / f"{p.sha256}.json").unlink()
    (root / "monthly" / p.partition / "part.arrow").unlink()
    run = sw.run_sweep(s, out=out)
    assert counted[4:] == [p.sha256] and run.simulated == [2]
    assert {f: (root / f).read_bytes() for f in part_files(root)} == before

    # leftovers of an unfinished point are removed before it reruns
    (root / ".done" / f"{p.sha256}.json").unlink()
    (root / ".tmp" / "junk").mkdir(parents=True)
    run = sw.run_sweep(s, out=out)
    assert run.simulated == [2] and not (root / ".tmp").exists()
    assert {f: (root / f).read_bytes() for f in part_files(root)} == before


def test_a_crash_while_writing_leaves_no_half_point_and_resumes(tmp_path, counted, monkeypatch):
    s = sw.load_sweep(write_sweep(tmp_path))
    clean = sw.run_sweep(s, out=tmp_path / "clean").directory
    counted.clear()

    renames = []
    real_replace = os.replace

    def crashing_replace(src, dst):
        if str(dst).endswith("part.arrow"):
            renames.append(dst)
            if len(renames) == 2 * 4 + 2:      # the 3rd point's second table
                raise OSError("disk on fire")
        return real_replace(src, dst)
    monkeypatch.setattr(os, "replace", crashing_replace)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="disk on fire"):
        sw.run_sweep(s, out=out)
    monkeypatch.setattr(os, "replace", real_replace)
    root = out / "s4"
    assert len(counted) == 3
    # points 0 and 1 finished; nothing of point 2 in any table
    assert all(s.points[2].partition not in f for f in part_files(root))
    assert len(part_files(root)) == 2 * 4
    m = json.loads((root / "manifest.json").read_text())
    assert [q["status"] for q in m["points"]] == ["done", "done", "pending", "pending"]
    assert not m["complete"]
    assert sw.read_sweep_summary(root).num_rows == len(sw.read_sweep_summary(clean)) // 2

    counted.clear()
    run = sw.run_sweep(s, out=out)
    assert run.simulated == [2, 3] and run.skipped == [0, 1]
    assert counted == [s.points[2].sha256, s.points[3].sha256]
    assert part_files(root) == part_files(clean)
    for f in part_files(root):
        assert (root / f).read_bytes() == (clean / f).read_bytes()
    assert (root / "sweep_summary.arrow").read_bytes() == (clean / "sweep_summary.arrow").read_bytes()


def test_an_interrupt_keeps_the_finished_points(tmp_path, capsys, monkeypatch):
    path = write_sweep(tmp_path)
    real = execution._simulate_point
    calls = []

    def interrupted_at_the_third(scn, *a):
        calls.append(scn.sha256)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(scn, *a)
    monkeypatch.setattr(execution, "_simulate_point", interrupted_at_the_third)
    assert sweep_command(path, tmp_path / "out") == 130
    assert "finished points are kept; rerun the same command to resume" in capsys.readouterr().err
    root = tmp_path / "out" / "s4"
    m = json.loads((root / "manifest.json").read_text())
    assert [q["status"] for q in m["points"]] == ["done", "done", "pending", "pending"]
    assert set(sw.read_sweep_summary(root)["point"].to_pylist()) == {0, 1}
    assert len(part_files(root)) == 2 * 4


def test_changing_one_value_reruns_only_the_points_it_touches(tmp_path, counted):
    out = tmp_path / "out"
    s1 = sw.load_sweep(write_sweep(tmp_path))
    root = sw.run_sweep(s1, out=out).directory
    counted.clear()
    s2 = sw.load_sweep(write_sweep(tmp_path, grid=GRID.replace("0.01]", "0.02]")))
    # an executor object is used as given (here: one numba thread)
    run = sw.run_sweep(s2, out=out, executor=LocalExecutor(threads=1))
    assert run.manifest["executor"] == {"executor": "local", "threads": 1}
    assert run.simulated == [1, 3] and run.skipped == [0, 2]
    assert counted == [s2.points[1].sha256, s2.points[3].sha256]
    # the dataset holds exactly the points of the sweep; old ones are set aside
    keys = set(read(root, "paths")["segment.a.churn_rate"].to_pylist())
    assert keys == {"0.001", "0.02"}
    assert set(sw.read_sweep_summary(root)["segment.a.churn_rate"].to_pylist()) == {0.001, 0.02}
    assert sorted(p.name for p in (root / ".stale").iterdir()) == sorted(
        [s1.points[1].sha256, s1.points[3].sha256])
    assert run.notes == [f"{root}: 2 finished points of an earlier version of this sweep "
                         "(not in it now) set aside into .stale/, out of the dataset (a later "
                         f"sweep that needs them moves them back; delete {root / '.stale'} to "
                         "reclaim the space)"]
    # changing it back restores them without simulating
    counted.clear()
    heard = []
    run = sw.run_sweep(s1, out=out, on_note=heard.append)
    assert counted == [] and run.simulated == []
    assert heard[-1] == f"{root}: 2 finished points moved back from .stale/ into the " \
        "dataset, not simulated again"
    assert set(read(root, "paths")["segment.a.churn_rate"].to_pylist()) == {"0.001", "0.01"}
    # a new key in the set changes every point
    s3 = sw.load_sweep(write_sweep(tmp_path, head='[sweep]\nname = "s4"\n[sweep.set]\n'
                                   '"scenario.seed" = 8\n'))
    assert len(sw.run_sweep(s3, out=out).simulated) == 4


def test_another_sweep_of_the_same_name_is_refused_before_any_work(tmp_path, counted):
    out = tmp_path / "out"
    first = sw.load_sweep(write_sweep(tmp_path))
    sw.run_sweep(first, out=out)
    (tmp_path / "other").mkdir()
    other = sw.load_sweep(write_sweep(tmp_path / "other", grid=GRID.replace("0.01]", "0.03]")))
    assert other.name == first.name and other.sha256 != first.sha256
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    counted.clear()
    with pytest.raises(sw.SweepError) as e:
        sw.run_sweep(other, out=out)
    msg = str(e.value)
    assert f"{out / 's4'}: holds the results of another sweep named 's4'" in msg
    assert str(first.path) in msg and "--out DIR" in msg and "another name" in msg
    assert counted == [] and sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before
    # elsewhere it runs; the same sweep, moved or copied, resumes in the old folder
    assert len(sw.run_sweep(other, out=tmp_path / "elsewhere").simulated) == 4
    (tmp_path / "moved").mkdir()
    moved = sw.load_sweep(write_sweep(tmp_path / "moved"))
    assert moved.path != first.path and moved.sha256 == first.sha256
    assert sw.run_sweep(moved, out=out).skipped == [0, 1, 2, 3]
    # a run directory is not a sweep folder
    (tmp_path / "runs" / "s4").mkdir(parents=True)
    (tmp_path / "runs" / "s4" / "manifest.json").write_text('{"kind": "run"}')
    with pytest.raises(sw.SweepError, match="not a sweep; pass --out DIR"):
        sw.run_sweep(first, out=tmp_path / "runs")


def test_one_sweep_at_a_time_per_folder(tmp_path, counted):
    import filelock
    s = sw.load_sweep(write_sweep(tmp_path))
    (tmp_path / "out" / "s4").mkdir(parents=True)
    with filelock.FileLock(str(tmp_path / "out" / "s4" / ".lock")):
        with pytest.raises(sw.SweepError, match="another sweep is writing this directory"):
            sw.run_sweep(s, out=tmp_path / "out")
    assert counted == []
    assert sw.run_sweep(s, out=tmp_path / "out").simulated == [0, 1, 2, 3]


def test_files_get_the_users_umask(tmp_path):
    s = sw.load_sweep(write_sweep(tmp_path, grid='[sweep.grid]\n"billing.rule" = ["concurrent"]\n'))
    old = os.umask(0o022)
    try:
        root = sw.run_sweep(s, out=tmp_path / "out").directory
        written = sw.report_sweep(root).written
    finally:
        os.umask(old)
    files = [root / f for f in part_files(root)] + [root / "manifest.json",
                                                     root / "sweep_summary.arrow", *written]
    files += list((root / ".done").iterdir())
    assert len(files) == 4 + 2 + 1 + 1 and all(f.is_file() for f in files)
    assert {oct(f.stat().st_mode & 0o777) for f in files} == {oct(0o644)}


# ---------------------------------------------------------- report and CLI

def test_report_writes_plots_and_tables(tmp_path, capsys):
    path = write_sweep(tmp_path)
    assert sweep_command(path, tmp_path / "out") == 0
    out = capsys.readouterr().out
    assert "4 points: 4 simulated, 0 already done" in out
    assert ("Sweep s4: cheapest strategy by economic cost; oracle, the hindsight bound, "
            "left out") in out
    root = tmp_path / "out" / "s4"
    rep = sw.report_sweep(root)
    assert rep.written == [root / "plots" / "billing.rule.png",
                           root / "plots" / "segment.a.churn_rate.png", root / "report.md"]
    assert [t.title for t in rep.tables] == [
        "P50 / P95 by point and strategy (yuan; * cheapest economic cost)",
        "Cheapest strategy per point (s4; oracle, the hindsight bound, left out)"]
    cheap = rep.tables[1]
    assert cheap.headers == ["billing.rule", "segment.a.churn_rate", "total P50", "total P95",
                             "economic P50", "economic P95"]
    assert [r[:2] for r in cheap.rows] == [["concurrent", "0.001"], ["concurrent", "0.01"],
                                           ["cumulative", "0.001"], ["cumulative", "0.01"]]
    assert {c for r in cheap.rows for c in r[2:]} <= {"none", "fit"}
    rep.print()
    out = capsys.readouterr().out
    assert "Cheapest strategy per point" in out and f"wrote {root / 'report.md'}" in out
    for key in ("billing.rule", "segment.a.churn_rate"):
        png = root / "plots" / f"{key}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size > 10_000
    md = (root / "report.md").read_text()
    assert "## Crossovers" in md and "plots/segment.a.churn_rate.png" in md
    assert "`oracle`: the hindsight bound" in md
    assert md.count("| concurrent | 0.001 |") >= 1 + 3
    assert not [p for p in (root / "plots").iterdir() if p.name.startswith(".")]
    # the dataset is still readable in one call with the report files around
    assert read(root, "paths").num_rows == 4 * 12 * 3
    # not a sweep directory
    with pytest.raises(sw.SweepError, match="cannot read the sweep manifest"):
        sw.report_sweep(tmp_path)


def test_the_oracle_is_a_bound_never_the_cheapest(tmp_path, capsys):
    """The hindsight plan knows each path's future: however far below the
    others it is (here halved, at every point), no table names it cheapest,
    no crossover leads to it, and it is shown apart, labelled; in the plots
    a dashed line drawn over the others, so a strategy equal to it shows."""
    assert sweep_command(write_sweep(tmp_path), tmp_path / "out") == 0
    root = tmp_path / "out" / "s4"
    path = root / "sweep_summary.arrow"
    t = store.read_table(path)
    oracle = pc.equal(t["strategy"], "oracle")
    for col in ("p50", "p95"):
        i = t.column_names.index(col)
        t = t.set_column(i, col, pc.if_else(oracle, pc.multiply(t[col], 0.5), t[col]))
    store.write_table(path, t)
    rep = sw.report_sweep(root)
    costs, cheap = rep.tables
    assert {c for r in cheap.rows for c in r[2:]} <= {"none", "fit"}
    assert not [c for c in rep.crossovers if "oracle" in c]
    rows = [r for r in costs.rows if r is not None]
    assert [r[2] for r in rows[:3]] == ["none", "fit", "oracle (hindsight bound)"]
    assert not [r for r in rows if r[2].startswith("oracle") and "*" in "".join(r)]
    # the plot draws the bound dashed, over the strategies one can buy
    drawn = {}
    from matplotlib.figure import Figure
    ax = Figure().subplots()
    view = report.axis_views(sw.read_manifest(root), report.report_data(t))[0]
    report._panel(ax, view, view["rows"][0][1], report.report_data(t), ["none", "fit", "oracle"],
                  [], "economic_cost", "p95", bounds=["oracle"])
    for line in ax.get_lines():
        drawn[line.get_label()] = line
    bound = drawn["oracle (hindsight bound)"]
    assert bound.get_linestyle() == "--" and bound.get_zorder() > drawn["fit"].get_zorder()
    assert bound.get_linewidth() < drawn["fit"].get_linewidth()


def test_crossovers_are_found_where_the_cheapest_strategy_changes():
    data = {0: {("a", "total_cost", "p50"): 1.0, ("b", "total_cost", "p50"): 2.0},
            1: {("a", "total_cost", "p50"): 3.0, ("b", "total_cost", "p50"): 2.0},
            2: {("a", "total_cost", "p50"): 2.0, ("b", "total_cost", "p50"): 2.0}}
    view = {"axis": 0, "xs": [[1], [2], [3]], "rows": [("", [0, 1, 2])]}
    got = [c for c in report.crossovers(view, data, ["a", "b"])
           if c["metric"] == "total_cost" and c["stat"] == "p50"]
    # a tie keeps the incumbent: one crossover, not two
    assert [(c["from"], c["to"], c["between"]) for c in got] == [("a", "b", ("1", "2"))]
