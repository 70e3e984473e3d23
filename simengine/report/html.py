"""`simengine report --html`: one self-contained page (docs/model.md section 9) a team
can mail: the scenario in words, the percentile tables of total and economic
cost with their confidence intervals, regret, the share of paths each
strategy wins, the plots (inline PNG), and the run's facts. No network, no
script; it prints on A4 or Letter.
"""
from __future__ import annotations

import base64
import html
from pathlib import Path

from .. import store
from ..percentiles import changes_text, percentile_parts
from ..tables import html_table
from ..version import __version__
from .plots import PLOTS, write_plots
from .runs import Run, load_run
from .words import SEGMENT_HEADERS, overview, segment_rows, strategy_words, waiting_words

REPORT_FILE = "report.html"

STYLE = """
body { font-family: "Noto Sans", "Noto Sans CJK SC", "Segoe UI", Roboto, Helvetica, Arial,
       sans-serif; color: #1f2328; max-width: 1120px; margin: 2em auto; padding: 0 1.2em;
       line-height: 1.45; font-size: 15px; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #d0d7de;
     padding-bottom: 0.2em; }
.lede { color: #57606a; margin-top: 0; }
table { border-collapse: collapse; margin: 0.4em 0 0.6em; font-size: 0.92em; }
p.title { font-weight: 600; margin: 0.8em 0 0.2em; }
th, td { padding: 0.28em 0.7em; border-bottom: 1px solid #e4e7eb; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; vertical-align: bottom; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
table { max-width: 100%; }
td.name { white-space: nowrap; }
.note { color: #57606a; font-size: 0.9em; margin-top: 0; }
figure { margin: 1em 0 1.6em; }
figure img { max-width: 100%; height: auto; border: 1px solid #e4e7eb; }
figcaption { color: #57606a; font-size: 0.9em; margin-top: 0.3em; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 1.2em; }
dl.facts dt { color: #57606a; }
dl.facts dd { margin: 0; font-variant-numeric: tabular-nums; word-break: break-all; }
@media print {
  body { max-width: none; margin: 0; font-size: 11pt; }
  h2 { break-after: avoid; }
  table, figure, dl { break-inside: avoid; }
}
"""

