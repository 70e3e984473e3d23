"""Calibrate a scenario from a WeCom contact event log (SPEC section 11), and
write such logs from the engine (`simengine run --events`).

`calibrate(events, population=None, segments=None)` reads a log (CSV,
Parquet or Arrow IPC), rebuilds every customer's deduplicated contact spells
and fits the model of SPEC section 3 by maximum likelihood. The method, with
every choice stated, is in docs/calibration.md; in brief:

- Links and spells. A link is (customer, member) for friend events and
  (customer, group) for group events. An add opens a link, a delete closes it
  (both idempotent: a repeated callback changes nothing). A link whose first
  event is a delete was open before the log began. A customer is a contact
  while any link is open: a spell starts when the first link opens and ends
  when the last one closes. Events of the same customer are taken in time
  order, ties in file order. `dismiss` of a group closes all its links.
- Days. Day 0 is the log's first day (UTC midnight of the first event, or the
  start a simulated log records); day = floor((time - day0) / 86400 s). The
  observation ends on the last event's day (a simulated log records its
  horizon, used instead). Spells that start on day 0 (or before the log) are
  the initial contacts: left-truncated, used for churn and re-adds through the
  memoryless property (given lam_u the remaining life is again
  1 + floor(Exp(lam_u)), which is how the engine draws initial contacts), and
  not for adoption.
- Adoption: first adds of customers not present on day 0, given the pool
  (population minus initial contacts), days 1..end: daily probability
  1 - exp(-a_s * season[m]); exact binomial likelihood per day, season
  normalised to mean 1 (softmax parametrisation), shared by the segments.
  Without a population, the never-adopters are a parameter too (estimated from
  the saturation of the adds; refused when the log does not show any).
- Churn: spell length L = end - start (days; a same-day delete counts as 1),
  P(L = n | lam) = exp(-lam (n-1)) (1 - exp(-lam)), P(L > c | lam) =
  exp(-lam c) for a spell open at the end after c days: per customer
  (1 - exp(-lam))^n exp(-lam T), T = sum(L - 1) + c, integrated exactly over
  lam ~ Gamma(k, rate/k) (negative-binomial/Lomax closed form times a
  Gauss-Laguerre correction for the discreteness).
- Re-adds: each ended spell is followed by a re-add with probability p after
  d = 1 + floor(Exp(mean mu)) days; a re-add later than the log end is not
  seen, so a spell without a re-add within w days of the end contributes
  (1 - p) + p exp(-w / mu): censoring corrected with the fitted delay
  distribution, (p, mu) fitted jointly.
- Standard errors from the observed information (numerical Hessian of the
  log-likelihood in log/logit parameters, delta method back); 95% intervals are
  Wald intervals on the log (rates, shape, delay, population) or logit
  (probabilities) scale, so they stay in range.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .outputs import atomic_file
from .scenario import NAME_RE, ScenarioError, _toml_value, scenario_from_dict

MAX_EVENT_ROWS = 1_000_000          # `simengine run --events` refuses larger logs
LOG_EPOCH = "2025-01-01"            # day 0 of a simulated log (SPEC section 11)
DAY = 86_400
MAX_LOG_DAYS = 36_500               # a log spanning more is taken as a unit mistake
Z95 = 1.959963984540054

ADD_FRIEND, DEL_FRIEND_MEMBER, DEL_FRIEND_CUSTOMER = (
    "add_external_contact", "del_external_contact", "del_follow_user")
ADD_GROUP, DEL_GROUP = "add_member", "del_member"
# event name -> (group event?, add?)
EVENTS = {ADD_FRIEND: (False, True), DEL_FRIEND_MEMBER: (False, False),
          DEL_FRIEND_CUSTOMER: (False, False), ADD_GROUP: (True, True),
          DEL_GROUP: (True, False)}
DISMISS = "dismiss"                 # change_external_chat ChangeType: a group is dissolved
# Other ChangeType / UpdateDetail values of the two callbacks: no link changes.
IGNORED_EVENTS = frozenset({
    "edit_external_contact", "add_half_external_contact", "transfer_fail",
    "msg_audit_approved", "create", "update", "change_owner", "change_name",
    "change_notice"})
COLUMNS = ("time", "external_user_id", "user_id", "chat_id", "event")
ALIASES = {"time": ("CreateTime",), "external_user_id": ("ExternalUserID",),
           "user_id": ("UserID",), "chat_id": ("ChatId",),
           "event": ("UpdateDetail", "ChangeType")}
PARAMS = ("adoption_rate", "churn_rate", "churn_shape", "readd_prob", "readd_delay_days")
SHAPE_INF = 1e4          # a fitted shape above this is written as inf (no heterogeneity)


class CalibrationError(ScenarioError):
    """Bad calibration input: names the file, the problem and the row."""


# --------------------------------------------------------------------------
# Estimates


@dataclass
class Estimate:
    value: float
    se: float = math.nan
    lo: float = math.nan          # 95% interval
    hi: float = math.nan
    note: str = ""

    def as_dict(self):
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in dataclasses.asdict(self).items()}


def _log_scale(value, se_log, note=""):
    """Estimate of a positive quantity from its log and that log's SE."""
    value, se_log = float(value), float(se_log)
    if not math.isfinite(se_log):
        return Estimate(value, math.nan, math.nan, math.nan, note)
    z = min(Z95 * se_log, 700.0)
    return Estimate(value, value * se_log, value * math.exp(-z), value * math.exp(z), note)


def _logit_scale(p, se_logit, note=""):
    p, se_logit = float(p), float(se_logit)
    if not math.isfinite(se_logit) or p <= 0 or p >= 1:
        return Estimate(p, math.nan, math.nan, math.nan, note)
    lg = math.log(p / (1 - p))
    ex = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    return Estimate(p, p * (1 - p) * se_logit, ex(lg - Z95 * se_logit),
                    ex(lg + Z95 * se_logit), note)


