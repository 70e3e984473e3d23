"""The `simengine` command line (SPEC section 9): the only argument parser and
the only mapping of outcomes to exit statuses, for every command (run,
validate, report, warmup, sweep, calibrate; `simengine COMMAND --help`).

Exit status: 0 success, 2 bad input (scenario, --set, options, an output
that exists or cannot be created, a directory that is not a run; every
problem is printed, before any work), 1 any other failure (one line; the
traceback with SIMENGINE_DEBUG=1), 130 interrupted (Ctrl-C), 143 terminated
(SIGTERM). A command interrupted after its output was complete on disk
reports success: the status says what is on disk.

Each command is a few lines here calling the module that does the work
(engine and result, report, sweeps, calibration).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import re
import secrets
import signal
import sys
import time
import math
import traceback
from pathlib import Path

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143
SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
PROG = "simengine"


class BadInput(Exception):
    """Bad input from the user: printed as is (one problem a line), exit 2."""

    def __init__(self, problems):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so that partial output is cleaned up."""


class Outputs:
    """What the running command writes, so that an interrupt reports what is
    on disk. `expect(path)`: a file or directory the command creates, whole
    or not at all (it did not exist before); `complete()`: every output is
    written; `hint`: what to do after an interrupt (e.g. rerun to resume)."""

    def __init__(self):
        self.targets, self.done, self.hint = [], False, None

    def expect(self, path, what=None):
        self.targets.append((Path(path), what or str(path)))

    def complete(self):
        self.done = True

    def written(self) -> list:
        return [what for path, what in self.targets if path.exists()]

    def all_written(self) -> bool:
        return self.done or bool(self.targets) and len(self.written()) == len(self.targets)


_outputs = Outputs()


def _err(msg=""):
    print(msg, file=sys.stderr, flush=True)


def _debug() -> bool:
    return os.environ.get("SIMENGINE_DEBUG", "") not in ("", "0")


def _plural(n, stem, one="", many="s") -> str:
    from .report import plural
    return plural(n, stem, one, many)


# --------------------------------------------------------------------------
# Checks made before any work

def safe_name(name: str) -> str:
    """A scenario name made safe as one directory name: runs of characters
    outside [A-Za-z0-9_.-] become '_', leading dots are dropped (no '.', '..'
    or hidden directories), at most 100 characters; never empty."""
    s = SAFE_NAME.sub("_", name).lstrip(".")[:100]
    return s or "scenario"


CHANGE_CHARS = re.compile(r"[^A-Za-z0-9_.=,-]+")


def changes_suffix(args, limit=60) -> str:
    """What --scale and --set changed, as the tail of a run directory's name
    (`_scale=0.1_billing.rule=cumulative`), so that runs with different
    changes are told apart in a listing; cut at `limit` characters (the
    manifest and every report name them in full)."""
    parts = ([f"scale={args.scale:g}"] if getattr(args, "scale", None) else []) + [
        "".join(x.split()) for x in getattr(args, "set", []) or []]
    if not parts:
        return ""
    text = CHANGE_CHARS.sub("_", "_".join(parts)).strip("_.")
    return "_" + text[:limit].rstrip("_.") if text else ""


def run_id(now=None) -> str:
    now = now or _dt.datetime.now()
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def check_creatable(path: Path, option: str, exists_advice: str) -> None:
    """BadInput unless `path` can be created (store.check_creatable: it does
    not exist, and a file can really be made where it goes)."""
    from . import store
    try:
        store.check_creatable(path)
    except FileExistsError:
        raise BadInput(f"{option}{path}: already exists; {exists_advice}") from None
    except OSError as e:
        raise BadInput(f"{option}{e}") from None


def check_output_dir(directory: Path) -> None:
    """Raise BadInput unless `directory` can be created as a new run directory."""
    check_creatable(directory, "", "a run never overwrites another (choose a new --out, "
                    "or leave --out out for a fresh results/ directory)")


def _load(scenario, overrides, scale=None):
    from .scenario import ScenarioError, load_scenario
    try:
        return load_scenario(scenario, overrides or [], scale=scale)
    except ScenarioError as e:
        raise BadInput(e.problems) from None


def _scenario_checked(call, *args, suffix=""):
    """call(*args), a ScenarioError turned into BadInput."""
    from .scenario import ScenarioError
    try:
        return call(*args)
    except ScenarioError as e:
        raise BadInput([p + suffix for p in e.problems]) from None


