"""A run's result: the tables of SPEC section 7 built from the kernel's raw
outputs (columns and types from `schema.py`), the statistics of the summary,
and writing the run directory (through `store.py`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
from scipy import stats

from . import __version__, schema, store
from .sampling import sectioning_interval
from .schema import MONTHLY, PATHS, PERIODS, SUMMARY, SUMMARY_METRICS, SUMMARY_STATS

SUMMARY_SCHEMA = SUMMARY.arrow_schema()


def distribution_stats(x, replicate=None) -> dict:
    """Statistics of one sample (SPEC sections 7, 12). Percentiles: numpy's
    linear rule; `cvar95`: mean of the worst 5% (at least one value). NaN
    where a statistic cannot be computed (the summary writes null).

    Intervals (95%) and `se` follow the sampling. Independent paths
    (`replicate` None, sampling = "mc"): `p95_lo`/`p95_hi` are the order
    statistics whose ranks bound a Binomial(n, 0.95) count with 95%
    probability (distribution-free); `cvar95_lo`/`cvar95_hi` the asymptotic
    normal interval; `se` = std / sqrt(n). Sobol' replicates (`replicate`
    gives each value's): sectioning, `q +- t(R-1) * sqrt(sum (q_r - q)^2 /
    (R (R - 1)))` with q_r the statistic of replicate r alone, for P95 and
    CVaR95; `se` = std of the replicates' means / sqrt(R)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    out = dict(n=n)
    if n == 0:
        return out | {s: math.nan for s in SUMMARY_STATS}
    order = np.sort(x)
    out["mean"] = float(order.mean())         # of the sorted sample, as pinned by golden files
    out["std"] = float(order.std(ddof=1)) if n > 1 else math.nan
    for q in (5, 50, 90, 95, 99):
        out[f"p{q}"] = float(np.percentile(order, q))
    out["cvar95"] = _cvar95(order)
    if replicate is None:
        out["se"] = out["std"] / math.sqrt(n) if n > 1 else math.nan
        out["p95_lo"], out["p95_hi"] = _p95_order_interval(order)
        out["cvar95_lo"], out["cvar95_hi"] = _cvar95_normal_interval(order, out["cvar95"])
        return out
    replicate = np.asarray(replicate)
    groups = [np.sort(x[replicate == r]) for r in np.unique(replicate)]
    means = [g.mean() for g in groups]
    out["se"] = float(np.std(means, ddof=1) / math.sqrt(len(groups))) if len(groups) > 1 \
        else math.nan
    out["p95_lo"], out["p95_hi"] = sectioning_interval(
        out["p95"], [np.percentile(g, 95) for g in groups])
    out["cvar95_lo"], out["cvar95_hi"] = sectioning_interval(
        out["cvar95"], [_cvar95(g) for g in groups])
    return out


def _cvar95(order) -> float:
    """Mean of the worst 5% of a sorted sample (at least one value)."""
    n = order.shape[0]
    return float(order[n - max(1, int(math.ceil(0.05 * n))):].mean())


def _p95_order_interval(order):
    """Distribution-free 95% interval of P95 from order statistics."""
    n = order.shape[0]
    lo = int(stats.binom.ppf(0.025, n, 0.95))       # ranks, 1-based order statistics
    hi = int(stats.binom.ppf(0.975, n, 0.95)) + 1
    return (float(order[lo - 1]) if lo >= 1 else math.nan,
            float(order[hi - 1]) if hi <= n else math.nan)


def _cvar95_normal_interval(order, cvar):
    """Asymptotic normal 95% interval of CVaR95 from independent paths: its
    variance is (var of the tail + 0.95 (cvar - VaR)^2) / (0.05 n), the tail
    being the worst 5% and VaR its smallest value (needs 2 tail values)."""
    n = order.shape[0]
    tail = order[n - max(1, int(math.ceil(0.05 * n))):]
    if tail.shape[0] < 2:
        return math.nan, math.nan
    var = (tail.var(ddof=1) + 0.95 * (cvar - tail[0]) ** 2) / (0.05 * n)
    half = stats.norm.ppf(0.975) * math.sqrt(var)
    return cvar - half, cvar + half


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
    for j, key in enumerate(keys):      # SPEC 7: the path's drawn value, per key
        cols[key] = lambda j=j: np.repeat(raw.uncertain[:, j], S)
    oracle = oracle_index(scn)
    if oracle is not None:      # SPEC 7: regret against the first oracle, path by path
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


def summarize(scn, names, paths_table) -> pa.Table:
    """A row per (strategy, metric), computed from the per-path samples, with
    the intervals of the run's sampling (`distribution_stats`); a statistic
    that cannot be computed is null."""
    S = len(names)
    strat = paths_table.column("strategy").to_numpy(zero_copy_only=False)
    n = len(strat) // S if S else 0

    def matrix(col):  # (paths, strategies), rows ordered as built
        return paths_table.column(col).to_numpy().astype(np.float64).reshape(n, S)

    replicate = None
    if getattr(scn, "sampling", "mc") == "sobol":
        replicate = paths_table.column("replicate").to_numpy().reshape(n, S)[:, 0]
    rows = []

    def add(metric, x):
        for si, name in enumerate(names):
            rows.append({"strategy": name, "metric": metric}
                        | distribution_stats(x[:, si], replicate))

    for metric in SUMMARY_METRICS:
        add(metric, matrix(metric))
    econ = matrix("economic_cost")
    if n:
        best = econ.min(axis=1, keepdims=True)
        add("cheapest", (econ == best) / (econ == best).sum(axis=1, keepdims=True))
        if "regret" in paths_table.column_names:
            add("regret", matrix("regret"))
    cols = {c: [None if isinstance(r[c], float) and math.isnan(r[c]) else r[c] for r in rows]
            for c in SUMMARY.names}
    return pa.Table.from_pydict(cols, schema=SUMMARY.arrow_schema(_metadata(scn, "summary")))


@dataclass(repr=False)
class Result:
    """A run's tables (SPEC section 7) and manifest."""
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
        """Write the run directory atomically (SPEC section 7): the four tables
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
        from .report import percentile_parts
        return percentile_parts(self.summary, "total_cost",
                                getattr(self.scenario, "horizon_years", None), self._strategies())

    def __repr__(self) -> str:
        """Short: what was run and the percentile table of total_cost (not
        every table; they are `.paths`, `.periods`, `.monthly`, `.summary`)."""
        from .report import format_table
        return f"<simengine.Result {self.describe()}>\n" + format_table(*self._table_parts())

    def _repr_html_(self) -> str:
        """In a notebook: the same, as an HTML table."""
        import html

        from .report.html import html_table
        return (f'<div class="simengine-result"><p><b>simengine.Result</b> '
                f"{html.escape(self.describe())}; tables <code>.paths</code>, "
                f"<code>.periods</code>, <code>.monthly</code>, <code>.summary</code> "
                f"(pyarrow)</p>{html_table(*self._table_parts())}</div>")
