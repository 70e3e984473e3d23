"""Scenario sweeps (SPEC section 10): a grid of `--set` overrides on a base
scenario, run point by point on this machine or as tasks on a Dask cluster,
written as one hive-partitioned Arrow dataset per table, resumable.

A sweep file::

    [sweep]
    name = "rule-by-churn"
    base = "default.toml"          # relative to this file, or a bundled name
    strategies = ["fit", "oracle"] # optional: keep only these, in this order

    [sweep.set]                    # applied to every point
    "scenario.paths" = 200

    [sweep.grid]                   # each key is one axis of the product
    "billing.rule" = ["concurrent", "cumulative"]

    [[sweep.zip]]                  # keys varied together: one axis
    "segment.vip.churn_rate" = [0.0002, 0.001]
    "segment.vip.readd_prob" = [0.6, 0.3]

Instead of `base`, `[sweep.scenario]` may hold a whole scenario inline.

Layout of `OUT/<name>/` (the project's reading of "a table-named folder"):

    paths/<k1>=<v1>/<k2>=<v2>/part.arrow     one tree per table, so that
    periods/.../part.arrow                   pyarrow.dataset.dataset(OUT/<name>/paths,
    monthly/.../part.arrow                   format="arrow", partitioning="hive")
    summary/.../part.arrow                   reads every point in one call
    sweep_summary.arrow                      a row per point x strategy x metric
    manifest.json                            "kind": "sweep", the sweep file, the points
    plots/, report.md                        written by `simengine report`
    .done/<sha256>.json                      a point's marker (and its run manifest)
    .tmp/ .stale/ .lock                      work area, kept-aside old points, lock

Points are identified by the sha256 of their resolved scenario: a point is
finished iff its marker exists, names the current engine version and its
four files exist. A point's files are written to `.tmp/` and renamed into
place; the marker is written last. On a rerun, finished points are skipped,
leftovers of unfinished points are deleted, and finished points that are no
longer in the sweep are moved to `.stale/<sha256>/` (out of the dataset; a
later sweep that needs them again moves them back instead of re-simulating).

Every point uses the scenario's seed, so points share their random numbers
(common random numbers across the sweep) and a path's numbers depend only on
(seed, path number): the `dask` executor's tables are identical, bit for bit,
to the `local` executor's.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import shutil
import sys
import threading
import time
import tomllib
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from . import __version__
from .store import atomic_file
from .scenario import (NAME_RE, Scenario, ScenarioError, apply_overrides, read_toml,
                       scenario_from_dict)

TABLES = ("paths", "periods", "monthly", "summary")
PART = "part.arrow"
SUMMARY_FILE = "sweep_summary.arrow"
MANIFEST_FILE = "manifest.json"
DEFAULT_OUT = "results"
_SWEEP_KEYS = ("name", "description", "base", "scenario", "set", "grid", "zip", "strategies")
_SCALARS = (str, int, float, bool)


class SweepError(RuntimeError):
    """A sweep that cannot run for a reason other than its input (a missing
    optional dependency, a directory locked by another sweep)."""


# --------------------------------------------------------------------------
# The sweep file

@dataclass(frozen=True)
class Point:
    index: int
    values: dict              # swept key -> value, in key order
    axes: tuple               # index into each axis
    scenario: Scenario
    partition: str            # "k1=v1/k2=v2" (values URL-escaped)

    @property
    def sha256(self) -> str:
        return self.scenario.sha256

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={_text_value(v)}" for k, v in self.values.items())

    def files(self) -> dict:
        return {t: f"{t}/{self.partition}/{PART}" for t in TABLES}


@dataclass(frozen=True)
class Sweep:
    name: str
    source: str               # the sweep file
    text: str                 # its content
    base: str                 # the base scenario's label
    axes: tuple               # tuple of tuples of keys (a grid key, or a zip group)
    keys: tuple               # all swept keys, in partition order
    key_types: dict           # key -> "bool" | "int64" | "float64" | "string"
    settings: dict            # [sweep.set]
    strategies: tuple         # strategy names of every point
    points: tuple
    description: str = ""

    def partitioning(self):
        """A hive partitioning with the swept keys typed as in the sweep file
        (`pyarrow.dataset`'s own inference reads floats back as strings)."""
        import pyarrow.dataset as ds
        return ds.partitioning(pa.schema([(k, _ARROW[self.key_types[k]]) for k in self.keys]),
                               flavor="hive")


_ARROW = {"bool": pa.bool_(), "int64": pa.int64(), "float64": pa.float64(), "string": pa.string()}


def _text_value(v) -> str:
    """A swept value as text: TOML-like for bools, repr for floats."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _part_value(v) -> str:
    # pyarrow's hive partitioning URL-decodes segments (segment_encoding="uri")
    return urllib.parse.quote(_text_value(v), safe="")


def _key_type(values) -> str:
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if any(isinstance(v, bool) for v in values):
        return "string"
    if all(isinstance(v, int) for v in values):
        return "int64"
    if all(isinstance(v, (int, float)) for v in values):
        return "float64"
    return "string"


def _key_value(v, kind):
    """A swept value as its summary column holds it."""
    if kind == "float64":
        return float(v)
    if kind == "string":
        return _text_value(v)
    return v


def _show(v):
    return json.dumps(v, ensure_ascii=False, default=str)


def _tkey(k):
    return k if NAME_RE.match(k) and "." not in k else json.dumps(k)


def load_sweep(path) -> Sweep:
    """Read and validate a sweep file and every point's scenario. Raises
    ScenarioError listing every problem (file, key and, for a point, its
    key=value) before any simulation."""
    source = str(path)
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([f"{source}: no such sweep file"], source) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError([f"{source}: cannot read: {e}"], source) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError([f"{source}: invalid TOML: {e}"], source) from None

    problems = []

    def bad(key, msg):
        problems.append(f"{source}: {key}: {msg}")

    for k in data:
        if k != "sweep":
            bad(_tkey(k), "unknown table; a sweep file holds one [sweep] table "
                "(with [sweep.set], [sweep.grid], [[sweep.zip]], [sweep.scenario])")
    sw = data.get("sweep")
    if not isinstance(sw, dict):
        bad("sweep", "required: expected a [sweep] table with name and base, got "
            + ("nothing" if sw is None else _show(sw)))
        raise ScenarioError(problems, source)
    for k in sw:
        if k not in _SWEEP_KEYS:
            bad(f"sweep.{_tkey(k)}", f"unknown key; allowed keys: {', '.join(_SWEEP_KEYS)}")

    name = sw.get("name")
    if not (isinstance(name, str) and NAME_RE.match(name) and name not in (".", "..")):
        bad("sweep.name", "required: expected a name made of letters, digits, '_', '.' and '-' "
            f"(it names the output folder), got {'nothing' if name is None else _show(name)}")
    description = sw.get("description", "")
    if not isinstance(description, str):
        bad("sweep.description", f"expected a string, got {_show(description)}")
        description = ""

    has_base, has_inline = "base" in sw, "scenario" in sw
    if has_base == has_inline:
        bad("sweep.base", "expected exactly one of base = \"FILE\" (a scenario file relative to "
            "the sweep file, or a bundled name) and an inline [sweep.scenario] table, got "
            + ("both" if has_base else "neither"))
    elif has_base and not (isinstance(sw["base"], str) and sw["base"].strip()):
        bad("sweep.base", f"expected a scenario file name, got {_show(sw['base'])}")
    elif has_inline and not isinstance(sw["scenario"], dict):
        bad("sweep.scenario", f"expected a table holding a whole scenario, got {_show(sw['scenario'])}")

    settings = sw.get("set", {})
    if not isinstance(settings, dict):
        bad("sweep.set", f"expected a table of dotted keys to values, got {_show(settings)}")
        settings = {}

    # Axes: each grid key, then each zip group.
    where = {}                 # key -> where it is given (for messages)
    axes = []                  # [(keys tuple, [value tuples])]
    for k in settings:
        where[k] = "sweep.set"

    def scalars(loc, key, values):
        if not isinstance(values, list) or not values:
            bad(f"{loc}.{_tkey(key)}", f"expected a non-empty list of values, got {_show(values)}")
            return None
        wrong = [v for v in values if not isinstance(v, _SCALARS)]
        if wrong:
            bad(f"{loc}.{_tkey(key)}", "expected scalar values (numbers, strings or booleans: "
                f"the keys of --set), got {_show(wrong[0])}")
            return None
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            bad(f"{loc}.{_tkey(key)}", f"expected finite numbers, got {_show(values)}")
            return None
        return values

    def claim(loc, key):
        if key in where:
            bad(f"{loc}.{_tkey(key)}", f"expected each key once; it is also in {where[key]}")
            return False
        where[key] = loc
        return True

    grid = sw.get("grid", {})
    if not isinstance(grid, dict):
        bad("sweep.grid", f"expected a table of dotted keys to lists of values, got {_show(grid)}")
        grid = {}
    for key, values in grid.items():
        ok = claim("sweep.grid", key)
        values = scalars("sweep.grid", key, values)
        if ok and values is not None:
            texts = [_text_value(v) for v in values]
            if len(set(texts)) != len(texts):
                bad(f"sweep.grid.{_tkey(key)}", f"expected distinct values, got {_show(values)}")
            else:
                axes.append(((key,), [(v,) for v in values]))
    zips = sw.get("zip", [])
    if not isinstance(zips, list):
        bad("sweep.zip", f"expected [[sweep.zip]] tables of keys to equal-length lists, got {_show(zips)}")
        zips = []
    for i, group in enumerate(zips, 1):
        loc = f"sweep.zip #{i}"
        if not isinstance(group, dict) or not group:
            bad(loc, f"expected a table of dotted keys to equal-length lists, got {_show(group)}")
            continue
        columns, ok = [], True
        for key, values in group.items():
            ok &= claim(loc, key)
            values = scalars(loc, key, values)
            ok &= values is not None
            columns.append(values)
        if not ok:
            continue
        lengths = {len(c) for c in columns}
        if len(lengths) > 1:
            bad(loc, "expected lists of equal length (values varied together), got lengths "
                + ", ".join(f"{k}: {len(c)}" for k, c in zip(group, columns)))
            continue
        rows = list(zip(*columns))
        texts = [tuple(map(_text_value, r)) for r in rows]
        if len(set(texts)) != len(texts):
            bad(loc, "expected distinct combinations of values, got a repeated one")
            continue
        axes.append((tuple(group), rows))
    if not grid and not zips:
        bad("sweep.grid", "expected at least one swept key in [sweep.grid] or [[sweep.zip]]")

    strategies = sw.get("strategies")
    if strategies is not None and not (
            isinstance(strategies, list) and strategies
            and all(isinstance(s, str) for s in strategies) and len(set(strategies)) == len(strategies)):
        bad("sweep.strategies", f"expected a non-empty list of distinct strategy names, got {_show(strategies)}")
        strategies = None
    if problems:
        raise ScenarioError(problems, source)

    # The base scenario.
    if has_base:
        raw, base_label = _read_base(sw["base"], p, source)
    else:
        raw, base_label = sw["scenario"], f"{source} [sweep.scenario]"

    # Every key must be a --set key of the base (names resolved).
    for key, loc in where.items():
        value = settings[key] if loc == "sweep.set" else 0
        try:
            apply_overrides(raw, [(key, value)], base_label)
        except ScenarioError as e:
            for msg in e.problems:
                rest = msg.split(f"--set {key}: ", 1)[-1]
                bad(f"{loc}.{_tkey(key)}", rest)
    names = [e.get("name") for e in raw.get("strategy", []) if isinstance(e, dict)] \
        if isinstance(raw.get("strategy"), list) else []
    if strategies is not None:
        unknown = [s for s in strategies if s not in names]
        if unknown:
            bad("sweep.strategies", f"expected names of the base's strategies "
                f"({', '.join(map(str, names))}), got unknown {', '.join(map(_show, unknown))}")
        for key, loc in where.items():
            parts = key.split(".")
            if parts[0] == "strategy" and ".".join(parts[1:-1]) not in strategies:
                bad(f"{loc}.{_tkey(key)}", f"strategy {_show('.'.join(parts[1:-1]))} is not in "
                    "sweep.strategies, so this key changes nothing")
    if problems:
        raise ScenarioError(problems, source)

    # Points: the cartesian product of the axes, the first axis slowest.
    keys = tuple(k for ks, _ in axes for k in ks)
    key_types = {}
    for ks, rows in axes:
        for j, k in enumerate(ks):
            key_types[k] = _key_type([r[j] for r in rows])
    overridden = list(settings) + list(keys)
    points, by_point = [], []
    for index, combo in enumerate(itertools.product(*[range(len(rows)) for _, rows in axes])):
        values = {}
        for (ks, rows), i in zip(axes, combo):
            values.update(zip(ks, rows[i]))
        partition = "/".join(f"{k}={_part_value(v)}" for k, v in values.items())
        data = apply_overrides(raw, list(settings.items()) + list(values.items()), base_label)
        if strategies is not None:
            entries = {e.get("name"): e for e in data["strategy"] if isinstance(e, dict)}
            data["strategy"] = [entries[s] for s in strategies]
        try:
            scn = scenario_from_dict(data, base_label, overridden=overridden)
        except ScenarioError as e:
            by_point.append((values, [m.replace(" (from --set)", " (from the sweep)")
                                      for m in e.problems]))
            continue
        points.append(Point(index, values, combo, scn, partition))
    if by_point:
        n_points = math.prod(len(rows) for _, rows in axes)
        common = set.intersection(*[set(ms) for _, ms in by_point]) \
            if len(by_point) == n_points else set()
        problems += sorted(common, key=by_point[0][1].index)
        for values, msgs in by_point:
            label = ", ".join(f"{k}={_text_value(v)}" for k, v in values.items())
            for m in msgs:
                if m not in common:
                    m = m[len(base_label) + 2:] if m.startswith(base_label + ": ") else m
                    problems.append(f"{source}: point {label}: {m}")
        raise ScenarioError(problems, source)

    seen = {}
    for pt in points:
        if pt.sha256 in seen:
            problems.append(f"{source}: points {seen[pt.sha256].label} and {pt.label} "
                            "resolve to the same scenario; sweep each value once")
        seen[pt.sha256] = pt
    if problems:
        raise ScenarioError(problems, source)
    return Sweep(name=name, source=source, text=text, base=base_label,
                 axes=tuple(ks for ks, _ in axes), keys=keys, key_types=key_types,
                 settings=dict(settings),
                 strategies=tuple(s.name for s in points[0].scenario.strategies),
                 points=tuple(points), description=description)


def _read_base(base, sweep_path: Path, source):
    candidate = sweep_path.parent / base
    if candidate.is_file():
        return read_toml(candidate)
    if "/" not in base and "\\" not in base:
        try:
            return read_toml(base)      # a bundled scenario
        except ScenarioError:
            pass
    from .scenario import bundled_scenarios
    raise ScenarioError([f"{source}: sweep.base: no scenario file {str(candidate)!r} (relative "
                         f"to the sweep file) and no bundled scenario {base!r} (bundled: "
                         f"{', '.join(bundled_scenarios())})"], source)


# --------------------------------------------------------------------------
# Files of a sweep directory

def _atomic_bytes(path: Path, data: bytes):
    atomic_file(path, lambda tmp: Path(tmp).write_bytes(data))


def _atomic_json(path: Path, obj):
    _atomic_bytes(path, (json.dumps(obj, indent=2, default=str) + "\n").encode())


def _write_table(path: Path, table: pa.Table):
    with open(path, "wb") as f:
        with ipc.new_file(f, table.schema) as w:
            w.write_table(table)
        f.flush()
        os.fsync(f.fileno())


def _read_table(path) -> pa.Table:
    with ipc.open_file(path) as r:
        return r.read_all()


def _write_point(root: Path, point: Point, result, run_manifest: dict):
    """Write one point's four tables atomically, then its marker (last)."""
    tmp = root / ".tmp" / point.sha256
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for t in TABLES:
        _write_table(tmp / f"{t}.arrow", getattr(result, t))
    files = point.files()
    placed = []
    try:
        for t in TABLES:
            dest = root / files[t]
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / f"{t}.arrow", dest)
            placed.append(dest)
        (root / ".done").mkdir(exist_ok=True)
        _atomic_json(root / ".done" / f"{point.sha256}.json", {
            "scenario_sha256": point.sha256, "engine_version": __version__,
            "values": point.values, "partition": point.partition, "files": files,
            "run": run_manifest})
    except BaseException:
        # Take back what was placed; if we are killed before this, the next
        # run removes files that have no marker.
        for dest in placed:
            with contextlib.suppress(OSError):
                _remove(dest, root)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    tmp.rmdir()