# --------------------------------------------------------------------------
# run

def _run_scenario(args):
    scn = _load(args.scenario, args.set, args.scale)
    return _scenario_checked(lambda: scn.replace_run(paths=args.paths, seed=args.seed),
                             suffix=" (from the command line)")


def _run_directory(args, scn) -> Path:
    if args.out is not None:
        out = Path(args.out)
    else:
        name = safe_name(scn.name)
        if name != scn.name:
            _err(f"{PROG}: scenario name {scn.name!r} is not safe as a directory name; "
                 f"writing under results/{name}/")
        suffix = changes_suffix(args)
        out = Path("results") / name / (run_id() + suffix)
        while out.exists():                 # same second and same 24 random bits
            out = out.with_name(run_id() + suffix)
    check_output_dir(out)
    return out


def default_log_strategy(scn) -> str:
    """The strategy whose contact log --events writes by default: the first
    oracle (it blocks nobody, so its log is the customers' own behaviour,
    what `calibrate` fits), else the first strategy."""
    oracles = [s.name for s in scn.strategies if s.renewal == "oracle"]
    return oracles[0] if oracles else scn.strategies[0].name


def _events_plan(args, scn, out):
    """(strategy, file) of the --events contact log, or (None, None); the
    log's size is checked here, before the run."""
    if args.events is None:
        if args.events_strategy is not None:
            raise BadInput("--events-strategy: only with --events, which writes the contact "
                           "log (add --events, or --events=FILE)")
        return None, None
    names = [s.name for s in scn.strategies]
    strategy = args.events_strategy or default_log_strategy(scn)
    if strategy not in names:
        raise BadInput(f"--events-strategy: no strategy named {strategy!r}; "
                       f"strategies: {', '.join(names)}")
    target = Path(args.events) if args.events else out / "events.arrow"
    if args.events:
        check_creatable(target, "--events ", "not overwriting it")
    _check_event_log(args, scn, strategy)
    return strategy, target


def _round_down(x) -> float:
    """The largest of 1, 2, 5 x 10^k at most x."""
    k = math.floor(math.log10(x))
    return max(m * 10.0 ** k for m in (1, 2, 5) if m * 10.0 ** k <= x)


def _check_event_log(args, scn, strategy):
    """Refuse, before the run, a contact log larger than the limit: its rows
    on path 0 are counted by simulating that path, and the advice (fewer
    paths, or a scaled-down scenario) leaves room for paths twice as busy."""
    from . import engine
    limit = _event_log_api().MAX_EVENT_ROWS
    _err(f"{PROG}: --events: measuring the contact log of {strategy!r} on path 0 (a first "
         "run compiles the kernels first) ...")
    inputs = engine.pack_scenario(scn)
    index = [s.name for s in scn.strategies].index(strategy)
    probe = engine.simulate_chunk(inputs, scn.seed, [0], log_strategy=index, log_rows=1)
    per_path = max(1, int(probe.log_n[0]))
    if per_path * scn.paths <= limit:
        return
    scale = args.scale or 1.0
    paths = limit // (2 * per_path)
    if paths >= 1:
        advice = f"use --paths {paths:,} (or fewer)"
    else:
        paths = min(scn.paths, 10)
        factor = _round_down(limit / (2 * per_path * paths))
        advice = (f"make a small version of the scenario: --scale {scale * factor:g} "
                  f"--paths {paths} (--scale multiplies the population and the initial "
                  "contacts; which tiers bind changes)")
    raise BadInput(f"--events: the contact log of {strategy!r} would have about "
                   f"{per_path * scn.paths:,} rows ({per_path:,} on path 0 x "
                   f"{_plural(scn.paths, 'path')}), more than the limit of {limit:,} rows; "
                   f"{advice}")


def _event_log_api():
    """The module that writes contact event logs (check_event_log_size,
    write_event_log)."""
    from . import calibration
    return calibration


def _executor(args):
    from .executor import make_executor
    if args.executor == "local" and args.workers is not None:
        raise BadInput("--workers: only with --executor dask (local runs use --threads)")
    if args.executor == "dask" and args.threads is not None:
        raise BadInput("--threads: only with --executor local (a dask worker uses its "
                       "own threads; see --workers)")
    return _scenario_checked(make_executor, args.executor, args.threads, args.scheduler,
                             args.workers)


