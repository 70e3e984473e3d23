"""Outputs: the Arrow tables of SPEC section 7 with fixed schemas, the
statistics computed from the stored samples, and atomic writing.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
from scipy import stats

from . import __version__
from .schema import MONTHLY, PATHS, PERIODS

FILES = ("paths.arrow", "periods.arrow", "monthly.arrow", "summary.arrow", "manifest.json")

_I = pa.int64()
_F = pa.float64()
_S = pa.string()

PATHS_SCHEMA = pa.schema([
    ("strategy", _S), ("path", _I), ("total_cost", _F), ("tier_cost", _F),
    ("upgrade_cost", _F), ("certification_cost", _F), ("overflow_cost", _F),
    ("lost_value", _F), ("economic_cost", _F), ("peak_contacts", _I),
    ("final_contacts", _I), ("first_adds", _I), ("readds", _I), ("churns", _I),
    ("blocked", _I), ("lost", _I), ("overflowed", _I), ("upgrades", _I),
    ("growth_multiplier", _F), ("churn_multiplier", _F)])
PERIODS_SCHEMA = pa.schema([
    ("strategy", _S), ("path", _I), ("period", _I), ("tier_size", _I), ("capacity_end", _I),
    ("tier_cost", _F), ("upgrade_cost", _F), ("certification_cost", _F),
    ("overflow_cost", _F), ("peak_usage", _I), ("peak_contacts", _I), ("first_adds", _I),
    ("readds", _I), ("churns", _I), ("blocked", _I)])
MONTHLY_SCHEMA = pa.schema([
    ("strategy", _S), ("path", _I), ("month", _I), ("contacts", _I), ("usage", _I),
    ("capacity", _I), ("cumulative_cost", _F)])
SUMMARY_STATS = ("mean", "std", "se", "p5", "p50", "p90", "p95", "p99", "p95_lo",
                 "p95_hi", "cvar95")
SUMMARY_SCHEMA = pa.schema([("strategy", _S), ("metric", _S), ("n", _I)]
                           + [(s, _F) for s in SUMMARY_STATS])
# metrics summarised from paths.arrow; `cheapest` (1 when the strategy has the
# lowest economic cost on the path, split on ties) and `regret` (economic cost
# minus the oracle's on the same path) are derived
SUMMARY_METRICS = ("total_cost", "economic_cost", "tier_cost", "upgrade_cost",
                   "overflow_cost", "lost_value", "peak_contacts", "final_contacts",
                   "blocked", "lost", "overflowed")


def distribution_stats(x) -> dict:
    """Statistics of one sample (SPEC section 7). Percentiles: numpy's linear
    rule. `p95_lo`/`p95_hi`: distribution-free 95% interval of the 95th
    percentile, from the order statistics whose ranks bound a
    Binomial(n, 0.95) count with 95% probability (NaN when n is too small).
    `cvar95`: mean of the worst 5% (at least one value)."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    n = x.shape[0]
    out = dict(n=n)
    if n == 0:
        return out | {s: math.nan for s in SUMMARY_STATS}
    out["mean"] = float(x.mean())
    out["std"] = float(x.std(ddof=1)) if n > 1 else math.nan
    out["se"] = out["std"] / math.sqrt(n) if n > 1 else math.nan
    for q in (5, 50, 90, 95, 99):
        out[f"p{q}"] = float(np.percentile(x, q))
    lo = int(stats.binom.ppf(0.025, n, 0.95))       # ranks, 1-based order statistics
    hi = int(stats.binom.ppf(0.975, n, 0.95)) + 1
    out["p95_lo"] = float(x[lo - 1]) if lo >= 1 else math.nan
    out["p95_hi"] = float(x[hi - 1]) if hi <= n else math.nan
    tail = max(1, int(math.ceil(0.05 * n)))
    out["cvar95"] = float(x[n - tail:].mean())
    return out


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
            "churn_multiplier": lambda: np.repeat(raw.mult[:, 1], S)}
    paths_t = _table(cols | kernel_columns(PATHS, raw.path), PATHS.arrow_schema(),
                     _metadata(scn, "paths"))

    cols = {"strategy": lambda: strategy_column(K), "path": lambda: np.repeat(raw.paths, S * K),
            "period": lambda: np.tile(np.arange(K), n * S)}
    periods_t = _table(cols | kernel_columns(PERIODS, raw.period), PERIODS.arrow_schema(),
                       _metadata(scn, "periods"))

    cols = {"strategy": lambda: strategy_column(M), "path": lambda: np.repeat(raw.paths, S * M),
            "month": lambda: np.tile(np.arange(M), n * S)}
    monthly_t = _table(cols | kernel_columns(MONTHLY, raw.month), MONTHLY.arrow_schema(),
                       _metadata(scn, "monthly"))
    return paths_t, periods_t, monthly_t


