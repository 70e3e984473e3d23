"""The sweep file (docs/model.md section 10): reading it, checking every key and
every point's scenario before any work, and the points it makes.

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
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import tomllib
import urllib.parse
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pyarrow as pa

from .. import store
from ..scenario import (MISSING, NAME_RE, Scenario, ScenarioError, apply_overrides,
                        bundled_scenarios, read_toml, scale_scenario, scenario_from_dict,
                        split_overrides)

TABLES = ("paths", "periods", "monthly", "summary")
FORMATS = ("arrow", "parquet")
SWEEP_KEYS = ("name", "description", "base", "scenario", "set", "grid", "zip", "strategies")
_SCALARS = (str, int, float, bool)
ARROW_TYPES = {"bool": pa.bool_(), "int64": pa.int64(), "float64": pa.float64(),
               "string": pa.string()}


def part_file(fmt="arrow") -> str:
    """The file of one point in each table's tree: part.arrow or part.parquet."""
    return f"part.{fmt}"


@dataclass(frozen=True)
class Point:
    """One scenario of the sweep: its swept values and where its tables go."""
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
        return ", ".join(f"{k}={text_value(v)}" for k, v in self.values.items())

    def files(self, fmt="arrow") -> dict:
        return {t: f"{t}/{self.partition}/{part_file(fmt)}" for t in TABLES}


@dataclass(frozen=True)
class Sweep:
    name: str
    source: str               # the sweep file, as given
    text: str                 # its content
    base: str                 # the base scenario's label
    axes: tuple               # tuple of tuples of keys (a grid key, or a zip group)
    keys: tuple               # all swept keys, in partition order
    key_types: dict           # key -> "bool" | "int64" | "float64" | "string"
    settings: dict            # [sweep.set]
    strategies: tuple         # strategy names of every point
    points: tuple
    description: str = ""
    fmt: str = "arrow"              # the table files: Arrow IPC or Parquet
    command_line: tuple = ()        # --scale/--set/--paths given to `simengine sweep`
    suffix: str = ""                # the same, as the tail of the folder's name

    @property
    def folder(self) -> str:
        """The sweep's folder under OUT: its name, and what the command line
        changed (`rule-by-churn_scale=0.02_paths=8`): a sweep whose points
        the command line changed never shares the folder of the file's own
        points, nor of other changes."""
        return self.name + self.suffix

    @property
    def path(self) -> str:
        """The sweep file's absolute path (one half of its identity)."""
        return str(Path(self.source).resolve())

    @property
    def sha256(self) -> str:
        """The resolved sweep: its name, axes and every point's scenario. The
        same sweep file, moved or copied, has the same hash."""
        facts = {"name": self.name, "axes": [list(a) for a in self.axes],
                 "points": [p.sha256 for p in self.points]}
        return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()

    def partitioning(self):
        """A hive partitioning with the swept keys typed as in the sweep file
        (`pyarrow.dataset`'s own inference reads floats back as strings)."""
        return hive_partitioning(self.keys, self.key_types)


def hive_partitioning(keys, key_types):
    import pyarrow.dataset as ds
    return ds.partitioning(pa.schema([(k, ARROW_TYPES[key_types[k]]) for k in keys]),
                           flavor="hive")


