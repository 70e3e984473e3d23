"""Every output table's columns, declared once (docs/model.md section 7).

A column has a name, a type and a meaning, and says whether the kernel
writes it (then it is a field of the kernel's record for that table). The
kernel's output records, the Arrow schemas, the readers' checks, the
report's column checks and the README's column tables are all derived from
these lists; `tests/test_schema.py` checks the README against them.

Types: "string", "int64" (counts, sizes, indices), "float64" (money in yuan,
multipliers, statistics). A statistic that cannot be computed (too few paths
or replicates) is null.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    meaning: str
    kernel: bool = False        # a field of the kernel's output record
    when: str = ""              # only in some runs: when (else always present)


@dataclass(frozen=True)
class TableSpec:
    name: str                   # the file is `<name>.arrow` (or .parquet)
    row: str                    # what one row is
    columns: tuple

    per_key: Column | None = None   # after the columns: one per [uncertainty] key, so named

    @property
    def names(self) -> tuple:
        return tuple(c.name for c in self.columns)

    def column(self, name) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def kernel_columns(self) -> tuple:
        return tuple(c for c in self.columns if c.kernel)

    def kernel_dtype(self) -> np.dtype:
        """The numpy record the kernel fills, field by field, for one row."""
        return np.dtype([(c.name, _NUMPY[c.type]) for c in self.kernel_columns])

    def arrow_schema(self, metadata=None, present=(), keys=()) -> pa.Schema:
        """The Arrow schema; a column that exists only in some runs (its
        `when` says which) is included when named in `present`; then the
        `per_key` column once per name in `keys` (the [uncertainty] keys, in
        file order)."""
        fields = [(c.name, _ARROW[c.type]) for c in self.columns
                  if not c.when or c.name in present]
        if keys:
            fields += [(k, _ARROW[self.per_key.type]) for k in keys]
        schema = pa.schema(fields)
        return schema.with_metadata(metadata) if metadata else schema


_NUMPY = {"int64": np.int64, "float64": np.float64}
_ARROW = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64()}


def _cols(*rows):
    return tuple(Column(*r) for r in rows)


K = True   # written by the kernel

PATHS = TableSpec("paths", "strategy x path", _cols(
    ("strategy", "string", "the strategy's name"),
    ("path", "int64", "the path number"),
    ("total_cost", "float64", "tier + upgrade + certification + overflow"),
    ("tier_cost", "float64", "renewal payments", K),
    ("upgrade_cost", "float64", "upgrade payments", K),
    ("certification_cost", "float64", "certification fees", K),
    ("overflow_cost", "float64", "personal WeChat accounts", K),
    ("lost_value", "float64", "value of customers lost to blocks or admission rules", K),
    ("economic_cost", "float64", "total cost + lost value"),
    ("peak_contacts", "int64", "most WeCom contacts at a day's end", K),
    ("final_contacts", "int64", "WeCom contacts at the horizon's end", K),
    ("first_adds", "int64", "admitted first adds", K),
    ("readds", "int64", "admitted re-adds", K),
    ("churns", "int64", "churns of WeCom contacts", K),
    ("blocked", "int64", "attempts refused for lack of capacity", K),
    ("blocked_pending", "int64", "of those, refused while an upgrade was on order "
     "(billing.lead_days)", K),
    ("lost", "int64", "customers lost", K),
    ("overflowed", "int64", "customers sent to personal WeChat", K),
    ("upgrades", "int64", "upgrades bought", K),
    ("growth_multiplier", "float64", "the path's growth multiplier G"),
    ("churn_multiplier", "float64", "the path's churn multiplier"),
    ("replicate", "int64", "the path's replicate: its Sobol' scrambling under sampling = "
     "\"sobol\" (0 under \"mc\")"),
    ("regret", "float64", "economic cost minus the hindsight plan's (the first oracle "
     "strategy's) on the same path", False, "the scenario has an oracle strategy"),
), per_key=Column("<uncertainty key>", "float64", "the path's drawn value of that "
                  "[uncertainty] key (e.g. a column segment.vip.churn_rate)",
                  when="the scenario has [uncertainty]"))

PERIODS = TableSpec("periods", "strategy x path x billing period", _cols(
    ("strategy", "string", "the strategy's name"),
    ("path", "int64", "the path number"),
    ("period", "int64", "the billing period, from 0"),
    ("tier_size", "int64", "tier in force at the period's end (0 = none)", K),
    ("capacity_end", "int64", "capacity at the period's end", K),
    ("tier_cost", "float64", "renewal payment", K),
    ("upgrade_cost", "float64", "upgrade payments", K),
    ("certification_cost", "float64", "certification fee", K),
    ("overflow_cost", "float64", "personal WeChat accounts", K),
    ("peak_usage", "int64", "highest end-of-day usage", K),
    ("peak_contacts", "int64", "most WeCom contacts at a day's end", K),
    ("first_adds", "int64", "admitted first adds", K),
    ("readds", "int64", "admitted re-adds", K),
    ("churns", "int64", "churns of WeCom contacts", K),
    ("blocked", "int64", "attempts refused for lack of capacity", K),
    ("blocked_pending", "int64", "of those, refused while an upgrade was on order "
     "(billing.lead_days)", K),
))

MONTHLY = TableSpec("monthly", "strategy x path x month", _cols(
    ("strategy", "string", "the strategy's name"),
    ("path", "int64", "the path number"),
    ("month", "int64", "the month, from 0"),
    ("contacts", "int64", "WeCom contacts active at the month's end", K),
    ("usage", "int64", "billed usage at the month's end", K),
    ("capacity", "int64", "capacity at the month's end", K),
    ("cumulative_cost", "float64", "fees paid so far", K),
))

SUMMARY_STATS = ("mean", "std", "se", "p5", "p50", "p90", "p95", "p99", "p95_lo",
                 "p95_hi", "cvar95", "cvar95_lo", "cvar95_hi")
_STAT_MEANING = {
    "mean": "mean over paths", "std": "standard deviation over paths",
    "se": "standard error of the mean (sobol: std of the replicates' means / sqrt(replicates))",
    "p5": "5th percentile", "p50": "median",
    "p90": "90th percentile", "p95": "95th percentile", "p99": "99th percentile",
    "p95_lo": "lower end of a 95% confidence interval of P95 (mc: order statistics; "
              "sobol: sectioning over the replicates)",
    "p95_hi": "upper end of a 95% confidence interval of P95",
    "cvar95": "mean of the worst 5% of paths",
    "cvar95_lo": "lower end of a 95% confidence interval of CVaR95 (mc: asymptotic normal; "
                 "sobol: sectioning over the replicates)",
    "cvar95_hi": "upper end of a 95% confidence interval of CVaR95",
}

SUMMARY = TableSpec("summary", "strategy x metric", _cols(
    ("strategy", "string", "the strategy's name"),
    ("metric", "string", "the column of paths summarised"),
    ("n", "int64", "paths"),
    *((s, "float64", _STAT_MEANING[s]) for s in SUMMARY_STATS),
))

TABLES = (PATHS, PERIODS, MONTHLY, SUMMARY)
BY_NAME = {t.name: t for t in TABLES}

# metrics summarised from paths.arrow; `cheapest` (1 when the strategy has the
# lowest economic cost on the path, split on ties) and `regret` (economic cost
# minus the oracle's on the same path) are derived
SUMMARY_METRICS = ("total_cost", "economic_cost", "tier_cost", "upgrade_cost",
                   "overflow_cost", "lost_value", "peak_contacts", "final_contacts",
                   "blocked", "blocked_pending", "lost", "overflowed")

# the kernel's records
PATH_RECORD = PATHS.kernel_dtype()
PERIOD_RECORD = PERIODS.kernel_dtype()
MONTH_RECORD = MONTHLY.kernel_dtype()
