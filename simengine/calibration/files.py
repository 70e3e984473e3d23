"""Reading the calibration's input files (an event log, a segments file):
CSV, Parquet or Arrow IPC into an Arrow table, then columns as NumPy arrays
of stripped strings, integers or unix seconds. pyarrow and NumPy only (no
pandas: it is not a runtime dependency). Every error names the file, the
column and the row.
"""
from __future__ import annotations

import csv
import datetime as _dt
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..scenario import NAME_RE, ScenarioError

ARROW_SUFFIXES = (".arrow", ".ipc", ".arrows", ".feather")
_UNIX_SECONDS = re.compile(r"[0-9]+(\.[0-9]*)?")
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_SECOND = _dt.timedelta(seconds=1)


class CalibrationError(ScenarioError):
    """Bad calibration input: names the file, the problem and the row."""


@dataclass
class InputTable:
    """One input file read whole: the table, its schema metadata, and how to
    name a row in messages (CSV rows also get their line)."""
    source: str
    table: pa.Table
    meta: dict
    csv: bool = False

    @property
    def columns(self) -> list:
        return self.table.column_names

    def __len__(self):
        return self.table.num_rows

    def where(self, i) -> str:
        """'row N' (1-based data row) of the 0-based row index i."""
        return f"row {i + 1} (line {i + 2})" if self.csv else f"row {i + 1}"

    def find_column(self, name, aliases=()):
        """The column called `name`, else the first alias present (any case)."""
        if name in self.columns:
            return name
        lower = {c.lower(): c for c in self.columns}
        for a in aliases:
            if a.lower() in lower:
                return lower[a.lower()]
        return None


def read_input_table(path, what) -> InputTable:
    """Read a CSV, Parquet or Arrow (file or stream) `what` file; the format
    is told by the first bytes (Arrow streams by the suffix)."""
    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq
    p = Path(path)
    if not p.is_file():
        raise CalibrationError(f"{path}: no such {what} file")
    try:
        with open(p, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise CalibrationError(f"{path}: cannot read: {e}") from None
    table = None
    try:
        if head[:4] == b"PAR1":
            table = pq.read_table(p)
        elif head[:6] == b"ARROW1":
            with ipc.open_file(p) as r:
                table = r.read_all()
        elif p.suffix.lower() in ARROW_SUFFIXES:
            with ipc.open_stream(p) as r:
                table = r.read_all()
    except (pa.ArrowInvalid, OSError) as e:
        raise CalibrationError(f"{path}: cannot read as Parquet/Arrow: {e}") from None
    if table is not None:
        meta = {k.decode(errors="replace"): v.decode(errors="replace")
                for k, v in (table.schema.metadata or {}).items()}
        return InputTable(str(path), table, meta)
    return InputTable(str(path), _read_csv(p, what), {}, csv=True)


def _read_csv(p: Path, what) -> pa.Table:
    """A CSV file with every column as text (ids keep their leading zeros;
    empty fields are ''), header names stripped."""
    import pyarrow.csv as pcsv
    try:
        with open(p, encoding="utf-8-sig", newline="") as f:
            header = next(csv.reader(f, skipinitialspace=True), None)
    except UnicodeDecodeError as e:
        raise CalibrationError(f"{p}: cannot read as CSV: {e}") from None
    if not header:
        raise CalibrationError(f"{p}: the {what} file is empty (no header, no rows)")
    names = [h.strip() for h in header]
    try:
        return pcsv.read_csv(
            p, read_options=pcsv.ReadOptions(column_names=names, skip_rows=1),
            convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                strings_can_be_null=False))
    except (pa.ArrowInvalid, OSError) as e:
        raise CalibrationError(f"{p}: cannot read as CSV: {e}") from None


# --------------------------------------------------------------------------
# Columns as NumPy arrays


def text_column(col) -> np.ndarray:
    """A column as an object array of stripped str, '' for nulls; whole
    floats are written as integers (an id stored as 12.0 reads '12')."""
    col = pa.chunked_array(col) if not isinstance(col, pa.ChunkedArray) else col
    t = col.type
    if pa.types.is_floating(t):
        out = np.empty(len(col), dtype=object)
        for i, v in enumerate(col.to_numpy(zero_copy_only=False)):
            out[i] = ("" if np.isnan(v) else str(int(v)) if float(v).is_integer() else str(v))
        return out
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
        t = col.type
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        col = col.cast(pa.string())
    col = pc.utf8_trim_whitespace(col.fill_null(""))
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)


