"""`simengine compare RUN_A RUN_B` (docs/model.md section 9): two runs side by side per
strategy, and, when they simulate the same customers on the same paths,
paired differences B - A with intervals (common random numbers)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simengine import cli, report
from simengine.report.compare import paired_stats, per_path, scenario_changes
from simengine.stats import distribution_stats

from test_cli import TINY

STRATEGIES = ["no-purchase", "fit", "vip-first", "oracle"]
MC = TINY.replace("seed = 7\n", 'seed = 7\nsampling = "mc"\n')


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three runs of the tiny scenario: A; B = A with one --set; C = A with
    another seed; D = A with other paths (all 80 paths, mc sampling)."""
    d = tmp_path_factory.mktemp("compare")
    (d / "tiny.toml").write_text(MC)
    base = ["run", str(d / "tiny.toml"), "--seed", "3", "--no-progress"]
    for name, extra in (("a", ["--paths", "80"]),
                        ("b", ["--paths", "80", "--set", "billing.rule=cumulative"]),
                        ("c", ["--paths", "80", "--seed", "4"]),
                        ("d", ["--paths", "40"])):
        assert cli.main(base + extra + ["--out", str(d / name)]) == 0
    return d


def _paired_rows(text):
    """{strategy: cells} of the paired table in the printed output."""
    lines = text.splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith("Paired differences"))
    rows = {}
    for line in lines[start:]:
        cells = line.split()
        if cells and cells[0] in STRATEGIES:
            rows[cells[0]] = line
        elif rows and not line.strip():
            break
    return rows