def text_value(v) -> str:
    """A swept value as text: TOML-like for bools, repr for floats."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def partition_value(v) -> str:
    # pyarrow's hive partitioning URL-decodes segments (segment_encoding="uri")
    return urllib.parse.quote(text_value(v), safe="")


def key_type(values) -> str:
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if any(isinstance(v, bool) for v in values):
        return "string"
    if all(isinstance(v, int) for v in values):
        return "int64"
    if all(isinstance(v, (int, float)) for v in values):
        return "float64"
    return "string"


def column_value(v, kind):
    """A swept value as its column in sweep_summary.arrow holds it."""
    if kind == "float64":
        return float(v)
    if kind == "string":
        return text_value(v)
    return v


def _show(v):
    return json.dumps(v, ensure_ascii=False, default=str)


def _tkey(k):
    return k if NAME_RE.match(k) and "." not in k else json.dumps(k)


# --------------------------------------------------------------------------
# Reading and checking

class _Problems(list):
    """Problems found so far, each naming the sweep file and the key."""

    def __init__(self, source):
        super().__init__()
        self.source = source

    def add(self, key, msg):
        self.append(f"{self.source}: {key}: {msg}")

    def raise_any(self):
        if self:
            raise ScenarioError(list(self), self.source)


def bundled_sweeps() -> list[str]:
    """Names of the sweeps shipped with the package (simengine/sweeps/bundled/)."""
    folder = resources.files("simengine.sweeps") / "bundled"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def find_sweep(path) -> Path:
    """A sweep file: `path` if it exists, else a bundled sweep of that name
    (`rule-by-churn` or `rule-by-churn.toml`)."""
    p = Path(path)
    name = str(path)
    if p.exists() or "/" in name or "\\" in name:
        return p
    bundled = resources.files("simengine.sweeps") / "bundled" / (
        name if name.endswith(".toml") else name + ".toml")
    return Path(str(bundled)) if bundled.is_file() else p


def _read(path) -> tuple[str, dict]:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([f"{source}: no such sweep file (bundled sweeps: "
                             f"{', '.join(bundled_sweeps())})"], source) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError([f"{source}: cannot read: {e}"], source) from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError([f"{source}: invalid TOML: {e}"], source) from None


def _check_head(data, bad: _Problems) -> dict:
    """The [sweep] table's own keys: name, description, base or scenario,
    set, strategies. Returns the table (empty when missing)."""
    for k in data:
        if k != "sweep":
            bad.add(_tkey(k), "unknown table; a sweep file holds one [sweep] table "
                    "(with [sweep.set], [sweep.grid], [[sweep.zip]], [sweep.scenario])")
    sw = data.get("sweep")
    if not isinstance(sw, dict):
        bad.add("sweep", "required: expected a [sweep] table with name and base, got "
                + ("nothing" if sw is None else _show(sw)))
        bad.raise_any()
    for k in sw:
        if k not in SWEEP_KEYS:
            bad.add(f"sweep.{_tkey(k)}", f"unknown key; allowed keys: {', '.join(SWEEP_KEYS)}")
    name = sw.get("name")
    if not (isinstance(name, str) and NAME_RE.match(name) and name not in (".", "..")):
        bad.add("sweep.name", "required: expected a name made of letters, digits, '_', '.' "
                "and '-' (it names the output folder), got "
                + ("nothing" if name is None else _show(name)))
    if not isinstance(sw.get("description", ""), str):
        bad.add("sweep.description", f"expected a string, got {_show(sw['description'])}")
    has_base, has_inline = "base" in sw, "scenario" in sw
    if has_base == has_inline:
        bad.add("sweep.base", "expected exactly one of base = \"FILE\" (a scenario file "
                "relative to the sweep file, or a bundled name) and an inline "
                "[sweep.scenario] table, got " + ("both" if has_base else "neither"))
    elif has_base and not (isinstance(sw["base"], str) and sw["base"].strip()):
        bad.add("sweep.base", f"expected a scenario file name, got {_show(sw['base'])}")
    elif has_inline and not isinstance(sw["scenario"], dict):
        bad.add("sweep.scenario", f"expected a table holding a whole scenario, got "
                f"{_show(sw['scenario'])}")
    if not isinstance(sw.get("set", {}), dict):
        bad.add("sweep.set", f"expected a table of dotted keys to values, got {_show(sw['set'])}")
    strategies = sw.get("strategies")
    if strategies is not None and not (
            isinstance(strategies, list) and strategies
            and all(isinstance(s, str) for s in strategies)
            and len(set(strategies)) == len(strategies)):
        bad.add("sweep.strategies", "expected a non-empty list of distinct strategy names, "
                f"got {_show(strategies)}")
    return sw


def _scalars(bad: _Problems, loc, key, values):
    """The list of one swept key, or None (with the problem added)."""
    if not isinstance(values, list) or not values:
        bad.add(f"{loc}.{_tkey(key)}", f"expected a non-empty list of values, got {_show(values)}")
        return None
    wrong = [v for v in values if not isinstance(v, _SCALARS)]
    if wrong:
        bad.add(f"{loc}.{_tkey(key)}", "expected scalar values (numbers, strings or booleans: "
                f"the keys of --set), got {_show(wrong[0])}")
        return None
    if any(isinstance(v, float) and not math.isfinite(v) for v in values):
        bad.add(f"{loc}.{_tkey(key)}", f"expected finite numbers, got {_show(values)}")
        return None
    return values


def _axes(sw, bad: _Problems, where: dict) -> list:
    """Each grid key, then each zip group, as (keys, [value tuples]).
    `where` maps every key to the table that gives it (each key once)."""
    def claim(loc, key):
        if key in where:
            bad.add(f"{loc}.{_tkey(key)}", f"expected each key once; it is also in {where[key]}")
            return False
        where[key] = loc
        return True

    axes = []
    grid = sw.get("grid", {})
    if not isinstance(grid, dict):
        bad.add("sweep.grid", "expected a table of dotted keys to lists of values, got "
                + _show(grid))
        grid = {}
    for key, values in grid.items():
        ok = claim("sweep.grid", key)
        values = _scalars(bad, "sweep.grid", key, values)
        if ok and values is not None:
            texts = [text_value(v) for v in values]
            if len(set(texts)) != len(texts):
                bad.add(f"sweep.grid.{_tkey(key)}",
                        f"expected distinct values, got {_show(values)}")
            else:
                axes.append(((key,), [(v,) for v in values]))
    zips = sw.get("zip", [])
    if not isinstance(zips, list):
        bad.add("sweep.zip", "expected [[sweep.zip]] tables of keys to equal-length lists, "
                f"got {_show(zips)}")
        zips = []
    for i, group in enumerate(zips, 1):
        loc = f"sweep.zip #{i}"
        if not isinstance(group, dict) or not group:
            bad.add(loc, "expected a table of dotted keys to equal-length lists, got "
                    + _show(group))
            continue
        columns = [(claim(loc, k), _scalars(bad, loc, k, v)) for k, v in group.items()]
        if not all(ok and values is not None for ok, values in columns):
            continue
        columns = [values for _, values in columns]
        if len({len(c) for c in columns}) > 1:
            bad.add(loc, "expected lists of equal length (values varied together), got lengths "
                    + ", ".join(f"{k}: {len(c)}" for k, c in zip(group, columns)))
            continue
        rows = list(zip(*columns))
        if len({tuple(map(text_value, r)) for r in rows}) != len(rows):
            bad.add(loc, "expected distinct combinations of values, got a repeated one")
            continue
        axes.append((tuple(group), rows))
    if not grid and not zips:
        bad.add("sweep.grid", "expected at least one swept key in [sweep.grid] or [[sweep.zip]]")
    return axes


def _read_base(base, sweep_path: Path, source):
    candidate = sweep_path.parent / base
    if candidate.is_file():
        return read_toml(candidate)
    if "/" not in base and "\\" not in base:
        try:
            return read_toml(base)      # a bundled scenario
        except ScenarioError:
            pass
    raise ScenarioError([f"{source}: sweep.base: no scenario file {str(candidate)!r} (relative "
                         f"to the sweep file) and no bundled scenario {base!r} (bundled: "
                         f"{', '.join(bundled_scenarios())})"], source)


def _label(loc, key) -> str:
    """Where a key is given: `sweep.grid."billing.rule"`, or `--set KEY` for
    the command line's."""
    return f"{loc} {key}" if loc.startswith("--") else f"{loc}.{_tkey(key)}"