@contextlib.contextmanager
def _locked(root: Path):
    """One sweep at a time per directory (an flock, released if we die)."""
    try:
        import fcntl
    except ImportError:             # not POSIX: no lock
        yield
        return
    f = open(root / ".lock", "a+")
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise SweepError(f"{root}: another sweep is writing this directory; "
                             "wait for it to finish") from None
        yield
    finally:
        f.close()


def _remove(path: Path, root: Path):
    """Delete a file and the directories it leaves empty, up to root."""
    if path.is_file() or path.is_symlink():
        path.unlink()
    d = path.parent
    while d != root and root in d.parents:
        try:
            d.rmdir()
        except OSError:
            break
        d = d.parent


def _reconcile(root: Path, sweep: Sweep) -> set:
    """Bring the directory in line with the sweep; return the indices of the
    points already finished. See the module docstring."""
    current = {p.sha256: p for p in sweep.points}
    done_dir = root / ".done"
    markers = {}
    for f in sorted(done_dir.glob("*.json")) if done_dir.is_dir() else []:
        try:
            m = json.loads(f.read_text())
            if set(m["files"]) != set(TABLES):
                raise ValueError
            markers[f.stem] = m
        except (ValueError, KeyError, TypeError, OSError):
            f.unlink()

    def intact(m):
        return all((root / rel).is_file() for rel in m["files"].values())

    def drop(sha, m):
        for rel in m["files"].values():
            _remove(root / rel, root)
        (done_dir / f"{sha}.json").unlink(missing_ok=True)

    def move(sha, m, files):
        for t in TABLES:
            src, dest = root / m["files"][t], root / files[t]
            if src == dest:
                continue
            if dest.exists():
                _remove(dest, root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
            _remove(src, root)          # prunes emptied folders
        m["files"] = files
        _atomic_json(done_dir / f"{sha}.json", m)

    # Finished points no longer in the sweep: out of the dataset, kept aside.
    for sha, m in list(markers.items()):
        if sha in current:
            continue
        if not intact(m):
            drop(sha, m)
            del markers[sha]
            continue
        stale = {t: f".stale/{sha}/{t}.arrow" for t in TABLES}
        if m["files"] != stale:
            m["partition"] = None
            move(sha, m, stale)
    # Points of this sweep: finished (perhaps elsewhere: move back) or not.
    done = set()
    expected = set()
    for sha, p in current.items():
        m = markers.get(sha)
        if m is None:
            continue
        if not intact(m) or m.get("engine_version") != __version__:
            drop(sha, m)
            continue
        if m["files"] != p.files():
            m["partition"], m["values"] = p.partition, p.values
            move(sha, m, p.files())
        done.add(p.index)
        expected.update(p.files().values())
    # Anything else in the table trees is a leftover of an unfinished point.
    for t in TABLES:
        tree = root / t
        if tree.is_dir():
            for f in sorted(tree.rglob(PART)):
                if f.relative_to(root).as_posix() not in expected:
                    _remove(f, root)
    shutil.rmtree(root / ".tmp", ignore_errors=True)
    return done


def _sweep_summary(root: Path, sweep: Sweep, done: set) -> pa.Table:
    """A row per finished point x strategy x metric, swept keys first."""
    parts = []
    for p in sweep.points:
        if p.index not in done:
            continue
        s = _read_table(root / p.files()["summary"]).replace_schema_metadata(None)
        n = s.num_rows
        cols = [pa.array([_key_value(p.values[k], sweep.key_types[k])] * n,
                         type=_ARROW[sweep.key_types[k]]) for k in sweep.keys]
        cols += [pa.array([p.index] * n, pa.int64()), pa.array([p.sha256] * n, pa.string())]
        parts.append(pa.Table.from_arrays(cols + s.columns,
                                          names=list(sweep.keys) + ["point", "scenario_sha256"]
                                          + s.column_names))
    meta = {b"sweep_name": sweep.name.encode(), b"engine_version": __version__.encode(),
            b"swept_keys": json.dumps(list(sweep.keys)).encode(), b"table": b"sweep_summary"}
    if parts:
        table = pa.concat_tables(parts)
    else:
        from .result import SUMMARY_SCHEMA
        fields = [(k, _ARROW[sweep.key_types[k]]) for k in sweep.keys]
        fields += [("point", pa.int64()), ("scenario_sha256", pa.string())] + list(SUMMARY_SCHEMA)
        table = pa.schema(fields).empty_table()
    return table.replace_schema_metadata(meta)


def _manifest(sweep: Sweep, status: dict, executor: dict, started, wall, walls) -> dict:
    return {
        "kind": "sweep",
        "name": sweep.name,
        "description": sweep.description,
        "engine_version": __version__,
        "sweep_file": sweep.source,
        "sweep_toml": sweep.text,
        "base": sweep.base,
        "set": sweep.settings,
        "axes": [list(a) for a in sweep.axes],
        "keys": list(sweep.keys),
        "key_types": sweep.key_types,
        "strategies": list(sweep.strategies),
        "layout": {"tables": {t: f"{t}/<key>=<value>/.../{PART}" for t in TABLES},
                   "summary": SUMMARY_FILE,
                   "read": 'pyarrow.dataset.dataset(DIR/"paths", format="arrow", partitioning="hive")'},
        "executor": executor,
        "started": started,
        "wall_seconds": wall,
        "complete": all(s == "done" for s in status.values()),
        "points": [{"index": p.index, "values": p.values, "axes": list(p.axes),
                    "partition": p.partition, "scenario_sha256": p.sha256,
                    "paths": p.scenario.paths, "seed": p.scenario.seed,
                    "status": status[p.index],
                    "this_run": ("simulated" if p.index in walls else
                                 "skipped" if status[p.index] == "done" else "not run"),
                    "wall_seconds": walls.get(p.index),
                    "marker": f".done/{p.sha256}.json"} for p in sweep.points],
    }


# --------------------------------------------------------------------------
# Running

@dataclass
class SweepRun:
    """What `run_sweep` did."""
    directory: Path
    simulated: list = field(default_factory=list)   # point indices run now
    skipped: list = field(default_factory=list)     # already finished
    manifest: dict = field(default_factory=dict)
    wall_seconds: float = 0.0


class _Progress:
    """Points done and time left across the whole sweep (rich, on a TTY)."""

    def __init__(self, sweep, n_done, total_paths, enabled, console):
        self.n, self.done, self.total = len(sweep.points), n_done, total_paths
        self.enabled, self.console, self.name = enabled, console, sweep.name
        self.bar = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import (BarColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)
            self.bar = Progress(TextColumn("[bold]sweep {task.description}"), BarColumn(),
                                TextColumn("{task.fields[points]}"), TimeElapsedColumn(),
                                TextColumn("left"), TimeRemainingColumn(),
                                console=self.console)
            self.bar.start()
            self.task = self.bar.add_task(self.name, total=max(self.total, 1),
                                          points=self._points())
        return self

    def _points(self):
        return f"{self.done}/{self.n} points"

    def paths(self, n):
        if self.bar is not None:
            self.bar.advance(self.task, n)

    def point(self):
        self.done += 1
        if self.bar is not None:
            self.bar.update(self.task, points=self._points())

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()


def _simulate_local(scn, threads, progress):
    """One point on this machine (a seam for tests that count simulations)."""
    from .engine import run
    return run(scn, threads=threads, progress=progress)


def _local_threads(workers):
    import numba
    n = numba.config.NUMBA_NUM_THREADS if workers is None else int(workers)
    return max(1, min(n, numba.config.NUMBA_NUM_THREADS))


def _default_chunk(paths, slots):
    # about 4 tasks per worker thread for one point, 1..64 paths each
    return max(1, min(64, math.ceil(paths / (4 * max(1, slots)))))


def run_sweep(sweep: Sweep, out=None, executor="local", scheduler=None, workers=None,
              chunk_size=None, progress=None, console=None) -> SweepRun:
    """Run the unfinished points of `sweep` into `out/<sweep.name>/`.

    executor: "local" (points one after another; `workers` numba threads,
    default all) or "dask" (tasks of (point, path chunk) on `scheduler`, or on
    a LocalCluster of `workers` processes (default 2) started here).
    `progress`: show a progress bar (default: when stderr is a terminal).
    Raises ScenarioError on bad arguments or a point too large for memory,
    SweepError when dask is missing or the directory is locked."""
    from rich.console import Console

    from .engine import check_resources
    if executor not in ("local", "dask"):
        raise ScenarioError(f"--executor: expected local or dask, got {executor!r}")
    if scheduler and executor != "dask":
        raise ScenarioError("--scheduler: only with --executor dask")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ScenarioError(f"--workers: expected an integer >= 1, got {workers!r}")
    if chunk_size is not None and chunk_size < 1:
        raise ScenarioError(f"chunk_size: expected an integer >= 1, got {chunk_size!r}")

    # Resources of every point, before any work.
    if executor == "local":
        threads = _local_threads(workers)
        per_point = lambda scn: (threads, max(2 * threads, 8))   # noqa: E731 (engine.run's chunk)
    else:
        n_procs = workers or 2
        per_point = lambda scn: (n_procs, chunk_size or _default_chunk(scn.paths, n_procs))  # noqa: E731
    problems = []
    for p in sweep.points:
        t, c = per_point(p.scenario)
        try:
            if executor == "dask" and scheduler:   # memory is the cluster's; size limit only
                check_resources(p.scenario.replace_run(paths=1), 1, 1)
            else:
                check_resources(p.scenario, t, c)
        except ScenarioError as e:
            problems += [f"{sweep.source}: point {p.label}: {m}" for m in e.problems]
    if problems:
        raise ScenarioError(problems, sweep.source)
    if executor == "dask":
        _import_distributed()          # a clear error before touching the directory

    console = console or Console(stderr=True)
    if progress is None:
        progress = console.is_terminal
    root = Path(out or DEFAULT_OUT) / sweep.name
    root.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    run = SweepRun(root)
    with _locked(root):
        done = _reconcile(root, sweep)
        status = {p.index: "done" if p.index in done else "pending" for p in sweep.points}
        run.skipped = sorted(done)
        walls = {}
        if executor == "local":
            info = {"executor": "local", "threads": _local_threads(workers)}
        else:
            info = {"executor": "dask", "scheduler": scheduler or "LocalCluster",
                    "workers": None if scheduler else (workers or 2), "chunk_size": chunk_size}

        def write_manifest():
            _atomic_json(root / MANIFEST_FILE, _manifest(
                sweep, status, info, started, time.perf_counter() - start, walls))

        write_manifest()
        pending = [p for p in sweep.points if p.index not in done]

        def finished(point, result, run_manifest, wall):
            _write_point(root, point, result, run_manifest)
            status[point.index] = "done"
            walls[point.index] = wall
            run.simulated.append(point.index)
            done.add(point.index)
            write_manifest()
            bar.point()

        try:
            with _Progress(sweep, len(sweep.points) - len(pending),
                           sum(p.scenario.paths for p in pending), progress, console) as bar:
                if executor == "local":
                    _run_local(pending, info["threads"], bar, finished)
                else:
                    _run_dask(pending, scheduler, workers, chunk_size, bar, finished, info)
        finally:
            shutil.rmtree(root / ".tmp", ignore_errors=True)
            _atomic_bytes(root / SUMMARY_FILE, _table_bytes(_sweep_summary(root, sweep, done)))
            write_manifest()
            run.manifest = json.loads((root / MANIFEST_FILE).read_text())
            run.wall_seconds = time.perf_counter() - start
    return run


def _table_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def _run_local(pending, threads, bar, finished):
    for p in pending:
        t0 = time.perf_counter()
        seen = [0]

        def cb(done, total, seen=seen):
            bar.paths(done - seen[0])
            seen[0] = done
        res = _simulate_local(p.scenario, threads, cb)
        manifest = dict(res.manifest, executor="local")
        finished(p, res, manifest, time.perf_counter() - t0)


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise SweepError("the dask executor needs dask.distributed, an optional extra: "
                         "pip install 'simengine[dask]' (or 'dask[distributed]'); "
                         "or use --executor local") from None
    return distributed


_KERNEL_LOCK = threading.Lock()
WAIT_FOR_WORKERS = 120      # seconds --workers N waits for N workers of an existing cluster


def _dask_task(inputs, seed, paths, threads):
    """One (point, path chunk) task on a Dask worker: the kernel's raw arrays.
    One kernel at a time per worker process (numba's workqueue threading
    layer does not allow concurrent parallel launches), with `threads` numba
    threads (None: the worker's thread count)."""
    import numba

    from .engine import simulate_chunk
    if threads is None:
        try:
            from distributed import get_worker
            w = get_worker()
            threads = getattr(getattr(w, "state", w), "nthreads", 1)
        except Exception:    # pragma: no cover - not on a worker
            threads = 1
    threads = max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS))
    with _KERNEL_LOCK:
        previous = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            return simulate_chunk(inputs, seed, paths)
        finally:
            numba.set_num_threads(previous)


