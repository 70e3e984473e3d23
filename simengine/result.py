"""A run's result: the tables of docs/model.md section 7 built from the kernel's raw
outputs (columns and types from `schema.py`), the summary's statistics
(`stats.py`), and writing the run directory (through `store.py`).
"""
from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from . import schema, store
from .percentiles import percentile_parts
from .schema import MONTHLY, PATHS, PERIODS, SUMMARY, SUMMARY_METRICS
from .stats import distribution_stats, is_nonnegative
from .tables import format_table, html_table
from .version import __version__


def _metadata(scn, kind):
    return {b"scenario_sha256": scn.sha256.encode(), b"engine_version": __version__.encode(),
            b"scenario_name": scn.name.encode(), b"table": kind.encode()}


def build_tables(scn, names, raw):
    """The paths, periods and monthly tables from the kernel's records (read
    by field name; the columns are schema.py's). Columns are converted to
    Arrow one at a time, so the whole run is never held twice as numpy
    temporaries."""
    n, S = raw.path.shape[0], len(names)
    K, M = raw.period.shape[2], raw.month.shape[2]

    def strategy_column(inner):   # strategy names repeated per row, without Python objects
        idx = np.tile(np.repeat(np.arange(S, dtype=np.int32), inner), n)
        return pa.DictionaryArray.from_arrays(idx, pa.array(names, pa.string())).cast(pa.string())

    def kernel_columns(table, records):
        return {c.name: (lambda name=c.name: records[name].ravel()) for c in table.kernel_columns}

    p = raw.path
    total = p["tier_cost"] + p["upgrade_cost"] + p["certification_cost"] + p["overflow_cost"]
    cols = {"strategy": lambda: strategy_column(1), "path": lambda: np.repeat(raw.paths, S),
            "total_cost": lambda: total.ravel(),
            "economic_cost": lambda: (total + p["lost_value"]).ravel(),
            "growth_multiplier": lambda: np.repeat(raw.mult[:, 0], S),
            "churn_multiplier": lambda: np.repeat(raw.mult[:, 1], S),
            "replicate": lambda: np.repeat(raw.replicate, S)}
    keys = [u.key for u in scn.uncertainty]
    for j, key in enumerate(keys):      # docs/model.md section 7: the path's drawn value, per key
        cols[key] = lambda j=j: np.repeat(raw.uncertain[:, j], S)
    oracle = oracle_index(scn)
    if oracle is not None:      # docs/model.md section 7: regret against the first oracle, path by path
        cols["regret"] = lambda: (total + p["lost_value"]
                                  - (total + p["lost_value"])[:, [oracle]]).ravel()
    paths_t = _table(cols | kernel_columns(PATHS, raw.path),
                     PATHS.arrow_schema(present=cols, keys=keys), _metadata(scn, "paths"))

    cols = {"strategy": lambda: strategy_column(K), "path": lambda: np.repeat(raw.paths, S * K),
            "period": lambda: np.tile(np.arange(K), n * S)}
    periods_t = _table(cols | kernel_columns(PERIODS, raw.period), PERIODS.arrow_schema(),
                       _metadata(scn, "periods"))

    cols = {"strategy": lambda: strategy_column(M), "path": lambda: np.repeat(raw.paths, S * M),
            "month": lambda: np.tile(np.arange(M), n * S)}
    monthly_t = _table(cols | kernel_columns(MONTHLY, raw.month), MONTHLY.arrow_schema(),
                       _metadata(scn, "monthly"))
    return paths_t, periods_t, monthly_t


def oracle_index(scn):
    """The scenario's first oracle strategy (regret is measured against it),
    or None."""
    return next((i for i, s in enumerate(scn.strategies) if s.renewal == "oracle"), None)


def _table(cols, arrow_schema, metadata):
    """`cols` maps each column to a function making it, called in turn."""
    arrays = []
    for f in arrow_schema:
        v = cols[f.name]()
        if not isinstance(v, pa.Array):
            if f.type == pa.int64():
                v = np.asarray(v).astype(np.int64)
            v = pa.array(v, type=f.type)
        arrays.append(v)
    return pa.Table.from_arrays(arrays, schema=arrow_schema.with_metadata(metadata))


def hindsight_bounds(scn) -> list:
    """The names of the scenario's oracle strategies: the hindsight plan is
    a bound on what a strategy can achieve, not a strategy one can buy, so
    it is left out of `cheapest` and shown apart in the tables."""
    return [s.name for s in getattr(scn, "strategies", ()) if s.renewal == "oracle"]


