"""What a run leaves on disk (docs/model.md sections 7 and 9): Arrow or Parquet tables
with the same columns, files with the user's umask, outputs refused before
any work when they cannot be created, and an exit status that says what is
on disk after an interrupt."""
import json
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import simengine
from simengine import calibration, cli, report, schema, store
from simengine.result import Result

from test_cli import TINY, _env

STRATEGIES = ["no-purchase", "fit", "vip-first", "oracle"]


@pytest.fixture(scope="module")
def tiny_result():
    scn = simengine.scenario.scenario_from_dict(tomllib.loads(TINY), "tiny")
    return simengine.run(scn, paths=8, threads=1)


@pytest.fixture()
def tiny(tmp_path, monkeypatch):
    (tmp_path / "tiny.toml").write_text(TINY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SIMENGINE_DEBUG", raising=False)
    return tmp_path


# --------------------------------------------------------------------------
# formats

def test_parquet_and_arrow_hold_the_same_tables(tmp_path, tiny_result):
    a = tiny_result.write(tmp_path / "a")
    p = tiny_result.write(tmp_path / "p", fmt="parquet")
    assert sorted(os.listdir(a)) == sorted(report.run_files("arrow"))
    assert sorted(os.listdir(p)) == sorted(report.run_files("parquet"))
    for spec in schema.TABLES:
        ta = store.read_table(a / f"{spec.name}.arrow")
        tp = store.read_table(p / f"{spec.name}.parquet")
        assert ta.schema.names == list(spec.names)          # regret too: tiny has an oracle
        assert ta.schema == spec.arrow_schema(ta.schema.metadata, present=ta.schema.names)
        assert tp.schema.equals(ta.schema, check_metadata=True), spec.name
        for col in spec.names:                   # NaN equals NaN (too few paths)
            x, y = (t.column(col).to_numpy(zero_copy_only=False) for t in (ta, tp))
            assert x.dtype == y.dtype and len(x) == len(y), (spec.name, col)
            if x.dtype.kind == "f":
                np.testing.assert_array_equal(x, y, err_msg=f"{spec.name}.{col}")
            else:
                assert (x == y).all(), (spec.name, col)
        assert ta.schema.metadata[b"table"] == spec.name.encode()
    assert json.loads((p / "manifest.json").read_text())["format"] == "parquet"
    run = report.load_run(p)                     # report reads either
    assert run.strategies == STRATEGIES and run.paths.num_rows == 8 * 4
    with pytest.raises(ValueError):
        tiny_result.write(tmp_path / "x", fmt="csv")
    assert not (tmp_path / "x").exists()


def test_parquet_files_open_in_pandas_and_duckdb_with_the_arrow_rows(tmp_path, tiny_result):
    import duckdb
    import pandas as pd
    a = tiny_result.write(tmp_path / "a")
    p = tiny_result.write(tmp_path / "p", fmt="parquet")
    for spec in schema.TABLES:
        want = pd.read_feather(a / f"{spec.name}.arrow")
        got = pd.read_parquet(p / f"{spec.name}.parquet")
        pd.testing.assert_frame_equal(want, got)
        arrow_rows = store.read_table(a / f"{spec.name}.arrow")      # noqa: F841 (duckdb scans it)
        q = "SELECT * FROM {} ORDER BY ALL"
        assert (duckdb.sql(q.format(f"read_parquet('{p / spec.name}.parquet')")).fetchall()
                == duckdb.sql(q.format("arrow_rows")).fetchall()), spec.name


def test_result_shows_its_percentile_table(tiny_result):
    """Short: what was run and one table, not the scenario or every table."""
    text = repr(tiny_result)
    assert text.splitlines()[0] == "<simengine.Result 'tiny': 4 strategies x 8 paths over 2 years, seed 7>"
    assert "total_cost per path over 2 years, 8 paths" in text
    assert all(s in text for s in STRATEGIES)
    # the oracle apart after a blank line, as the hindsight bound
    assert len(text.splitlines()) == 5 + len(STRATEGIES) and "segment" not in text
    assert text.splitlines()[-1].startswith("oracle (hindsight bound)")
    html = tiny_result._repr_html_()
    assert html.startswith('<div class="simengine-result">') and html.count("<table>") == 1
    assert html.count("<tr") == 1 + len(STRATEGIES) and "vip-first" in html
    assert html.count('<tr style="border-top') == 1          # the oracle apart, under a rule
    assert "text-align:right" in html and "initial_contacts" not in html


# --------------------------------------------------------------------------
# file modes follow the umask

def _modes(root):
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(d) / name
            out[str(p.relative_to(root))] = stat.S_IMODE(p.stat().st_mode)
    return out


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_files_have_the_users_umask(tmp_path, umask):
    (tmp_path / "tiny.toml").write_text(TINY)

    def sim(*args):
        p = subprocess.run([sys.executable, "-m", "simengine", *args], cwd=tmp_path,
                           env=_env(), capture_output=True, text=True, timeout=300,
                           preexec_fn=lambda: os.umask(umask))
        assert p.returncode == 0, p.stderr
    sim("run", "tiny.toml", "--paths", "3", "--events", "--out", "runs/r")
    sim("run", "tiny.toml", "--paths", "3", "--format", "parquet", "--out", "runs/p")
    sim("report", "runs/r")
    modes = _modes(tmp_path / "runs")
    expected = {"r", "p"} | {f"r/{f}" for f in report.FILES + report.PLOTS + ("events.arrow",)}
    expected |= {f"p/{f}" for f in report.run_files("parquet")}
    assert set(modes) == expected
    for name, mode in modes.items():
        is_dir = (tmp_path / "runs" / name).is_dir()
        assert mode == (0o777 if is_dir else 0o666) & ~umask, (name, oct(mode))


# --------------------------------------------------------------------------
# outputs that cannot be created are refused before any work

def _no_simulation(monkeypatch):
    import simengine.engine as engine

    def forbidden(*a, **k):
        raise AssertionError("simulated although the output cannot be written")
    monkeypatch.setattr(engine, "run", forbidden)


@pytest.mark.parametrize("args, words", [
    (["--out", "/proc/simengine-test-run"], "/proc"),
    (["--out", "tiny.toml/run"], "not a directory"),
    (["--out", "runs/x", "--events", "/proc/simengine-test-events.arrow"], "--events /proc"),
])
def test_unwritable_output_is_refused_before_any_work(tiny, monkeypatch, capsys, args, words):
    _no_simulation(monkeypatch)
    assert cli.main(["run", "tiny.toml", "--paths", "2", *args]) == 2
    err = capsys.readouterr().err
    assert words in err and "cannot be created" in err and "Traceback" not in err
    assert not (tiny / "runs").exists()


def test_unwritable_results_directory_is_refused_before_any_work(tiny, monkeypatch, capsys):
    _no_simulation(monkeypatch)
    monkeypatch.chdir("/proc")                  # results/ would go under /proc
    assert cli.main(["run", str(tiny / "tiny.toml"), "--paths", "2"]) == 2
    err = capsys.readouterr().err
    assert "results/tiny/" in err and "cannot write in /proc" in err


# --------------------------------------------------------------------------
# the exit status after an interrupt says what is on disk

@pytest.mark.parametrize("signal_exc, code", [(KeyboardInterrupt, 130),
                                              (cli.Terminated, 143)])
def test_interrupt_after_the_run_directory_is_complete_is_success(tiny, monkeypatch, capsys,
                                                                 signal_exc, code):
    def interrupted_print(*a, **k):             # the signal while the table prints
        raise signal_exc()
    monkeypatch.setattr(report, "print_table", interrupted_print)
    assert cli.main(["run", "tiny.toml", "--paths", "2", "--out", "r"]) == 0
    err = capsys.readouterr().err
    assert "after the output was complete" in err and "r written" in err
    assert sorted(os.listdir(tiny / "r")) == sorted(report.FILES)


def test_signal_just_after_the_rename_is_success(tiny, monkeypatch, capsys):
    real = Result.write

    def write_then_interrupt(self, directory, fmt="arrow"):
        real(self, directory, fmt)
        raise KeyboardInterrupt                 # before the command knows it finished
    monkeypatch.setattr(Result, "write", write_then_interrupt)
    assert cli.main(["run", "tiny.toml", "--paths", "2", "--out", "r"]) == 0
    assert (tiny / "r" / "manifest.json").is_file()
    assert "after the output was complete" in capsys.readouterr().err


def test_interrupt_during_the_write_is_130_and_leaves_nothing(tiny, monkeypatch, capsys):
    def write_interrupted(tmp, table, fmt):
        raise KeyboardInterrupt
    monkeypatch.setattr(store, "_write_table_to", write_interrupted)
    assert cli.main(["run", "tiny.toml", "--paths", "2", "--out", "r"]) == 130
    assert "interrupted: nothing written" in capsys.readouterr().err
    assert sorted(os.listdir(tiny)) == ["tiny.toml"]


def test_interrupt_before_the_contact_log_is_written(tiny, monkeypatch, capsys):
    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(calibration, "write_event_log", interrupted)
    assert cli.main(["run", "tiny.toml", "--paths", "2", "--out", "r", "--events"]) == 130
    err = capsys.readouterr().err
    assert "r was written completely, but not the contact log r/events.arrow" in err
    assert (tiny / "r" / "manifest.json").is_file() and not (tiny / "r" / "events.arrow").exists()


def test_interrupted_before_writing_is_130(tiny, monkeypatch, capsys):
    import simengine.engine as engine

    def interrupted(*a, **k):
        raise cli.Terminated()
    monkeypatch.setattr(engine, "run", interrupted)
    assert cli.main(["run", "tiny.toml", "--paths", "2", "--out", "r"]) == 143
    assert "terminated: nothing written" in capsys.readouterr().err
    assert not (tiny / "r").exists()


def test_read_table_reads_arrow_stream_and_file(tmp_path):
    t = pa.table({"a": [1, 2]})
    with pa.ipc.new_stream(tmp_path / "s.arrow", t.schema) as w:
        w.write_table(t)
    assert store.read_table(tmp_path / "s.arrow").equals(t)