def _check_keys(raw, base_label, settings, strategies, where, bad: _Problems) -> tuple:
    """Every key must be a --set key of the base (names resolved), and a
    strategy key must name a strategy the sweep keeps. Returns (the keys
    that are not --set keys of the base, the kept strategies the base has
    or None), so that the points can still be checked without them."""
    wrong = set()
    for key, loc in where.items():
        value = settings[key] if key in settings else 0
        try:
            apply_overrides(raw, [(key, value)], base_label)
        except ScenarioError as e:
            wrong.add(key)
            for msg in e.problems:
                bad.add(_label(loc, key), msg.split(f"--set {key}: ", 1)[-1])
    if strategies is None:
        return wrong, None
    entries = raw.get("strategy")
    names = [e.get("name") for e in entries if isinstance(e, dict)] \
        if isinstance(entries, list) else []
    unknown = [s for s in strategies if s not in names]
    if unknown:
        bad.add("sweep.strategies", f"expected names of the base's strategies "
                f"({', '.join(map(str, names))}), got unknown {', '.join(map(_show, unknown))}")
    known = [s for s in strategies if s in names] or None
    for key, loc in where.items():
        parts = key.split(".")
        if parts[0] == "strategy" and ".".join(parts[1:-1]) not in strategies:
            bad.add(_label(loc, key), f"strategy {_show('.'.join(parts[1:-1]))} is not in "
                    "sweep.strategies, so this key changes nothing")
    return wrong, known


