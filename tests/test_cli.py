"""The command line end to end (docs/model.md sections 7 and 9): `python -m simengine`
in a subprocess on tiny scenarios, plus a few in-process checks of the exit
paths that are hard to provoke from outside (unexpected failures, cleanup of a
write that fails midway)."""
from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

import simengine
from simengine import chunks, cli, report, store

ROOT = Path(__file__).resolve().parents[1]

TINY = textwrap.dedent("""\
    [scenario]
    name = "tiny"
    horizon_years = 2
    paths = 20
    seed = 7

    [population]
    size = 6000

    [[segment]]
    name = "vip"
    share = 0.25
    initial_contacts = 800
    adoption_rate = 0.004
    churn_rate = 0.001
    churn_shape = 2.0
    readd_prob = 0.5
    lost_value = 100.0

    [[segment]]
    name = "rest"
    share = 0.75
    initial_contacts = 700
    adoption_rate = 0.002
    churn_rate = 0.003
    readd_prob = 0.2
    lost_value = 5.0

    [growth]
    season = [1, 1, 1, 1, 1, 1.8, 1, 1, 1, 1, 2.5, 1.2]
    sigma = 0.25
    churn_sigma = 0.1

    [billing]
    certification_fee = 300
    tiers = [[2_500, 250], [4_000, 400], [8_000, 800]]

    [overflow]
    account_capacity = 500
    account_cost = 600

    [[strategy]]
    name = "no-purchase"
    renewal = "none"
    upgrade = "none"

    [[strategy]]
    name = "fit"
    renewal = "fit"
    on_blocked = "retry"

    [[strategy]]
    name = "vip-first"
    renewal = "fixed"
    tier = 2_500
    upgrade = "none"
    admit = ["vip"]
    others = "overflow"
    on_blocked = "overflow"

    [[strategy]]
    name = "oracle"
    renewal = "oracle"
    """)

I, F, S = pa.int64(), pa.float64(), pa.string()
# docs/model.md section 7, column for column: the contract downstream reporting relies on.
SPEC_COLUMNS = {
    "paths.arrow": [
        ("strategy", S), ("path", I), ("total_cost", F), ("tier_cost", F),
        ("upgrade_cost", F), ("certification_cost", F), ("overflow_cost", F),
        ("lost_value", F), ("economic_cost", F), ("peak_contacts", I), ("final_contacts", I),
        ("first_adds", I), ("readds", I), ("churns", I), ("blocked", I), ("blocked_pending", I), ("lost", I),
        ("overflowed", I), ("upgrades", I), ("growth_multiplier", F),
        ("churn_multiplier", F), ("replicate", I), ("regret", F)],
    "periods.arrow": [
        ("strategy", S), ("path", I), ("period", I), ("tier_size", I), ("capacity_end", I),
        ("tier_cost", F), ("upgrade_cost", F), ("certification_cost", F),
        ("overflow_cost", F), ("peak_usage", I), ("peak_contacts", I), ("first_adds", I),
        ("readds", I), ("churns", I), ("blocked", I), ("blocked_pending", I)],
    "monthly.arrow": [
        ("strategy", S), ("path", I), ("month", I), ("contacts", I), ("usage", I),
        ("capacity", I), ("cumulative_cost", F)],
    "summary.arrow": [("strategy", S), ("metric", S), ("n", I)] + [
        (c, F) for c in ("mean", "std", "se", "p5", "p50", "p90", "p95", "p99", "p95_lo",
                         "p95_hi", "cvar95", "cvar95_lo", "cvar95_hi")],
}
STRATEGIES = ["no-purchase", "fit", "vip-first", "oracle"]


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("SIMENGINE_DEBUG", None)
    env.update(extra)
    return env


