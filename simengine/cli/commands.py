"""The commands: a few lines each, calling the module that does the work.

That module's functions are called through its name (`engine.run`,
`report.print_table`, `sweeps.run_sweep`): what a test replaces on the
module is what the command calls."""
from __future__ import annotations

import datetime as dt
import math
import sys
import textwrap
import time
from pathlib import Path

from .. import calibration, engine, optimize, report, sweeps
from ..calibration.writer import output_paths
from ..executor import make_executor, run_shape
from ..report import plural
from ..scenario import (ScenarioError, load_scenario, replace_run, sampling_warnings,
                        scenario_from_dict, scenario_warnings)
from .common import (EXIT_OK, PROG, BadInput, cannot_write_in, changes_suffix,
                     check_creatable, check_output_dir, err, outputs, run_id, safe_name,
                     where_the_runs_are)


def _load(scenario, overrides, scale=None):
    try:
        return load_scenario(scenario, overrides or [], scale=scale)
    except ScenarioError as e:
        raise BadInput(e.problems) from None


def _scenario_checked(call, *args, suffix=""):
    """call(*args), a ScenarioError turned into BadInput."""
    try:
        return call(*args)
    except ScenarioError as e:
        raise BadInput([p + suffix for p in e.problems]) from None


# --------------------------------------------------------------------------
# run

def _run_scenario(args):
    scn = _load(args.scenario, args.set, args.scale)
    return _scenario_checked(replace_run, scn, args.paths, args.seed,
                             suffix=" (from the command line)")