def _shared_problem(msg, base_label, settings, where, source) -> str:
    """A problem every point shares: a value the sweep sets on every point
    ([sweep.set], --set) is the sweep file's problem, named where it is set;
    anything else is the base's."""
    prefix = base_label + ": "
    key, sep, what = msg[len(prefix):].partition(" (from the sweep): ")
    if msg.startswith(prefix) and sep and key in settings and key in where:
        return f"{source}: {_label(where[key], key)}: {what}"
    return msg


def _points(raw, base_label, settings, strategies, axes, bad: _Problems, where=None) -> list:
    """The cartesian product of the axes, the first axis slowest; every
    point's problems, labelled with its values (those every point shares
    once: as the sweep file's when a value it sets is bad, else as the
    base's)."""
    keys = [k for ks, _ in axes for k in ks]
    overridden = list(settings) + keys
    points, by_point = [], []
    for index, combo in enumerate(itertools.product(*[range(len(rows)) for _, rows in axes])):
        values = {}
        for (ks, rows), i in zip(axes, combo):
            values.update(zip(ks, rows[i]))
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
        partition = "/".join(f"{k}={partition_value(v)}" for k, v in values.items())
        points.append(Point(index, values, combo, scn, partition))
    if by_point:
        n_points = math.prod(len(rows) for _, rows in axes)
        common = set.intersection(*[set(ms) for _, ms in by_point]) \
            if len(by_point) == n_points else set()
        bad.extend(_shared_problem(m, base_label, settings, where or {}, bad.source)
                   for m in sorted(common, key=by_point[0][1].index))
        for values, msgs in by_point:
            label = ", ".join(f"{k}={text_value(v)}" for k, v in values.items())
            for m in msgs:
                if m not in common:
                    m = m[len(base_label) + 2:] if m.startswith(base_label + ": ") else m
                    bad.append(f"{bad.source}: point {label}: {m}")
        bad.raise_any()
    seen = {}
    for pt in points:
        if pt.sha256 in seen:
            bad.append(f"{bad.source}: points {seen[pt.sha256].label} and {pt.label} "
                       "resolve to the same scenario; sweep each value once")
        seen[pt.sha256] = pt
    bad.raise_any()
    return points


def _base(sw, path, scale, bad: _Problems) -> tuple:
    """(the base scenario's tables, scaled, and its label), or (None, None)
    with the problem added."""
    try:
        if isinstance(sw.get("base"), str) and sw["base"].strip() and "scenario" not in sw:
            raw, base_label = _read_base(sw["base"], Path(path), bad.source)
        elif isinstance(sw.get("scenario"), dict) and "base" not in sw:
            raw, base_label = sw["scenario"], f"{bad.source} [sweep.scenario]"
        else:
            return None, None           # neither or both: already a problem
        if scale is not None:
            raw = scale_scenario(raw, scale, base_label)
    except ScenarioError as e:
        bad.extend(e.problems)
        return None, None
    return raw, base_label