def _executor_words(executor, facts) -> str:
    if facts.get("executor") == "dask":
        where = facts.get("scheduler") or "LocalCluster"
        return f"dask at {where}, {_plural(facts.get('workers') or 0, 'worker')}"
    return _plural(getattr(executor, "threads", 1), "thread")


def _simulate(scn, executor, facts, args):
    """engine.run with a progress display; the result and the seconds taken."""
    from . import engine
    from .executor import default_chunk
    from .report import Progress
    threads = getattr(executor, "threads", 1)
    chunk = args.chunk_size or default_chunk(threads)
    _scenario_checked(engine.check_resources, scn, threads, chunk)   # memory, before any work
    S = len(scn.strategies)
    label = f"{scn.name} ({_plural(S, 'strateg', 'y', 'ies')}, {_executor_words(executor, facts)})"
    with Progress(label, scn.paths, enabled=False if args.no_progress else None) as prog:
        res = engine.run(scn, chunk_size=args.chunk_size, progress=prog, executor=executor,
                         on_phase=prog.phase)
    _err(f"{PROG}: {_plural(scn.paths, 'path')} x {_plural(S, 'strateg', 'y', 'ies')} "
         + timing_words(res.manifest, prog.elapsed))
    return res


def timing_words(manifest, elapsed) -> str:
    """"in 3.2 s (+ 18.0 s compiling; 222,992,780 customer events, 76.5 M/s)":
    the simulation's own time, and the kernels' compilation (first run
    only) apart when the manifest reports it."""
    compile_s = manifest.get("compile_seconds")
    wall = manifest.get("wall_seconds")
    seconds = wall if compile_s is not None and wall is not None else elapsed
    rate = manifest.get("events_per_second") or 0
    facts = f"{manifest.get('customer_events', 0):,} customer events, {rate / 1e6:,.1f} M/s"
    if compile_s is not None:       # numba's cache loads in well under a second
        doing = "compiling the kernels" if compile_s >= 2 else "loading the compiled kernels"
        facts = f"+ {compile_s:.1f} s {doing}; " + facts
    return f"in {seconds:.1f} s ({facts})"


def _write_run(res, out, args, executor_facts):
    res.manifest.update(
        kind="run", run_id=out.name, output_dir=str(out),
        created=_dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        command=[PROG] + list(args.argv),
        overrides=list(args.set), scale=args.scale,
        executor=executor_facts)
    try:
        res.write(out, fmt=args.format)
    except FileExistsError as e:
        raise BadInput(str(e)) from None
    except OSError as e:
        raise BadInput(f"{out}: cannot write the run directory: {e.strerror or e}") from None


def cmd_run(args) -> int:
    scn = _run_scenario(args)
    out = _run_directory(args, scn)
    events_strategy, events_file = _events_plan(args, scn, out)
    _outputs.expect(out)
    if events_file is not None:
        _outputs.expect(events_file, f"the contact log {events_file}")
    executor = _executor(args)
    try:
        facts = executor.describe() if hasattr(executor, "describe") else {}
        res = _simulate(scn, executor, facts, args)
    finally:
        getattr(executor, "close", lambda: None)()
    _write_run(res, out, args, facts)
    if events_strategy is not None:
        written = _scenario_checked(
            lambda: _event_log_api().write_event_log(scn, out, events_strategy, path=events_file),
            suffix=f" ({out} was written, but not the contact log)")
        _err(f"{PROG}: contact log of {events_strategy!r} written to {written or events_file}")
    _outputs.complete()
    from .report import percentile_parts, print_table, run_changes
    names = [s.name for s in scn.strategies]
    print_table(*percentile_parts(res.summary, "total_cost", scn.horizon_years, names,
                                  run_changes(res.manifest)))
    print(f"\nwrote {out}")
    print(f"plots: {PROG} report {out}")
    return EXIT_OK


# --------------------------------------------------------------------------
# validate, report, warmup

def _changes_words(args) -> str:
    from .report import changes_text, run_changes
    return changes_text(run_changes({"scale": args.scale, "overrides": args.set}))