def _hessian(f, x, h=1e-4):
    """Central-difference Hessian of a scalar function."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    H = np.zeros((n, n))
    f0 = f(x)
    for i in range(n):
        ei = np.zeros(n)
        ei[i] = h
        H[i, i] = (f(x + ei) - 2 * f0 + f(x - ei)) / h**2
        for j in range(i + 1, n):
            ej = np.zeros(n)
            ej[j] = h
            H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej)
                                 + f(x - ei - ej)) / (4 * h * h)
    return H


def _covariance(H):
    """Inverse of the observed information (-H of the log-likelihood); NaN
    where it is not positive definite."""
    info = -np.asarray(H, dtype=np.float64)
    try:
        np.linalg.cholesky(info)
        return np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return np.full_like(info, math.nan)


# --------------------------------------------------------------------------
# Reading tables


def _read_any(path, what):
    """(pandas DataFrame, schema metadata dict) of a CSV, Parquet or Arrow file."""
    import pandas as pd
    import pyarrow as pa
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
        elif p.suffix.lower() in (".arrow", ".ipc", ".arrows", ".feather"):
            with ipc.open_stream(p) as r:
                table = r.read_all()
    except (pa.ArrowInvalid, OSError) as e:
        raise CalibrationError(f"{path}: cannot read as Parquet/Arrow: {e}") from None
    if table is not None:
        meta = {k.decode(errors="replace"): v.decode(errors="replace")
                for k, v in (table.schema.metadata or {}).items()}
        df = table.to_pandas()
        return df, meta
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                         skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise CalibrationError(f"{path}: the {what} file is empty (no header, no rows)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise CalibrationError(f"{path}: cannot read as CSV: {e}") from None
    df.attrs["csv"] = True
    return df, {}


def _find_column(df, name, aliases=()):
    if name in df.columns:
        return name
    lower = {str(c).lower(): c for c in df.columns}
    for a in aliases:
        if a.lower() in lower:
            return lower[a.lower()]
    return None


def _where(df, i):
    """'row N' (1-based data row) of original row index i; CSV adds the line."""
    return f"row {i + 1} (line {i + 2})" if df.attrs.get("csv") else f"row {i + 1}"


def _strings(series):
    """A column as stripped str with '' for nulls (ints stay digits)."""
    import pandas as pd
    s = series
    if pd.api.types.is_float_dtype(s):
        s = s.map(lambda v: "" if pd.isna(v) else (str(int(v)) if float(v).is_integer() else str(v)))
    return s.astype(object).where(pd.notna(s), "").astype(str).str.strip()


def _parse_times(df, col, source, where):
    """Unix seconds (int64) from a timestamp, numeric (unix seconds) or string
    (ISO 8601 or unix seconds) column; raises naming the first bad row
    (`where(i)` names the i-th row of df)."""
    import pandas as pd
    s = df[col]
    if pd.api.types.is_datetime64_any_dtype(s):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        bad = s.isna().to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            raise CalibrationError(f"{source}: {where(i)}: {col}: missing time")
        return s.to_numpy().astype("datetime64[s]").astype(np.int64)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        v = s.to_numpy(dtype=np.float64)
        bad = ~np.isfinite(v)
        if bad.any():
            i = int(np.argmax(bad))
            raise CalibrationError(f"{source}: {where(i)}: {col}: cannot parse "
                                   f"{s.iloc[i]!r} as a time (expected unix seconds)")
        return np.floor(v).astype(np.int64)
    text = _strings(s)
    out = np.zeros(len(text), dtype=np.int64)
    numeric = text.str.fullmatch(r"[0-9]+(\.[0-9]*)?").to_numpy(dtype=bool)
    if numeric.any():
        out[numeric] = np.floor(text[numeric].astype(np.float64).to_numpy()).astype(np.int64)
    rest = ~numeric
    if rest.any():
        parsed = pd.to_datetime(text[rest], format="ISO8601", utc=True, errors="coerce")
        bad = parsed.isna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(rest)[np.argmax(bad)])
            raise CalibrationError(
                f"{source}: {where(i)}: {col}: cannot parse {text.iloc[i]!r} as a time "
                "(expected an ISO 8601 timestamp such as 2025-03-01T09:30:00+08:00, or unix seconds)")
        out[rest] = parsed.dt.tz_localize(None).to_numpy().astype("datetime64[s]").astype(np.int64)
    return out


@dataclass
class EventLog:
    """A contact log, parsed: one entry per link event (dismissals expanded)."""
    source: str
    rows: int                      # rows read (before the path filter)
    row: np.ndarray                # original 0-based row of each event
    sec: np.ndarray                # unix seconds
    customer: np.ndarray           # index into customers
    link: np.ndarray               # link key (member or group) index
    add: np.ndarray                # bool
    customers: np.ndarray          # external_user_id strings, by index
    day0: int                      # unix seconds of day 0
    last_day: int                  # last observed day
    path: int | None = None
    paths: int = 1
    ignored: dict = field(default_factory=dict)   # event name -> rows ignored
    simulated: bool = False
    where: object = None           # row index -> 'row N' text

    @property
    def start_date(self) -> str:
        return _date(self.day0)


def _date(sec, days=0):
    return (_dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=int(sec), days=int(days))).date().isoformat()


def read_events(path, which_path=None) -> EventLog:
    """Read and check a contact event log (SPEC section 11). A simulated log
    with several paths is cut to `which_path` (default: path 0)."""
    import pandas as pd
    source = str(path)
    df, meta = _read_any(path, "event log")
    cols = {}
    missing = []
    for name in COLUMNS:
        if name == "event":
            continue
        c = _find_column(df, name, ALIASES[name])
        if c is None and name in ("time", "external_user_id"):
            missing.append(name)
        cols[name] = c
    lower = {str(c).lower(): c for c in df.columns}
    ev_cols = (["event"] if "event" in df.columns else
               [lower[a.lower()] for a in ALIASES["event"] if a.lower() in lower])
    if not ev_cols:
        missing.append("event")
    if cols["user_id"] is None and cols["chat_id"] is None:
        missing.append("user_id or chat_id")
    if missing:
        raise CalibrationError(
            f"{source}: missing column(s) {', '.join(missing)}; expected columns "
            f"{', '.join(COLUMNS)} (or the callback names CreateTime, ExternalUserID, "
            f"UserID, ChatId, ChangeType/UpdateDetail); found: "
            f"{', '.join(map(str, df.columns)) or '(none)'}")
    if len(df) == 0:
        raise CalibrationError(f"{source}: the log has no rows (an empty log cannot be calibrated)")
    where = lambda i: _where(df, i)  # noqa: E731

    # Path of a simulated log.
    keep = np.ones(len(df), dtype=bool)
    n_paths, chosen = 1, None
    if "path" in df.columns:
        pv = pd.to_numeric(df["path"], errors="coerce")
        if pv.isna().any():
            i = int(np.argmax(pv.isna().to_numpy()))
            raise CalibrationError(f"{source}: {where(i)}: path: expected an integer, got {df['path'].iloc[i]!r}")
        pv = pv.to_numpy().astype(np.int64)
        present = np.unique(pv)
        n_paths = len(present)
        chosen = int(present.min() if which_path is None and 0 not in present else
                     (0 if which_path is None else which_path))
        if chosen not in present:
            raise CalibrationError(f"{source}: path {chosen} is not in the log (paths "
                                   f"{present.min()}..{present.max()})")
        keep = pv == chosen
    elif which_path not in (None, 0):
        raise CalibrationError(f"{source}: the log has no path column; cannot select path {which_path}")

    idx = np.flatnonzero(keep)
    sub = df.iloc[idx]
    # Event names.
    if len(ev_cols) == 1:
        ev = _strings(sub[ev_cols[0]])
    else:   # raw callbacks: UpdateDetail where set (group events), else ChangeType
        a, b = _strings(sub[ev_cols[0]]), _strings(sub[ev_cols[1]])
        ev = a.where(a != "", b)
    ev = ev.to_numpy(dtype=object)
    known = set(EVENTS) | {DISMISS}
    is_known = np.fromiter((e in known for e in ev), bool, len(ev))
    is_ignored = np.fromiter((e in IGNORED_EVENTS for e in ev), bool, len(ev))
    bad = ~(is_known | is_ignored)
    if bad.any():
        j = int(np.argmax(bad))
        raise CalibrationError(
            f"{source}: {where(idx[j])}: event: unknown event {ev[j]!r}; expected one of "
            f"{', '.join(EVENTS)} (dismiss and the other callback values "
            f"{', '.join(sorted(IGNORED_EVENTS))} are accepted and change no link)")
    ignored = {}
    for e in ev[is_ignored]:
        ignored[e] = ignored.get(e, 0) + 1

    sec_all = _parse_times(sub, cols["time"], source, lambda i: where(idx[i]))
    ext = _strings(sub[cols["external_user_id"]]).to_numpy(dtype=object)
    uid = (_strings(sub[cols["user_id"]]).to_numpy(dtype=object) if cols["user_id"]
           else np.full(len(sub), "", dtype=object))
    cid = (_strings(sub[cols["chat_id"]]).to_numpy(dtype=object) if cols["chat_id"]
           else np.full(len(sub), "", dtype=object))

    use = is_known & (ev != DISMISS)
    is_group = np.zeros(len(ev), bool)
    is_add = np.zeros(len(ev), bool)
    for name, (g, a) in EVENTS.items():
        m = ev == name
        is_group[m] = g
        is_add[m] = a
    for mask, what in ((use & (ext == ""), "external_user_id is empty"),
                       (use & ~is_group & (uid == ""), "user_id (the member) is empty for a friend event"),
                       (use & is_group & (cid == ""), "chat_id (the group) is empty for a group event"),
                       ((ev == DISMISS) & (cid == ""), "chat_id is empty for a dismiss event")):
        if mask.any():
            j = int(np.argmax(mask))
            raise CalibrationError(f"{source}: {where(idx[j])}: {what} (event {ev[j]})")
    if not use.any():
        raise CalibrationError(f"{source}: the log has no contact events "
                               f"({', '.join(EVENTS)}){' for path %d' % chosen if chosen is not None else ''}")

    # Day 0 and the observation end.
    # (every row of the log counts for its time span, ignored events too)
    secs = sec_all[use]
    if "simengine_start" in meta:
        day0 = int(np.datetime64(meta["simengine_start"], "s").astype(np.int64))
    else:
        day0 = int(sec_all.min() // DAY * DAY)
    if "simengine_days" in meta:
        last_day = int(meta["simengine_days"]) - 1
    else:
        last_day = int((sec_all.max() - day0) // DAY)
    if last_day > MAX_LOG_DAYS:
        j = int(np.argmax(sec_all))
        raise CalibrationError(
            f"{source}: {where(idx[j])}: time {sec_all[j]:,} s is {last_day:,} days after the "
            f"log's first day; expected at most {MAX_LOG_DAYS:,} (unix times must be seconds, "
            "not milliseconds)")
    early = sec_all < day0
    if early.any():
        j = int(np.argmax(early))
        raise CalibrationError(f"{source}: {where(idx[j])}: time {_date(sec_all[j])} is before "
                               f"the log's start {_date(day0)}")

    # Link keys: member "u<id>" or group "g<id>".
    u_codes, u_uniq = pd.factorize(uid)
    g_codes, g_uniq = pd.factorize(cid)
    link_code = np.where(is_group, len(u_uniq) + g_codes, u_codes).astype(np.int64)
    # Dismissals: a del_member for every customer that had the group before.
    extra_rows, extra_sec, extra_ext, extra_link = [], [], [], []
    dm = np.flatnonzero(ev == DISMISS)
    if len(dm):
        gl = use & is_group
        frame = pd.DataFrame({"chat": cid[gl], "ext": ext[gl], "sec": sec_all[gl]})
        firsts = frame.groupby(["chat", "ext"], sort=False)["sec"].min().reset_index()
        for j in dm:
            hit = firsts[(firsts["chat"] == cid[j]) & (firsts["sec"] <= sec_all[j])]
            extra_rows += [j] * len(hit)
            extra_sec += [sec_all[j]] * len(hit)
            extra_ext += list(hit["ext"])
            extra_link += [len(u_uniq) + g_codes[j]] * len(hit)
    rows_local = np.concatenate([np.flatnonzero(use), np.array(extra_rows, dtype=np.int64)])
    ext_all = np.concatenate([ext[use], np.array(extra_ext, dtype=object)])
    link_all = np.concatenate([link_code[use], np.array(extra_link, dtype=np.int64)])
    sec_use = np.concatenate([secs, np.array(extra_sec, dtype=np.int64)])
    add_use = np.concatenate([is_add[use], np.zeros(len(extra_rows), bool)])
    # Customers numbered in order of first appearance in the file.
    order = np.argsort(rows_local, kind="stable")
    cust_codes, customers = pd.factorize(ext_all[order])
    customer = np.empty(len(order), dtype=np.int64)
    customer[order] = cust_codes
    return EventLog(source=source, rows=len(df), row=idx[rows_local], sec=sec_use,
                    customer=customer, link=link_all, add=add_use,
                    customers=np.asarray(customers, dtype=object), day0=day0,
                    last_day=last_day, path=chosen, paths=n_paths, ignored=ignored,
                    simulated="simengine_days" in meta, where=where)


# --------------------------------------------------------------------------
# Spells


@dataclass
class Spells:
    """Deduplicated contact spells, sorted by (customer, start)."""
    customer: np.ndarray
    start: np.ndarray          # day
    end: np.ndarray            # churn day, -1 while open at the log end
    start_row: np.ndarray      # 0-based file row that opened it
    before: np.ndarray         # open since before the log began
    n_customers: int
    last_day: int
    duplicate_adds: int = 0
    stray_deletes: int = 0

    @property
    def closed(self):
        return self.end >= 0

    def served(self) -> np.ndarray:
        """Customers holding at least one link at the end of each day 0..last_day."""
        D = self.last_day + 1
        delta = np.zeros(D + 1, dtype=np.int64)
        np.add.at(delta, self.start, 1)
        c = self.closed
        np.add.at(delta, self.end[c], -1)
        return np.cumsum(delta)[:D]


def reconstruct_spells(log: EventLog) -> Spells:
    """Per customer, the intervals during which any link was open (see the
    module docstring for the rules)."""
    n = log.sec.shape[0]
    day = (log.sec - log.day0) // DAY
    lk = log.customer * (int(log.link.max()) + 1) + log.link
    o = np.lexsort((log.row, log.sec, lk))
    lk_s, add_s = lk[o], log.add[o]
    first = np.ones(n, bool)
    first[1:] = lk_s[1:] != lk_s[:-1]
    prev = np.zeros(n, bool)
    prev[1:] = add_s[:-1]
    prev[first] = False
    before = first & ~add_s              # first event a delete: open since before the log
    prev[before] = True
    opens = add_s & ~prev
    closes = ~add_s & prev
    dup_adds = int((add_s & prev).sum())
    stray = int((~add_s & ~prev).sum())
    # Customer-level transitions: (customer, sec, row, +1/-1); opens-before first.
    oi, ci, bi = o[opens], o[closes], o[before]
    t_c = np.concatenate([log.customer[bi], log.customer[oi], log.customer[ci]])
    t_s = np.concatenate([np.full(len(bi), log.day0 - 1), log.sec[oi], log.sec[ci]])
    t_r = np.concatenate([log.row[bi], log.row[oi], log.row[ci]])
    t_d = np.concatenate([np.ones(len(bi) + len(oi), np.int64), -np.ones(len(ci), np.int64)])
    t_b = np.concatenate([np.ones(len(bi), bool), np.zeros(len(oi) + len(ci), bool)])
    t_day = np.concatenate([np.zeros(len(bi), np.int64), day[oi], day[ci]])
    o2 = np.lexsort((t_r, t_s, t_c))
    t_c, t_d, t_r, t_b, t_day = t_c[o2], t_d[o2], t_r[o2], t_b[o2], t_day[o2]
    m = len(t_c)
    cs = np.cumsum(t_d)
    gfirst = np.ones(m, bool)
    gfirst[1:] = t_c[1:] != t_c[:-1]
    gstart = np.maximum.accumulate(np.where(gfirst, np.arange(m), 0))
    count = cs - (cs[gstart] - t_d[gstart])
    is_start = (t_d == 1) & (count == 1)
    is_end = (t_d == -1) & (count == 0)
    last_start = np.maximum.accumulate(np.where(is_start, np.arange(m), -1))
    si = np.flatnonzero(is_start)
    end_day = np.full(m, -1, dtype=np.int64)
    ei = np.flatnonzero(is_end)
    end_day[last_start[ei]] = t_day[ei]
    return Spells(customer=t_c[si], start=t_day[si], end=end_day[si], start_row=t_r[si],
                  before=t_b[si], n_customers=len(log.customers), last_day=log.last_day,
                  duplicate_adds=dup_adds, stray_deletes=stray)


# --------------------------------------------------------------------------
# Fits

def month_of_year(days):
    """Month 0..11 of each day (SPEC section 2)."""
    starts = np.array([(365 * m) // 12 for m in range(12)])
    return np.searchsorted(starts, np.asarray(days) % 365, side="right") - 1


def _softmax12(u):
    e = np.exp(u - u.max())
    return 12 * e / e.sum()


def fit_adoption(A, S0, E, never, fit_season=True, estimate_never=False):
    """Maximum likelihood of first adds with shared seasonality.

    A[s, m]: first adds of segment s on days of month-of-year m; S0[s, m]:
    person-days at risk without adding of the segment's adopters; E[m]: days
    of month m in the exposure window; never[s]: pool customers who never add
    (each at risk every exposure day). Daily add probability
    1 - exp(-a_s season_m). With `estimate_never` (one segment) the
    never-adopters count X is a parameter (log scale) too, and the likelihood
    gains log((n + X)! / X!) for the ways to pick which n of the pool adopted.

    Returns (a estimates, season estimates, never-adopters estimate or None,
    notes)."""
    from scipy.optimize import minimize
    from scipy.special import digamma, gammaln
    A = np.asarray(A, dtype=np.float64)
    n_adopt = float(A.sum())
    S0 = np.asarray(S0, dtype=np.float64)
    E = np.asarray(E, dtype=np.float64)
    nseg = A.shape[0]
    notes = []
    active = A.sum(axis=1) > 0              # segments with any first add
    if fit_season and (E <= 0).any():
        fit_season = False
        notes.append("the log covers less than a year after day 0: season not fitted (all 1)")
    if fit_season and A[active].sum() < 24:
        fit_season = False
        notes.append("fewer than 24 first adds: season not fitted (all 1)")
    ns = int(active.sum())
    n_u = 11 if fit_season else 0
    act = np.flatnonzero(active)

    def unpack(x):
        loga = x[:ns]
        u = np.concatenate([[0.0], x[ns:ns + n_u]]) if fit_season else np.zeros(12)
        X = math.exp(x[-1]) if estimate_never else None
        return loga, u, X

    def parts(x):
        loga, u, X = unpack(x)
        sig = _softmax12(u)
        a = np.exp(loga)
        h = a[:, None] * sig[None, :]
        nev = np.asarray(never, dtype=np.float64)[act] if X is None else np.array([X])
        S = S0[act] + nev[:, None] * E[None, :]
        return a, sig, h, S, X

    def negll(x):
        a, sig, h, S, X = parts(x)
        Aa = A[act]
        ll = np.where(Aa > 0, Aa * np.log(-np.expm1(-np.maximum(h, 1e-300))), 0.0) - S * h
        if X is not None:   # unlabelled never-adopters: which of the pool adopted
            ll = ll.sum() + gammaln(n_adopt + X + 1) - gammaln(X + 1)
        return -float(ll.sum())

    def grad(x):
        a, sig, h, S, X = parts(x)
        Aa = A[act]
        g = np.where(Aa > 0, Aa / np.expm1(np.maximum(h, 1e-300)), 0.0) - S   # dLL/dh
        gh = g * h
        out = [gh.sum(axis=1)]
        if fit_season:
            tot = gh.sum()
            col = gh.sum(axis=0)
            out.append((col - sig / 12 * tot)[1:])
        if estimate_never:
            out.append(np.array([(-(h[0] * E).sum() + digamma(n_adopt + X + 1)
                                  - digamma(X + 1)) * X]))
        return -np.concatenate(out)

    a_out = [Estimate(0.0, 0.0, 0.0, 0.0, "no first adds in the log") for _ in range(nseg)]
    season = [Estimate(1.0, note="not fitted") for _ in range(12)]
    never_est = None
    if ns == 0:
        if estimate_never:
            raise CalibrationError("no first adds in the log (after day 0): cannot estimate "
                                   "the addressable population; pass --population N")
        return a_out, season, None, notes
    # Start: per-segment crude rate, flat season.
    x0 = []
    for s in act:
        risk = S0[s].sum() + (never[s] if not estimate_never else A[s].sum()) * E.sum()
        x0.append(math.log(max(A[s].sum(), 0.5) / max(risk, 1.0)))
    x0 += [0.0] * n_u
    if estimate_never:
        x0.append(math.log(max(A.sum(), 1.0)))
    x0 = np.array(x0)
    bounds = [(-50, 5)] * ns + [(-30, 30)] * n_u
    x_hi = None
    if estimate_never:
        x_hi = math.log(max(A.sum(), 1.0) * 1e4)
        bounds.append((-20, x_hi))
    res = minimize(negll, x0, jac=grad, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10})
    x = res.x
    if estimate_never and x[-1] > x_hi - 1.0:
        raise CalibrationError(
            "the log does not pin down the addressable population (first adds show no "
            "saturation: the pool could be any size); pass --population N")
    # Observed information from the analytic gradient.
    k = len(x)
    H = np.zeros((k, k))
    for i in range(k):
        hstep = 1e-5 * max(1.0, abs(x[i]))
        e = np.zeros(k)
        e[i] = hstep
        H[:, i] = -(grad(x + e) - grad(x - e)) / (2 * hstep)
    H = (H + H.T) / 2
    cov = _covariance(H)
    a, sig, h, S, X = parts(x)
    for j, s in enumerate(act):
        a_out[s] = _log_scale(float(a[j]), math.sqrt(cov[j, j]) if cov[j, j] >= 0 else math.nan)
    if fit_season:
        sm = sig / 12
        cu = cov[ns:ns + n_u, ns:ns + n_u]
        for mth in range(12):
            # log sigma_m = u_m - logsumexp(u) + log 12; gradient wrt u_1..u_11
            g = -sm[1:].copy()
            if mth > 0:
                g[mth - 1] += 1
            v = float(g @ cu @ g)
            season[mth] = _log_scale(float(sig[mth]), math.sqrt(v) if v >= 0 else math.nan)
    if estimate_never:
        v = cov[-1, -1]
        if x[-1] < -10:       # at the boundary: every pool customer has been seen
            never_est = Estimate(0.0, math.nan, 0.0, math.nan, "at the boundary")
            notes.append("the adds look saturated: the population estimate is the customers "
                         "seen (no interval); pass --population N if you know it")
        else:
            never_est = _log_scale(float(X), math.sqrt(v) if v >= 0 else math.nan)
    return a_out, season, never_est, notes


# Gauss-Laguerre nodes/weights for Gamma(a, 1) expectations (Golub-Welsch),
# normalised weights so that large shapes do not overflow.
_GL_NODES = 32
_gl_cache: dict = {}


def _gamma_rule(a):
    key = round(float(a), 12)
    r = _gl_cache.get(key)
    if r is None:
        from scipy.linalg import eigh_tridiagonal
        alpha = a - 1.0
        i = np.arange(_GL_NODES)
        d = 2 * i + alpha + 1
        e = np.sqrt(i[1:] * (i[1:] + alpha))
        x, v = eigh_tridiagonal(d, e)
        w = v[0] ** 2
        r = (x, w / w.sum())
        if len(_gl_cache) > 4096:
            _gl_cache.clear()
        _gl_cache[key] = r
    return r


def churn_loglik(rate, shape, n, T, w=None):
    """Log-likelihood of customers with n closed spells and exposure T
    (sum of L - 1 over closed spells plus the open spell's days), lam_u ~
    Gamma(shape, rate / shape), L = 1 + floor(Exp(lam_u)). Exact:
    E[(1 - e^-lam)^n e^(-lam T)] = Gamma(k+n)/Gamma(k) th^n (1 + th T)^-(k+n)
    * E[((1 - e^-lam)/lam)^n], lam ~ Gamma(k + n, th / (1 + th T)), the last
    factor by 32-node Gauss-Laguerre. shape = inf: homogeneous."""
    from scipy.special import gammaln
    n = np.asarray(n, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    w = np.ones_like(n) if w is None else np.asarray(w, dtype=np.float64)
    if math.isinf(shape):
        lam = rate
        return float((w * (n * np.log(-np.expm1(-lam)) - lam * T)).sum())
    k = shape
    th = rate / k
    a = k + n
    ll = gammaln(a) - gammaln(k) + n * math.log(th) - a * np.log1p(th * T)
    thp = th / (1 + th * T)
    corr = np.zeros_like(n)
    for nv in np.unique(n):
        if nv == 0:
            continue
        m = n == nv
        x, wt = _gamma_rule(k + nv)
        lam = thp[m, None] * x[None, :]
        f = np.exp(nv * (np.log(-np.expm1(-lam)) - np.log(lam)))
        corr[m] = np.log(f @ wt)
    return float((w * (ll + corr)).sum())


def fit_churn(n, T):
    """(rate, shape) estimates from per-customer closed-spell counts n and
    exposures T; shape inf when no heterogeneity shows (k-hat > 1e4)."""
    from scipy.optimize import minimize
    n = np.asarray(n, dtype=np.int64)
    T = np.asarray(T, dtype=np.int64)
    notes = []
    keep = (n > 0) | (T > 0)
    if not n.sum():
        return (Estimate(0.0, 0.0, 0.0, 0.0, "no churn in the log"),
                Estimate(math.inf, note="no churn in the log"), notes)
    pairs, w = np.unique(np.stack([n[keep], T[keep]], axis=1), axis=0, return_counts=True)
    nn, TT = pairs[:, 0].astype(np.float64), pairs[:, 1].astype(np.float64)
    lam0 = math.log1p(nn @ w / max(TT @ w, 1.0))

    def f(x):
        return -churn_loglik(math.exp(x[0]), math.exp(x[1]), nn, TT, w)

    best = None
    for k0 in (0.5, 2.0, 20.0):
        r = minimize(f, [math.log(lam0), math.log(k0)], method="L-BFGS-B",
                     bounds=[(math.log(lam0) - 10, math.log(lam0) + 10), (math.log(1e-3), math.log(1e6))])
        if best is None or r.fun < best.fun:
            best = r
    x = best.x
    if math.exp(x[1]) > SHAPE_INF:
        # homogeneous: closed form lam = log(1 + n/T)
        nt, Tt = nn @ w, TT @ w
        lam = math.log1p(nt / max(Tt, 1e-300))
        info = nt * math.exp(lam) / math.expm1(lam) ** 2 if nt else math.nan
        se_log = 1 / (lam * math.sqrt(info)) if info and info > 0 else math.nan
        notes.append(f"churn shows no heterogeneity (shape estimate above {SHAPE_INF:g}): churn_shape = inf")
        return (_log_scale(lam, se_log), Estimate(math.inf, note="no heterogeneity detected"), notes)
    cov = _covariance(-_hessian(f, x, 1e-4))
    se = np.sqrt(np.where(np.diag(cov) >= 0, np.diag(cov), math.nan))
    return (_log_scale(math.exp(x[0]), float(se[0])), _log_scale(math.exp(x[1]), float(se[1])), notes)


def fit_readd(d, wcens):
    """(probability, delay mean) from observed re-add delays d (days from the
    churn to the next spell) and, for ended spells with no re-add seen, the
    days w left in the log. Likelihood: p P(d) for a re-add, with
    P(d) = exp(-(d-1)/mu) (1 - exp(-1/mu)); (1 - p) + p exp(-w/mu) for none
    (the re-add may fall after the log end)."""
    from scipy.optimize import minimize
    d = np.maximum(np.asarray(d, dtype=np.int64), 1)
    wc = np.asarray(wcens, dtype=np.int64)
    notes = []
    if d.size + wc.size == 0:
        return (Estimate(0.0, note="no ended spells"), Estimate(30.0, note="default (no re-adds)"), notes)
    if d.size == 0:
        return (Estimate(0.0, 0.0, 0.0, math.nan, "no re-adds seen"),
                Estimate(30.0, note="default (no re-adds)"), notes)
    # unique windows for speed
    wu, wn = np.unique(wc, return_counts=True)
    du, dn = np.unique(d, return_counts=True)

    def ll(p, mu):
        q = -np.expm1(-1.0 / mu)
        out = dn.sum() * (math.log(p) + math.log(q)) - float((dn * (du - 1)).sum()) / mu
        out += float((wn * np.log1p(-p * (-np.expm1(-wu / mu)))).sum())
        return out

    def f(x):
        p = 1 / (1 + math.exp(-x[0]))
        return -ll(p, math.exp(x[1]))

    p0 = d.size / (d.size + wc.size)
    mu0 = max(float(d.mean()) - 0.5, 0.5)
    r = minimize(f, [math.log(p0 / (1 - p0)) if p0 < 1 else 5.0, math.log(mu0)],
                 method="L-BFGS-B", bounds=[(-30, 30), (math.log(1e-3), math.log(1e5))])
    x = r.x
    p, mu = 1 / (1 + math.exp(-x[0])), math.exp(x[1])
    cov = _covariance(-_hessian(f, x, 1e-4))
    se = np.sqrt(np.where(np.diag(cov) >= 0, np.diag(cov), math.nan))
    if p > 1 - 1e-9:
        notes.append("every ended spell was followed by a re-add: readd_prob = 1")
        p = 1.0
    return _logit_scale(p, float(se[0])), _log_scale(mu, float(se[1])), notes


# --------------------------------------------------------------------------
# Segments file


def read_segments(path):
    """{external_user_id: segment name}, and names in order of first appearance."""
    source = str(path)
    df, _ = _read_any(path, "segments")
    c_id = _find_column(df, "external_user_id", ("ExternalUserID",))
    c_seg = _find_column(df, "segment", ())
    missing = [n for n, c in (("external_user_id", c_id), ("segment", c_seg)) if c is None]
    if missing:
        raise CalibrationError(f"{source}: missing column(s) {', '.join(missing)}; expected "
                               f"external_user_id, segment; found: {', '.join(map(str, df.columns)) or '(none)'}")
    if len(df) == 0:
        raise CalibrationError(f"{source}: the segments file has no rows")
    ids = _strings(df[c_id]).to_numpy(dtype=object)
    segs = _strings(df[c_seg]).to_numpy(dtype=object)
    mapping, names = {}, []
    for i, (u, s) in enumerate(zip(ids, segs)):
        if not u:
            raise CalibrationError(f"{source}: {_where(df, i)}: external_user_id is empty")
        if not NAME_RE.match(s):
            raise CalibrationError(f"{source}: {_where(df, i)}: segment: expected a name made of "
                                   f"letters, digits, '_', '.' and '-', got {s!r}")
        old = mapping.get(u)
        if old is not None and old != s:
            raise CalibrationError(f"{source}: {_where(df, i)}: customer {u!r} is in segment "
                                   f"{s!r} here but in {old!r} on an earlier row")
        if old is None:
            mapping[u] = s
            if s not in names:
                names.append(s)
    if len(names) > 63:
        raise CalibrationError(f"{source}: {len(names)} segments; a scenario holds at most 63")
    return mapping, names


# --------------------------------------------------------------------------
# Calibration


@dataclass
class SegmentFit:
    name: str
    population: int
    initial: int
    seen: int
    first_adds: int
    spells: int
    closed_spells: int
    readds: int
    estimates: dict            # PARAMS -> Estimate
    population_source: str = "given"


@dataclass
class Check:
    """Observed served count at month ends against the simulated band."""
    month_end_day: np.ndarray
    observed: np.ndarray
    p5: np.ndarray
    p50: np.ndarray
    p95: np.ndarray
    paths: int

    @property
    def inside(self) -> int:
        return int(((self.observed >= self.p5) & (self.observed <= self.p95)).sum())


@dataclass
class Calibration:
    log: EventLog
    spells: Spells
    segments: list
    season: list
    population: int
    population_estimate: Estimate | None
    served: np.ndarray
    notes: list
    check: Check | None = None

    # -------------------------------------------------------------- scenario
    @property
    def horizon_years(self) -> int:
        return max(1, -(-(self.log.last_day + 1) // 365))

    def scenario_dict(self, name="calibrated") -> dict:
        """The fitted scenario as a raw dict (scenario_from_dict input)."""
        N = self.population
        segs = []
        for sf in self.segments:
            e = sf.estimates
            shape = e["churn_shape"].value
            segs.append({
                "name": sf.name, "share": sf.population / N if len(self.segments) > 1 else 1.0,
                "initial_contacts": sf.initial,
                "adoption_rate": _round(e["adoption_rate"].value),
                "churn_rate": _round(e["churn_rate"].value),
                "churn_shape": "inf" if math.isinf(shape) else _round(shape),
                "readd_prob": min(1.0, _round(e["readd_prob"].value)),
                "readd_delay_days": _round(e["readd_delay_days"].value),
                "lost_value": 0.0})
        return {
            "scenario": {"name": name, "horizon_years": self.horizon_years, "paths": 1000, "seed": 0},
            "population": {"size": N},
            "segment": segs,
            "growth": {"season": [round(s.value, 4) for s in self.season], "sigma": 0.0,
                       "churn_sigma": 0.0},
            "strategy": [{"name": "fit-next", "renewal": "fit", "upgrade": "next"},
                         {"name": "oracle", "renewal": "oracle"}],
        }

    def scenario_toml(self, name="calibrated") -> str:
        """TOML text of the fitted scenario, standard errors as comments."""
        d = self.scenario_dict(name)
        log, sp = self.log, self.spells
        served = self.served
        peak_day = int(np.argmax(served)) if served.size else 0
        L = []
        L.append(f"# Calibrated by `simengine calibrate` from {log.source}"
                 + (f" (path {log.path} of {log.paths})" if log.path is not None and log.paths > 1
                    else ""))
        L.append(f"# Log: {log.start_date} .. {_date(log.day0, log.last_day)} ({log.last_day + 1:,} days), "
                 f"{len(log.sec):,} link events, {sp.n_customers:,} customers, {len(sp.start):,} spells.")
        L.append(f"# Served count (customers holding any link, end of day): {int(served[0]):,} on day 0, "
                 f"peak {int(served[peak_day]):,} on {_date(log.day0, peak_day)} (day {peak_day}), "
                 f"{int(served[-1]):,} at the end.")
        L.append("# Day 0 is the log's first day; months and season follow SPEC section 2 from it.")
        L.append("# Fitted by maximum likelihood; '# SE' comments are standard errors from the")
        L.append("# observed information (95% intervals: see the fit report, docs/calibration.md).")
        L.append("# To price the years after the log, set initial_contacts to the contacts at the end.")
        L.append("")
        L.append("[scenario]")
        for k, v in d["scenario"].items():
            L.append(f"{k} = {_toml_value(v)}")
        L.append("")
        L.append("[population]")
        pe = self.population_estimate
        if pe is not None:
            L.append(f"size = {self.population}  # estimated from the saturation of first adds, SE {_g(pe.se)}")
        else:
            src = self.segments[0].population_source if self.segments else "given"
            L.append(f"size = {self.population}  # {src}")
        L.append("")
        L.append("[growth]")
        L.append(f"season = {_toml_value(d['growth']['season'])}")
        if all(s.note == "not fitted" for s in self.season):
            L.append("# season: not fitted (see the fit report's notes)")
        else:
            L.append("# season SE: [" + ", ".join(_g(s.se, 2) for s in self.season) + "]")
        L.append("sigma = 0.0        # not identifiable from one history: set by judgement")
        L.append("churn_sigma = 0.0  # not identifiable from one history: set by judgement")
        L.append("")
        L.append("# [billing], [overflow], [staff]: defaults (SPEC section 6); set them for your enterprise.")
        L.append("")
        for seg, sf in zip(d["segment"], self.segments):
            e = sf.estimates
            L.append("[[segment]]")
            L.append(f"name = {_toml_value(seg['name'])}")
            L.append(f"share = {_toml_value(seg['share'])}  # {sf.population:,} customers")
            L.append(f"initial_contacts = {seg['initial_contacts']}  # customers holding a link on day 0")
            for k in PARAMS:
                est = e[k]
                c = f"SE {_g(est.se)}" if math.isfinite(est.se) else "SE n/a"
                if est.note:
                    c += f"; {est.note}"
                L.append(f"{k} = {_toml_value(seg[k])}  # {c}")
            L.append("lost_value = 0.0  # not in the log: set it")
            L.append("")
        for st in d["strategy"]:
            L.append("[[strategy]]")
            for k, v in st.items():
                L.append(f"{k} = {_toml_value(v)}")
            L.append("")
        text = "\n".join(L)
        scenario_from_dict(tomllib.loads(text), "<calibrated>")   # must be valid
        return text

    # ---------------------------------------------------------------- report
    def report(self) -> str:
        log, sp = self.log, self.spells
        out = []
        where = f"{log.source}" + (f" (path {log.path} of the {log.paths} simulated paths)"
                                   if log.path is not None and log.paths > 1 else "")
        out.append(f"Calibrated from {where}")
        out.append(f"  {log.start_date} .. {_date(log.day0, log.last_day)} ({log.last_day + 1:,} days), "
                   f"{len(log.sec):,} link events, {sp.n_customers:,} customers, "
                   f"{len(sp.start):,} spells ({int((sp.start == 0).sum()):,} open on day 0, "
                   f"{int((~sp.closed).sum()):,} open at the end)")
        served = self.served
        pk = int(np.argmax(served))
        out.append(f"  served count: {int(served[0]):,} on day 0, peak {int(served[pk]):,} on "
                   f"{_date(log.day0, pk)}, {int(served[-1]):,} at the end")
        if self.population_estimate is not None:
            pe = self.population_estimate
            iv = (f"95% [{pe.lo:,.0f}, {pe.hi:,.0f}]" if math.isfinite(pe.hi)
                  else "no interval: at the boundary")
            out.append(f"  population estimated: {self.population:,} (customers seen "
                       f"{self.spells.n_customers:,} + never-adopters; {iv})")
        out.append("")
        hdr = f"  {'parameter':<18}{'estimate':>12}{'std.err':>12}   95% interval"
        for sf in self.segments:
            out.append(f"Segment {sf.name!r}: population {sf.population:,} ({sf.population_source}), "
                       f"{sf.initial:,} initial, {sf.seen:,} seen, {sf.first_adds:,} first adds, "
                       f"{sf.closed_spells:,} churns, {sf.readds:,} re-adds")
            out.append(hdr)
            for k in PARAMS:
                out.append("  " + _row(k, sf.estimates[k]))
            out.append("")
        out.append("Season (shared, mean 1)")
        out.append(hdr)
        for m, s in enumerate(self.season):
            out.append("  " + _row(f"month {m + 1:>2}", s))
        if self.check is not None:
            c = self.check
            out.append("")
            out.append(f"Check: observed served count at month ends inside the simulated P5-P95 band "
                       f"in {c.inside} of {len(c.observed)} months ({c.paths} paths of the fitted scenario)")
        notes = list(self.notes)
        if notes:
            out.append("")
            out.append("Notes:")
            out += [f"  - {n}" for n in notes]
        return "\n".join(out)

    def as_json(self) -> dict:
        return {
            "source": self.log.source, "path": self.log.path, "start": self.log.start_date,
            "days": self.log.last_day + 1, "customers": self.spells.n_customers,
            "spells": int(len(self.spells.start)), "population": self.population,
            "population_estimate": self.population_estimate.as_dict() if self.population_estimate else None,
            "served_peak": int(self.served.max()), "served_peak_day": int(np.argmax(self.served)),
            "segments": [{"name": s.name, "population": s.population, "initial": s.initial,
                          "seen": s.seen, "first_adds": s.first_adds, "spells": s.spells,
                          "churns": s.closed_spells, "readds": s.readds,
                          "estimates": {k: v.as_dict() for k, v in s.estimates.items()}}
                         for s in self.segments],
            "season": [s.as_dict() for s in self.season],
            "check": None if self.check is None else {
                "paths": self.check.paths, "inside": self.check.inside,
                "months": len(self.check.observed)},
            "notes": self.notes,
        }

    # ----------------------------------------------------------------- check
    def run_check(self, paths=200, seed=0) -> Check:
        """Simulate the fitted scenario (never blocking: one free tier as large
        as the population) and take P5/P50/P95 of contacts at month ends."""
        from .engine import month_bounds, run
        d = self.scenario_dict("calibration-check")
        big = max(self.population, 2001)
        d["billing"] = {"tiers": [[big, 0.0]]}
        d["strategy"] = [{"name": "never-block", "renewal": "fixed", "tier": big, "upgrade": "none"}]
        d["scenario"].update(paths=int(paths), seed=int(seed))
        scn = scenario_from_dict(d, "<calibration check>")
        res = run(scn)
        mon = res.monthly
        contacts = mon.column("contacts").to_numpy().astype(np.float64).reshape(scn.paths, scn.months)
        ends = month_bounds(scn.horizon_years)[1:] - 1
        keep = ends <= self.log.last_day
        ends = ends[keep]
        contacts = contacts[:, keep]
        p5, p50, p95 = np.percentile(contacts, [5, 50, 95], axis=0)
        self.check = Check(ends, self.served[ends].astype(np.float64), p5, p50, p95, scn.paths)
        return self.check

    def plot(self, path):
        """PNG of the observed served count against the simulated band."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        c = self.check
        base = np.datetime64(self.log.start_date)
        days = base + np.arange(self.served.size).astype("timedelta64[D]")
        fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
        if c is not None:
            x = base + c.month_end_day.astype("timedelta64[D]")
            ax.fill_between(x, c.p5, c.p95, color="tab:blue", alpha=0.25,
                            label=f"simulated P5-P95 ({c.paths} paths)")
            ax.plot(x, c.p50, color="tab:blue", lw=1, ls="--", label="simulated median")
        ax.plot(days, self.served, color="black", lw=1.2, label="observed (event log)")
        if c is not None:
            ax.plot(base + c.month_end_day.astype("timedelta64[D]"), c.observed, "o",
                    color="black", ms=3)
        ax.set_ylabel("served customers (deduplicated contacts)")
        ax.set_title(f"Calibration check: {Path(self.log.source).name}"
                     + (f" (path {self.log.path})" if self.log.path is not None else ""))
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        fig.autofmt_xdate()
        fig.tight_layout()
        try:
            return _atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
        finally:
            plt.close(fig)


def _round(x):
    return float(f"{x:.6g}") if math.isfinite(x) else x


def _g(x, digits=3):
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.{digits}g}"