def _command_line(overrides, paths, where: dict, bad: _Problems) -> dict:
    """The settings `simengine sweep --set/--paths` add to every point (they
    replace the file's [sweep.set] values; a swept key cannot be set)."""
    out = {}
    for key, value in split_overrides(overrides or ()):
        loc = where.get(key)
        if value is MISSING:
            bad.add(f"--set {key}", "expected KEY=VALUE")
        elif loc is not None and loc != "sweep.set":
            bad.add(f"--set {key}", f"the sweep varies this key ({loc}); remove it from "
                    "the command line or from the sweep file")
        else:
            out[key] = value
    if paths is not None:
        if not (isinstance(paths, int) and not isinstance(paths, bool) and paths >= 1):
            bad.add("--paths", f"expected an integer >= 1, got {paths!r}")
        elif where.get("scenario.paths", "sweep.set") != "sweep.set":
            bad.add("--paths", f"the sweep varies scenario.paths ({where['scenario.paths']})")
        else:
            out["scenario.paths"] = paths
    return out


def _override_texts(overrides) -> list:
    return [o if isinstance(o, str) else f"{o[0]}={o[1]}" for o in overrides or ()]


def _command_line_words(overrides, paths, scale) -> tuple:
    return tuple(([f"--scale {scale:g}"] if scale is not None else [])
                 + [f"--set {o}" for o in _override_texts(overrides)]
                 + ([f"--paths {paths}"] if paths is not None else []))


def load_sweep(path, overrides=(), paths=None, scale=None, fmt="arrow") -> Sweep:
    """Read and validate a sweep file (or a bundled sweep by name) and every
    point's scenario. `overrides` ("key=value" strings or pairs) and `paths`
    are set on every point, after the file's [sweep.set]; `scale` makes a
    small version of the base first (scenario.scale_scenario); `fmt`: the
    table files, "arrow" or "parquet". Raises ScenarioError listing every
    problem (file, key and, for a point, its key=value) before any simulation."""
    path = find_sweep(path)
    source = str(path)
    if fmt not in FORMATS:
        raise ScenarioError([f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}"])
    text, data = _read(path)
    bad = _Problems(source)
    # Every problem in one go: each check goes as far as the parts found
    # good allow (a bad key is left out of the points, not the whole check).
    sw = _check_head(data, bad)
    settings = sw.get("set", {}) if isinstance(sw.get("set", {}), dict) else {}
    where = {k: "sweep.set" for k in settings}
    axes = _axes(sw, bad, where)
    cli = _command_line(overrides, paths, where, bad)
    settings = {**settings, **cli}
    where.update({k: "--set" for k in cli})
    strategies = sw.get("strategies")
    if not (isinstance(strategies, list) and all(isinstance(x, str) for x in strategies)):
        strategies = None               # a bad list is already a problem
    raw, base_label = _base(sw, path, scale, bad)
    if raw is None:
        bad.raise_any()
    wrong, strategies = _check_keys(raw, base_label, settings, strategies, where, bad)
    axes = [(ks, rows) for ks, rows in axes if not wrong.intersection(ks)]
    settings = {k: v for k, v in settings.items() if k not in wrong}
    points = _points(raw, base_label, settings, strategies, axes, bad, where)
    bad.raise_any()
    key_types = {k: key_type([r[j] for r in rows])
                 for ks, rows in axes for j, k in enumerate(ks)}
    return Sweep(name=sw["name"], source=source, text=text, base=base_label,
                 axes=tuple(ks for ks, _ in axes), keys=tuple(key_types), key_types=key_types,
                 settings=dict(settings),
                 strategies=tuple(s.name for s in points[0].scenario.strategies),
                 points=tuple(points), description=sw.get("description", ""), fmt=fmt,
                 command_line=_command_line_words(overrides, paths, scale),
                 suffix=store.changes_suffix(scale, _override_texts(overrides), paths))