def cmd_validate(args) -> int:
    from . import engine
    from .executor import default_chunk, thread_count
    scn = _load(args.scenario, args.set, args.scale)
    threads = thread_count(None)
    _scenario_checked(engine.check_resources, scn, threads, default_chunk(threads))
    print(f"ok: {scn.source}: scenario {scn.name!r}: {_plural(scn.population, 'customer')} "
          f"in {_plural(len(scn.segments), 'segment')}, "
          f"{_plural(len(scn.strategies), 'strateg', 'y', 'ies')}, "
          f"{_plural(scn.horizon_years, 'year')}, {_plural(scn.paths, 'path')}, "
          f"seed {scn.seed}, rule {scn.billing.rule} (sha256 {scn.sha256[:12]})"
          + _changes_words(args))
    return EXIT_OK


def _read_run(directory):
    from . import report
    try:
        return report.load_run(directory)
    except report.NotARun as e:
        raise BadInput(str(e)) from None


def cmd_report(args) -> int:
    from . import report
    directory = Path(args.run_dir)
    try:
        manifest = report.read_manifest(directory)
    except report.NotARun as e:
        raise BadInput(str(e)) from None
    if manifest.get("kind") == "sweep":
        if args.format != "text" or args.html:
            raise BadInput(f"{directory}: a sweep directory: its report is report.md and "
                           "plots/ (no --format or --html; run `simengine report` on it alone)")
        return _report_sweep(directory)
    run = _read_run(directory)
    text = args.format == "text"
    try:
        table = report.render_table(args.format, run.summary, args.metric, run.horizon_years,
                                    run.strategies, run.changes,
                                    width=report.terminal_width() if text else None)
    except ValueError as e:
        raise BadInput(f"--metric: {e}") from None
    written = []
    try:
        if args.html:
            written = report.write_html(run)
        elif text:
            written = report.write_plots(run)
    except OSError as e:
        raise BadInput(f"{directory}: cannot write the report: {e.strerror or e}") from None
    _outputs.complete()
    print(table, flush=True)
    info = sys.stdout if text else sys.stderr      # csv/md/json: stdout holds the table only
    if written and text:
        print()
    for p in written:
        print(f"wrote {p}", file=info)
    return EXIT_OK


def cmd_compare(args) -> int:
    from . import report
    a, b = _read_run(args.run_a), _read_run(args.run_b)
    try:
        comp = report.compare_runs(a, b, args.metric)
    except ValueError as e:
        raise BadInput(f"--metric: {e}") from None
    _outputs.complete()
    print("\n".join(comp.lines()))
    print()
    report.print_table(*comp.side)
    if comp.paired is not None:
        print()
        report.print_table(*comp.paired)
    print()
    import textwrap
    width = min(report.terminal_width() or 100, 100)
    for note in comp.notes:
        print(textwrap.fill(note, width))
    return EXIT_OK


WARMUP_SCENARIO = {
    "scenario": {"name": "warmup", "horizon_years": 1, "paths": 4, "seed": 1},
    "population": {"size": 2000},
    "segment": [{"name": "a", "share": 0.5, "initial_contacts": 100, "adoption_rate": 0.01,
                 "churn_rate": 0.002, "churn_shape": 2.0, "readd_prob": 0.5},
                {"name": "b", "share": 0.5, "adoption_rate": 0.005, "churn_rate": 0.004}],
    "billing": {"tiers": [[500, 50], [1000, 100]], "certified": False},
    "strategy": [{"name": "none", "renewal": "none", "upgrade": "none",
                  "on_blocked": "retry", "admit": ["a"], "others": "overflow"}],
}


def cmd_warmup(args) -> int:
    from . import engine
    from .scenario import scenario_from_dict
    scn = scenario_from_dict(WARMUP_SCENARIO, "<warmup>")
    t0 = time.perf_counter()
    engine.run(scn, threads=args.threads)
    t1 = time.perf_counter()
    engine.run(scn, threads=args.threads)
    t2 = time.perf_counter()
    print(f"warmup: kernels ready in {t1 - t0:.2f} s (compile or load from numba's cache); "
          f"a tiny run now takes {t2 - t1:.3f} s")
    return EXIT_OK


# --------------------------------------------------------------------------
# sweep, calibrate

RESUME_HINT = "finished points are kept; rerun the same command to resume"


def _report_sweep(directory) -> int:
    from . import sweeps
    sweeps.report_sweep(directory).print()
    _outputs.complete()
    return EXIT_OK