def sim(*args, cwd, timeout=300, **env):
    """Run `python -m simengine ARGS` and return the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "simengine", *map(str, args)], cwd=cwd,
                          env=_env(**env), capture_output=True, text=True, timeout=timeout)


def assert_clean_error(p, code=2):
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout, p.stderr


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    (d / "tiny.toml").write_text(TINY)
    return d


@pytest.fixture(scope="module")
def first_run(workdir):
    """One run of the tiny scenario, shared by the read-only tests."""
    p = sim("run", "tiny.toml", "--paths", 24, "--seed", 3, "--threads", 2, "--out", "run1",
            cwd=workdir)
    assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def run_dir(workdir, first_run):
    return workdir / "run1"


# --------------------------------------------------------------------------
# run: files, schemas, metadata, table

def test_run_writes_the_five_files_with_spec_schemas(run_dir):
    assert sorted(os.listdir(run_dir)) == sorted(report.FILES)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    for name, columns in SPEC_COLUMNS.items():
        with ipc.open_file(run_dir / name) as r:
            table = r.read_all()
        assert [(f.name, f.type) for f in table.schema] == columns, name
        meta = table.schema.metadata
        assert meta[b"scenario_sha256"].decode() == manifest["scenario_sha256"]
        assert meta[b"engine_version"].decode() == simengine.__version__
    paths = store.read_table(run_dir / "paths.arrow")
    assert paths.num_rows == 24 * len(STRATEGIES)
    assert store.read_table(run_dir / "periods.arrow").num_rows == 24 * 4 * 2
    assert store.read_table(run_dir / "monthly.arrow").num_rows == 24 * 4 * 24
    metrics = set(store.read_table(run_dir / "summary.arrow").column("metric").to_pylist())
    assert {"total_cost", "economic_cost", "peak_contacts", "blocked", "cheapest",
            "regret"} <= metrics
    # total = tier + upgrade + certification + overflow; economic = total + lost value
    t = paths.to_pydict()
    for i in range(paths.num_rows):
        parts = sum(t[c][i] for c in ("tier_cost", "upgrade_cost", "certification_cost",
                                      "overflow_cost"))
        assert t["total_cost"][i] == pytest.approx(parts)
        assert t["economic_cost"][i] == pytest.approx(parts + t["lost_value"][i])


def test_run_manifest(run_dir):
    m = json.loads((run_dir / "manifest.json").read_text())
    for key in ("scenario", "scenario_sha256", "seed", "engine_version", "threads",
                "wall_seconds", "customer_events", "events_per_second"):
        assert key in m, key
    assert m["seed"] == 3 and m["paths"] == 24 and m["threads"] >= 1
    assert m["engine_version"] == simengine.__version__
    assert m["kind"] == "run"
    assert m["scenario"]["scenario"]["paths"] == 24      # the resolved scenario, as run
    assert len(m["scenario_sha256"]) == 64
    assert m["customer_events"] > 0


def test_run_prints_table_and_directory(first_run):
    out = first_run.stdout
    assert "total_cost" in out
    for head in ("mean", "P50", "P90", "P95", "P95 95% CI", "P99", "CVaR95"):
        assert head in out
    for s in STRATEGIES:
        assert s in out
    assert "wrote run1" in out
    # not a terminal: a one-line summary instead of a progress bar
    assert "24 paths" in first_run.stderr and "\r" not in first_run.stderr


def test_run_names_the_cheapest_in_economic_cost_under_the_table_of_fees(first_run, run_dir):
    """The table is fees (total_cost); the line under it names the strategy
    cheapest in economic cost at P50 (never the oracle, a hindsight bound)
    and the command that shows them all."""
    summary = store.read_table(run_dir / "summary.arrow").to_pylist()
    econ = {r["strategy"]: (r["p50"], r["mean"]) for r in summary
            if r["metric"] == "economic_cost" and r["strategy"] != "oracle"}
    best = min(econ, key=econ.get)
    text = " ".join(first_run.stdout.split())          # as one line, wrapped or not
    assert (f"Cheapest in economic cost (fees + lost customer value) at P50: {best}, "
            f"{econ[best][0]:,.0f} yuan") in text
    assert "(oracle: a hindsight bound, not counted)" in text
    assert "See simengine report run1 --metric economic_cost" in text
    assert text.index("Cheapest in economic cost") > text.index("oracle ")   # under the table


def test_the_cheapest_in_economic_cost_is_never_the_oracle_nor_the_fees_alone():
    rows = []
    for name, fees, econ in (("no-purchase", 9_000, 9_900_000), ("fit", 10_500, 10_600),
                             ("fixed", 69_000, 69_000), ("oracle", 10_400, 10_400)):
        for metric, p50 in (("total_cost", fees), ("economic_cost", econ)):
            rows.append({"strategy": name, "metric": metric, "p50": float(p50),
                         "mean": float(p50)})
    summary = pa.Table.from_pylist(rows)
    names = ["no-purchase", "fit", "fixed", "oracle"]
    line = cli.commands.economic_cost_line(summary, names, ["oracle"], "results/x")
    assert line == ("Cheapest in economic cost (fees + lost customer value) at P50: fit, 10,600 "
                    "yuan; no-purchase, cheapest in fees, 9,900,000 (oracle: a hindsight bound, "
                    "not counted). See simengine report results/x --metric economic_cost")
    wrapped = cli.commands.economic_cost_line(summary, names, ["oracle"], "results/x", width=60)
    assert all(len(x) <= 60 for x in wrapped.splitlines()[:-1])
    assert wrapped.splitlines()[-1].endswith("simengine report results/x --metric economic_cost")
    assert cli.commands.economic_cost_line(summary, ["fit", "oracle"], ["oracle"], "x") is None


def test_second_run_writes_a_different_directory(workdir):
    dirs = []
    for _ in range(2):
        p = sim("run", "tiny.toml", "--paths", 4, cwd=workdir)
        assert p.returncode == 0, p.stderr
        line = [x for x in p.stdout.splitlines() if x.startswith("wrote ")][0]
        dirs.append(Path(line[len("wrote "):]))
    assert dirs[0] != dirs[1]
    for d in dirs:
        assert d.parts[:2] == ("results", "tiny")
        assert (workdir / d / "manifest.json").is_file()


def test_out_that_exists_is_refused(workdir, run_dir):
    before = sorted(os.listdir(run_dir))
    p = sim("run", "tiny.toml", "--paths", 2, "--out", "run1", cwd=workdir)
    assert_clean_error(p)
    assert "already exists" in p.stderr
    assert sorted(os.listdir(run_dir)) == before


def test_out_not_writable(workdir):
    (workdir / "a-file").write_text("x")
    p = sim("run", "tiny.toml", "--paths", 2, "--out", "a-file/run", cwd=workdir)
    assert_clean_error(p)
    assert "a-file" in p.stderr and "not a directory" in p.stderr


# --------------------------------------------------------------------------
# validate, --set

def test_validate_ok(workdir):
    p = sim("validate", "tiny.toml", cwd=workdir)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ok:") and "tiny" in lines[0]


def test_validate_lists_every_problem(workdir):
    bad = TINY.replace("paths = 20", 'paths = "many"') \
              .replace("readd_prob = 0.5", "readd_prob = 1.5") \
              .replace('name = "fit"\nrenewal = "fit"', 'name = "fit"\nrenewal = "sometimes"') \
              .replace("[overflow]", "[overflow]\ncolour = 3")
    (workdir / "bad.toml").write_text(bad)
    p = sim("validate", "bad.toml", cwd=workdir)
    assert_clean_error(p)
    errors = [x for x in p.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 4, p.stderr
    for key in ("scenario.paths", "segment.vip.readd_prob", "strategy.fit.renewal",
                "overflow.colour"):
        assert any(f"bad.toml: {key}" in e for e in errors), key
    assert "expected" in p.stderr


def test_unknown_set_keys_are_all_reported(workdir):
    p = sim("run", "tiny.toml", "--set", "population.sizee=3", "--set",
            "strategy.nope.headroom=0.1", "--set", "colour=red", cwd=workdir)
    assert_clean_error(p)
    for key in ("population.sizee", "strategy.nope.headroom", "colour"):
        assert f"--set {key}" in p.stderr
    assert not (workdir / "results" / "tiny").exists() or all(
        (d / "manifest.json").exists() for d in (workdir / "results" / "tiny").iterdir())


def test_set_value_of_wrong_type(workdir):
    p = sim("run", "tiny.toml", "--set", "population.size=lots", cwd=workdir)
    assert_clean_error(p)
    assert "population.size (from --set)" in p.stderr and "integer" in p.stderr
    assert cli.main(["run", str(workdir / "tiny.toml"), "--paths", "abc"]) == 2
    assert cli.main(["run", str(workdir / "tiny.toml"), "--set", "billing.certified=3"]) == 2


def test_set_changes_the_run(workdir):
    p = sim("run", "tiny.toml", "--paths", 3, "--out", "setrun", "--set",
            "billing.rule=cumulative", "--set", "strategy.fit.headroom=0.1", cwd=workdir)
    assert p.returncode == 0, p.stderr
    m = json.loads((workdir / "setrun" / "manifest.json").read_text())
    assert m["scenario"]["billing"]["rule"] == "cumulative"
    assert [s for s in m["scenario"]["strategy"] if s["name"] == "fit"][0]["headroom"] == 0.1


def test_memory_refusal_before_any_work(tmp_path):
    t = time.perf_counter()
    p = sim("run", "--set", "population.size=100000000000", "--paths", 10**9, cwd=tmp_path)
    assert_clean_error(p)
    assert "memory" in p.stderr and "GiB" in p.stderr and "limit" in p.stderr
    assert time.perf_counter() - t < 60
    assert not (tmp_path / "results").exists()


# --------------------------------------------------------------------------
# report

def test_report_writes_three_pngs(workdir, run_dir):
    p = sim("report", "run1", cwd=workdir)
    assert p.returncode == 0, p.stderr
    assert "P95 95% CI" in p.stdout and "vip-first" in p.stdout
    for name in ("cost_distribution.png", "contacts_vs_capacity.png", "yearly_cost.png"):
        data = (run_dir / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name
    assert not [f for f in os.listdir(run_dir) if f.startswith(".")]   # no temp files left


def test_report_on_something_that_is_not_a_run(workdir, monkeypatch, capsys):
    (workdir / "empty").mkdir()
    (workdir / "half").mkdir()
    (workdir / "half" / "manifest.json").write_text("{}")
    p = sim("report", "empty", cwd=workdir)
    assert_clean_error(p)
    assert "not a run directory" in p.stderr
    monkeypatch.chdir(workdir)                  # the same through main(), in-process
    for target, words in (("nowhere", "no such directory"), ("tiny.toml", "not a directory"),
                          ("half", "missing paths.arrow")):
        assert cli.main(["report", target]) == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err, (target, err)


def test_report_prints_the_table_of_a_run_it_cannot_write_in(workdir, run_dir, monkeypatch,
                                                             capsys, tmp_path):
    """A read-only run directory: the table (and the economic-cost line),
    then a warning that the plots could not be written, exit 0; --html,
    asked for, is exit 2 after the table."""
    monkeypatch.chdir(workdir)

    def read_only(*a, **k):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(report, "write_plots", read_only)
    monkeypatch.setattr(report, "write_html", read_only)
    assert cli.main(["report", "run1"]) == 0
    out, err = capsys.readouterr()
    assert "P95 95% CI" in out and "vip-first" in out and "Cheapest in economic cost" in out
    assert "warning: run1: cannot write the plots: Permission denied" in err
    assert "wrote" not in out
    assert cli.main(["report", "run1", "--html"]) == 2
    out, err = capsys.readouterr()
    assert "P95 95% CI" in out and "error: run1: cannot write report.html" in err
    # a directory that really refuses files (not as root, who may write anywhere)
    if os.geteuid() != 0:
        monkeypatch.undo()
        copy = tmp_path / "read-only"
        __import__("shutil").copytree(run_dir, copy)
        copy.chmod(0o555)
        try:
            assert cli.main(["report", str(copy)]) == 0
            out, err = capsys.readouterr()
            assert "P95 95% CI" in out and "cannot write the plots" in err
        finally:
            copy.chmod(0o755)


def test_report_on_a_folder_of_runs_lists_them_and_an_optimize_output_points_to_its_run(
        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    runs = [Path("results") / "tiny" / f"2024010{i}-120000-abcdef" for i in range(1, 8)]
    for i, d in enumerate(runs):
        d.mkdir(parents=True)
        (d / "manifest.json").write_text('{"kind": "run"}')
        os.utime(d, (1_700_000_000 + i, 1_700_000_000 + i))
    for target in ("results/tiny", "results"):
        assert cli.main(["report", target]) == 2
        err = capsys.readouterr().err
        assert f"error: {target}: not a run but a folder of 7 runs; report one of them " \
            "(the newest first, 2 older not shown):" in err
        listed = re.findall(r"^  simengine report (\S+)$", err, re.M)
        assert listed == [str(d) for d in runs[::-1][:5]]
    opt = tmp_path / "opt"
    (opt / "validation").mkdir(parents=True)
    (opt / "manifest.json").write_text('{"kind": "optimize"}')
    (opt / "validation" / "manifest.json").write_text('{"kind": "run"}')
    assert cli.main(["report", str(opt)]) == 2
    err = capsys.readouterr().err
    assert f"the output of `simengine optimize`, not a run; its run is {opt / 'validation'}" \
        in err and err.rstrip().endswith(f"simengine report {opt / 'validation'}")
    assert cli.main(["compare", str(opt), str(runs[0])]) == 2
    assert f"give {opt / 'validation'} to compare instead" in capsys.readouterr().err


def test_report_dispatches_sweep_directories(tmp_path, monkeypatch, capsys):
    (tmp_path / "manifest.json").write_text(json.dumps({"kind": "sweep"}))
    import simengine.sweeps as sweeps
    seen = []

    class Printed:
        def print(self):
            seen.append("printed")
    monkeypatch.setattr(sweeps, "report_sweep",
                        lambda path, *a, **k: seen.append(path) or Printed())
    assert cli.main(["report", str(tmp_path)]) == 0
    assert seen == [tmp_path, "printed"]
    # a folder that is not a sweep: the sweep package's error, exit 2
    monkeypatch.undo()
    assert cli.main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


# --------------------------------------------------------------------------
# safety: names, interrupts, partial writes

def test_safe_name():
    assert cli.safe_name("default") == "default"
    assert cli.safe_name("../../etc") == "_.._etc"
    assert cli.safe_name("..") == "scenario"
    assert cli.safe_name("a b/c:d\u00e9") == "a_b_c_d_"
    assert cli.safe_name(".hidden") == "hidden"
    assert "/" not in cli.safe_name("/abs/path") and len(cli.safe_name("x" * 500)) == 100


@pytest.mark.parametrize("name", ["../../etc", "/tmp/evil", "a b:c\\d", ".."])
def test_malicious_scenario_name_stays_inside(tmp_path, name):
    work = tmp_path / "work"
    work.mkdir()
    (work / "tiny.toml").write_text(TINY.replace('name = "tiny"', f"name = {json.dumps(name)}"))
    p = sim("run", "tiny.toml", "--paths", 2, cwd=work)
    assert p.returncode == 0, p.stderr
    assert "not safe as a directory name" in p.stderr
    assert sorted(os.listdir(tmp_path)) == ["work"]
    (named,) = os.listdir(work / "results")
    assert named == cli.safe_name(name) and not named.startswith(".")
    (run,) = os.listdir(work / "results" / named)
    assert (work / "results" / named / run / "manifest.json").is_file()


def _all_files(root):
    return [Path(d) / f for d, _, files in os.walk(root) for f in files]


def test_interrupt_leaves_nothing_that_looks_complete(tmp_path):
    # the bundled default at full size: a chunk of paths takes about a second
    proc = subprocess.Popen(
        [sys.executable, "-m", "simengine", "run", "--paths", "5000", "--out", "interrupted"],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first = proc.stderr.readline()          # "...: running 5,000 paths ..."
        while first.startswith("warning: "):   # 625 paths per replicate: not a power of two
            first = proc.stderr.readline()
        assert "running" in first, first
        time.sleep(1.5)
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        took = time.perf_counter() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (out, err)
    assert "interrupted: nothing written" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2
    assert took < 10, took
    assert not (tmp_path / "interrupted").exists()
    assert not [f for f in _all_files(tmp_path) if f.name == "manifest.json"]
    assert os.listdir(tmp_path) == []           # no hidden partial directory either


# `python -c` with a Ctrl-C that lands where one pressed during a first compile
# often does: llvmlite's object-cache hook, the ctypes callback LLVM makes after
# generating a module's machine code in C (the signal's handler runs there)
CTRL_C_IN_LLVM_CALLBACK = """
import os, signal, sys
from llvmlite.binding import ExecutionEngine
from simengine import cli

