"""A run directory read back (Arrow or Parquet tables, docs/model.md section 7).

    from simengine import report
    run = report.load_run("results/default/20250101-120000-a1b2c3")
    print(report.percentile_table(run.summary, "total_cost", run.horizon_years))
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from .. import schema, store
from ..percentiles import changes_text, percentile_parts
from ..tables import format_table, html_table

# the columns the report reads from each table; all of them are schema columns
REPORT_COLUMNS = {
    "paths": ("strategy", "path", "total_cost", "economic_cost"),
    "periods": ("strategy", "path", "period", "tier_cost", "upgrade_cost",
                "certification_cost", "overflow_cost"),
    "monthly": ("strategy", "path", "month", "contacts", "usage", "capacity"),
    "summary": ("strategy", "metric", "n", "mean", "p50", "p90", "p95", "p95_lo", "p95_hi",
                "p99", "cvar95"),
}
for _name, _cols in REPORT_COLUMNS.items():       # a renamed column fails at import
    assert set(_cols) <= set(schema.BY_NAME[_name].names), (_name, _cols)


class NotARun(ValueError):
    """The directory is not a simengine run directory (message says why)."""


def run_files(fmt: str = "arrow") -> tuple:
    """The files of a complete run directory written in format `fmt`."""
    return tuple(store.table_file(t.name, fmt) for t in schema.TABLES) + ("manifest.json",)


FILES = run_files("arrow")


@dataclass(repr=False)
class Run:
    """A run directory read back: its tables and manifest. Shown (repr, a
    notebook) as one line and its table of total_cost, as a Result is."""
    directory: Path
    manifest: dict
    paths: pa.Table
    periods: pa.Table
    monthly: pa.Table
    summary: pa.Table
    strategies: list = field(default_factory=list)

    @property
    def horizon_years(self) -> int:
        try:
            return int(self.manifest["scenario"]["scenario"]["horizon_years"])
        except (KeyError, TypeError, ValueError):
            months = self.monthly.column("month").to_numpy()
            return max(1, int(months.max() + 1) // 12) if len(months) else 1

    @property
    def oracles(self) -> list:
        """The run's oracle strategies (the hindsight benchmark), in file order."""
        return [s["name"] for s in self.manifest["scenario"].get("strategy", [])
                if s.get("renewal") == "oracle"]

    @property
    def changes(self) -> list:
        """What the command line changed in the scenario (run_changes)."""
        return run_changes(self.manifest)

    @property
    def scenario_name(self) -> str:
        try:
            return str(self.manifest["scenario"]["scenario"]["name"])
        except (KeyError, TypeError):
            return self.directory.parent.name

    def describe(self) -> str:
        """One line: the directory, scenario, strategies, paths, horizon,
        seed and the command line's changes."""
        S, n, years = len(self.strategies), self.manifest.get("paths", 0), self.horizon_years
        return (f"{self.directory}: {self.scenario_name!r}, {S} strateg{'y' if S == 1 else 'ies'}"
                f" x {n:,} path{'s' * (n != 1)} over {years} year{'s' * (years != 1)}, seed "
                f"{self.manifest.get('seed')}{changes_text(self.changes)}")

    def _table_parts(self):
        return percentile_parts(self.summary, "total_cost", self.horizon_years, self.strategies,
                                self.changes)

    def __repr__(self) -> str:
        """Short: the run and its table of total_cost (the tables are
        `.paths`, `.periods`, `.monthly`, `.summary`; `.manifest`)."""
        try:
            table = format_table(*self._table_parts())
        except ValueError:              # a summary without total_cost
            table = ""
        return f"<simengine.report.Run {self.describe()}>" + (f"\n{table}" if table else "")

    def _repr_html_(self) -> str:
        """In a notebook: the same, as an HTML table."""
        try:
            table = html_table(*self._table_parts())
        except ValueError:
            table = ""
        return (f'<div class="simengine-run"><p><b>simengine.report.Run</b> '
                f"{html.escape(self.describe())}; tables <code>.paths</code>, "
                f"<code>.periods</code>, <code>.monthly</code>, <code>.summary</code> "
                f"(pyarrow), <code>.manifest</code></p>{table}</div>")


def run_changes(manifest) -> list:
    """What the command line changed in the scenario file, as options:
    ["--scale 0.1", "--set billing.rule=cumulative"] (empty when nothing;
    `--paths` and `--seed` are in every table's title and the manifest)."""
    out = []
    scale = manifest.get("scale")
    if scale not in (None, 1, 1.0):
        out.append(f"--scale {scale:g}" if isinstance(scale, (int, float)) else f"--scale {scale}")
    out += [f"--set {s}" for s in manifest.get("overrides") or []]
    return out


def read_manifest(directory) -> dict:
    """manifest.json of a run or sweep directory; NotARun when absent or bad."""
    directory = Path(directory)
    if not directory.exists():
        raise NotARun(f"{directory}: no such directory")
    if not directory.is_dir():
        raise NotARun(f"{directory}: not a directory (expected a run directory "
                      f"holding {', '.join(FILES)})")
    mpath = directory / "manifest.json"
    if not mpath.is_file():
        raise NotARun(f"{directory}: not a run directory: no manifest.json (expected "
                      f"{', '.join(FILES)}, as `simengine run` writes them)")
    try:
        manifest = store.read_json(mpath)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise NotARun(f"{mpath}: not a readable run manifest: {e}") from None
    if not isinstance(manifest, dict):
        raise NotARun(f"{mpath}: expected a JSON object")
    return manifest


def _format_of(directory: Path, manifest: dict) -> str:
    """The run's table format: the manifest's, else whichever files exist."""
    fmt = manifest.get("format")
    if fmt in store.FORMATS:
        return fmt
    if (directory / "paths.parquet").is_file() and not (directory / "paths.arrow").is_file():
        return "parquet"
    return "arrow"


def load_run(directory) -> Run:
    """Read a run directory (docs/model.md section 7), Arrow or Parquet. Raises
    NotARun naming what is missing or unreadable."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    fmt = _format_of(directory, manifest)
    missing = [f for f in run_files(fmt) if not (directory / f).is_file()]
    if missing:
        raise NotARun(f"{directory}: not a complete run directory: missing {', '.join(missing)}")
    tables = {}
    for spec in schema.TABLES:
        path = directory / store.table_file(spec.name, fmt)
        try:
            tables[spec.name] = store.read_table(path)
        except (OSError, pa.ArrowInvalid) as e:
            kind = "Parquet" if fmt == "parquet" else "Arrow IPC"
            raise NotARun(f"{path}: not a readable {kind} file: {e}") from None
        absent = [c for c in REPORT_COLUMNS[spec.name] if c not in tables[spec.name].column_names]
        if absent:
            raise NotARun(f"{path}: missing columns {', '.join(absent)}")
    strategies = _strategy_order(manifest, tables["summary"])
    return Run(directory, manifest, strategies=strategies, **tables)


def _strategy_order(manifest, summary) -> list:
    """Strategies in scenario order (manifest), else order of first appearance."""
    present = list(dict.fromkeys(summary.column("strategy").to_pylist()))
    try:
        names = [s["name"] for s in manifest["scenario"]["strategy"]]
    except (KeyError, TypeError):
        names = []
    ordered = [n for n in names if n in present]
    return ordered + [n for n in present if n not in ordered]