def cmd_sweep(args) -> int:
    from . import sweeps
    from .report import plural, print_table
    sweep = sweeps.load_sweep(args.sweep, overrides=args.set, paths=args.paths, scale=args.scale,
                              fmt=args.format)
    _outputs.hint = RESUME_HINT
    run = sweeps.run_sweep(sweep, out=args.out, executor=args.executor,
                           scheduler=args.scheduler, workers=args.workers)
    _outputs.complete()
    title, columns, rows = sweeps.result_table(sweep, run)
    if sweep.command_line:
        title += f" ({', '.join(sweep.command_line)})"
    print_table(title, columns, rows)
    print(f"{plural(len(sweep.points), 'point')}: {len(run.simulated)} simulated, "
          f"{len(run.skipped)} already done, in {run.wall_seconds:.1f} s")
    print(f"wrote {run.directory} (report: {PROG} report {run.directory})")
    return EXIT_OK


def cmd_calibrate(args) -> int:
    from . import calibration
    from .calibration.writer import output_paths
    check_paths = calibration.CHECK_PATHS if args.check_paths is None else args.check_paths
    calibration.check_output(args.output, args.force, check=check_paths > 0)   # before fitting
    if not args.force:
        for path in output_paths(args.output, check_paths > 0):
            _outputs.expect(path)
    cal = calibration.calibrate(args.events, population=args.population, segments=args.segments,
                                path=args.path, check_paths=check_paths, seed=args.seed or 0)
    try:
        written = calibration.write_calibration(cal, args.output, force=args.force)
    except OSError as e:
        raise BadInput(f"{args.output}: cannot write: {e.strerror or e}") from None
    _outputs.complete()
    print(cal.report())
    print()
    print("Wrote " + ", ".join(str(p) for p in written))
    return EXIT_OK


# --------------------------------------------------------------------------
# Parser

def _positive_int(text):
    try:
        v = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _non_negative(text):
    try:
        v = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return v