def _row(name, e: Estimate):
    iv = (f"[{_g(e.lo, 4)}, {_g(e.hi, 4)}]" if math.isfinite(e.lo) and math.isfinite(e.hi)
          else "n/a")
    v = "inf" if math.isinf(e.value) else _g(e.value, 5)
    tail = f"  ({e.note})" if e.note else ""
    return f"{name:<18}{v:>12}{_g(e.se, 3):>12}   {iv}{tail}"


def _largest_remainder(weights, total):
    w = np.asarray(weights, dtype=np.float64)
    q = w / w.sum() * total
    base = np.floor(q).astype(np.int64)
    order = np.argsort(-(q - base), kind="stable")
    base[order[:total - base.sum()]] += 1
    return base


def calibrate(events, population=None, segments=None, path=None, check_paths=0,
              seed=0) -> Calibration:
    """Fit the model of SPEC section 3 to a contact event log (see the module
    docstring). `population`: the addressable customers (all segments);
    `segments`: a file mapping external_user_id to segment (its customers are
    the addressable population unless `population` is given); `path`: the
    path of a simulated log (default 0); `check_paths` > 0 also simulates the
    fitted scenario for the check band."""
    log = read_events(events, path)
    sp = reconstruct_spells(log)
    C = sp.n_customers
    notes = []
    if log.path is not None and log.paths > 1:
        notes.append(f"the log holds {log.paths} simulated paths; only path {log.path} is used (--path)")
    if sp.duplicate_adds:
        notes.append(f"{sp.duplicate_adds:,} adds of links already open were ignored (repeated callbacks)")
    if sp.stray_deletes:
        notes.append(f"{sp.stray_deletes:,} deletes of links already closed were ignored")
    if sp.before.any():
        notes.append(f"{int(sp.before.sum()):,} customers' first event is a delete: "
                     "taken as contacts since before the log (initial contacts)")
    for e, k in sorted(log.ignored.items()):
        notes.append(f"{k:,} rows with event {e!r} change no link and were ignored")

    # Segment of each customer.
    if segments is not None:
        mapping, names = read_segments(segments)
        seg_of = np.empty(C, dtype=np.int64)
        name_idx = {n: i for i, n in enumerate(names)}
        for ci, cu in enumerate(log.customers):
            s = mapping.get(cu)
            if s is None:
                r = int(log.row[np.argmax(log.customer == ci)])
                raise CalibrationError(f"{log.source}: {log.where(r)}: customer {cu!r} is not in "
                                       f"the segments file {segments}")
            seg_of[ci] = name_idx[s]
        listed = np.bincount(np.fromiter((name_idx[s] for s in mapping.values()), np.int64,
                                         len(mapping)), minlength=len(names))
        if population is not None:
            pops = _largest_remainder(listed, int(population))
            src = f"--population {int(population):,} split as the segments file"
        else:
            pops = listed
            src = f"customers listed in {Path(str(segments)).name}"
    else:
        names = ["all"]
        seg_of = np.zeros(C, dtype=np.int64)
        pops = None if population is None else np.array([int(population)])
        src = "from --population"
    nseg = len(names)

    if population is not None and int(population) < C:
        # the (population+1)-th distinct customer, in file order
        ci = int(population)
        r = int(log.row[np.argmax(log.customer == ci)])
        raise CalibrationError(f"{log.source}: --population {int(population):,} is smaller than the "
                               f"{C:,} customers in the log (customer #{ci + 1}, "
                               f"{log.customers[ci]!r}, first appears at {log.where(r)})")

    # Per-customer facts.
    first_idx = np.ones(len(sp.customer), bool)
    first_idx[1:] = sp.customer[1:] != sp.customer[:-1]
    first_start = np.zeros(C, dtype=np.int64)
    first_start[sp.customer[first_idx]] = sp.start[first_idx]
    initial = first_start == 0
    closed = sp.closed
    L = np.maximum(sp.end - sp.start, 1)
    if closed.any() and (sp.end[closed] <= sp.start[closed]).any():
        notes.append(f"{int((sp.end[closed] <= sp.start[closed]).sum()):,} spells ended on the day "
                     "they began: counted as 1-day spells")
    expo = np.where(closed, L - 1, sp.last_day - sp.start)
    n_closed = np.bincount(sp.customer, weights=closed, minlength=C).astype(np.int64)
    T = np.bincount(sp.customer, weights=expo, minlength=C).astype(np.int64)
    # Re-adds: the next spell of the same customer.
    nxt_same = np.zeros(len(sp.customer), bool)
    nxt_same[:-1] = sp.customer[1:] == sp.customer[:-1]
    nxt_start = np.full(len(sp.customer), -1, dtype=np.int64)
    nxt_start[:-1] = sp.start[1:]
    readded = closed & nxt_same
    delay = np.where(readded, nxt_start - sp.end, 0)
    window = np.where(closed & ~readded, sp.last_day - sp.end, 0)
    if (readded & (delay < 1)).any():
        notes.append(f"{int((readded & (delay < 1)).sum()):,} re-adds on the day of the churn: "
                     "counted as a 1-day delay")

    # Adoption data: first adds after day 0 by segment and month-of-year.
    D = sp.last_day
    days = np.arange(1, D + 1)
    moy = month_of_year(days)
    E = np.bincount(moy, minlength=12).astype(np.float64)
    A = np.zeros((nseg, 12))
    S0 = np.zeros((nseg, 12))
    never = np.zeros(nseg)
    n_init = np.bincount(seg_of[initial], minlength=nseg)
    seen = np.bincount(seg_of, minlength=nseg)
    adopt = ~initial
    for s in range(nseg):
        f = first_start[adopt & (seg_of == s)]
        cnt = np.bincount(f, minlength=D + 1)[1:D + 1].astype(np.float64)   # adds on days 1..D
        later = cnt[::-1].cumsum()[::-1] - cnt        # adopters adding after day t
        A[s] = np.bincount(moy, weights=cnt, minlength=12)
        S0[s] = np.bincount(moy, weights=later, minlength=12)
        if pops is not None:
            if pops[s] < seen[s]:
                raise CalibrationError(f"{log.source}: segment {names[s]!r}: population {pops[s]:,} "
                                       f"is smaller than its {seen[s]:,} customers in the log")
            never[s] = pops[s] - seen[s]
    estimate_never = pops is None
    a_est, season, never_est, anotes = fit_adoption(A, S0, E, never, True, estimate_never)
    notes += anotes
    if estimate_never:
        X = int(round(never_est.value))
        pops = np.array([C + X])
        src = "estimated"
        population_estimate = Estimate(float(C + X), never_est.se, C + never_est.lo,
                                       C + never_est.hi, "customers seen + never-adopters")
    else:
        population_estimate = None
    N = int(pops.sum())

    fits = []
    for s in range(nseg):
        cm = seg_of == s
        rate, shape, cn = fit_churn(n_closed[cm], T[cm])
        smask = cm[sp.customer]
        p, mu, rn = fit_readd(delay[smask & readded], window[smask & closed & ~readded])
        for x in cn + rn:
            notes.append(f"segment {names[s]!r}: {x}")
        fits.append(SegmentFit(
            name=names[s], population=int(pops[s]), initial=int(n_init[s]), seen=int(seen[s]),
            first_adds=int(A[s].sum()), spells=int(smask.sum()),
            closed_spells=int((smask & closed).sum()), readds=int((smask & readded).sum()),
            estimates={"adoption_rate": a_est[s], "churn_rate": rate, "churn_shape": shape,
                       "readd_prob": p, "readd_delay_days": mu},
            population_source=src))
    notes.append("initial contacts (spells open on day 0) enter churn and re-adds by the "
                 "memoryless property and are left out of adoption")
    cal = Calibration(log=log, spells=sp, segments=fits, season=season, population=N,
                      population_estimate=population_estimate, served=sp.served(), notes=notes)
    if check_paths:
        cal.run_check(check_paths, seed)
    return cal