PLOT_CAPTIONS = {
    "cost_distribution.png": "How each strategy's cost spreads over the paths: fees (left) and "
                             "fees plus the value of customers lost (right).",
    "contacts_vs_capacity.png": "WeCom contacts against the capacity bought, month by month.",
    "yearly_cost.png": "Fees per strategy and billing year, by component, with the range of "
                       "the year's total.",
}


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _plain_table(headers, rows, numeric_from=1) -> str:
    head = "".join(f'<th class="{"num" if i >= numeric_from else "name"}">{_e(h)}</th>'
                   for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(
        f'<td class="{"num" if i >= numeric_from else "name"}">{_e(v)}</td>'
        for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


TABLE_NOTE = ("P50, P90, P95, P99: percentiles over the paths; P95 95% CI: a confidence "
              "interval of P95 (n/a when there are too few paths for one); CVaR95: the mean of "
              "the worst 5% of paths. Yuan per path over the whole horizon.")


def _tables(run: Run) -> list[str]:
    metrics = set(run.summary.column("metric").to_pylist())
    out = []
    sections = [("total_cost", "Fees paid", TABLE_NOTE),
                ("economic_cost", "Fees plus the value of customers lost",
                 "Fees alone flatter a strategy that turns customers away; the economic cost "
                 "charges each lost customer's value."),
                ("regret", "Regret against the hindsight benchmark",
                 "Economic cost minus the oracle's on the same path: what not knowing the "
                 "future costs. Negative where a strategy blocks customers whose value is below "
                 "the fees it saves."),
                ("cheapest", "Which strategy is cheapest",
                 "The share of paths on which each strategy has the lowest economic cost (ties "
                 "split), with Wilson's 95% interval, among the strategies one can buy: the "
                 "hindsight bound knows each path's future and is left out.")]
    for metric, heading, note in sections:
        if metric not in metrics:
            continue
        title, columns, rows = percentile_parts(run.summary, metric, run.horizon_years,
                                                run.strategies)
        out += [f"<h2>{_e(heading)}</h2>", html_table(title, columns, rows, note)]
    return out


def _figures(run: Run, files) -> list[str]:
    out = ["<h2>Plots</h2>"]
    for path in files:
        path = Path(path)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        out.append(f'<figure><img alt="{_e(path.stem.replace("_", " "))}" '
                   f'src="data:image/png;base64,{data}">'
                   f"<figcaption>{_e(PLOT_CAPTIONS.get(path.name, ''))}</figcaption></figure>")
    return out


def _facts(run: Run) -> str:
    m = run.manifest
    machine = m.get("machine", {})
    # the threads have a row of their own (the executor's record repeats them)
    executor = {k: v for k, v in m.get("executor", {}).items() if k != "threads"}

    def seconds(key):
        v = m.get(key)
        return f"{v:,.1f} s" if isinstance(v, (int, float)) else None
    rate = m.get("events_per_second")
    facts = [
        ("run", m.get("run_id") or run.directory.name),
        ("created", m.get("created")),
        ("command", " ".join(m.get("command", [])) or None),
        ("changes to the scenario file", ", ".join(run.changes) or "none"),
        ("scenario sha256", m.get("scenario_sha256")),
        ("seed, paths", f"{m.get('seed')}, {m.get('paths', 0):,}"),
        ("engine version", m.get("engine_version")),
        ("executor", ", ".join(f"{v}" if k == "executor" else f"{k} {v}"
                               for k, v in executor.items()) or None),
        ("threads", m.get("threads", m.get("executor", {}).get("threads"))),
        ("simulation time (compile excluded)", seconds("wall_seconds")),
        ("compile time", seconds("compile_seconds")),
        ("customer events", f"{m['customer_events']:,}" if "customer_events" in m else None),
        ("events per second", f"{rate / 1e6:,.1f} M/s" if rate else None),
        ("machine", ", ".join(f"{k} {v}" for k, v in machine.items()) or None),
        ("table files", m.get("format", "arrow")),
    ]
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts if v is not None)
    return f'<h2>The run</h2><dl class="facts">{items}</dl>'


def html_report(run: Run, plot_files=()) -> str:
    """The page as a string; `plot_files`: PNGs to inline (in order)."""
    resolved = run.manifest.get("scenario", {})
    segments = [s["name"] for s in resolved.get("segment", [])]
    n = run.paths.num_rows // max(1, len(run.strategies))
    lede = (f"{len(run.strategies)} strategies over {run.horizon_years} "
            f"year{'s' * (run.horizon_years != 1)}, {n:,} simulated paths"
            f"{changes_text(run.changes)}; run {run.manifest.get('run_id') or run.directory.name}")
    parts = [f"<h1>{_e(run.scenario_name)}: what each strategy costs</h1>",
             f'<p class="lede">{_e(lede)}</p>', "<h2>The scenario</h2>"]
    parts += [f"<p>{_e(p)}</p>" for p in overview(resolved)]
    if resolved.get("segment"):
        parts.append(_plain_table(SEGMENT_HEADERS, segment_rows(resolved)))
    parts.append("<h2>The strategies</h2><ul>")
    parts += [f"<li><b>{_e(st['name'])}</b>: {_e(strategy_words(st, segments))}</li>"
              for st in resolved.get("strategy", [])]
    parts.append("</ul>")
    parts += _tables(run)
    waiting = waiting_words(run.summary, run.strategies,
                            resolved.get("billing", {}).get("lead_days", 0))
    if waiting:
        parts.append(f'<h2>Adds that waited on an order</h2><p>{_e(waiting)}</p>')
    parts += _figures(run, plot_files)
    parts.append(_facts(run))
    parts.append(f'<p class="note">Written by simengine {_e(__version__)} from the run '
                 f"directory {_e(run.directory)}.</p>")
    title = f"simengine report: {run.scenario_name}"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")


def write_html(run, path=None) -> list[Path]:
    """Write the plots (PLOTS) and report.html into the run directory (or
    `path`); return the files written, report.html last."""
    if not isinstance(run, Run):
        run = load_run(run)
    plots = write_plots(run)
    target = Path(path) if path is not None else run.directory / REPORT_FILE
    return plots + [store.write_text(target, html_report(run, plots))]


__all__ = ["PLOTS", "REPORT_FILE", "html_report", "write_html"]