def _positive_number(text):
    try:
        v = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (v > 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return v


SCALE_HELP = ("a small (or large) version of the scenario on purpose: multiply the "
              "population and every segment's initial_contacts by F (e.g. 0.02: 20,000 of "
              "the default's 1,000,000 customers); rates stay, so which tiers bind changes. "
              "Applied before --set")

SET_HELP = ("override a scalar key of the scenario by its dotted path, e.g. "
            "billing.rule=cumulative, population.size=2000000, "
            "segment.vip.churn_rate=0.001, strategy.fit.headroom=0.1 (repeatable)")

# Examples in each command's help. They run as written from the repository's
# root, in this order (a later one may read what an earlier one wrote);
# tests/test_cli_help.py runs every one.
EXAMPLES = {
    "run": [
        ("simengine run --paths 16", "the bundled default, 16 paths"),
        ("simengine run --paths 16 --seed 7 --threads 2 --out runs/seed7", ""),
        ("simengine run --paths 16 --seed 7 --set billing.rule=cumulative "
         "--out runs/seed7-cumulative", "the same paths under the other billing rule"),
        ("simengine run --scale 0.02 --paths 16", "a small version: 20,000 customers"),
        ("simengine run --paths 16 --set billing.rule=cumulative "
         "--set strategy.fit.headroom=0.1", ""),
        ("simengine run --paths 16 --format parquet --out runs/parquet", ""),
        ("simengine run --paths 16 --executor dask --workers 2 --out runs/dask",
         "a LocalCluster of 2 processes"),
        ("simengine run docs/examples/calibration-truth.toml --paths 3 --out runs/truth "
         "--events --events-strategy oracle", "also the contact log of 'oracle'"),
    ],
    "validate": [
        ("simengine validate default", "the bundled default"),
        ("simengine validate default --set population.size=2000000 "
         "--set billing.rule=cumulative", ""),
    ],
    "report": [
        ("simengine report runs/seed7", "after the run examples"),
        ("simengine report runs/parquet --metric economic_cost", ""),
        ("simengine report runs/seed7 --metric cheapest", "the share of paths each wins"),
        ("simengine report runs/seed7 --format csv", "or md, json: the table only"),
        ("simengine report runs/seed7 --html", "report.html: one page to mail or print"),
    ],
    "compare": [
        ("simengine compare runs/seed7 runs/seed7-cumulative", "after the run examples: "
         "paired differences"),
        ("simengine compare runs/seed7 runs/seed7-cumulative --metric economic_cost", ""),
    ],
    "warmup": [("simengine warmup", "")],
    "sweep": [
        ("simengine sweep docs/examples/sweep-quick.toml --out sweeps", "2 points, 8 paths each"),
        ("simengine sweep rule-by-churn --paths 4 --scale 0.02 --out sweeps-small",
         "the bundled sweep, small: 10 points of 20,000 customers, 4 paths"),
        ("simengine sweep docs/examples/sweep-quick.toml --set strategy.fit.headroom=0.1 "
         "--format parquet --out sweeps-parquet", ""),
        ("simengine sweep docs/examples/sweep-quick.toml --out sweeps",
         "again: every point is done, nothing runs"),
        ("simengine sweep docs/examples/sweep-quick.toml --executor dask --workers 2 "
         "--out sweeps-dask", ""),
        ("simengine report sweeps/quick", "the sweep report: tables, plots, report.md"),
    ],
    "calibrate": [
        ("simengine calibrate runs/truth/events.arrow --population 40000 --check-paths 50 "
         "-o fitted.toml", "the log of the last run example"),
        ("simengine calibrate runs/truth/events.arrow --path 1 --check-paths 0 "
         "-o fitted-path1.toml", "path 1, population estimated, no check"),
        ("simengine validate fitted.toml", ""),
    ],
}


def _epilog(command, extra=""):
    lines = []
    if command in EXAMPLES:
        lines.append("examples (from the repository's root, in this order):")
        for cmd, note in EXAMPLES[command]:
            lines += ([f"  # {note}"] if note else []) + [f"  {cmd}"]
    if extra:
        lines += ["", extra]
    return "\n".join(lines)


def _subparser(sub, name, help, description, extra=""):
    return sub.add_parser(name, help=help, description=description, epilog=_epilog(name, extra),
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _add_run(sub):
    r = _subparser(sub, "run", "simulate a scenario and write a run directory",
                   "Simulate a scenario and write paths, periods, monthly and summary tables "
                   "and manifest.json into a new directory (default "
                   "results/<scenario name>/<timestamp>-<id>/); print the percentile table "
                   "of total_cost per strategy.")
    r.add_argument("scenario", nargs="?", default=None, metavar="SCENARIO",
                   help="scenario TOML file or bundled name (default: the bundled default)")
    r.add_argument("--paths", type=_positive_int, metavar="N",
                   help="number of paths (default: the scenario's)")
    r.add_argument("--seed", type=_non_negative, metavar="S",
                   help="random seed (default: the scenario's)")
    r.add_argument("--threads", type=_positive_int, metavar="T",
                   help="numba threads of a local run (default: all cores)")
    r.add_argument("--out", metavar="DIR",
                   help="write exactly this new directory (refused if it exists)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)
    r.add_argument("--scale", type=_positive_number, metavar="F", help=SCALE_HELP)
    r.add_argument("--format", choices=("arrow", "parquet"), default="arrow",
                   help="table files: Arrow IPC (paths.arrow, ...; default) or Parquet "
                   "(paths.parquet, ...); the same columns")
    r.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="where paths run: numba threads here (local, default) or a "
                   "dask.distributed cluster (dask; the same tables, bit for bit)")
    r.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --executor dask: the scheduler (tcp://HOST:8786); "
                   "default: a LocalCluster started here")
    r.add_argument("--workers", type=_positive_int, metavar="N",
                   help="with --executor dask: LocalCluster processes (default 2), or the "
                   "workers to wait for with --scheduler")
    r.add_argument("--events", nargs="?", const="", default=None, metavar="FILE",
                   help="also write the contact event log of one strategy "
                   "(default RUN_DIR/events.arrow; put SCENARIO before --events or use "
                   "--events=FILE)")
    r.add_argument("--events-strategy", metavar="NAME",
                   help="with --events: the strategy whose contact log is written (default: "
                   "the first oracle, which blocks nobody, so the log shows the customers' own "
                   "adds and churns, what calibrate fits; without an oracle, the first)")
    r.add_argument("--chunk-size", type=_positive_int, help=argparse.SUPPRESS)
    r.add_argument("--no-progress", action="store_true",
                   help="no progress bar (one line at the start instead)")
    r.set_defaults(handler=cmd_run)


def _add_validate(sub):
    v = _subparser(sub, "validate", "check a scenario and list every problem",
                   "Check a scenario file; print a one-line summary (exit 0) or every "
                   "problem found (exit 2).")
    v.add_argument("scenario", metavar="SCENARIO", help="scenario TOML file or bundled name")
    v.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)
    v.add_argument("--scale", type=_positive_number, metavar="F", help=SCALE_HELP)
    v.set_defaults(handler=cmd_validate)


def _add_report(sub):
    rp = _subparser(sub, "report", "print a run's table and write its plots",
                    "Print the percentile table of a run directory (Arrow or Parquet) and "
                    "write cost_distribution.png, contacts_vs_capacity.png and "
                    "yearly_cost.png into it. A sweep directory gets the sweep report.")
    rp.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by run or sweep")
    rp.add_argument("--metric", default="total_cost", metavar="M",
                    help="summary metric of the table (default total_cost; e.g. "
                    "economic_cost, regret, peak_contacts, blocked; cheapest: the share of "
                    "paths each strategy wins)")
    rp.add_argument("--format", choices=("text", "csv", "md", "json"), default="text",
                    help="the table as text (default; also writes the plots), CSV, Markdown "
                    "or JSON (stdout holds the table only; CSV and JSON unrounded)")
    rp.add_argument("--html", action="store_true",
                    help="also write report.html into the run directory: one self-contained "
                    "page (scenario in words, tables with intervals, regret, plots, the run's "
                    "facts) to mail or print")
    rp.set_defaults(handler=cmd_report)


def _add_compare(sub):
    c = _subparser(sub, "compare", "set two runs side by side, per strategy",
                   "Set two run directories side by side per strategy (mean, P50, P95). When "
                   "they simulate the same customers on the same paths (the same scenario "
                   "apart from --set changes, the same seed and paths), also the paired "
                   "difference B - A path by path: its mean and P95 with 95% intervals, far "
                   "tighter than the difference of two separate estimates.")
    c.add_argument("run_a", metavar="RUN_A", help="the first run directory (the baseline)")
    c.add_argument("run_b", metavar="RUN_B", help="the second run directory")
    c.add_argument("--metric", default="total_cost", metavar="M",
                   help="the per-path quantity to compare (default total_cost; e.g. "
                   "economic_cost, regret, blocked)")
    c.set_defaults(handler=cmd_compare)


def _add_warmup(sub):
    w = _subparser(sub, "warmup", "compile the numba kernels (or load them from cache)",
                   "Compile the numba kernels once (later runs load them from numba's "
                   "cache) and time a tiny run.")
    w.add_argument("--threads", type=_positive_int, metavar="T",
                   help="numba threads (default: all cores)")
    w.set_defaults(handler=cmd_warmup)


def _add_sweep(sub):
    s = _subparser(sub, "sweep", "run a scenario over a grid of --set values",
                   "Run every unfinished point of a sweep file (SPEC section 10) into "
                   "results/<sweep name>/ (or DIR/<sweep name>/): one Arrow dataset per table, "
                   "partitioned by the swept keys; print the cheapest strategy per point. "
                   "Rerunning resumes: finished points are skipped.")
    s.add_argument("sweep", metavar="SWEEP.toml",
                   help="the sweep file ([sweep] table), or a bundled sweep by name "
                   "(rule-by-churn)")
    s.add_argument("--out", metavar="DIR",
                   help="parent directory of the sweep's folder (default: results)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="set a scalar key on every point, after the file's [sweep.set] "
                   "(not a swept key; repeatable)")
    s.add_argument("--paths", type=_positive_int, metavar="N",
                   help="paths of every point (scenario.paths; default: the sweep's)")
    s.add_argument("--scale", type=_positive_number, metavar="F", help=SCALE_HELP)
    s.add_argument("--format", choices=("arrow", "parquet"), default="arrow",
                   help="the tables' files: Arrow IPC (part.arrow, sweep_summary.arrow; "
                   "default) or Parquet (part.parquet, sweep_summary.parquet)")
    s.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="local: points one after another, paths on numba threads (default); "
                   "dask: tasks of (point, paths) on a dask.distributed cluster")
    s.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --executor dask: the scheduler (tcp://HOST:8786); default: a "
                   "LocalCluster started here")
    s.add_argument("--workers", type=_positive_int, metavar="N",
                   help="local: numba threads (default: all cores); dask: LocalCluster "
                   "processes (default 2), or the workers to wait for with --scheduler")
    s.set_defaults(handler=cmd_sweep)