def test_one_set_apart_gives_paired_differences_with_intervals(runs, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert cli.main(["compare", str(runs / "a"), str(runs / "b")]) == 0
    out = capsys.readouterr().out
    assert 'billing.rule: "concurrent" -> "cumulative"' in out
    assert "B: " in out and "--set billing.rule=cumulative" in out
    assert "Paired differences of total_cost, B - A" in out and "on the same 80 paths" in out
    # the P95 of the per-path differences, not the gap between two P95s: said so
    assert "P95 of B-A" in out and "P95 B-A" not in out
    headers = [c.header for c in report.compare_runs(
        report.load_run(runs / "a"), report.load_run(runs / "b")).paired[1]]
    assert headers[:2] == ["strategy", "mean B-A"] and headers[4] == "P95 of B-A"
    rows = _paired_rows(out)
    assert sorted(rows) == sorted(STRATEGIES)
    a, b = report.load_run(runs / "a"), report.load_run(runs / "b")
    for s in STRATEGIES:
        _, va, _ = per_path(a, "total_cost", s)
        _, vb, _ = per_path(b, "total_cost", s)
        d = vb - va
        half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
        ds = distribution_stats(d)
        expected = [f"{d.mean():,.0f}", f"{d.mean() - half:,.0f} - {d.mean() + half:,.0f}",
                    f"{np.percentile(d, 95):,.0f}",
                    f"{ds['p95_lo']:,.0f} - {ds['p95_hi']:,.0f}"]
        for cell in expected:
            assert cell in rows[s], (s, cell, rows[s])


def test_a_run_and_a_comparison_show_themselves_briefly(runs):
    """Like a Result: one line and one table, not every table of the run (a
    loaded run printed 9 KB, a comparison 21 KB)."""
    a, b, c = (report.load_run(runs / n) for n in "abc")
    text = repr(a)
    assert text.startswith(f"<simengine.report.Run {runs / 'a'}: 'tiny', 4 strategies x 80 "
                           "paths over 2 years, seed 3>\n")
    assert "total_cost per path over 2 years, 80 paths" in text
    assert len(text.splitlines()) == 4 + len(STRATEGIES) + 1 and len(text) < 1500
    assert "pyarrow.Table" not in text and "manifest" not in text
    page = a._repr_html_()
    assert page.startswith('<div class="simengine-run">') and page.count("<table>") == 1
    assert page.count("<tr") == 1 + len(STRATEGIES) and len(page) < 5000
    assert page.count('<tr style="border-top') == 1          # the oracle apart, under a rule
    comp = report.compare_runs(a, b)
    text = repr(comp)
    assert text.startswith(f"<simengine.report.Comparison of total_cost: A {runs / 'a'}, "
                           f"B {runs / 'b'}>\n")
    assert 'billing.rule: "concurrent" -> "cumulative"' in text
    assert "Paired differences of total_cost" in text and "P95 of B-A" in text
    assert len(text) < 2000 and "pyarrow.Table" not in text
    page = comp._repr_html_()
    assert page.count("<table>") == 1 and "billing.rule" in page and len(page) < 5000
    unpaired = repr(report.compare_runs(a, c))      # other seeds: side by side only
    assert "(not paired: the seeds differ" in unpaired and "side by side" in unpaired
    assert len(unpaired) < 2000


def test_paired_interval_is_narrower_than_two_separate_estimates(runs):
    comp = report.compare_runs(report.load_run(runs / "a"), report.load_run(runs / "b"))
    assert comp.unpaired_reason is None and comp.paired is not None
    title, columns, rows = comp.paired
    headers = [c.header for c in columns]
    fit = next(r for r in rows if r[0] == "fit")

    def width(cell):
        lo, hi = (float(x.replace(",", "")) for x in cell.split(" - "))
        return hi - lo
    paired, unpaired = width(fit[headers.index("95% CI")]), width(fit[headers.index("unpaired CI")])
    assert 0 < paired < unpaired


def test_different_seeds_are_side_by_side_only(runs, capsys):
    assert cli.main(["compare", str(runs / "a"), str(runs / "c")]) == 0
    out = capsys.readouterr().out
    assert "Paired differences" not in out
    assert "No paired differences: the seeds differ (3 and 4)" in out
    assert "scenario.seed: 3 -> 4" in out
    for s in STRATEGIES:
        assert s in out


def test_different_paths_are_not_paired(runs):
    comp = report.compare_runs(report.load_run(runs / "a"), report.load_run(runs / "d"))
    assert comp.paired is None and "different paths" in comp.unpaired_reason


def test_a_run_against_itself_changes_nothing(runs):
    a = report.load_run(runs / "a")
    comp = report.compare_runs(a, a, "economic_cost")
    assert comp.changes == [] and "The two scenarios are the same." in comp.lines()
    for row in comp.paired[2]:
        assert row[1] == "0" and row[4] == "0"


def test_side_by_side_holds_each_runs_summary(runs):
    a, b = report.load_run(runs / "a"), report.load_run(runs / "b")
    title, columns, rows = report.compare_runs(a, b, "economic_cost").side
    headers = [c.header for c in columns]
    summ = {(r["strategy"], r["metric"]): r for r in b.summary.to_pylist()}
    for row in rows:
        assert row[headers.index("B P95")] == f"{summ[(row[0], 'economic_cost')]['p95']:,.0f}"


def test_bad_input_exits_2(runs, capsys):
    assert cli.main(["compare", str(runs / "a"), str(runs / "nope")]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert cli.main(["compare", str(runs / "a"), str(runs / "b"), "--metric", "nope"]) == 2
    assert "--metric: no metric 'nope'" in capsys.readouterr().err


def test_sectioning_over_replicates():
    """Under sobol sampling the intervals come from the replicates (docs/model.md section 12):
    q +- t(R-1) * sqrt(sum (q_r - q)^2 / (R (R - 1)))."""
    rng = np.random.default_rng(1)
    d = rng.normal(10, 3, 64)
    rep = np.repeat(np.arange(8), 8)
    st = paired_stats(d, rep)
    q_r = np.array([d[rep == r].mean() for r in range(8)])
    half = stats.t.ppf(0.975, 7) * math.sqrt(((q_r - d.mean()) ** 2).sum() / (8 * 7))
    assert st["mean_lo"] == pytest.approx(d.mean() - half)
    assert st["mean_hi"] == pytest.approx(d.mean() + half)
    p_r = np.array([np.percentile(d[rep == r], 95) for r in range(8)])
    p = np.percentile(d, 95)
    half = stats.t.ppf(0.975, 7) * math.sqrt(((p_r - p) ** 2).sum() / (8 * 7))
    assert st["p95_lo"] == pytest.approx(p - half) and st["p95"] == pytest.approx(p)


def test_scenario_changes_name_set_keys():
    a = {"scenario": {"seed": 1}, "segment": [{"name": "vip", "churn_rate": 0.1}],
         "strategy": [{"name": "fit", "headroom": 0.0}]}
    b = {"scenario": {"seed": 1}, "segment": [{"name": "vip", "churn_rate": 0.2}],
         "strategy": [{"name": "fit", "headroom": 0.1}]}
    assert scenario_changes(a, b) == ["segment.vip.churn_rate: 0.1 -> 0.2",
                                      "strategy.fit.headroom: 0.0 -> 0.1"]