def summarize(scn, names, paths_table) -> pa.Table:
    """A row per (strategy, metric), computed from the per-path samples, with
    the intervals of the run's sampling (`distribution_stats`); a statistic
    that cannot be computed is null. `cheapest` is among the strategies one
    can buy: an oracle (the hindsight bound) has no `cheapest` row and wins
    no path; the schema metadata `hindsight_bounds` names the oracles (a
    JSON list) for the tables."""
    S = len(names)
    strat = paths_table.column("strategy").to_numpy(zero_copy_only=False)
    n = len(strat) // S if S else 0

    def matrix(col):  # (paths, strategies), rows ordered as built
        return paths_table.column(col).to_numpy().astype(np.float64).reshape(n, S)

    replicate = None
    if getattr(scn, "sampling", "mc") == "sobol":
        replicate = paths_table.column("replicate").to_numpy().reshape(n, S)[:, 0]
    rows = []

    def add(metric, x, which=range(S)):
        for j, si in enumerate(which):
            rows.append({"strategy": names[si], "metric": metric}
                        | distribution_stats(x[:, j], replicate, is_nonnegative(metric)))

    for metric in SUMMARY_METRICS:
        add(metric, matrix(metric))
    bounds = hindsight_bounds(scn)
    buyable = [si for si, name in enumerate(names) if name not in bounds]
    if n and buyable:
        econ = matrix("economic_cost")[:, buyable]
        best = econ.min(axis=1, keepdims=True)
        add("cheapest", (econ == best) / (econ == best).sum(axis=1, keepdims=True), buyable)
    if n and "regret" in paths_table.column_names:
        add("regret", matrix("regret"))
    cols = {c: [None if isinstance(r[c], float) and math.isnan(r[c]) else r[c] for r in rows]
            for c in SUMMARY.names}
    metadata = _metadata(scn, "summary") | {b"hindsight_bounds": json.dumps(bounds).encode()}
    return pa.Table.from_pydict(cols, schema=SUMMARY.arrow_schema(metadata))


@dataclass(repr=False)
class Result:
    """A run's tables (docs/model.md section 7) and manifest."""
    scenario: object
    paths: pa.Table
    periods: pa.Table
    monthly: pa.Table
    summary: pa.Table
    manifest: dict = field(default_factory=dict)

    @classmethod
    def from_raw(cls, scn, names, raw, manifest):
        paths_t, periods_t, monthly_t = build_tables(scn, names, raw)
        return cls(scn, paths_t, periods_t, monthly_t, summarize(scn, names, paths_t), manifest)

    def tables(self) -> dict:
        """{table name: pyarrow.Table}, in schema order."""
        return {t.name: getattr(self, t.name) for t in schema.TABLES}

    def write(self, directory, fmt: str = "arrow") -> Path:
        """Write the run directory atomically (docs/model.md section 7): the four tables
        as Arrow IPC files (`fmt="arrow"`) or Parquet files ("parquet"), and
        manifest.json. The files are written into a hidden temporary sibling,
        renamed into place only when all are complete; an existing directory
        is refused (FileExistsError)."""
        store.table_file("paths", fmt)            # a bad format fails before any IO
        manifest = dict(self.manifest, format=fmt)
        with store.atomic_directory(directory) as tmp:
            for name, table in self.tables().items():
                store.write_table(Path(tmp) / store.table_file(name, fmt), table, fmt)
            store.write_json(Path(tmp) / "manifest.json", manifest)
        return Path(directory)

    def _strategies(self):
        return [s.name for s in getattr(self.scenario, "strategies", [])] or None

    def describe(self) -> str:
        """One line: the scenario, strategies, paths, horizon and seed."""
        scn = self.scenario
        S = len(getattr(scn, "strategies", ())) or len(self._strategies() or ())
        n = self.manifest.get("paths", getattr(scn, "paths", 0))
        years = getattr(scn, "horizon_years", 0)
        seed = self.manifest.get("seed", getattr(scn, "seed", None))
        return (f"{getattr(scn, 'name', '?')!r}: {S} strateg{'y' if S == 1 else 'ies'} x "
                f"{n:,} path{'s' * (n != 1)} over {years} year{'s' * (years != 1)}, seed {seed}")

    def _table_parts(self):
        return percentile_parts(self.summary, "total_cost",
                                getattr(self.scenario, "horizon_years", None), self._strategies())

    def __repr__(self) -> str:
        """Short: what was run and the percentile table of total_cost (not
        every table; they are `.paths`, `.periods`, `.monthly`, `.summary`)."""
        return f"<simengine.Result {self.describe()}>\n" + format_table(*self._table_parts())

    def _repr_html_(self) -> str:
        """In a notebook: the same, as an HTML table."""
        return (f'<div class="simengine-result"><p><b>simengine.Result</b> '
                f"{html.escape(self.describe())}; tables <code>.paths</code>, "
                f"<code>.periods</code>, <code>.monthly</code>, <code>.summary</code> "
                f"(pyarrow)</p>{html_table(*self._table_parts())}</div>")