find_module = ExecutionEngine._find_module_ptr
sent = []

def find_module_then_ctrl_c(self, module_ptr):
    callers, f = [], sys._getframe(1)
    while f is not None:
        callers.append(f.f_code.co_name)
        f = f.f_back
    if not sent and callers[0] == "_raw_object_cache_notify" and "compile_kernels" in callers:
        sent.append(True)
        print("SIGINT in llvmlite's callback", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGINT)
    return find_module(self, module_ptr)

ExecutionEngine._find_module_ptr = find_module_then_ctrl_c
sys.exit(cli.main(sys.argv[1:]))
"""


def test_ctrl_c_while_compiling_is_not_lost(tmp_path):
    # an empty numba cache of its own, so that the kernels really compile
    work = tmp_path / "work"
    work.mkdir()
    (work / "tiny.toml").write_text(TINY)
    proc = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_IN_LLVM_CALLBACK, "run", "tiny.toml", "--paths", "4",
         "--out", "interrupted"],
        cwd=work, env=_env(NUMBA_CACHE_DIR=str(tmp_path / "numba-cache")),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    heard = []                          # (when, line) of each line of stderr
    try:
        for line in proc.stderr:
            heard.append((time.perf_counter(), line))
        proc.wait(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    ended = time.perf_counter()
    err = "".join(line for _, line in heard)
    assert "compiling" in err and "SIGINT in llvmlite's callback" in err, err
    # acknowledged at once, saying when it acts; acted on when compiling returned
    sent = next(t for t, line in heard if "SIGINT in llvmlite's callback" in line)
    ack = [(t, line) for t, line in heard if "Ctrl-C received" in line]
    assert len(ack) == 1 and ack[0][0] - sent < 2, (ack, sent)
    assert "it takes effect when the kernels' compilation returns (a first compilation " \
        "takes 20 to 60 s" in ack[0][1]
    stopped = next(t for t, line in heard if "interrupted: nothing written" in line)
    assert ack[0][0] <= stopped <= ended
    assert proc.returncode == 130, (proc.returncode, err)
    assert "interrupted: nothing written" in err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert os.listdir(work) == ["tiny.toml"]


def test_ctrl_c_in_a_callback_from_c_is_raised_after_compiling(monkeypatch):
    # the mechanism without numba: ctypes drops an exception raised in a callback
    ctrl_c = ctypes.CFUNCTYPE(None)(lambda: os.kill(os.getpid(), signal.SIGINT))
    done = []
    monkeypatch.setattr(chunks, "allocate_outputs", lambda packed, paths: None)
    monkeypatch.setattr(chunks, "simulate_into",
                        lambda *args: (ctrl_c(), done.append("compiled")))
    # Ctrl-C's default handler, whatever the test runner inherited
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            chunks.compile_kernels(None)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
    assert done == ["compiled"]


@pytest.fixture(scope="module")
def small_result():
    scn = simengine.scenario.scenario_from_dict(__import__("tomllib").loads(TINY), "tiny")
    return simengine.run(scn, paths=3, threads=1)


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_write_that_fails_midway_leaves_nothing(tmp_path, monkeypatch, small_result, exc):
    real = ipc.new_file
    calls = []

    def failing(path, schema, *a, **k):
        calls.append(path)
        if len(calls) == 2:
            raise exc
        return real(path, schema, *a, **k)
    monkeypatch.setattr(store.ipc, "new_file", failing)
    with pytest.raises(type(exc)):
        small_result.write(tmp_path / "out")
    assert len(calls) == 2
    assert os.listdir(tmp_path) == []           # the temporary sibling is gone too


def test_write_refuses_existing_directory(tmp_path, small_result):
    small_result.write(tmp_path / "out")
    with pytest.raises(FileExistsError):
        small_result.write(tmp_path / "out")


# --------------------------------------------------------------------------
# exit codes of other failures (in-process)

def test_other_failure_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys):
    (tmp_path / "tiny.toml").write_text(TINY)
    monkeypatch.chdir(tmp_path)
    import simengine.engine as engine

    def boom(*a, **k):
        raise RuntimeError("kernel exploded\nsecond line")
    monkeypatch.setattr(engine, "run", boom)
    monkeypatch.delenv("SIMENGINE_DEBUG", raising=False)
    assert cli.main(["run", "tiny.toml", "--paths", "2"]) == 1
    err = capsys.readouterr().err
    assert "kernel exploded" in err and "second line" not in err and "Traceback" not in err
    monkeypatch.setenv("SIMENGINE_DEBUG", "1")
    assert cli.main(["run", "tiny.toml", "--paths", "2"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_keyboard_interrupt_in_process(tmp_path, monkeypatch, capsys):
    (tmp_path / "tiny.toml").write_text(TINY)
    monkeypatch.chdir(tmp_path)
    import simengine.engine as engine

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(engine, "run", interrupted)
    assert cli.main(["run", "tiny.toml", "--paths", "2"]) == 130
    err = capsys.readouterr().err
    assert "interrupted: nothing written" in err and "Traceback" not in err
    assert not (tmp_path / "results").exists() or not _all_files(tmp_path / "results")


def test_usage_errors_exit_2(capsys):
    assert cli.main([]) == 2
    assert cli.main(["run", "--threads", "0"]) == 2
    assert cli.main(["frobnicate"]) == 2
    assert cli.main(["--help"]) == 0
    capsys.readouterr()


def test_warmup(capsys):
    assert cli.main(["warmup", "--threads", "1"]) == 0
    assert "warmup" in capsys.readouterr().out


# --------------------------------------------------------------------------
# the table

def test_plain_table(run_dir):
    run = report.load_run(run_dir)
    text = report.percentile_table(run.summary, "total_cost", run.horizon_years, run.strategies)
    lines = text.splitlines()
    assert lines[0].startswith("total_cost per path over 2 years, 24 paths")
    assert lines[1].split()[:2] == ["strategy", "mean"]
    # the oracle last, after a blank line: the hindsight bound, not a choice
    assert [ln.split()[0] if ln else "" for ln in lines[3:]] == STRATEGIES[:-1] + ["", "oracle"]
    assert lines[-1].startswith("oracle (hindsight bound)")
    summary = {(r["strategy"], r["metric"]): r for r in run.summary.to_pylist()}
    p50 = summary[("fit", "total_cost")]["p50"]
    assert f"{p50:,.0f}" in lines[3 + STRATEGIES.index("fit")]
    with pytest.raises(ValueError):
        report.percentile_table(run.summary, "no-such-metric")


# --------------------------------------------------------------------------
# reading the files elsewhere (README "Reading the results")

def test_read_with_pyarrow_ipc_and_dataset(run_dir):
    import pyarrow.dataset as ds
    with pa.ipc.open_file(run_dir / "paths.arrow") as r:
        t = r.read_all()
    assert t.num_rows == 24 * 4
    d = ds.dataset(run_dir / "monthly.arrow", format="ipc")
    fit = d.to_table(filter=ds.field("strategy") == "fit", columns=["month", "contacts"])
    assert fit.num_rows == 24 * 24


def test_read_with_pandas(run_dir):
    pd = pytest.importorskip("pandas")
    df = pd.read_feather(run_dir / "paths.arrow")
    q = df.groupby("strategy")["total_cost"].quantile(0.95)
    summary = pd.read_feather(run_dir / "summary.arrow").set_index(["strategy", "metric"])
    assert q["fit"] == pytest.approx(summary.loc[("fit", "total_cost"), "p95"])


def test_read_with_polars(run_dir):
    pl = pytest.importorskip("polars")
    df = pl.read_ipc(run_dir / "periods.arrow")
    yearly = df.group_by("strategy", "period").agg(pl.col("tier_cost").mean())
    assert yearly.height == 4 * 2


def test_read_with_duckdb(run_dir):
    duckdb = pytest.importorskip("duckdb")
    import pyarrow.dataset as ds
    paths = ds.dataset(run_dir / "paths.arrow", format="ipc")   # noqa: F841 (DuckDB scans it)
    rows = duckdb.sql("SELECT strategy, quantile_cont(total_cost, 0.95) AS p95 "
                      "FROM paths GROUP BY strategy ORDER BY strategy").fetchall()
    assert [r[0] for r in rows] == sorted(STRATEGIES)
    t = store.read_table(run_dir / "paths.arrow").to_pydict()
    fit = np.array([c for s, c in zip(t["strategy"], t["total_cost"]) if s == "fit"])
    assert dict(rows)["fit"] == pytest.approx(np.percentile(fit, 95))


# --------------------------------------------------------------------------
# --events (the writer lives in simengine.calibrate)

def test_run_events(workdir):
    p = sim("run", "tiny.toml", "--paths", 2, "--out", "evrun", "--events",
            "--events-strategy", "fit", cwd=workdir)
    assert p.returncode == 0, p.stderr
    t = store.read_table(workdir / "evrun" / "events.arrow")
    assert {"time", "external_user_id", "event", "path", "segment"} <= set(t.column_names)
    assert t.num_rows > 0 and t.schema.metadata[b"strategy"] == b"fit"
    p = sim("run", "tiny.toml", "--paths", 2, "--events", "--events-strategy", "nope",
            cwd=workdir)
    assert_clean_error(p)
    assert "nope" in p.stderr


def test_events_strategy_needs_events(workdir):
    p = sim("run", "tiny.toml", "--paths", 2, "--out", "no-log", "--events-strategy", "fit",
            cwd=workdir)
    assert_clean_error(p)
    assert "--events-strategy: only with --events" in p.stderr
    assert not (workdir / "no-log").exists()


def test_events_logs_the_oracle_by_default(workdir):
    """The oracle blocks nobody: its log is the customers' own behaviour."""
    assert cli.default_log_strategy(simengine.load_scenario(workdir / "tiny.toml")) == "oracle"
    p = sim("run", "tiny.toml", "--paths", 2, "--out", "evdefault", "--events", cwd=workdir)
    assert p.returncode == 0, p.stderr
    t = store.read_table(workdir / "evdefault" / "events.arrow")
    assert t.schema.metadata[b"strategy"] == b"oracle"
    assert "contact log of 'oracle' written" in p.stderr