def _add_calibrate(sub):
    c = _subparser(sub, "calibrate", "fit a scenario to a contact event log",
                   "Estimate segment rates from a WeCom contact event log (SPEC section 11) "
                   "and write a scenario TOML, with SCENARIO-check.png and SCENARIO-fit.json "
                   "beside it; print the fit report. An existing output is never overwritten.")
    c.add_argument("events", metavar="EVENTS",
                   help="event log: CSV, Parquet or Arrow (time, external_user_id, user_id, "
                   "chat_id, event)")
    c.add_argument("--population", type=_positive_int, metavar="N",
                   help="addressable customers (default: estimated from the adds' saturation, "
                   "or the customers listed by --segments)")
    c.add_argument("--segments", metavar="FILE",
                   help="CSV/Parquet/Arrow of external_user_id, segment: fit each segment apart")
    c.add_argument("-o", "--output", required=True, metavar="SCENARIO.toml",
                   help="the scenario to write (refused if it exists)")
    c.add_argument("--force", action="store_true",
                   help="replace SCENARIO.toml and the files beside it if they exist")
    c.add_argument("--path", type=_non_negative, metavar="P",
                   help="with a simulated log (a `path` column): calibrate on this path only "
                   "(default 0)")
    c.add_argument("--check-paths", type=_non_negative, metavar="N",
                   help="paths of the check simulation (default 200; 0 = no check)")
    c.add_argument("--seed", type=_non_negative, metavar="S", help="seed of the check simulation")
    c.set_defaults(handler=cmd_calibrate)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    p = argparse.ArgumentParser(
        prog=PROG, description="Monte Carlo engine for the cost of WeCom external-contact "
        "scale tiers.", formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 ok, 2 bad input, 1 other failure, 130 interrupted (Ctrl-C), "
        "143 terminated.\nSIMENGINE_DEBUG=1 shows tracebacks. "
        "`simengine COMMAND --help` shows each command's options and examples.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (_add_run, _add_validate, _add_report, _add_compare, _add_warmup, _add_sweep,
                _add_calibrate):
        add(sub)
    return p


