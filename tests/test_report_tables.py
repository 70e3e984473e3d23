"""The one table formatter (simengine.tables): fits a width without
cutting a cell, the same text on a terminal and in a pipe."""
import io

import pytest

from simengine.tables import (SECTION, Column, compact_interval, format_table,
                                     markdown_table, print_table, terminal_width)

COLUMNS = [Column("strategy", "left"), Column("mean", priority=3), Column("P50"),
           Column("P90", priority=5), Column("P95"),
           Column("P95 95% CI", priority=2, compact=compact_interval),
           Column("P99", priority=4), Column("CVaR95", priority=1)]
ROWS = [["no-purchase", "9,906,941", "9,915,287", "11,303,239", "11,700,496",
         "11,467,330 - 12,216,076", "12,505,497", "12,112,195"],
        ["fit-headroom-20", "112,941", "129,000", "129,000", "129,033",
         "129,000 - 132,452", "133,774", "132,444"]]


def _cells(text):
    return [line.split() for line in text.splitlines()]


def test_no_width_shows_everything_as_given():
    text = format_table("title", COLUMNS, ROWS)
    lines = text.splitlines()
    assert lines[0] == "title"
    assert lines[1].split()[0] == "strategy" and "P95 95% CI" in lines[1]
    assert set(lines[2]) == {"-", " "}
    assert "11,467,330 - 12,216,076" in lines[3]
    assert lines[4].startswith("fit-headroom-20  ")
    # numbers are right-aligned: every row ends at the same column
    assert len({len(x) for x in lines[1:5]}) == 1


@pytest.mark.parametrize("width", [100, 80, 72, 60])
def test_fits_the_width_and_never_cuts_a_cell(width):
    text = format_table("a long title " * 12, COLUMNS, ROWS, width=width)
    lines = text.splitlines()
    assert all(len(x) <= width for x in lines), [x for x in lines if len(x) > width]
    body = [x for x in lines if x.startswith(("no-purchase", "fit-headroom-20"))]
    assert [b.split()[0] for b in body] == ["no-purchase", "fit-headroom-20"]
    header = next(x for x in lines if x.startswith("strategy"))
    shown = [c for c in COLUMNS if c.header in header]
    assert {c.header for c in COLUMNS if c.priority == 0} <= {c.header for c in shown}
    for row, line in zip(ROWS, body):
        for col, cell in zip(COLUMNS, row):
            if col in shown:
                want = col.compact(cell) if col.compact and width < 108 else cell
                assert want in line, (width, col.header, line)
    hidden = [c.header for c in COLUMNS if c not in shown]
    if hidden:
        note = " ".join(lines[lines.index(body[-1]) + 1:])
        assert all(h in note for h in hidden) and str(width) in note


def test_compacts_before_leaving_a_column_out():
    full = len(format_table(None, COLUMNS, ROWS).splitlines()[0])
    text = format_table(None, COLUMNS, ROWS, width=full - 2)   # " - " -> "-" saves 2
    assert "11,467,330-12,216,076" in text and "left out" not in text


def test_drops_the_highest_priority_first_and_puts_back_what_fits():
    text = format_table(None, COLUMNS, ROWS, width=80)
    header = text.splitlines()[0].split()
    assert "P90" not in header and "P99" not in header   # priorities 5 and 4 went first
    assert header[:1] == ["strategy"] and "P50" in header and "P95" in header
    assert "CVaR95" in header                          # priority 1: kept


def test_a_table_that_cannot_fit_runs_past_rather_than_cuts():
    text = format_table(None, COLUMNS, ROWS, width=20)
    assert "fit-headroom-20" in text and "11,700,496" in text and "9,915,287" in text
    header = text.splitlines()[0].split()
    assert header == ["strategy", "P50", "P95"]


def test_sections_and_row_checks():
    text = format_table(None, [Column("s", "left"), Column("n")],
                        [["a", "1"], SECTION, ["bb", "22"]])
    assert text.splitlines() == ["s    n", "--  --", "a    1", "", "bb  22"]
    with pytest.raises(ValueError):
        format_table(None, COLUMNS[:2], [["a"]])
    with pytest.raises(ValueError):
        Column("x", "centre")


def test_markdown():
    md = markdown_table(COLUMNS[:2], [["a|b", "1"], SECTION, ["c", "2"]]).splitlines()
    assert md == ["| strategy | mean |", "|---|---:|", "| a\\|b | 1 |", "| c | 2 |"]


def test_width_comes_from_columns_else_the_terminal_else_none(monkeypatch):
    monkeypatch.setenv("COLUMNS", "77")
    assert terminal_width(io.StringIO()) == 77
    monkeypatch.delenv("COLUMNS")
    assert terminal_width(io.StringIO()) is None        # a pipe: no limit

    class Tty(io.StringIO):
        def isatty(self):
            return True
    assert isinstance(terminal_width(Tty()), int)


def test_same_text_on_a_terminal_and_in_a_pipe(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")

    class Tty(io.StringIO):
        def isatty(self):
            return True
    pipe, tty = io.StringIO(), Tty()
    print_table("t", COLUMNS, ROWS, file=pipe)
    print_table("t", COLUMNS, ROWS, file=tty)
    assert pipe.getvalue() == tty.getvalue()
    assert "\x1b" not in tty.getvalue()                # no escape codes either