def test_events_too_large_is_refused_before_the_run_with_advice_that_works(tmp_path):
    """The bundled default logs about 600,000 rows a path: refused before any
    simulation, with a command that fits; the advised command runs."""
    p = sim("run", "--paths", 5, "--out", "big", "--events", cwd=tmp_path)
    assert_clean_error(p)
    assert "more than the limit of 1,000,000 rows" in p.stderr
    assert not (tmp_path / "big").exists() and "paths x" not in p.stderr   # no run
    advice = re.search(r"(--scale \S+ --paths \d+|--paths \d+)", p.stderr).group(1)
    p = sim("run", *advice.split(), "--out", "small", "--events", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert 0 < store.read_table(tmp_path / "small" / "events.arrow").num_rows <= 1_000_000


# --------------------------------------------------------------------------
# sweep and calibrate: the same exit statuses (in-process, their work faked
# where only the mapping is under test)

def test_sweep_exit_statuses(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["sweep", "nope.toml"]) == 2
    assert "error: nope.toml" in capsys.readouterr().err
    import simengine.sweeps as sweeps
    (tmp_path / "s.toml").write_text('[sweep]\nname = "s"\nbase = "default"\n'
                                     '[sweep.grid]\n"billing.rule" = ["concurrent"]\n')
    for exc, code, word in ((KeyboardInterrupt, 130, "interrupted"),
                            (cli.Terminated, 143, "terminated")):
        def interrupted(*a, exc=exc, **k):
            raise exc()
        monkeypatch.setattr(sweeps, "run_sweep", interrupted)
        assert cli.main(["sweep", "s.toml"]) == code
        err = capsys.readouterr().err
        assert f"{word}: finished points are kept; rerun the same command to resume" in err

    def broken(*a, **k):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(sweeps, "run_sweep", broken)
    assert cli.main(["sweep", "s.toml"]) == 1
    err = capsys.readouterr().err
    assert "disk on fire" in err and "rerun the same command to resume" in err


def test_calibrate_exit_statuses(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    import simengine.calibration as calibration
    (tmp_path / "fitted.toml").write_text("x")

    def not_reached(*a, **k):
        raise AssertionError("fitted although the output is refused")
    monkeypatch.setattr(calibration, "calibrate", not_reached)
    (tmp_path / "events.csv").write_text("")     # the input is checked first: it exists
    assert cli.main(["calibrate", "events.csv", "-o", "fitted.toml"]) == 2
    err = capsys.readouterr().err
    assert "fitted.toml already exists" in err and "--force" in err

    class Fitted:
        check = None

        def report(self):                 # the signal while the report prints
            raise KeyboardInterrupt

    def write(cal, output, force=False, **options):
        return [store.write_text(output, "fitted"), store.write_text("new-fit.json", "{}")]
    monkeypatch.setattr(calibration, "calibrate", lambda *a, **k: Fitted())
    monkeypatch.setattr(calibration, "write_calibration", write)
    assert cli.main(["calibrate", "events.csv", "--check-paths", "0", "-o", "new.toml"]) == 0
    assert "after the output was complete" in capsys.readouterr().err

    def interrupted_write(cal, output, force=False, **options):
        raise KeyboardInterrupt
    monkeypatch.setattr(calibration, "write_calibration", interrupted_write)
    assert cli.main(["calibrate", "events.csv", "--check-paths", "0", "-o", "other.toml"]) == 130
    assert "interrupted: nothing written" in capsys.readouterr().err
