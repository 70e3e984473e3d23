"""`simengine run` as a newcomer meets it: a small version of the bundled
scenario on purpose (--scale), --set changes visible afterwards, the table
at 80 columns, the compile phase said and timed apart."""
from __future__ import annotations

import json
import re
import sys
import time

import pytest

import simengine
from simengine import cli, report
from simengine.report import progress

from test_cli import ROOT, sim


def test_scale_makes_a_small_version_of_the_bundled_scenario(tmp_path):
    p = sim("run", "--scale", "0.02", "--paths", 8, "--no-progress", "--out", "small",
            cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    m = json.loads((tmp_path / "small" / "manifest.json").read_text())
    assert m["scenario"]["population"]["size"] == 20_000
    assert [s["initial_contacts"] for s in m["scenario"]["segment"]] == [240, 900, 660, 200]
    assert m["scale"] == 0.02 and m["overrides"] == []
    assert "(--scale 0.02)" in p.stdout.splitlines()[0]


def test_a_population_too_small_for_the_file_says_how_to_scale(tmp_path):
    p = sim("validate", "default", "--set", "population.size=20000", cwd=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "population.size (from --set)" in p.stderr and "--scale 0.02" in p.stderr
    p = sim("validate", "default", "--scale", "0.02", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "20,000 customers" in p.stdout and p.stdout.rstrip().endswith("(--scale 0.02)")
    for bad in ("0", "-1", "x", "nan"):
        p = sim("validate", "default", "--scale", bad, cwd=tmp_path)
        assert p.returncode == 2 and "--scale" in p.stderr and "Traceback" not in p.stderr


def test_set_changes_show_in_the_title_manifest_and_directory(tmp_path):
    p = sim("run", "--scale", "0.01", "--paths", 8, "--no-progress",
            "--set", "billing.rule=cumulative", "--set", "strategy.fit.headroom=0.1",
            cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    out = re.search(r"^wrote (\S+)$", p.stdout, re.M).group(1)
    assert out.endswith("_scale=0.01_billing.rule=cumulative_strategy.fit.headroom=0.1")
    changes = "(--scale 0.01, --set billing.rule=cumulative, --set strategy.fit.headroom=0.1)"
    assert changes in p.stdout.replace("\n  ", " ")
    m = json.loads((tmp_path / out / "manifest.json").read_text())
    assert m["overrides"] == ["billing.rule=cumulative", "strategy.fit.headroom=0.1"]
    assert report.load_run(tmp_path / out).changes == [
        "--scale 0.01", "--set billing.rule=cumulative", "--set strategy.fit.headroom=0.1"]
    p = sim("report", out, cwd=tmp_path, COLUMNS="300")
    assert changes in p.stdout.splitlines()[0]


def test_changes_suffix_is_safe_and_short():
    class Args:
        scale = None
        set = ["segment.vip.churn_rate = 0.001", "scenario.name=../../x y", "a=" + "z" * 200]
    suffix = cli.changes_suffix(Args())
    assert re.fullmatch(r"_[A-Za-z0-9_.=,-]+", suffix) and len(suffix) <= 61
    assert suffix.startswith("_segment.vip.churn_rate=0.001_")
    Args.set = []
    assert cli.changes_suffix(Args()) == ""


def test_a_long_suffix_is_cut_between_changes_and_names_the_rest_by_a_hash():
    class Args:
        scale = 0.1
        set = ["billing.rule=cumulative", "segment.vip.churn_rate=0.001",
               "strategy.fit-headroom-20.headroom=0.3"]
    suffix = cli.changes_suffix(Args())
    assert len(suffix) <= 61
    kept, _, rest = suffix.rpartition("_")
    assert kept == "_scale=0.1_billing.rule=cumulative"        # whole changes only
    assert re.fullmatch(r"2-more-[0-9a-f]{8}", rest), suffix
    # the hash tells apart changes that share the kept ones
    Args.set = Args.set[:2] + ["strategy.fit-headroom-20.headroom=0.4"]
    assert cli.changes_suffix(Args()) != suffix
    assert cli.changes_suffix(Args()).startswith(kept + "_2-more-")
    # what fits is left whole, without a hash
    Args.set = ["billing.rule=cumulative"]
    assert cli.changes_suffix(Args()) == "_scale=0.1_billing.rule=cumulative"
    long_a, long_b = cli.safe_name("x" * 150 + "a"), cli.safe_name("x" * 150 + "b")
    assert len(long_a) == len(long_b) == 100 and long_a != long_b


def test_the_table_fits_80_columns_with_every_name_and_whole_numbers(tmp_path):
    """docs/model.md section 9 and the issue's check: `simengine run --paths 64` at 80 columns."""
    p = sim("run", "--paths", 64, "--no-progress", "--out", "r64", cwd=tmp_path, COLUMNS="80")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    header = next(i for i, x in enumerate(lines) if x.startswith("strategy "))
    names = [s.name for s in simengine.load_scenario("default").strategies]
    # the oracle last, apart after a blank line (the hindsight bound)
    rows = [r for r in lines[header + 2:header + 3 + len(names)] if r]
    assert [r.split()[0] for r in rows] == names
    assert rows[-1].startswith("oracle (hindsight bound)")
    for line in lines:
        assert len(line) <= 80, line
    columns = lines[header].split()
    assert "P50" in columns and "P95" in columns
    for r in rows:
        cells = re.split(r"\s{2,}", r.strip())[1:]
        assert len(cells) == len(re.split(r"\s{2,}", lines[header].strip())) - 1
        for c in cells:
            assert re.fullmatch(r"-?\d{1,3}(,\d{3})*|n/a|-?[\d,]+--?[\d,]+", c), (c, r)


def test_timing_line_shows_compile_apart():
    m = {"wall_seconds": 3.21, "compile_seconds": 17.9, "customer_events": 1_000_000,
         "events_per_second": 311_526}
    assert cli.timing_words(m, 21.3) == ("in 3.2 s (+ 17.9 s compiling the kernels; "
                                        "1,000,000 customer events, 0.3 M/s)")
    m["compile_seconds"] = 0.2
    assert "+ 0.2 s loading the compiled kernels" in cli.timing_words(m, 3.5)
    del m["compile_seconds"]            # an older engine: the elapsed time, as measured
    assert cli.timing_words(m, 3.5).startswith("in 3.5 s (1,000,000")


def test_compile_phase_is_said_when_it_lasts(monkeypatch, capsys):
    monkeypatch.setattr(progress, "PHASE_QUIET", 0.05)
    with progress.Progress("tiny", 4, enabled=False) as bar:
        bar.phase("compiling")
        time.sleep(0.3)
        bar.phase("simulating")
        bar(4, 4)
    err = capsys.readouterr().err
    assert "tiny: compiling (first run only) ..." in err
    with progress.Progress("quick", 4, enabled=False) as bar:
        bar.phase("compiling")              # a load from numba's cache: over at once
        bar.phase("simulating")
    time.sleep(0.2)
    assert "compiling" not in capsys.readouterr().err


def test_compile_phase_on_the_bar(monkeypatch):
    """On a terminal the bar's label says it while it lasts."""
    pytest.importorskip("rich")
    with progress.Progress("tiny", 4, enabled=True) as bar:
        bar.phase("compiling")
        assert bar.bar.tasks[0].description == "tiny: compiling (first run only)"
        bar(1, 4)
        assert bar.bar.tasks[0].description == "tiny"


@pytest.mark.parametrize("width", [80, 60])
def test_progress_line_keeps_every_number_whole_on_a_narrow_terminal(width):
    """The label and the bar give way, never a count or a time (rich used to
    cut them: `elapsed 0:00:... left -:--:...`)."""
    import io

    from rich.console import Console
    out = io.StringIO()
    console = Console(width=width, file=out, force_terminal=True, color_system=None)
    now = [0.0]
    bar = progress.rich_bar("paths", console, get_time=lambda: now[0], auto_refresh=False)
    task = bar.add_task("default (7 strategies, 2 threads)", total=1_000_000,
                        status="3/10 points")
    now[0] = 3600.0
    bar.update(task, completed=100_000)
    now[0] = 3620.0                     # 233,333 paths in 20 s: 58 s left
    bar.update(task, completed=333_333)
    console.print(bar.get_renderable())
    (line,) = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue()).splitlines()
    assert len(line) <= width
    assert line.endswith(" 333,333/1,000,000 paths 3/10 points 1:00:20, 0:58 left"), line
    if width == 80:
        assert line.startswith("default (7 strat"), line


def test_paths_rounded_up_are_said_before_the_run_and_the_title_says_what_ran(tmp_path):
    """--paths 20 under sobol with 8 replicates runs 24 paths: stderr says
    so (and that 3 per replicate is not a power of two) before the run
    starts, and the table's title counts the paths that ran."""
    p = sim("run", "--scale", "0.01", "--paths", 20, "--no-progress", "--out", "r20",
            cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    err = p.stderr
    rounded = err.index("scenario.paths: 20 is not a multiple of scenario.replicates = 8: "
                        "rounded up to 24 paths")
    power = err.index("3 points per replicate (24 paths / 8 replicates) is not a power of two")
    assert rounded < power < err.index("running 24 paths")
    assert ", 24 paths (--scale 0.01)" in p.stdout.splitlines()[0]


def test_optimize_says_what_it_changes_and_its_stages_in_a_pipe(tmp_path):
    """stderr a pipe (a log): what changes the numbers asked for, before any
    work, then a line per stage (search rung: candidates left and paths;
    validation), where a terminal would show the bar."""
    space = str(ROOT / "docs" / "examples" / "optimize-quick.toml")
    p = sim("optimize", "--scale", "0.02", "--space", space, "--paths", 20,
            "--validate-paths", 12, "--top", 50, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    lines = p.stderr.splitlines()
    first_stage = next(i for i, x in enumerate(lines) if x.startswith("simengine: optimize: "))
    warnings = "\n".join(lines[:first_stage])
    assert "search paths: 20 is not a multiple of scenario.replicates = 8: rounded up to " \
        "24 paths" in warnings
    assert "validation paths: 12 is not a multiple of scenario.replicates = 8: rounded up " \
        "to 16 paths" in warnings
    assert re.search(r"top: 50 candidates asked to be validated, but the space holds "
                     r"\d+ distinct candidates: all are validated", warnings)
    stages = lines[first_stage:]
    assert re.fullmatch(r"simengine: optimize: search 1/\d: \d+ candidates left, search paths "
                        r"1-\d+ of 24 \(\d+ s so far\)", stages[0]), stages
    assert any(re.search(r"search (\d)/\1: \d+ candidates left, search paths \d+-24 of 24", x)
               for x in stages), stages
    assert any(re.fullmatch(r"simengine: optimize: validation: the top \d+, the scenario's "
                            r"own strategies and the hindsight bound on 16 fresh paths "
                            r"\(\d+ s so far\)", x) for x in stages), stages
