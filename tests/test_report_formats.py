"""`simengine report --format text|csv|md|json` and `--metric cheapest`:
the table a spreadsheet, a wiki or another program reads, with the numbers
of summary.arrow; cheapest as the share of paths won."""
from __future__ import annotations

import csv
import io
import json
import math
import os

import pytest

from simengine import cli, report, store

from test_cli import TINY

STRATEGIES = ["no-purchase", "fit", "vip-first", "oracle"]
MC = TINY.replace("seed = 7\n", 'seed = 7\nsampling = "mc"\n')    # order-statistic intervals


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("formats")
    (d / "tiny.toml").write_text(MC)
    assert cli.main(["run", str(d / "tiny.toml"), "--paths", "16", "--no-progress",
                     "--set", "billing.rule=cumulative", "--out", str(d / "run")]) == 0
    return d / "run"


def _report(run_dir, capsys, *args):
    assert cli.main(["report", str(run_dir), *args]) == 0
    return capsys.readouterr()


def _summary(run_dir, metric):
    rows = store.read_table(run_dir / "summary.arrow").to_pylist()
    return {r["strategy"]: r for r in rows if r["metric"] == metric}


def test_csv_holds_the_summary_unrounded(run_dir, capsys):
    before = sorted(os.listdir(run_dir))
    out = _report(run_dir, capsys, "--format", "csv", "--metric", "economic_cost")
    rows = list(csv.DictReader(io.StringIO(out.out)))
    assert [r["strategy"] for r in rows] == STRATEGIES
    summary = _summary(run_dir, "economic_cost")
    for r in rows:
        want = summary[r["strategy"]]
        for col in ("mean", "p50", "p95", "p95_lo", "cvar95"):
            assert float(r[col]) == want[col]
        assert int(r["n"]) == 16 and r["metric"] == "economic_cost"
        assert r["p95_hi"] == ""                    # too few paths: empty, not NaN
    assert sorted(os.listdir(run_dir)) == before    # the table only: no plots written
    assert "wrote" not in out.out


def test_json_names_the_changes_and_uses_null(run_dir, capsys):
    data = json.loads(_report(run_dir, capsys, "--format", "json").out)
    assert data["metric"] == "total_cost" and data["horizon_years"] == 2
    assert data["changes"] == ["--set billing.rule=cumulative"]
    assert "(--set billing.rule=cumulative)" in data["title"]
    assert [r["strategy"] for r in data["rows"]] == STRATEGIES
    assert all(r["p95_hi"] is None for r in data["rows"])
    summary = _summary(run_dir, "total_cost")
    assert all(r["p50"] == summary[r["strategy"]]["p50"] for r in data["rows"])


def test_markdown_is_a_pipe_table(run_dir, capsys):
    lines = _report(run_dir, capsys, "--format", "md").out.splitlines()
    assert lines[0].startswith("**total_cost per path over 2 years, 16 paths (--set "
                               "billing.rule=cumulative)")
    assert lines[2].startswith("| strategy | mean | P50 |")
    assert lines[3].startswith("|---|---:|")
    # the oracle last, named as the hindsight bound it is
    assert [ln.split(" | ")[0].lstrip("| ") for ln in lines[4:]] == STRATEGIES[:-1] + [
        "oracle (hindsight bound)"]


def test_text_prints_the_table_and_writes_the_plots(run_dir, capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    out = _report(run_dir, capsys).out
    assert out.startswith("total_cost per path over 2 years, 16 paths (--set "
                          "billing.rule=cumulative):")
    for png in report.PLOTS:
        assert f"wrote {run_dir / png}" in out and (run_dir / png).is_file()


def test_cheapest_is_the_share_of_paths_won(run_dir, capsys):
    out = _report(run_dir, capsys, "--metric", "cheapest").out
    header = out.splitlines()[1].split()
    assert header[:3] == ["strategy", "paths", "won"] and "P50" not in header
    assert "CVaR95" not in out and "P90" not in out
    data = json.loads(_report(run_dir, capsys, "--metric", "cheapest", "--format", "json").out)
    shares = {r["strategy"]: r for r in data["rows"]}
    assert math.isclose(sum(r["share"] for r in shares.values()), 1.0)
    assert math.isclose(sum(r["paths_won"] for r in shares.values()), 16)
    for r in shares.values():
        assert 0 <= r["share_lo"] <= r["share"] <= r["share_hi"] <= 1
        assert f"{100 * r['share']:.1f}%" in out


def test_cheapest_leaves_the_hindsight_bound_out(run_dir, capsys):
    """The oracle knows each path's future: a bound, not a strategy one can
    buy. `cheapest` is among the others, so fit, which ties the oracle on
    most paths, gets its true share instead of half of it; the oracle is
    shown apart, labelled, in every table."""
    paths = store.read_table(run_dir / "paths.arrow")
    assert paths.column("strategy").to_pylist()[:4] == STRATEGIES
    econ = paths.column("economic_cost").to_numpy().reshape(-1, len(STRATEGIES))
    fit, oracle = STRATEGIES.index("fit"), STRATEGIES.index("oracle")
    assert (econ[:, fit] == econ[:, oracle]).mean() > 0.5           # the case in point
    buyable = econ[:, :oracle]
    wins = buyable == buyable.min(axis=1, keepdims=True)
    want = (wins / wins.sum(axis=1, keepdims=True)).mean(axis=0)
    shares = _summary(run_dir, "cheapest")
    assert list(shares) == STRATEGIES[:-1]
    for name, share in zip(STRATEGIES, want):
        assert shares[name]["mean"] == pytest.approx(share)
    assert shares["fit"]["mean"] > 0.5
    out = _report(run_dir, capsys, "--metric", "cheapest").out
    title, rows = out.splitlines()[0], out.splitlines()[3:]
    assert "(oracle, the hindsight bound, left out" in title
    assert not any(r.startswith("oracle") for r in rows)
    assert f"{100 * shares['fit']['mean']:.1f}%" in out
    data = json.loads(_report(run_dir, capsys, "--metric", "cheapest", "--format", "json").out)
    assert [r["strategy"] for r in data["rows"]] == STRATEGIES[:-1]
    # the other tables: the oracle apart, last, after a blank line, labelled
    lines = _report(run_dir, capsys, "--metric", "economic_cost", "--format", "text").out
    lines = lines.splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.startswith("oracle (hindsight bound)"))
    assert lines[i - 1] == "" and lines[i - 2].startswith(STRATEGIES[-2])
    data = json.loads(_report(run_dir, capsys, "--format", "json").out)
    assert [r["hindsight_bound"] for r in data["rows"]] == [False, False, False, True]
    assert report.cheapest_strategy(store.read_table(run_dir / "summary.arrow"),
                                    "economic_cost", "p50") != "oracle"


def test_share_interval_is_wilsons():
    lo, hi = report.share_interval(0.5, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)
    assert report.share_interval(0.0, 16)[0] == 0.0 and report.share_interval(1.0, 16)[1] == 1.0


def test_bad_format_or_metric_exits_2(run_dir, capsys):
    assert cli.main(["report", str(run_dir), "--format", "xlsx"]) == 2
    assert cli.main(["report", str(run_dir), "--format", "csv", "--metric", "nope"]) == 2
    assert "no metric 'nope'" in capsys.readouterr().err
