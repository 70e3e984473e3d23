"""The one table formatter of every command (run, report, sweep, calibrate,
optimize) and of a Result: text, Markdown or HTML.

    from simengine.tables import Column, format_table, print_table
    cols = [Column("strategy", "left"), Column("P50"), Column("P90", priority=2)]
    print_table("total_cost per path", cols, [["fit", "102,616", "126,066"]])

A table is plain monospace text, the same on a terminal, in a pipe or in a
log: a title, a header, a rule, the rows. It fits a width without ever
cutting a cell: first each column's `compact` form is used (an interval
written `1-2` rather than `1 - 2`), then whole columns are left out, the
highest `priority` first (priority 0 is never left out), and a note under
the table names them. A table that still does not fit runs past the width;
numbers and names are never cut.
"""
from __future__ import annotations

import html
import os
import shutil
import sys
import textwrap
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

GAP = "  "


@dataclass(frozen=True)
class Column:
    """One column: its header, how its cells align ("left" for names,
    "right" for numbers), how readily it is left out when the table is too
    wide (0: never; the highest goes first), and an optional shorter form of
    a cell (same meaning, fewer characters) tried before any column goes."""
    header: str
    align: str = "right"
    priority: int = 0
    compact: Optional[Callable[[str], str]] = None

    def __post_init__(self):
        if self.align not in ("left", "right"):
            raise ValueError(f"align: expected left or right, got {self.align!r}")


SECTION = None   # a row that is SECTION prints as an empty line (groups of rows)


def terminal_width(stream=None) -> Optional[int]:
    """The width to fit: $COLUMNS when set, else the terminal's when
    `stream` (default stdout) is one, else None (no limit: a pipe or a log
    gets every column)."""
    env = os.environ.get("COLUMNS", "")
    if env.strip().isdigit() and int(env) > 0:
        return int(env)
    stream = sys.stdout if stream is None else stream
    try:
        if stream.isatty():
            return shutil.get_terminal_size().columns
    except (AttributeError, ValueError, OSError):
        pass
    return None


def _widths(columns, rows, shown):
    return [max([len(columns[i].header)] + [len(r[i]) for r in rows if r is not SECTION])
            for i in shown]


def _total(widths) -> int:
    return sum(widths) + len(GAP) * max(0, len(widths) - 1)


def fit(columns: Sequence[Column], rows, width: Optional[int]):
    """(cells, indices of the columns shown) fitting `width` (None: all of
    them, in full). Cells are compacted first, then columns left out, the
    highest priority first; columns left out are put back, the most
    important first, wherever they still fit."""
    everything = list(range(len(columns)))
    if width is None or _total(_widths(columns, rows, everything)) <= width:
        return rows, everything
    rows = [r if r is SECTION else [c.compact(v) if c.compact else v
                                    for c, v in zip(columns, r)] for r in rows]
    shown = list(everything)
    droppable = sorted((i for i in everything if columns[i].priority > 0),
                       key=lambda i: (-columns[i].priority, -i))
    dropped = []
    for i in droppable:
        if _total(_widths(columns, rows, shown)) <= width:
            break
        shown.remove(i)
        dropped.append(i)
    for i in sorted(dropped, key=lambda i: (columns[i].priority, i)):
        trial = sorted(shown + [i])
        if _total(_widths(columns, rows, trial)) <= width:
            shown = trial
    return rows, shown


def format_table(title: Optional[str], columns: Sequence[Column], rows,
                 width: Optional[int] = None, notes: Sequence[str] = ()) -> str:
    """The table as text. `rows`: lists of cell strings, one per column
    (SECTION for a blank line between groups); `width`: the columns to fit
    (None: no limit); `notes`: lines printed under the table."""
    rows = [r if r is SECTION else [str(v) for v in r] for r in rows]
    for r in rows:
        if r is not SECTION and len(r) != len(columns):
            raise ValueError(f"a row has {len(r)} cells for {len(columns)} columns: {r}")
    rows, shown = fit(columns, rows, width)
    widths = _widths(columns, rows, shown)

    def line(cells):
        parts = [cells[i].ljust(w) if columns[i].align == "left" else cells[i].rjust(w)
                 for i, w in zip(shown, widths)]
        return GAP.join(parts).rstrip()

    out = []
    if title:
        out += textwrap.wrap(title, width, subsequent_indent="  ") if width else [title]
    out += [line([c.header for c in columns]), GAP.join("-" * w for w in widths)]
    out += ["" if r is SECTION else line(r) for r in rows]
    hidden = [columns[i].header for i in range(len(columns)) if i not in shown]
    if hidden:
        note = (f"({', '.join(hidden)} left out to fit {width} columns; "
                "a wider terminal or COLUMNS=200 shows them)")
        out += textwrap.wrap(note, width) if width else [note]
    out += list(notes)
    return "\n".join(out)


def print_table(title, columns, rows, file=None, notes=(), width="terminal"):
    """Print the table to `file` (default stdout), fitted to its width."""
    file = sys.stdout if file is None else file
    if width == "terminal":
        width = terminal_width(file)
    print(format_table(title, columns, rows, width, notes), file=file, flush=True)


def markdown_table(columns: Sequence[Column], rows) -> str:
    """The same table as GitHub Markdown (for report.md files)."""
    def esc(v):
        return str(v).replace("|", "\\|")
    out = ["| " + " | ".join(esc(c.header) for c in columns) + " |",
           "|" + "|".join("---:" if c.align == "right" else "---" for c in columns) + "|"]
    out += ["| " + " | ".join(esc(v) for v in r) + " |" for r in rows if r is not SECTION]
    return "\n".join(out)


def html_table(title, columns: Sequence[Column], rows, note=None) -> str:
    """The same table as HTML (a run's report.html, a Result in a notebook),
    numbers right-aligned; a group after a SECTION starts under a rule."""
    def esc(text):
        return html.escape(str(text), quote=True)
    cls = ['class="name" style="text-align:left"' if c.align == "left"
           else 'class="num" style="text-align:right"' for c in columns]
    head = "".join(f"<th {k}>{esc(c.header)}</th>" for c, k in zip(columns, cls))
    body, rule = "", False
    for r in rows:
        if r is SECTION:
            rule = bool(body)
            continue
        top = ' style="border-top:2px solid #8c959f"' if rule else ""
        body += (f"<tr{top}>" + "".join(f"<td {k}>{esc(v)}</td>" for v, k in zip(r, cls))
                 + "</tr>")
        rule = False
    out = (f'<p class="title">{esc(title)}</p><table><thead><tr>{head}</tr></thead>'
           f"<tbody>{body}</tbody></table>")
    return out + (f'<p class="note">{esc(note)}</p>' if note else "")


def interval(lo: str, hi: str) -> str:
    """An interval cell, `lo - hi`; compact_interval shortens it to `lo-hi`."""
    return f"{lo} - {hi}"


def compact_interval(cell: str) -> str:
    if " - " in cell:
        return cell.replace(" - ", "-")
    return cell.split(" (")[0]       # "n/a (too few paths)" -> "n/a"