def _run_dask(pending, scheduler, workers, chunk_size, bar, finished, info):
    distributed = _import_distributed()
    import logging

    from .engine import concat, pack_scenario
    from .result import Result
    cluster = None
    if scheduler:
        client = distributed.Client(scheduler, timeout="30s")
        threads = None
        if workers:                      # an existing cluster: wait for N workers
            try:
                client.wait_for_workers(workers, timeout=WAIT_FOR_WORKERS)
            except (TimeoutError, getattr(distributed, "TimeoutError", TimeoutError)):
                n = len(client.nthreads())
                client.close()
                raise SweepError(f"{scheduler}: {n} of the {workers} workers asked for "
                                 f"(--workers) joined within {WAIT_FOR_WORKERS} s") from None
    else:
        cluster = distributed.LocalCluster(
            n_workers=workers or 2, threads_per_worker=1, processes=True,
            dashboard_address=None, silence_logs=logging.ERROR,
            env={"NUMBA_NUM_THREADS": "1"})
        client = distributed.Client(cluster)
        threads = 1
    try:
        nthreads = client.nthreads()
        slots = sum(nthreads.values()) or 1
        info["workers"] = len(nthreads)
        info["worker_threads"] = slots
        window = max(2, 2 * len(nthreads))       # points in flight
        queue = iter(pending)
        tags, state = {}, {}
        ac = distributed.as_completed()

        def submit():
            p = next(queue, None)
            if p is None:
                return
            scn = p.scenario
            inputs = pack_scenario(scn)
            chunk = chunk_size or _default_chunk(scn.paths, slots)
            shared = client.scatter(inputs, hash=False)
            bounds = list(range(0, scn.paths, chunk))
            state[p.index] = {"point": p, "parts": [None] * len(bounds), "left": len(bounds),
                              "inputs": inputs, "shared": shared, "chunk": chunk,
                              "t0": time.perf_counter()}
            for j, lo in enumerate(bounds):
                f = client.submit(_dask_task, shared, scn.seed,
                                  np.arange(lo, min(lo + chunk, scn.paths), dtype=np.int64),
                                  threads, pure=False)
                tags[f.key] = (p.index, j)
                ac.add(f)

        for _ in range(window):
            submit()
        for f in ac:
            i, j = tags.pop(f.key)
            raw = f.result()
            f.release()
            st = state[i]
            st["parts"][j] = raw
            st["left"] -= 1
            bar.paths(len(raw.paths))
            if st["left"]:
                continue
            del state[i]
            p = st["point"]
            raw = concat(st["parts"])
            wall = time.perf_counter() - st["t0"]
            events = int(raw.events.sum())
            manifest = {
                "scenario": p.scenario.resolved, "scenario_sha256": p.sha256,
                "seed": p.scenario.seed, "paths": p.scenario.paths,
                "engine_version": __version__, "executor": "dask",
                "scheduler": info["scheduler"], "workers": info["workers"],
                "threads": info["worker_threads"], "chunk_size": st["chunk"],
                "wall_seconds": wall, "customer_events": events,
                "events_per_second": events / wall if wall > 0 else None}
            res = Result.from_raw(p.scenario, st["inputs"].strategy_names, raw, manifest)
            st["shared"].release()
            finished(p, res, manifest, wall)
            submit()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# --------------------------------------------------------------------------
