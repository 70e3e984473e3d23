"""`simengine sweep` options for a quick sweep without editing a copy:
--set, --paths and --scale on every point, --format parquet (files that
pandas and DuckDB read with the same rows as the Arrow ones), the bundled
example run by name, and the plot's note naming every off-scale strategy."""
from __future__ import annotations

import json

import numpy as np
import pytest

from simengine import cli, store, sweeps
from simengine.scenario import ScenarioError
from simengine.sweeps.report import off_scale_note

from test_sweep import write_sweep


def test_set_paths_and_scale_apply_to_every_point(tmp_path):
    path = write_sweep(tmp_path)
    sweep = sweeps.load_sweep(path, overrides=["strategy.fit.headroom=0.2", "growth.sigma=0.1"],
                              paths=16, scale=0.5)
    assert len(sweep.points) == 4
    for p in sweep.points:
        scn = p.scenario
        assert scn.paths == 16 and scn.population == 2000
        assert [s.initial_contacts for s in scn.segments] == [500, 250]
        assert next(s for s in scn.strategies if s.name == "fit").headroom == 0.2
        assert scn.growth.sigma == 0.1
    assert sweep.command_line == ("--scale 0.5", "--set strategy.fit.headroom=0.2",
                                  "--set growth.sigma=0.1", "--paths 16")
    plain = sweeps.load_sweep(path)
    assert {p.sha256 for p in plain.points}.isdisjoint(p.sha256 for p in sweep.points)


def test_set_cannot_change_a_swept_key_or_an_unknown_one(tmp_path):
    path = write_sweep(tmp_path)
    with pytest.raises(ScenarioError) as e:
        sweeps.load_sweep(path, overrides=["billing.rule=cumulative", "nosuch.key=1",
                                           "segment.a"])
    msg = "\n".join(e.value.problems)
    assert f"{path}: --set billing.rule: the sweep varies this key (sweep.grid)" in msg
    assert f"{path}: --set segment.a: expected KEY=VALUE" in msg
    with pytest.raises(ScenarioError) as e:
        sweeps.load_sweep(path, overrides=["nosuch.key=1"])
    assert f"{path}: --set nosuch.key: unknown key" in str(e.value)


def test_bad_value_set_on_every_point_is_named_where_it_is_set(tmp_path):
    path = write_sweep(tmp_path)
    with pytest.raises(ScenarioError) as e:
        sweeps.load_sweep(path, overrides=["growth.sigma=-1"])
    assert e.value.problems == [f"{path}: --set growth.sigma: expected a non-negative "
                                "volatility, got -1"]


def _sweep(tmp_path, out, *options):
    path = write_sweep(tmp_path)
    return cli.main(["sweep", str(path), "--out", str(out), "--paths", "8", *options])


def test_parquet_sweep_holds_the_arrow_rows(tmp_path, capsys):
    assert _sweep(tmp_path, tmp_path / "arrow") == 0
    assert _sweep(tmp_path, tmp_path / "parquet", "--format", "parquet") == 0
    out = capsys.readouterr().out
    assert "(--paths 8)" in out
    a, p = tmp_path / "arrow" / "s4_paths=8", tmp_path / "parquet" / "s4_paths=8"
    assert json.loads((p / "manifest.json").read_text())["format"] == "parquet"
    assert not list(p.rglob("*.arrow")) and len(list(p.rglob("part.parquet"))) == 16
    import duckdb
    import pandas as pd
    for table in sweeps.TABLES:
        want = sweeps.open_dataset(a, table).to_table().to_pandas()
        got = sweeps.open_dataset(p, table).to_table().to_pandas()
        pd.testing.assert_frame_equal(want, got)
    want = pd.read_feather(a / "sweep_summary.arrow")
    got = pd.read_parquet(p / "sweep_summary.parquet")
    pd.testing.assert_frame_equal(want, got)
    rows = duckdb.sql(f"SELECT count(*), sum(total_cost) FROM "
                      f"read_parquet('{p}/paths/**/part.parquet', hive_partitioning=true)"
                      ).fetchall()[0]
    paths = sweeps.open_dataset(a, "paths").to_table()
    assert rows[0] == paths.num_rows
    assert rows[1] == pytest.approx(float(np.sum(paths.column("total_cost").to_numpy())))
    # the report reads either, and names the command line's changes
    assert cli.main(["report", str(p)]) == 0
    assert ("Cheapest strategy per point (s4, --paths 8; oracle, the hindsight bound, left "
            "out)") in capsys.readouterr().out
    assert "Command-line changes to every point: --paths 8." in (p / "report.md").read_text()