# --------------------------------------------------------------------------
# Files and the command line


_atomic_write = atomic_file


def _write_text(path, text):
    def w(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    return _atomic_write(path, w)


def companion(output, suffix):
    """SCENARIO.toml -> SCENARIO-check.png / SCENARIO-fit.json beside it."""
    p = Path(output)
    return p.with_name(p.stem + suffix)


def cli_calibrate(args) -> int:
    """`simengine calibrate EVENTS [--population N] [--segments FILE] -o SCENARIO.toml
    [--path P]`: fit, write the scenario (+ SCENARIO-check.png, SCENARIO-fit.json),
    print the report. Exit 0, or 2 on bad input (message on stderr)."""
    import sys
    try:
        population = getattr(args, "population", None)
        if population is not None and int(population) < 1:
            raise CalibrationError(f"--population: expected a positive integer, got {population}")
        check_paths = getattr(args, "check_paths", None)
        check_paths = 200 if check_paths is None else int(check_paths)
        cal = calibrate(args.events, population=population,
                        segments=getattr(args, "segments", None),
                        path=getattr(args, "path", None), check_paths=check_paths,
                        seed=getattr(args, "seed", None) or 0)
        name = Path(args.output).stem
        name = name if NAME_RE.match(name) else "calibrated"
        text = cal.scenario_toml(name)
    except ScenarioError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        out = _write_text(args.output, text)
        written = [str(out)]
        if cal.check is not None:
            written.append(str(cal.plot(companion(args.output, "-check.png"))))
        fit_json = companion(args.output, "-fit.json")
        _write_text(fit_json, json.dumps(cal.as_json(), indent=2))
        written.append(str(fit_json))
    except OSError as e:
        print(f"error: {args.output}: cannot write: {e.strerror or e}", file=sys.stderr)
        return 2
    print(cal.report())
    print()
    print("Wrote " + ", ".join(written))
    return 0


def check_event_log_size(scn, max_rows=MAX_EVENT_ROWS):
    """Refuse before a run a contact log that is sure to exceed `max_rows`:
    every path logs at least its initial contacts (active on day 0 under every
    strategy); adds may all be blocked, so they are not counted here. The exact
    count is checked when the log is written."""
    low = scn.paths * sum(s.initial_contacts for s in scn.segments)
    if low > max_rows:
        raise ScenarioError(
            f"{scn.source}: --events: the contact log would have at least {low:,} rows "
            f"(the initial contacts of {scn.paths:,} paths, before any add or churn), more "
            f"than the limit of {max_rows:,}; lower scenario.paths or population.size for --events")


def write_event_log(scn, run_dir, strategy=None, path=None, max_rows=MAX_EVENT_ROWS) -> Path:
    """Write the contact log of one strategy (default: the first) on every path
    of `scn` as `run_dir/events.arrow` (or `path`): SPEC section 11 columns plus
    `path` and `segment`. Raises ScenarioError when it would exceed `max_rows`."""
    import pyarrow as pa
    import pyarrow.ipc as ipc
    from . import __version__
    from .kernel.layout import LOG_ADD
    from .engine import contact_log
    check_event_log_size(scn, max_rows)
    if strategy is None:
        strategy = scn.strategies[0].name
    log = contact_log(scn, strategy, max_rows=max_rows)
    n = len(log["day"])
    t = (np.datetime64(LOG_EPOCH, "s") + log["day"].astype("timedelta64[D]")).astype("datetime64[s]")
    cust = log["customer"]
    members = scn.staff.members
    member = cust % members if members else np.zeros(n, dtype=np.int64)
    seg_names = np.array([s.name for s in scn.segments], dtype=object)
    is_add = log["kind"] == LOG_ADD
    table = pa.table({
        "time": pa.array(t, type=pa.timestamp("s")),
        "external_user_id": pa.array(np.char.add("c", cust.astype(str)).astype(object), type=pa.string()),
        "user_id": pa.array(np.char.add("m", member.astype(str)).astype(object), type=pa.string()),
        "chat_id": pa.array(np.full(n, "", dtype=object), type=pa.string()),
        "event": pa.array(np.where(is_add, ADD_FRIEND, DEL_FRIEND_CUSTOMER).astype(object),
                          type=pa.string()),
        "path": pa.array(log["path"].astype(np.int64), type=pa.int64()),
        "segment": pa.array(seg_names[log["segment"]] if n else np.zeros(0, object), type=pa.string()),
    })
    meta = {b"table": b"events", b"scenario_sha256": scn.sha256.encode(),
            b"scenario_name": scn.name.encode(), b"engine_version": __version__.encode(),
            b"strategy": strategy.encode(), b"simengine_start": LOG_EPOCH.encode(),
            b"simengine_days": str(scn.days).encode(), b"paths": str(scn.paths).encode()}
    table = table.replace_schema_metadata(meta)
    target = Path(path) if path is not None else Path(run_dir) / "events.arrow"

    def w(tmp):
        with ipc.new_file(tmp, table.schema) as wr:
            wr.write_table(table)
    return _atomic_write(target, w)