# Reading

def _sweep_manifest(directory) -> dict:
    path = Path(directory) / MANIFEST_FILE
    try:
        m = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ScenarioError(f"{path}: cannot read the sweep manifest: {e}") from None
    if m.get("kind") != "sweep":
        raise ScenarioError(f"{path}: not a sweep directory (manifest kind is "
                            f"{m.get('kind')!r}, expected \"sweep\")")
    return m


def open_dataset(directory, table="paths"):
    """`table` of every point of a sweep directory as one pyarrow Dataset,
    the swept keys typed as in the sweep file (int, float, string, bool).
    (`pyarrow.dataset.dataset(DIR/table, format="arrow", partitioning="hive")`
    reads the same rows; its inference types floats as strings.)"""
    import pyarrow.dataset as ds
    if table not in TABLES:
        raise ValueError(f"table: expected one of {', '.join(TABLES)}, got {table!r}")
    m = _sweep_manifest(directory)
    part = ds.partitioning(pa.schema([(k, _ARROW[m["key_types"][k]]) for k in m["keys"]]),
                           flavor="hive")
    return ds.dataset(Path(directory) / table, format="arrow", partitioning=part)


def read_sweep_summary(directory) -> pa.Table:
    return _read_table(Path(directory) / SUMMARY_FILE)


