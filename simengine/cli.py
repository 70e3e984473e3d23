"""The `simengine` command line (SPEC section 9).

    simengine run [SCENARIO] [--paths N] [--seed S] [--threads T] [--out DIR] [--set KEY=VALUE ...]
    simengine validate SCENARIO [--set KEY=VALUE ...]
    simengine report RUN_DIR
    simengine warmup
    simengine sweep SWEEP.toml [--out DIR] [--executor local|dask] [--scheduler ADDRESS] [--workers N]
    simengine calibrate EVENTS [--population N] [--segments FILE] -o SCENARIO.toml

Exit status: 0 success, 2 bad input (scenario, --set, output directory, run
directory; every problem is printed), 1 any other failure (one line; the
traceback with SIMENGINE_DEBUG=1), 130 interrupted (Ctrl-C), 143 terminated.
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


# State for the interrupt message: the directory a run has finished writing.
_state = {"written": None}


def _err(msg=""):
    print(msg, file=sys.stderr, flush=True)


def _plural(n, stem, one="", many="s") -> str:
    return f"{n:,} {stem}{one if n == 1 else many}"


def _debug() -> bool:
    return os.environ.get("SIMENGINE_DEBUG", "") not in ("", "0")


# --------------------------------------------------------------------------
# Helpers

def safe_name(name: str) -> str:
    """A scenario name made safe as one directory name: runs of characters
    outside [A-Za-z0-9_.-] become '_', leading dots are dropped (no '.', '..'
    or hidden directories), at most 100 characters; never empty."""
    s = SAFE_NAME.sub("_", name).lstrip(".")[:100]
    return s or "scenario"


def run_id(now=None) -> str:
    now = now or _dt.datetime.now()
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def check_output_dir(directory: Path) -> None:
    """Raise BadInput unless `directory` can be created as a new directory."""
    if directory.exists() or directory.is_symlink():
        raise BadInput(f"{directory}: already exists; a run never overwrites another "
                       "(choose a new --out, or leave --out out for a fresh results/ directory)")
    parent = directory.parent
    while not parent.exists():
        if parent.is_symlink():
            raise BadInput(f"{directory}: cannot be created: {parent} is a broken link")
        if parent.parent == parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        raise BadInput(f"{directory}: cannot be created: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadInput(f"{directory}: cannot be created: no permission to write in {parent}")


def _engine_shape(threads, chunk_size):
    """(threads, chunk) exactly as engine.run resolves them."""
    import numba
    n = numba.config.NUMBA_NUM_THREADS if threads is None else int(threads)
    n = max(1, min(n, numba.config.NUMBA_NUM_THREADS))
    chunk = int(chunk_size) if chunk_size else max(2 * n, 8)
    return n, chunk


def _load(scenario, overrides):
    from .scenario import ScenarioError, load_scenario
    try:
        return load_scenario(scenario, overrides or [])
    except ScenarioError as e:
        raise BadInput(e.problems) from None


def _is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _print_table(summary, metric="total_cost", horizon_years=None, strategies=None):
    from . import report
    report.print_table(*report.percentile_parts(summary, metric, horizon_years, strategies))


class Progress:
    """Progress of a run: a rich bar on a terminal, one line at start and end
    otherwise. Called by the engine with (paths done, total) after each chunk."""

    def __init__(self, label, total, enabled=None):
        self.label, self.total = label, total
        self.enabled = _is_tty(sys.stderr) if enabled is None else enabled
        self.bar = self.task = None
        self.start = None

    def __enter__(self):
        self.start = time.perf_counter()
        if self.enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)
            self.bar = Bar(TextColumn("{task.description}"), BarColumn(),
                           MofNCompleteColumn(), TextColumn("paths"),
                           TextColumn("elapsed"), TimeElapsedColumn(),
                           TextColumn("left"), TimeRemainingColumn(),
                           console=Console(stderr=True), transient=False)
            self.bar.__enter__()
            self.task = self.bar.add_task(self.label, total=self.total)
        else:
            _err(f"{PROG}: {self.label}: running {_plural(self.total, 'path')} ...")
        return self

    def __call__(self, done, total):
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False

    @property
    def elapsed(self):
        return time.perf_counter() - self.start


# --------------------------------------------------------------------------
# Subcommands

def cmd_run(args) -> int:
    from . import engine
    from .scenario import ScenarioError
    scn = _load(args.scenario, args.set)
    try:
        scn = scn.replace_run(paths=args.paths, seed=args.seed)
    except ScenarioError as e:
        raise BadInput([p + " (from the command line)" for p in e.problems]) from None
    threads, chunk = _engine_shape(args.threads, args.chunk_size)
    try:                                  # memory and size limits, before any work
        engine.check_resources(scn, threads, chunk)
    except ScenarioError as e:
        raise BadInput(e.problems) from None

    names = [s.name for s in scn.strategies]
    events_strategy = None
    if args.events is not None or args.events_strategy is not None:
        events_strategy = args.events_strategy or names[0]
        if events_strategy not in names:
            raise BadInput(f"--events-strategy: no strategy named {events_strategy!r}; "
                           f"strategies: {', '.join(names)}")
        from . import calibrate
        check = getattr(calibrate, "check_event_log_size", None)
        if check is not None:                 # a log too big is refused before the run
            try:
                check(scn)
            except ScenarioError as e:
                raise BadInput(e.problems) from None

    if args.out is not None:
        out = Path(args.out)
    else:
        name = safe_name(scn.name)
        if name != scn.name:
            _err(f"{PROG}: scenario name {scn.name!r} is not safe as a directory name; "
                 f"writing under results/{name}/")
        out = Path("results") / name / run_id()
        while out.exists():                 # same second and same 24 random bits
            out = out.with_name(run_id())
    check_output_dir(out)
    if args.events:
        ev = Path(args.events)
        if ev.exists():
            raise BadInput(f"--events {ev}: already exists; not overwriting it")
        if not ev.parent.is_dir():
            raise BadInput(f"--events {ev}: {ev.parent} is not a directory")

    label = (f"{scn.name} ({_plural(len(names), 'strateg', 'y', 'ies')}, "
             f"{_plural(threads, 'thread')})")
    with Progress(label, scn.paths, enabled=None if not args.no_progress else False) as prog:
        res = engine.run(scn, threads=threads, chunk_size=args.chunk_size, progress=prog)
    m = res.manifest
    rate = m.get("events_per_second") or 0
    _err(f"{PROG}: {_plural(scn.paths, 'path')} x {_plural(len(names), 'strateg', 'y', 'ies')} "
         f"in {prog.elapsed:.1f} s "
         f"({m.get('customer_events', 0):,} customer events, {rate / 1e6:,.1f} M/s)")

    m.update(kind="run", run_id=out.name, output_dir=str(out),
             created=_dt.datetime.now().astimezone().isoformat(timespec="seconds"),
             command=[PROG] + list(args.argv))
    try:
        res.write(out)
    except FileExistsError as e:
        raise BadInput(str(e)) from None
    except OSError as e:
        raise BadInput(f"{out}: cannot write the run directory: {e.strerror or e}") from None
    _state["written"] = out

    if events_strategy is not None:
        from . import calibrate
        try:
            written = calibrate.write_event_log(scn, out, events_strategy,
                                                path=Path(args.events) if args.events else None)
        except ScenarioError as e:
            raise BadInput([f"{out} was written, but not the contact log:"] + e.problems) from None
        _err(f"{PROG}: contact log of {events_strategy!r} written to "
             f"{written if written else (args.events or out / 'events.arrow')}")

    _print_table(res.summary, "total_cost", scn.horizon_years, names)
    print(f"\nwrote {out}")
    print(f"plots: {PROG} report {out}")
    return EXIT_OK


def cmd_validate(args) -> int:
    from . import engine
    from .scenario import ScenarioError
    scn = _load(args.scenario, args.set)
    threads, chunk = _engine_shape(None, None)
    try:
        engine.check_resources(scn, threads, chunk)
    except ScenarioError as e:
        raise BadInput(e.problems) from None
    print(f"ok: {scn.source}: scenario {scn.name!r}: {_plural(scn.population, 'customer')} "
          f"in {_plural(len(scn.segments), 'segment')}, "
          f"{_plural(len(scn.strategies), 'strateg', 'y', 'ies')}, "
          f"{_plural(scn.horizon_years, 'year')}, {_plural(scn.paths, 'path')}, "
          f"seed {scn.seed}, rule {scn.billing.rule} (sha256 {scn.sha256[:12]})")
    return EXIT_OK


def cmd_report(args) -> int:
    from . import report
    directory = Path(args.run_dir)
    try:
        manifest = report.read_manifest(directory)
    except report.NotARun as e:
        raise BadInput(str(e)) from None
    if manifest.get("kind") == "sweep":
        from . import sweep
        rc = sweep.report_sweep(directory)
        return rc if isinstance(rc, int) else EXIT_OK
    try:
        run = report.load_run(directory)
    except report.NotARun as e:
        raise BadInput(str(e)) from None
    try:
        _print_table(run.summary, args.metric, run.horizon_years, run.strategies)
    except ValueError as e:
        raise BadInput(f"--metric: {e}") from None
    try:
        written = report.write_plots(run)
    except OSError as e:
        raise BadInput(f"{directory}: cannot write the plots: {e.strerror or e}") from None
    print()
    for p in written:
        print(f"wrote {p}")
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


def cmd_sweep(args) -> int:
    from . import sweep
    return sweep.cli_sweep(args)


def cmd_calibrate(args) -> int:
    from . import calibrate
    return calibrate.cli_calibrate(args)


# --------------------------------------------------------------------------
# Parser and main

def _positive_int(text):
    try:
        v = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _seed(text):
    try:
        v = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return v


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    p = argparse.ArgumentParser(
        prog=PROG, description="Monte Carlo engine for the cost of WeCom external-contact "
        "scale tiers.", epilog="Exit status: 0 ok, 2 bad input, 1 other failure, "
        "130 interrupted. SIMENGINE_DEBUG=1 shows tracebacks.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    set_help = ("override a scalar key by its dotted path, e.g. population.size=10000, "
                "billing.rule=cumulative, segment.vip.churn_rate=0.001, "
                "strategy.fit.headroom=0.1 (repeatable)")
    r = sub.add_parser("run", help="simulate a scenario and write a run directory",
                       description="Simulate a scenario and write paths.arrow, periods.arrow, "
                       "monthly.arrow, summary.arrow and manifest.json into a new directory "
                       "(default results/<scenario name>/<timestamp>-<id>/).")
    r.add_argument("scenario", nargs="?", default=None, metavar="SCENARIO",
                   help="scenario TOML file or bundled name (default: the bundled default)")
    r.add_argument("--paths", type=_positive_int, help="number of paths (default: the scenario's)")
    r.add_argument("--seed", type=_seed, help="random seed (default: the scenario's)")
    r.add_argument("--threads", type=_positive_int, help="threads (default: all cores)")
    r.add_argument("--out", metavar="DIR", help="write exactly this new directory")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=set_help)
    r.add_argument("--events", nargs="?", const="", default=None, metavar="FILE",
                   help="also write the contact event log of one strategy "
                   "(default RUN_DIR/events.arrow; put SCENARIO before --events or use "
                   "--events=FILE)")
    r.add_argument("--events-strategy", metavar="NAME",
                   help="strategy whose contact log --events writes (default: the first)")
    r.add_argument("--chunk-size", type=_positive_int, help=argparse.SUPPRESS)
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.set_defaults(handler=cmd_run)

    v = sub.add_parser("validate", help="check a scenario and list every problem",
                       description="Check a scenario file; print a one-line summary (exit 0) "
                       "or every problem found (exit 2).")
    v.add_argument("scenario", metavar="SCENARIO", help="scenario TOML file or bundled name")
    v.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=set_help)
    v.set_defaults(handler=cmd_validate)

    rp = sub.add_parser("report", help="print a run's table and write its plots",
                        description="Print the percentile table of a run directory and write "
                        "cost_distribution.png, contacts_vs_capacity.png and yearly_cost.png "
                        "into it. A sweep directory gets the sweep report.")
    rp.add_argument("run_dir", metavar="RUN_DIR")
    rp.add_argument("--metric", default="total_cost",
                    help="summary metric for the table (default total_cost; e.g. "
                    "economic_cost, regret, cheapest)")
    rp.set_defaults(handler=cmd_report)

    w = sub.add_parser("warmup", help="compile the numba kernels (or load them from cache)")
    w.add_argument("--threads", type=_positive_int)
    w.set_defaults(handler=cmd_warmup)

    s = sub.add_parser("sweep", help="run a scenario over a grid of --set values",
                       description="Run every point of a sweep file (SPEC section 10).")
    s.add_argument("sweep", metavar="SWEEP.toml")
    s.add_argument("--out", metavar="DIR", help="parent directory of the sweep output")
    s.add_argument("--executor", choices=("local", "dask"), default="local")
    s.add_argument("--scheduler", metavar="ADDRESS", help="dask scheduler address")
    s.add_argument("--workers", type=_positive_int, metavar="N")
    s.set_defaults(handler=cmd_sweep)

    c = sub.add_parser("calibrate", help="fit a scenario to a contact event log",
                       description="Estimate segment rates from a contact event log "
                       "(SPEC section 11) and write a scenario TOML.")
    c.add_argument("events", metavar="EVENTS", help="event log: CSV, Parquet or Arrow")
    c.add_argument("--population", type=_positive_int, metavar="N")
    c.add_argument("--segments", metavar="FILE")
    c.add_argument("-o", "--output", required=True, metavar="SCENARIO.toml")
    c.add_argument("--path", type=int, metavar="P",
                   help="with a simulated log (a `path` column): calibrate on this path only")
    c.add_argument("--check-paths", type=int, metavar="N",
                   help="paths of the check simulation (default 200; 0 = no check)")
    c.add_argument("--seed", type=_seed, help="seed of the check simulation")
    c.set_defaults(handler=cmd_calibrate)
    return p


def _on_sigterm(signum, frame):
    raise Terminated()


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:                 # --help, --version, usage errors (2)
        return e.code if isinstance(e.code, int) else EXIT_BAD_INPUT
    args.argv = argv
    _state["written"] = None

    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:                      # not the main thread
        pass
    try:
        return args.handler(args)
    except BadInput as e:
        for line in e.problems:
            _err(f"error: {line}")
        if len(e.problems) > 1:
            _err(f"{len(e.problems)} problems found")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as e:
        what = "terminated" if isinstance(e, Terminated) else "interrupted"
        done = _state["written"]
        _err(f"\n{what}: " + (f"{done} was written completely" if done else "nothing written"))
        return EXIT_TERMINATED if isinstance(e, Terminated) else EXIT_INTERRUPTED
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_FAILURE
    except Exception as e:                  # noqa: BLE001 - the one-line failure report
        from .scenario import ScenarioError
        if isinstance(e, ScenarioError):    # bad input found deeper down (sweep, calibrate)
            for line in e.problems:
                _err(f"error: {line}")
            return EXIT_BAD_INPUT
        if _debug():
            traceback.print_exc()
        msg = str(e).splitlines()[0] if str(e) else ""
        _err(f"{PROG}: failed: {type(e).__name__}" + (f": {msg}" if msg else "")
             + ("" if _debug() else " (set SIMENGINE_DEBUG=1 for the traceback)"))
        return EXIT_FAILURE
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