def integer_column(col, source, column, where) -> np.ndarray:
    """Integers (int64) of a numeric or text column; raises naming the first
    row that is not a number (`where(i)` names the i-th row)."""
    t = col.type
    if pa.types.is_integer(t) and col.null_count == 0:
        return col.to_numpy().astype(np.int64)
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        v = col.cast(pa.float64()).fill_null(np.nan).to_numpy()
    else:
        text = text_column(col)
        v = np.array([_float_or_nan(s) for s in text], dtype=np.float64)
    bad = ~np.isfinite(v)
    if bad.any():
        i = int(np.argmax(bad))
        raise CalibrationError(f"{source}: {where(i)}: {column}: expected an integer, "
                               f"got {col[i].as_py()!r}")
    return v.astype(np.int64)


def _float_or_nan(s):
    try:
        return float(s)
    except ValueError:
        return np.nan


def time_column(col, source, column, where) -> np.ndarray:
    """Unix seconds (int64) of a timestamp, date, numeric (unix seconds) or
    text (ISO 8601 or unix seconds) column; raises naming the first bad row."""
    t = col.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        if col.null_count:
            i = int(np.argmax(col.is_null().to_numpy(zero_copy_only=False)))
            raise CalibrationError(f"{source}: {where(i)}: {column}: missing time")
        if pa.types.is_date(t):
            col = col.cast(pa.timestamp("s"))
        # Arrow timestamps are UTC whatever their time zone
        return col.to_numpy().astype("datetime64[s]").astype(np.int64)
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        v = col.cast(pa.float64()).fill_null(np.nan).to_numpy()
        bad = ~np.isfinite(v)
        if bad.any():
            i = int(np.argmax(bad))
            raise CalibrationError(f"{source}: {where(i)}: {column}: cannot parse "
                                   f"{float(v[i])!r} as a time (expected unix seconds)")
        return np.floor(v).astype(np.int64)
    # parse each distinct text once: logs repeat their times
    codes, distinct = first_appearance_codes(text_column(col))
    seconds = [unix_seconds(s) for s in distinct]
    bad = np.array([x is None for x in seconds], dtype=bool)
    if bad.any():
        i = int(np.argmax(bad[codes]))
        raise CalibrationError(
            f"{source}: {where(i)}: {column}: cannot parse {distinct[codes[i]]!r} as a time "
            "(expected an ISO 8601 timestamp such as 2025-03-01T09:30:00+08:00, or unix seconds)")
    return np.array(seconds, dtype=np.int64)[codes]


def unix_seconds(s: str):
    """Seconds since 1970 (floored) of unix seconds or an ISO 8601 time
    (UTC unless it has an offset); None if it is neither."""
    if _UNIX_SECONDS.fullmatch(s):
        return int(np.floor(float(s)))
    try:
        d = _dt.datetime.fromisoformat(s)
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.timezone.utc)
    return (d - _EPOCH) // _SECOND


def first_appearance_codes(values: np.ndarray):
    """(codes, uniques) of an array of str, uniques in order of first
    appearance (codes index into them)."""
    enc = pa.array(values, type=pa.string()).dictionary_encode()
    return (enc.indices.to_numpy(zero_copy_only=False).astype(np.int64),
            np.asarray(enc.dictionary.to_pylist(), dtype=object))


# --------------------------------------------------------------------------
# The segments file


def read_segments(path):
    """{external_user_id: segment name}, and the names in order of first
    appearance, of a segments file (CSV/Parquet/Arrow)."""
    t = read_input_table(path, "segments")
    source = t.source
    c_id = t.find_column("external_user_id", ("ExternalUserID",))
    c_seg = t.find_column("segment")
    missing = [n for n, c in (("external_user_id", c_id), ("segment", c_seg)) if c is None]
    if missing:
        raise CalibrationError(f"{source}: missing column(s) {', '.join(missing)}; expected "
                               f"external_user_id, segment; found: {', '.join(t.columns) or '(none)'}")
    if len(t) == 0:
        raise CalibrationError(f"{source}: the segments file has no rows")
    ids = text_column(t.table.column(c_id))
    segs = text_column(t.table.column(c_seg))
    mapping, names = {}, []
    for i, (u, s) in enumerate(zip(ids, segs)):
        if not u:
            raise CalibrationError(f"{source}: {t.where(i)}: external_user_id is empty")
        if not NAME_RE.match(s):
            raise CalibrationError(f"{source}: {t.where(i)}: segment: expected a name made of "
                                   f"letters, digits, '_', '.' and '-', got {s!r}")
        old = mapping.get(u)
        if old is not None and old != s:
            raise CalibrationError(f"{source}: {t.where(i)}: customer {u!r} is in segment "
                                   f"{s!r} here but in {old!r} on an earlier row")
        if old is None:
            mapping[u] = s
            if s not in names:
                names.append(s)
    if len(names) > 63:
        raise CalibrationError(f"{source}: {len(names)} segments; a scenario holds at most 63")
    return mapping, names