# --------------------------------------------------------------------------
# Report: P50/P95 of total and economic cost against each swept key

REPORT_METRICS = ("total_cost", "economic_cost")
REPORT_STATS = ("p50", "p95")
MAX_ROWS = 6            # combinations of the other axes drawn as rows of panels


def _cheapest(values: dict, order, previous=None):
    """The strategy with the lowest value; a tie keeps `previous`, else the
    first in strategy order."""
    best = min(values.values())
    tied = [s for s in order if s in values and values[s] == best]
    return previous if previous in tied else tied[0]


def _report_data(m, summary):
    """{point index: {(strategy, metric, stat): value}}"""
    cols = summary.select(["point", "strategy", "metric", *REPORT_STATS]).to_pydict()
    out = {}
    for i in range(len(cols["point"])):
        if cols["metric"][i] in REPORT_METRICS:
            d = out.setdefault(cols["point"][i], {})
            for s in REPORT_STATS:
                d[(cols["strategy"][i], cols["metric"][i], s)] = cols[s][i]
    return out


def _axis_views(m, data):
    """For each axis: its values, and the rows (combinations of the other
    axes) to draw, each as (label, [point index per axis value or None])."""
    points = m["points"]
    axes = m["axes"]
    sizes = [1 + max(p["axes"][a] for p in points) for a in range(len(axes))]
    by_axes = {tuple(p["axes"]): p for p in points}
    views = []
    for a, keys in enumerate(axes):
        xs = []
        for i in range(sizes[a]):
            p = next(q for q in points if q["axes"][a] == i)
            xs.append([p["values"][k] for k in keys])
        others = [b for b in range(len(axes)) if b != a]
        combos = list(itertools.product(*[range(sizes[b]) for b in others]))
        held = False
        if len(combos) > MAX_ROWS:
            combos, held = combos[:1], True
        rows = []
        for combo in combos:
            idx = []
            for i in range(sizes[a]):
                full = [0] * len(axes)
                full[a] = i
                for b, v in zip(others, combo):
                    full[b] = v
                p = by_axes.get(tuple(full))
                idx.append(p["index"] if p is not None and p["index"] in data else None)
            parts = []
            for b, v in zip(others, combo):
                ref = next(q for q in points if q["axes"][b] == v)
                parts += [f"{k}={_text_value(ref['values'][k])}" for k in axes[b]]
            label = ", ".join(parts)
            rows.append((label, idx))
        views.append({"axis": a, "keys": keys, "xs": xs, "rows": rows, "held": held})
    return views