def _tree(root):
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns
            for p in root.rglob("*") if p.is_file() and p.name != ".lock"}


def test_a_quick_sweep_goes_to_its_own_folder_and_the_full_one_survives(tmp_path, capsys):
    out = tmp_path / "out"
    path = write_sweep(tmp_path)
    assert cli.main(["sweep", str(path), "--out", str(out)]) == 0
    full = out / "s4"
    before = _tree(full)
    capsys.readouterr()
    # the README's quick sweep: another scale and fewer paths
    assert cli.main(["sweep", str(path), "--out", str(out), "--scale", "0.5",
                     "--paths", "4", "--set", "growth.sigma=0.1"]) == 0
    printed = capsys.readouterr().out
    quick = out / "s4_scale=0.5_growth.sigma=0.1_paths=4"
    assert f"wrote {quick} " in printed
    assert sorted(p.name for p in out.iterdir()) == ["s4", quick.name]
    assert _tree(full) == before and not (full / ".stale").exists()
    assert len(list((quick / ".done").glob("*.json"))) == 4
    # the same quick sweep again resumes there; the full one resumes in its own
    assert cli.main(["sweep", str(path), "--out", str(out), "--scale", "0.5",
                     "--paths", "4", "--set", "growth.sigma=0.1"]) == 0
    assert "0 simulated, 4 already done" in capsys.readouterr().out
    assert cli.main(["sweep", str(path), "--out", str(out)]) == 0
    assert "0 simulated, 4 already done" in capsys.readouterr().out
    assert _tree(full) != {} and not (full / ".stale").exists()


def test_a_sweep_folder_that_cannot_be_written_is_refused_before_any_work(tmp_path, capsys):
    (tmp_path / "a-file").write_text("x")
    assert _sweep(tmp_path, tmp_path / "a-file") == 2
    err = capsys.readouterr().err
    assert "a-file is not a directory" in err and "--out DIR" in err
    assert "failed" not in err and "resume" not in err


def test_a_folder_keeps_its_format(tmp_path, capsys):
    assert _sweep(tmp_path, tmp_path / "out") == 0
    assert _sweep(tmp_path, tmp_path / "out", "--format", "parquet") == 2
    err = capsys.readouterr().err
    assert "holds this sweep's points as arrow files, not parquet" in err
    assert "--format arrow" in err


def test_the_bundled_sweep_runs_by_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert "rule-by-churn" in sweeps.spec.bundled_sweeps()
    sweep = sweeps.load_sweep("rule-by-churn", paths=2, scale=0.01)
    assert len(sweep.points) == 10 and sweep.points[0].scenario.population == 10_000
    assert cli.main(["validate", "default"]) == 0
    assert cli.main(["sweep", "no-such-sweep"]) == 2
    assert "bundled sweeps: rule-by-churn" in capsys.readouterr().err


def test_off_scale_note_names_every_strategy_above_the_axis():
    lines = {"fit": [10, 12], "oracle": [9, 11], "vip-first": [80, 90], "none": [5, 200]}
    assert off_scale_note(lines, 50) == "off scale ↑: vip-first, none (partly)"
    assert off_scale_note({"fit": [1, 2]}, 50) == ""


def test_paths_rounded_up_are_said_before_the_sweep_and_the_title_says_what_ran(tmp_path,
                                                                                  capsys):
    from test_sweep import SCENARIO
    path = write_sweep(tmp_path, scenario=SCENARIO.replace(
        'sampling = "mc"', 'sampling = "sobol"\nreplicates = 4'))
    assert cli.main(["sweep", str(path), "--out", str(tmp_path / "o"), "--paths", "6"]) == 0
    out, err = capsys.readouterr()
    # said once for all four points, before the points run
    assert err.count("scenario.paths: 6 is not a multiple of scenario.replicates = 4: "
                     "rounded up to 8 paths (2 per replicate)") == 1
    assert err.index("rounded up to 8 paths") < err.index("running 32 paths")
    assert "Sweep s4: cheapest strategy by economic cost, 8 paths per point (--paths 6)" in out