def _table(cols, schema, metadata):
    """`cols` maps each column to a function making it, called in turn."""
    arrays = []
    for f in schema:
        v = cols[f.name]()
        if not isinstance(v, pa.Array):
            if f.type == pa.int64():
                v = np.asarray(v).astype(np.int64)
            v = pa.array(v, type=f.type)
        arrays.append(v)
    return pa.Table.from_arrays(arrays, schema=schema.with_metadata(metadata))


def summarize(scn, names, paths_table) -> pa.Table:
    """A row per (strategy, metric), computed from the per-path samples."""
    S = len(names)
    strat = paths_table.column("strategy").to_numpy(zero_copy_only=False)
    n = len(strat) // S if S else 0

    def matrix(col):  # (paths, strategies), rows ordered as built
        return paths_table.column(col).to_numpy().astype(np.float64).reshape(n, S)

    rows = []
    for metric in SUMMARY_METRICS:
        x = matrix(metric)
        for si, name in enumerate(names):
            rows.append({"strategy": name, "metric": metric} | distribution_stats(x[:, si]))
    econ = matrix("economic_cost")
    if n:
        best = econ.min(axis=1, keepdims=True)
        cheapest = (econ == best) / (econ == best).sum(axis=1, keepdims=True)
        for si, name in enumerate(names):
            rows.append({"strategy": name, "metric": "cheapest"}
                        | distribution_stats(cheapest[:, si]))
        oracle = [i for i, s in enumerate(scn.strategies) if s.renewal == "oracle"]
        if oracle:
            regret = econ - econ[:, [oracle[0]]]
            for si, name in enumerate(names):
                rows.append({"strategy": name, "metric": "regret"}
                            | distribution_stats(regret[:, si]))
    cols = {f.name: [r[f.name] for r in rows] for f in SUMMARY_SCHEMA}
    return pa.Table.from_pydict(cols, schema=SUMMARY_SCHEMA.with_metadata(
        _metadata(scn, "summary")))


@dataclass
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

    def write(self, directory) -> Path:
        """Write the run directory atomically: files go to a hidden temporary
        sibling, which is renamed into place only when all are complete.
        Refuses to overwrite an existing directory."""
        directory = Path(directory)
        if directory.exists():
            raise FileExistsError(f"{directory} already exists; a run never overwrites another")
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".partial",
                                    dir=directory.parent))
        try:
            umask = os.umask(0o022)
            os.umask(umask)
            os.chmod(tmp, 0o777 & ~umask)     # mkdtemp's 0700 would hide results from others
            for name, table in (("paths", self.paths), ("periods", self.periods),
                                ("monthly", self.monthly), ("summary", self.summary)):
                with ipc.new_file(tmp / f"{name}.arrow", table.schema) as w:
                    w.write_table(table)
            with open(tmp / "manifest.json", "w") as f:
                json.dump(self.manifest, f, indent=2, default=str)
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return directory


def atomic_file(path, write) -> Path:
    """Write one file atomically: `write(tmp)` fills a temporary sibling, which
    is synced and renamed over `path`; on any failure it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def read_table(path) -> pa.Table:
    with ipc.open_file(path) as r:
        return r.read_all()