def _crossovers(view, data, strategies):
    """Where the cheapest strategy changes along the axis, per row and series."""
    out = []
    x_text = [", ".join(_text_value(v) for v in x) for x in view["xs"]]
    for label, idx in view["rows"]:
        for metric in REPORT_METRICS:
            for stat in REPORT_STATS:
                prev, prev_x = None, None
                for i, pi in enumerate(idx):
                    if pi is None:
                        continue
                    vals = {s: data[pi][(s, metric, stat)] for s in strategies
                            if (s, metric, stat) in data[pi]}
                    if not vals:
                        continue
                    best = _cheapest(vals, strategies, prev)
                    if prev is not None and best != prev:
                        out.append({"axis": view["axis"], "row": label, "metric": metric,
                                    "stat": stat, "from": prev, "to": best,
                                    "between": (x_text[prev_x], x_text[i]), "at": (prev_x, i)})
                    prev, prev_x = best, i
    return out


ZOOM = 4.0      # strategies above ZOOM x the dearest of the cheapest values run off the top


def _yuan(v, _=None):
    if abs(v) >= 1e6:
        return f"{v / 1e6:,.2g}M" if abs(v) < 1e7 else f"{v / 1e6:,.0f}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:,.0f}k"
    return f"{v:,.0f}"


def _zoom(ax, idx, data, strategies, metric, stat):
    """Keep the competitive range in view: the y axis runs from 0 to just
    above the dearest line that stays within ZOOM times the largest (over x)
    of the cheapest value; dearer lines run off the top, and those wholly
    above are named in the panel."""
    lines = {}
    for s in strategies:
        vals = [data[pi][(s, metric, stat)] for pi in idx
                if pi is not None and (s, metric, stat) in data[pi]]
        vals = [v for v in vals if math.isfinite(v)]
        if vals:
            lines[s] = vals
    lows = []
    for pi in idx:
        if pi is not None:
            vals = [data[pi][(s, metric, stat)] for s in lines if (s, metric, stat) in data[pi]]
            if vals:
                lows.append(min(vals))
    if not lows or min(lows) < 0:
        return
    limit = ZOOM * max(lows)
    kept = [max(v) for v in lines.values() if max(v) <= limit]
    if len(kept) == len(lines) or not kept or max(kept) <= 0:
        ax.set_ylim(bottom=0)
        return
    top = 1.15 * max(kept)
    ax.set_ylim(0, top)
    above = [s for s, v in lines.items() if min(v) > top]
    if above:
        ax.text(0.98, 0.97, "off scale: " + ", ".join(above) + " ↑", transform=ax.transAxes,
                ha="right", va="top", fontsize=7, color="0.35")