# --------------------------------------------------------------------------
# main: the one mapping of outcomes to exit statuses

def _on_sigterm(signum, frame):
    raise Terminated()


def _interrupted(e) -> int:
    """The status after Ctrl-C or SIGTERM: success when the command's output
    was complete on disk before the signal."""
    what = "terminated" if isinstance(e, Terminated) else "interrupted"
    written = _outputs.written()
    if _outputs.all_written():
        _err(f"\n{what} after the output was complete"
             + (f" ({', '.join(written)} written)" if written else ""))
        return EXIT_OK
    if written:
        missing = [w for p, w in _outputs.targets if not p.exists()]
        msg = f"{', '.join(written)} was written completely, but not {', '.join(missing)}"
    elif _outputs.hint and not _outputs.targets:
        msg = _outputs.hint
    else:
        msg = "nothing written"
    if _outputs.hint and msg != _outputs.hint:
        msg += f"; {_outputs.hint}"
    _err(f"\n{what}: {msg}")
    return EXIT_TERMINATED if isinstance(e, Terminated) else EXIT_INTERRUPTED


def _failed(e) -> int:
    from .scenario import ScenarioError
    if isinstance(e, ScenarioError):        # bad input found deeper down (sweep, calibrate)
        raise BadInput(e.problems) from None
    if _debug():
        traceback.print_exc()
    msg = str(e).splitlines()[0] if str(e) else ""
    _err(f"{PROG}: failed: {type(e).__name__}" + (f": {msg}" if msg else "")
         + (f"; {_outputs.hint}" if _outputs.hint else "")
         + ("" if _debug() else " (set SIMENGINE_DEBUG=1 for the traceback)"))
    return EXIT_FAILURE


def _bad_input(e) -> int:
    for line in e.problems:
        _err(f"error: {line}")
    if len(e.problems) > 1:
        _err(f"{len(e.problems)} problems found")
    return EXIT_BAD_INPUT


def main(argv=None) -> int:
    global _outputs
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:                 # --help, --version, usage errors (2)
        return e.code if isinstance(e.code, int) else EXIT_BAD_INPUT
    args.argv = argv
    _outputs = Outputs()

    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:                      # not the main thread
        pass
    try:
        try:
            return args.handler(args)
        except (BadInput, KeyboardInterrupt, BrokenPipeError):
            raise
        except Exception as e:              # noqa: BLE001 - the one-line failure report
            return _failed(e)
    except BadInput as e:
        return _bad_input(e)
    except KeyboardInterrupt as e:
        return _interrupted(e)
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_FAILURE
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