def _run_directory(args, scn) -> Path:
    if args.out is not None:
        out = Path(args.out)
    else:
        name = safe_name(scn.name)
        if name != scn.name:
            err(f"{PROG}: scenario name {scn.name!r} is not safe as a directory name; "
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
    limit = calibration.MAX_EVENT_ROWS
    err(f"{PROG}: --events: measuring the contact log of {strategy!r} on path 0 (a first "
        "run compiles the kernels first) ...")
    per_path = max(1, int(engine.contact_log_rows(scn, strategy, [0])[0]))
    if per_path * scn.paths <= limit:
        return
    scale = args.scale or 1.0
    # under sobol, paths come in whole replicates (a smaller --paths is rounded up)
    step = scn.replicates if getattr(scn, "sampling", "mc") == "sobol" else 1
    paths = limit // (2 * per_path) // step * step
    if paths >= step:
        advice = f"use --paths {paths:,} (or fewer)"
    else:
        paths = max(step, min(scn.paths, 10) // step * step)
        factor = _round_down(limit / (2 * per_path * paths))
        advice = (f"make a small version of the scenario: --scale {scale * factor:g} "
                  f"--paths {paths} (--scale multiplies the population and the initial "
                  "contacts; which tiers bind changes)")
    raise BadInput(f"--events: the contact log of {strategy!r} would have about "
                   f"{per_path * scn.paths:,} rows ({per_path:,} on path 0 x "
                   f"{plural(scn.paths, 'path')}), more than the limit of {limit:,} rows; "
                   f"{advice}")


def _executor(args):
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
        return f"dask at {where}, {plural(facts.get('workers') or 0, 'worker')}"
    return plural(getattr(executor, "threads", 1), "thread")


def _simulate(scn, executor, facts, args):
    """engine.run with a progress display; the result and the seconds taken."""
    threads, chunk = run_shape(executor, args.chunk_size)
    _scenario_checked(engine.check_resources, scn, threads, chunk)   # memory, before any work
    S = len(scn.strategies)
    label = f"{scn.name} ({plural(S, 'strateg', 'y', 'ies')}, {_executor_words(executor, facts)})"
    with report.Progress(label, scn.paths, enabled=False if args.no_progress else None) as prog:
        res = engine.run(scn, chunk_size=args.chunk_size, progress=prog, executor=executor,
                         on_phase=prog.phase)
    err(f"{PROG}: {plural(scn.paths, 'path')} x {plural(S, 'strateg', 'y', 'ies')} "
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
        created=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        command=[PROG] + list(args.argv),
        overrides=list(args.set), scale=args.scale,
        executor=executor_facts)
    try:
        res.write(out, fmt=args.format)
    except FileExistsError as e:
        raise BadInput(str(e)) from None
    except OSError as e:
        raise BadInput(f"{out}: cannot write the run directory: {e.strerror or e}") from None


def _money(x) -> str:
    return f"{x:,.0f}"


def economic_cost_line(summary, strategies, oracles, directory, width=None) -> str | None:
    """A sentence for under a table of fees (total_cost): the strategy
    cheapest in economic cost (fees + lost customer value) at P50, the
    lower mean on a tie, and how to see the whole table. The fees alone can
    make a strategy that turns customers away look cheapest (no-purchase);
    a hindsight plan (`oracles`, renewal = "oracle") is a bound, not a
    strategy one can buy, so it is never named. Wrapped to `width` (the
    command kept whole); None when there is nothing to choose between."""
    stats = {(r["strategy"], r["metric"]): r for r in summary.to_pylist()}
    choices = [s for s in strategies if s not in oracles
               and (s, "economic_cost") in stats and (s, "total_cost") in stats]
    if len(choices) < 2:
        return None

    def cheapest(metric):
        return min(choices, key=lambda s: (stats[s, metric]["p50"], stats[s, metric]["mean"]))

    def p50(name):
        return f"{stats[name, 'economic_cost']['p50']:,.0f}"
    best, by_fees = cheapest("economic_cost"), cheapest("total_cost")
    text = f"Cheapest in economic cost (fees + lost customer value) at P50: {best}, {p50(best)} yuan"
    if by_fees != best:
        text += f"; {by_fees}, cheapest in fees, {p50(by_fees)}"
    present = [o for o in oracles if o in strategies]
    if present:
        text += f" ({', '.join(present)}: a hindsight bound, not counted)"
    command = f"{PROG} report {directory} --metric economic_cost"
    text += ". See " + command.replace(" ", "\0")
    return "\n".join(textwrap.wrap(text, width or 10**6, break_on_hyphens=False,
                                    break_long_words=False)).replace("\0", " ")


def _print_waiting(summary, strategies, lead_days):
    """Under a table of fees: the adds that waited on an order, if any."""
    line = report.waiting_words(summary, strategies, lead_days)
    if line:
        width = min(report.terminal_width() or 100, 100)
        print("\n".join(textwrap.wrap(line, width, break_on_hyphens=False)), flush=True)


def cmd_run(args) -> int:
    scn = _run_scenario(args)
    out = _run_directory(args, scn)
    events_strategy, events_file = _events_plan(args, scn, out)
    outputs.expect(out)
    if events_file is not None:
        outputs.expect(events_file, f"the contact log {events_file}")
    executor = _executor(args)
    _print_warnings(scn)            # paths rounded up, ...: said before the run
    try:
        facts = executor.describe() if hasattr(executor, "describe") else {}
        res = _simulate(scn, executor, facts, args)
    finally:
        getattr(executor, "close", lambda: None)()
    _write_run(res, out, args, facts)
    if events_strategy is not None:
        written = _scenario_checked(
            lambda: calibration.write_event_log(scn, out, events_strategy, path=events_file),
            suffix=f" ({out} was written, but not the contact log)")
        err(f"{PROG}: contact log of {events_strategy!r} written to {written or events_file}")
    outputs.complete()
    names = [s.name for s in scn.strategies]
    report.print_table(*report.percentile_parts(res.summary, "total_cost", scn.horizon_years,
                                                names, report.run_changes(res.manifest)))
    line = economic_cost_line(res.summary, names,
                              [s.name for s in scn.strategies if s.renewal == "oracle"], out,
                              width=min(report.terminal_width() or 100, 100))
    if line:
        print(line)
    _print_waiting(res.summary, names, scn.billing.lead_days)
    print(f"\nwrote {out}")
    print(f"plots: {PROG} report {out}")
    return EXIT_OK


# --------------------------------------------------------------------------
# validate, report, warmup

def _changes_words(args) -> str:
    return report.changes_text(report.run_changes({"scale": args.scale, "overrides": args.set}))


def cmd_validate(args) -> int:
    scn = _load(args.scenario, args.set, args.scale)
    _scenario_checked(engine.check_resources, scn, *run_shape())
    print(f"ok: {scn.source}: scenario {scn.name!r}: {plural(scn.population, 'customer')} "
          f"in {plural(len(scn.segments), 'segment')}, "
          f"{plural(len(scn.strategies), 'strateg', 'y', 'ies')}, "
          + (f"{plural(len(scn.campaigns), 'campaign')}, " if scn.campaigns else "") +
          f"{plural(scn.horizon_years, 'year')}, {plural(scn.paths, 'path')}, "
          f"seed {scn.seed}, rule {scn.billing.rule} (sha256 {scn.sha256[:12]})"
          + _changes_words(args))
    _print_warnings(scn)
    return EXIT_OK


def _print_warnings(scn):
    """Settings that are valid but do nothing, and what the loader changed
    (paths rounded up to the replicates): said, never silent."""
    for line in scenario_warnings(scn):
        err(f"warning: {line}")


def _not_a_run(e, directory, command):
    """BadInput for a directory that is not a run: where its runs are when
    it holds or points to some (a folder of runs, an optimize output)."""
    return BadInput(where_the_runs_are(directory, command) or str(e))


def _read_run(directory, command="compare"):
    try:
        return report.load_run(directory)
    except report.NotARun as e:
        raise _not_a_run(e, directory, command) from None


def _oracles(manifest) -> list:
    scenario = manifest.get("scenario") if isinstance(manifest, dict) else None
    entries = scenario.get("strategy") if isinstance(scenario, dict) else None
    return [s.get("name") for s in entries or [] if isinstance(s, dict)
            and s.get("renewal") == "oracle"]


def _write_report_files(run, html) -> list:
    """The plots (and report.html): after the table, which is printed
    whatever happens here. A directory that cannot take them (read-only)
    is a warning for the plots, which `report` adds to the table, and bad
    input for --html, which was asked for."""
    why = cannot_write_in(run.directory)
    try:
        if why is None:
            return report.write_html(run) if html else report.write_plots(run)
    except OSError as e:
        why = e.strerror or str(e)
    if html:
        raise BadInput(f"{run.directory}: cannot write report.html: {why} (the table was "
                       "printed; copy the run directory somewhere writable for the page)")
    err(f"warning: {run.directory}: cannot write the plots: {why} (the table is complete; "
        "copy the run directory somewhere writable for the plots)")
    return []


def cmd_report(args) -> int:
    directory = Path(args.run_dir)
    try:
        manifest = report.read_manifest(directory)
    except report.NotARun as e:
        raise _not_a_run(e, directory, "report") from None
    if manifest.get("kind") == "sweep":
        if args.format != "text" or args.html:
            raise BadInput(f"{directory}: a sweep directory: its report is report.md and "
                           "plots/ (no --format or --html; run `simengine report` on it alone)")
        return _report_sweep(directory)
    run = _read_run(directory, "report")
    text = args.format == "text"
    width = report.terminal_width() if text else None
    try:
        table = report.render_table(args.format, run.summary, args.metric, run.horizon_years,
                                    run.strategies, run.changes, width=width)
    except ValueError as e:
        raise BadInput(f"--metric: {e}") from None
    print(table, flush=True)
    if text and args.metric == "total_cost":
        line = economic_cost_line(run.summary, run.strategies, _oracles(run.manifest),
                                  directory, width=min(width or 100, 100))
        if line:
            print(line, flush=True)
        _print_waiting(run.summary, run.strategies,
                       run.manifest.get("scenario", {}).get("billing", {}).get("lead_days", 0))
    written = _write_report_files(run, args.html) if (text or args.html) else []
    outputs.complete()
    info = sys.stdout if text else sys.stderr      # csv/md/json: stdout holds the table only
    if written and text:
        print()
    for p in written:
        print(f"wrote {p}", file=info)
    return EXIT_OK


def cmd_compare(args) -> int:
    a, b = _read_run(args.run_a), _read_run(args.run_b)
    try:
        comp = report.compare_runs(a, b, args.metric)
    except ValueError as e:
        raise BadInput(f"--metric: {e}") from None
    outputs.complete()
    print("\n".join(comp.lines()))
    print()
    report.print_table(*comp.side)
    if comp.paired is not None:
        print()
        report.print_table(*comp.paired)
    print()
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
    sweeps.report_sweep(directory).print()
    outputs.complete()
    return EXIT_OK


def _sweep_warnings(sweep) -> list:
    """The points' scenario warnings (paths rounded up to the replicates,
    ...), each once: for every point, or naming the points it concerns."""
    where = {}
    for p in sweep.points:
        for line in scenario_warnings(p.scenario):
            where.setdefault(line, []).append(p.label)
    return [line if len(labels) == len(sweep.points) else
            f"{line} (point{'s' if len(labels) > 1 else ''} {'; '.join(labels)})"
            for line, labels in where.items()]


def _paths_per_point(sweep) -> str:
    paths = sorted({p.scenario.paths for p in sweep.points})
    if len(paths) == 1:
        return f"{plural(paths[0], 'path')} per point"
    return f"{paths[0]:,} to {paths[-1]:,} paths per point"


def cmd_sweep(args) -> int:
    sweep = sweeps.load_sweep(args.sweep, overrides=args.set, paths=args.paths, scale=args.scale,
                              fmt=args.format)
    outputs.hint = RESUME_HINT
    for line in _sweep_warnings(sweep):
        err(f"warning: {line}")
    run = sweeps.run_sweep(sweep, out=args.out, executor=args.executor,
                           scheduler=args.scheduler, workers=args.workers,
                           on_note=lambda line: err(f"note: {line}"))
    outputs.complete()
    title, columns, rows = sweeps.result_table(sweep, run)
    title += f", {_paths_per_point(sweep)}"         # what ran, whatever --paths asked
    if sweep.command_line:
        title += f" ({', '.join(sweep.command_line)})"
    report.print_table(title, columns, rows)
    print(f"{plural(len(sweep.points), 'point')}: {len(run.simulated)} simulated, "
          f"{len(run.skipped)} already done, in {run.wall_seconds:.1f} s")
    print(f"wrote {run.directory} (report: {PROG} report {run.directory})")
    return EXIT_OK


def _optimize_warnings(args) -> list:
    """What optimize will change of what was asked, found before any work:
    search and validation paths rounded up to the replicates (and their
    precision), more top candidates asked than the space holds; and the
    scenario's own warnings."""
    scn, settings, _, found = optimize.resolve_settings(
        args.scenario, args.space, args.objective, args.paths, args.validate_paths, args.top,
        args.set, args.scale)
    sampling = set(sampling_warnings(scn))
    out = [line for line in scenario_warnings(scn) if line not in sampling]
    for what, paths in (("search paths", settings.paths),
                        ("validation paths", settings.validate_paths)):
        run = replace_run(scn, paths=paths)
        out += [f"{what}: " + line.removeprefix(f"{run.source}: ").removeprefix(
            "scenario.paths: ") for line in sampling_warnings(run)]
    candidates = len(found.strategies)
    if settings.top > candidates:
        out.append(f"top: {settings.top} candidates asked to be validated, but the space "
                   f"holds {plural(candidates, 'distinct candidate')}: all are validated")
    return out


def cmd_optimize(args) -> int:
    if args.out is not None:
        check_output_dir(Path(args.out))
    for line in _optimize_warnings(args):
        err(f"warning: {line}")
    executor = make_executor(args.executor, threads=args.threads, scheduler=args.scheduler,
                             workers=args.workers)
    try:
        with report.Progress("optimize", total=1, unit="strategy-paths", announce=False) as bar:
            def stage(text):
                # on a terminal the bar shows it; in a pipe or a log, a line each
                if bar.enabled:
                    bar.status(text)
                else:
                    err(f"{PROG}: optimize: {text} ({bar.elapsed:.0f} s so far)")
            res = optimize.optimize(
                args.scenario, space=args.space, objective=args.objective, paths=args.paths,
                validate_paths=args.validate_paths, top=args.top, out=args.out,
                executor=executor, prune=not args.no_prune, overrides=args.set,
                scale=args.scale, progress=bar, on_stage=stage)
    finally:
        executor.close()
    outputs.complete()
    title, columns, rows = optimize.optimize_table(res)
    report.print_table(title, columns, rows)
    for line in optimize.optimize_notes(res):
        print(line)
    if args.out is not None:
        print(f"wrote {args.out} (best.toml: {PROG} run {Path(args.out) / 'best.toml'})")
    return EXIT_OK


EVENT_LOG_OPTIONS = ("population", "segments", "path", "check_paths", "no_uncertainty",
                     "observed_from")
COHORT_OPTIONS = ("period_days", "fit_through", "base")


def _calibrate_inputs(args):
    """Exactly one of EVENTS and --cohorts, each with its own options; the
    input checked before the output."""
    def given(names):
        return [f"--{n.replace('_', '-')}" for n in names
                if getattr(args, n) not in (None, False)]
    if (args.events is None) == (args.cohorts is None):
        raise BadInput("calibrate: give an event log (EVENTS) or a cohort table (--cohorts "
                       "FILE), one of the two")
    wrong = given(EVENT_LOG_OPTIONS) if args.cohorts else given(COHORT_OPTIONS)
    if wrong:
        raise BadInput(f"calibrate: {', '.join(wrong)} "
                       f"{'is' if len(wrong) == 1 else 'are'} for "
                       f"{'an event log' if args.cohorts else '--cohorts'}, not for "
                       f"{'--cohorts' if args.cohorts else 'an event log'}")
    source = args.cohorts or args.events
    if not Path(source).is_file():
        raise BadInput(f"{source}: no such {'cohort table' if args.cohorts else 'event log'} "
                       "file")


def cmd_calibrate(args) -> int:
    _calibrate_inputs(args)
    if args.cohorts:
        return _calibrate_cohorts(args)
    check_paths = calibration.CHECK_PATHS if args.check_paths is None else args.check_paths
    calibration.check_output(args.output, args.force, check=check_paths > 0)   # before fitting
    if not args.force:
        for path in output_paths(args.output, check_paths > 0):
            outputs.expect(path)
    cal = calibration.calibrate(args.events, population=args.population, segments=args.segments,
                                path=args.path, check_paths=check_paths, seed=args.seed or 0,
                                observed_from=args.observed_from)
    try:
        written = calibration.write_calibration(cal, args.output, force=args.force,
                                                uncertainty=not args.no_uncertainty)
    except OSError as e:
        raise BadInput(f"{args.output}: cannot write: {e.strerror or e}") from None
    outputs.complete()
    print(cal.report())
    print()
    print("Wrote " + ", ".join(str(p) for p in written))
    return EXIT_OK


def _calibrate_cohorts(args) -> int:
    if not args.force:
        outputs.expect(Path(args.output))
    fits, written = calibration.calibrate_cohorts(
        args.cohorts, args.output, base=args.base, force=args.force,
        period_days=args.period_days or calibration.PERIOD_DAYS, fit_through=args.fit_through)
    outputs.complete()
    print(calibration.cohort_report(fits))
    print(f"Wrote {written}")
    return EXIT_OK