def _plot_axis(view, data, strategies, crossings, path: Path, title):
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, NullLocator

    xs = view["xs"]
    first = [x[0] for x in xs]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in first)
    pos = [float(v) for v in first] if numeric else list(range(len(xs)))
    logx = numeric and min(pos) > 0 and max(pos) / min(pos) >= 20
    rows = view["rows"]
    panels = [(m, s) for m in REPORT_METRICS for s in REPORT_STATS]
    fig = Figure(figsize=(3.6 * len(panels), 2.9 * len(rows) + 1.2), layout="constrained")
    axs = fig.subplots(len(rows), len(panels), squeeze=False)
    colors = [f"C{i % 10}" for i in range(len(strategies))]
    styles = ["-", "--", "-.", ":"]
    yfmt = FuncFormatter(_yuan)
    for r, (label, idx) in enumerate(rows):
        for c, (metric, stat) in enumerate(panels):
            ax = axs[r][c]
            for si, s in enumerate(strategies):
                pts = [(pos[i], data[pi][(s, metric, stat)]) for i, pi in enumerate(idx)
                       if pi is not None and (s, metric, stat) in data[pi]]
                if pts:
                    ax.plot(*zip(*pts), marker="o", ms=3.5, lw=1.6, color=colors[si],
                            ls=styles[(si // 10) % 4], label=s)
            for cr in crossings:
                if cr["row"] == label and cr["metric"] == metric and cr["stat"] == stat:
                    a, b = (pos[i] for i in cr["at"])
                    mid = math.sqrt(a * b) if logx else (a + b) / 2
                    ax.axvline(mid, color="0.5", ls=":", lw=1)
                    ax.annotate(f"→ {cr['to']}", (mid, 0), xycoords=("data", "axes fraction"),
                                xytext=(2, 4), textcoords="offset points", fontsize=7,
                                color="0.3", rotation=90, va="bottom")
            if logx:
                ax.set_xscale("log")
            _zoom(ax, idx, data, strategies, metric, stat)
            if not numeric or len(xs) <= 12:
                ax.set_xticks(pos, [", ".join(_text_value(v) for v in x) for x in xs])
                ax.xaxis.set_minor_locator(NullLocator())
                if not numeric:
                    ax.margins(x=0.12)
                if numeric and len(xs) > 5:
                    ax.tick_params(axis="x", labelrotation=30)
            ax.yaxis.set_major_formatter(yfmt)
            ax.grid(alpha=0.3)
            ax.set_title(f"{metric} {stat.upper()}" + (f"\n{label}" if label else ""), fontsize=9)
            if r == len(rows) - 1:
                ax.set_xlabel(", ".join(view["keys"]), fontsize=8)
            if c == 0:
                ax.set_ylabel("yuan", fontsize=8)
            ax.tick_params(labelsize=7)
    handles, labels = axs[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 7),
               fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    atomic_file(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))


def _wide_console():
    """stdout; wide when it is not a terminal (logs, pipes), not 80 columns."""
    from rich.console import Console
    console = Console()
    return console if console.is_terminal else Console(width=160)


def _money(v):
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:,.0f}"


def report_sweep(path, console=None) -> int:
    """`simengine report SWEEP_DIR`: print P50/P95 of total and economic cost
    per point and strategy, the cheapest strategy per point and where it
    changes; write `plots/<key>.png` (one per swept axis) and `report.md`
    into the sweep directory. Returns the exit status."""
    from rich.table import Table
    console = console or _wide_console()
    root = Path(path)
    try:
        m = _sweep_manifest(root)
        summary = read_sweep_summary(root)
    except ScenarioError as e:
        print(e, file=sys.stderr)
        return 2
    except (OSError, pa.ArrowInvalid) as e:
        print(f"{root / SUMMARY_FILE}: cannot read: {e}", file=sys.stderr)
        return 2
    strategies = m["strategies"]
    data = _report_data(m, summary)
    points = [p for p in m["points"] if p["index"] in data]
    keys = m["keys"]
    if not points:
        print(f"{root}: no finished points to report; run the sweep first", file=sys.stderr)
        return 2
    views = _axis_views(m, data)
    crossings = [c for v in views for c in _crossovers(v, data, strategies)]

    # Tables
    md = [f"# Sweep `{m['name']}`", ""]
    if m.get("description"):
        md += [m["description"], ""]
    n_all = len(m["points"])
    md += [f"{len(points)} of {n_all} points finished; swept keys: "
           + ", ".join(f"`{k}`" for k in keys) + f"; base `{m['base']}`; engine {m['engine_version']}.",
           "Costs in yuan per horizon; P50/P95 across paths. Economic cost = total cost + lost value.", ""]
    cheap = Table(title=f"Cheapest strategy per point ({m['name']})")
    head = [*keys, "total P50", "total P95", "economic P50", "economic P95"]
    for h in head:
        cheap.add_column(h, overflow="fold")
    md += ["## Cheapest strategy per point", "", "| " + " | ".join(head) + " |",
           "|" + "---|" * len(head)]
    for p in points:
        d = data[p["index"]]
        row = [_text_value(p["values"][k]) for k in keys]
        for metric in REPORT_METRICS:
            for stat in REPORT_STATS:
                vals = {s: d[(s, metric, stat)] for s in strategies if (s, metric, stat) in d}
                row.append(_cheapest(vals, strategies))
        cheap.add_row(*row)
        md.append("| " + " | ".join(row) + " |")
    md += ["", "## Crossovers", ""]
    if crossings:
        for cr in crossings:
            axis_keys = ", ".join(m["axes"][cr["axis"]])
            where = f" ({cr['row']})" if cr["row"] else ""
            md.append(f"- `{axis_keys}`{where}, {cr['metric']} {cr['stat'].upper()}: cheapest "
                      f"changes from **{cr['from']}** to **{cr['to']}** between "
                      f"{cr['between'][0]} and {cr['between'][1]}")
    else:
        md.append("- none: the cheapest strategy is the same at every point of each line")
    full = Table(title="P50 / P95 by point and strategy (yuan; * cheapest economic cost)")
    head2 = [*keys, "strategy", "total P50", "total P95", "economic P50", "economic P95"]
    for h in head2:
        full.add_column(h, justify="right" if " P" in h else "left", overflow="fold")
    md += ["", "## P50 / P95 by point and strategy", "", "`*` marks the cheapest economic cost.",
           "", "| " + " | ".join(head2) + " |", "|" + "---|" * len(head2)]
    for p in points:
        d = data[p["index"]]
        best = {stat: _cheapest({s: d[(s, "economic_cost", stat)] for s in strategies
                                 if (s, "economic_cost", stat) in d}, strategies)
                for stat in REPORT_STATS}
        for s in strategies:
            cells = [_text_value(p["values"][k]) for k in keys] + [s]
            for metric in REPORT_METRICS:
                for stat in REPORT_STATS:
                    v = _money(d.get((s, metric, stat)))
                    if metric == "economic_cost" and best[stat] == s:
                        v += " *"
                    cells.append(v)
            full.add_row(*cells)
            md.append("| " + " | ".join(cells) + " |")
        full.add_section()

    # Plots
    md += ["", "## Plots", ""]
    written = []
    for v in views:
        if len(v["xs"]) < 2:
            md.append(f"- `{', '.join(v['keys'])}`: one value only, no plot")
            continue
        name = v["keys"][0]
        target = root / "plots" / f"{name}.png"
        note = ""
        if len(m["axes"]) > 1:
            note = ("other keys held at their first values" if v["held"]
                    else "one row per combination of the other keys")
        title = (f"Sweep {m['name']}: P50/P95 cost against {', '.join(v['keys'])}"
                 + (f" ({note})" if note else ""))
        _plot_axis(v, data, strategies, [c for c in crossings if c["axis"] == v["axis"]],
                   target, title)
        written.append(target)
        md += [f"### {', '.join(v['keys'])}", ""]
        if note:
            md += [note[0].upper() + note[1:] + "; dotted lines mark where the cheapest "
                   "strategy changes.", ""]
        md += [f"![P50/P95 against {name}](plots/{name}.png)", ""]
    _atomic_bytes(root / "report.md", ("\n".join(md) + "\n").encode())

    console.print(full)
    console.print(cheap)
    if crossings:
        console.print("[bold]Crossovers[/bold] (where the cheapest strategy changes):")
        for cr in crossings:
            where = f" ({cr['row']})" if cr["row"] else ""
            console.print(f"  {', '.join(m['axes'][cr['axis']])}{where} {cr['metric']} "
                          f"{cr['stat'].upper()}: {cr['from']} -> {cr['to']} between "
                          f"{cr['between'][0]} and {cr['between'][1]}", highlight=False)
    if not m.get("complete", True):
        console.print(f"[yellow]{n_all - len(points)} point(s) not finished: rerun the sweep "
                      "to complete it[/yellow]")
    for t in written:
        console.print(f"plot: {t}", highlight=False)
    console.print(f"report: {root / 'report.md'}", highlight=False)
    return 0


# --------------------------------------------------------------------------
# Command line (`simengine sweep` calls cli_sweep)

def cli_sweep(args) -> int:
    """`simengine sweep SWEEP.toml [--out DIR] [--executor local|dask]
    [--scheduler ADDRESS] [--workers N]`. Returns the exit status: 0 done,
    2 bad input (every problem printed), 1 any other failure."""
    from rich.table import Table
    out_console = _wide_console()
    try:
        sweep = load_sweep(args.sweep)
        run = run_sweep(sweep, out=getattr(args, "out", None),
                        executor=getattr(args, "executor", None) or "local",
                        scheduler=getattr(args, "scheduler", None),
                        workers=getattr(args, "workers", None))
    except ScenarioError as e:
        for line in e.problems:
            print(f"error: {line}", file=sys.stderr)
        if len(e.problems) > 1:
            print(f"{len(e.problems)} problems found", file=sys.stderr)
        return 2
    except SweepError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:     # Ctrl-C, or SIGTERM as the CLI's Terminated
        terminated = type(e).__name__ == "Terminated"
        print(f"\n{'terminated' if terminated else 'interrupted'}: finished points are kept; "
              "rerun the same command to resume", file=sys.stderr)
        return 143 if terminated else 130
    except Exception as e:    # noqa: BLE001 - the CLI's contract: one line, status 1
        if os.environ.get("SIMENGINE_DEBUG", "") not in ("", "0"):
            import traceback
            traceback.print_exc()
        msg = str(e).splitlines()[0] if str(e) else ""
        print(f"simengine sweep: failed: {type(e).__name__}" + (f": {msg}" if msg else "")
              + "; finished points are kept, rerun to resume", file=sys.stderr)
        return 1

    summary = read_sweep_summary(run.directory)
    data = _report_data(run.manifest, summary)
    table = Table(title=f"Sweep {sweep.name}: cheapest strategy by economic cost")
    for h in (*sweep.keys, "P50", "P95"):
        table.add_column(h, overflow="fold")
    for p in sweep.points:
        d = data.get(p.index, {})
        row = [_text_value(p.values[k]) for k in sweep.keys]
        for stat in REPORT_STATS:
            vals = {s: d[(s, "economic_cost", stat)] for s in sweep.strategies
                    if (s, "economic_cost", stat) in d}
            row.append(_cheapest(vals, sweep.strategies) if vals else "")
        table.add_row(*row)
    out_console.print(table)
    out_console.print(
        f"{len(sweep.points)} points: {len(run.simulated)} simulated, {len(run.skipped)} "
        f"already done, in {run.wall_seconds:.1f} s", highlight=False)
    out_console.print(f"wrote {run.directory} (report: simengine report {run.directory})",
                      highlight=False)
    return 0


def main(argv=None) -> int:
    """`python -m simengine.sweep` (the same as `simengine sweep`); with
    `report DIR`, the sweep report."""
    import argparse
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["report"]:
        ap = argparse.ArgumentParser(prog="python -m simengine.sweep report")
        ap.add_argument("dir")
        return report_sweep(ap.parse_args(argv[1:]).dir)
    ap = argparse.ArgumentParser(prog="python -m simengine.sweep",
                                 description="Run a scenario sweep (SPEC section 10).")
    ap.add_argument("sweep")
    ap.add_argument("--out", default=None, help=f"output folder (default: {DEFAULT_OUT})")
    ap.add_argument("--executor", choices=("local", "dask"), default="local")
    ap.add_argument("--scheduler", default=None, help="a Dask scheduler address (tcp://...)")
    ap.add_argument("--workers", type=int, default=None,
                    help="local: numba threads; dask: LocalCluster worker processes (default 2)")
    return cli_sweep(ap.parse_args(argv))


if __name__ == "__main__":
    # run the imported module's main, so that Dask pickles `simengine.sweep._dask_task`
    # by reference (a function of `__main__` would be pickled by value)
    from simengine.sweep import main as _main
    sys.exit(_main())
