"""A WeCom contact event log (docs/model.md section 11), read and checked: the event
vocabulary of the two callbacks, column names and their raw-callback
aliases, times, the path of a simulated log, and `dismiss` expanded into a
group leave for every member of the group.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

import numpy as np

from .files import (CalibrationError, InputTable, first_appearance_codes, integer_column,
                    read_input_table, text_column, time_column, unix_seconds)

DAY = 86_400
MAX_LOG_DAYS = 36_500               # a log spanning more is taken as a unit mistake

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
        return date_text(self.day0)


def date_text(sec, days=0) -> str:
    """ISO date of unix seconds `sec` plus `days` days."""
    return (_dt.datetime(1970, 1, 1)
            + _dt.timedelta(seconds=int(sec), days=int(days))).date().isoformat()


@dataclass
class _Rows:
    """The kept rows of a log (one path), as text columns and flags."""
    idx: np.ndarray                # original row of each kept row
    ev: np.ndarray                 # event names
    ext: np.ndarray
    uid: np.ndarray
    cid: np.ndarray
    sec: np.ndarray
    use: np.ndarray                # a link event (not dismiss, not ignored)
    is_group: np.ndarray
    is_add: np.ndarray


def read_events(path, which_path=None, observed_from=None) -> EventLog:
    """Read and check a contact event log (docs/model.md section 11). A simulated log
    with several paths is cut to `which_path` (default: path 0).
    `observed_from` (ISO 8601 or unix seconds) is the start of the window the
    log observes; rows before it are the history of the contacts held when
    it opened (default: the start a simulated log records, else the first
    row's day)."""
    t = read_input_table(path, "event log")
    cols, ev_cols = _locate_columns(t)
    if len(t) == 0:
        raise CalibrationError(f"{t.source}: the log has no rows (an empty log cannot be calibrated)")
    idx, chosen, n_paths = _select_path(t, which_path)
    rows, ignored = _read_rows(t, cols, ev_cols, idx, chosen)
    day0, last_day = _observation_window(t, rows, observed_from)
    rows_local, ext_all, link_all, sec_use, add_use = _link_events(rows)
    # Customers numbered in order of first appearance in the file.
    order = np.argsort(rows_local, kind="stable")
    cust_codes, customers = first_appearance_codes(ext_all[order])
    customer = np.empty(len(order), dtype=np.int64)
    customer[order] = cust_codes
    return EventLog(source=t.source, rows=len(t), row=idx[rows_local], sec=sec_use,
                    customer=customer, link=link_all, add=add_use, customers=customers,
                    day0=day0, last_day=last_day, path=chosen, paths=n_paths, ignored=ignored,
                    simulated="simengine_days" in t.meta, where=t.where)


def _locate_columns(t: InputTable):
    """({column: name in the file or None}, event columns); raises listing
    every missing column."""
    cols, missing = {}, []
    for name in COLUMNS[:-1]:
        c = t.find_column(name, ALIASES[name])
        if c is None and name in ("time", "external_user_id"):
            missing.append(name)
        cols[name] = c
    lower = {c.lower(): c for c in t.columns}
    ev_cols = (["event"] if "event" in t.columns else
               [lower[a.lower()] for a in ALIASES["event"] if a.lower() in lower])
    if not ev_cols:
        missing.append("event")
    if cols["user_id"] is None and cols["chat_id"] is None:
        missing.append("user_id or chat_id")
    if missing:
        raise CalibrationError(
            f"{t.source}: missing column(s) {', '.join(missing)}; expected columns "
            f"{', '.join(COLUMNS)} (or the callback names CreateTime, ExternalUserID, "
            f"UserID, ChatId, ChangeType/UpdateDetail); found: "
            f"{', '.join(t.columns) or '(none)'}")
    return cols, ev_cols


def _select_path(t: InputTable, which_path):
    """(rows kept, chosen path or None, paths in the log) of a simulated
    log's `path` column; a real log has no such column and keeps every row."""
    if "path" not in t.columns:
        if which_path not in (None, 0):
            raise CalibrationError(f"{t.source}: the log has no path column; cannot select "
                                   f"path {which_path}")
        return np.arange(len(t)), None, 1
    pv = integer_column(t.table.column("path"), t.source, "path", t.where)
    present = np.unique(pv)
    chosen = int(present.min() if which_path is None and 0 not in present else
                 (0 if which_path is None else which_path))
    if chosen not in present:
        raise CalibrationError(f"{t.source}: path {chosen} is not in the log (paths "
                               f"{present.min()}..{present.max()})")
    return np.flatnonzero(pv == chosen), chosen, len(present)


def _read_rows(t: InputTable, cols, ev_cols, idx, chosen):
    """The kept rows' columns, checked: known events, ids present where the
    event needs them, times parsed. Returns (_Rows, ignored event counts)."""
    source = t.source
    sub = t.table.take(idx) if len(idx) < len(t) else t.table
    where = lambda i: t.where(idx[i])  # noqa: E731
    if len(ev_cols) == 1:
        ev = text_column(sub.column(ev_cols[0]))
    else:   # raw callbacks: UpdateDetail where set (group events), else ChangeType
        a, b = text_column(sub.column(ev_cols[0])), text_column(sub.column(ev_cols[1]))
        ev = np.where(a != "", a, b)
    known = set(EVENTS) | {DISMISS}
    is_known = np.fromiter((e in known for e in ev), bool, len(ev))
    is_ignored = np.fromiter((e in IGNORED_EVENTS for e in ev), bool, len(ev))
    bad = ~(is_known | is_ignored)
    if bad.any():
        j = int(np.argmax(bad))
        raise CalibrationError(
            f"{source}: {where(j)}: event: unknown event {ev[j]!r}; expected one of "
            f"{', '.join(EVENTS)} (dismiss and the other callback values "
            f"{', '.join(sorted(IGNORED_EVENTS))} are accepted and change no link)")
    ignored = {}
    for e in ev[is_ignored]:
        ignored[e] = ignored.get(e, 0) + 1
    sec = time_column(sub.column(cols["time"]), source, cols["time"], where)
    blank = np.full(len(ev), "", dtype=object)
    ext = text_column(sub.column(cols["external_user_id"]))
    uid = text_column(sub.column(cols["user_id"])) if cols["user_id"] else blank
    cid = text_column(sub.column(cols["chat_id"])) if cols["chat_id"] else blank
    is_group = np.zeros(len(ev), bool)
    is_add = np.zeros(len(ev), bool)
    for name, (g, a) in EVENTS.items():
        m = ev == name
        is_group[m] = g
        is_add[m] = a
    rows = _Rows(idx, ev, ext, uid, cid, sec, is_known & (ev != DISMISS), is_group, is_add)
    _check_ids(rows, source, where)
    if not rows.use.any():
        raise CalibrationError(f"{source}: the log has no contact events "
                               f"({', '.join(EVENTS)})"
                               f"{' for path %d' % chosen if chosen is not None else ''}")
    return rows, ignored


def _check_ids(r: _Rows, source, where):
    """Every event names the ids it acts on."""
    use = r.use
    for mask, what in ((use & (r.ext == ""), "external_user_id is empty"),
                       (use & ~r.is_group & (r.uid == ""),
                        "user_id (the member) is empty for a friend event"),
                       (use & r.is_group & (r.cid == ""),
                        "chat_id (the group) is empty for a group event"),
                       ((r.ev == DISMISS) & (r.cid == ""), "chat_id is empty for a dismiss event")):
        if mask.any():
            j = int(np.argmax(mask))
            raise CalibrationError(f"{source}: {where(j)}: {what} (event {r.ev[j]})")


def _observation_window(t: InputTable, r: _Rows, observed_from=None):
    """(unix seconds of day 0, last observed day). Day 0 is the window's
    start: `observed_from`, else the start a simulated log records, else the
    day of the first row. Every row counts for the span, ignored events too;
    rows before day 0 are history (the contacts held when the window opened,
    with their add times)."""
    source, meta, sec = t.source, t.meta, r.sec
    if observed_from is not None:
        start = unix_seconds(str(observed_from).strip())
        if start is None:
            raise CalibrationError(
                f"{source}: --observed-from: cannot parse {observed_from!r} as a time (expected "
                "an ISO 8601 timestamp such as 2025-01-01 or 2025-01-01T00:00:00+08:00, or unix "
                "seconds)")
        day0 = start // DAY * DAY
        if day0 > sec.max():
            raise CalibrationError(
                f"{source}: --observed-from {date_text(day0)} is after the log's last row "
                f"({date_text(sec.max())}): the window would observe nothing")
    elif "simengine_start" in meta:
        day0 = int(np.datetime64(meta["simengine_start"], "s").astype(np.int64))
    else:
        day0 = int(sec.min() // DAY * DAY)
    if "simengine_days" in meta and observed_from is None:
        last_day = int(meta["simengine_days"]) - 1
    else:
        last_day = int((sec.max() - day0) // DAY)
    for j, span, what in ((int(np.argmax(sec)), last_day, "after the window's start"),
                          (int(np.argmin(sec)), (day0 - int(sec.min())) // DAY,
                           "before the window's start")):
        if span > MAX_LOG_DAYS:
            raise CalibrationError(
                f"{source}: {t.where(r.idx[j])}: time {sec[j]:,} s is {span:,} days {what}; "
                f"expected at most {MAX_LOG_DAYS:,} (unix times must be seconds, not "
                "milliseconds)")
    return day0, last_day


def _link_events(r: _Rows):
    """The link events in local row order, then one group leave per
    (dismissal, customer who had the group by then). Links are numbered
    members first, then groups. Returns (local row, customer id, link, time,
    add?) arrays."""
    u_codes, u_uniq = first_appearance_codes(r.uid)
    g_codes, _ = first_appearance_codes(r.cid)
    n_members = len(u_uniq)
    link_code = np.where(r.is_group, n_members + g_codes, u_codes).astype(np.int64)
    extra_rows, extra_ext = _dismissals(r)
    extra_rows = np.asarray(extra_rows, dtype=np.int64)
    use = r.use
    return (np.concatenate([np.flatnonzero(use), extra_rows]),
            np.concatenate([r.ext[use], np.array(extra_ext, dtype=object)]),
            np.concatenate([link_code[use], n_members + g_codes[extra_rows]]),
            np.concatenate([r.sec[use], r.sec[extra_rows]]),
            np.concatenate([r.is_add[use], np.zeros(len(extra_rows), bool)]))


def _dismissals(r: _Rows):
    """(local row of the dismissal, customer) for every customer whose first
    event with the dismissed group is no later than the dismissal; customers
    in order of their first event with the group."""
    dm = np.flatnonzero(r.ev == DISMISS)
    if not len(dm):
        return [], []
    gl = r.use & r.is_group
    chat, ext, sec = r.cid[gl], r.ext[gl], r.sec[gl]
    pair_codes, _ = first_appearance_codes(np.char.add(np.char.add(chat.astype(str), "\x00"),
                                                       ext.astype(str)).astype(object))
    n_pairs = int(pair_codes.max()) + 1 if len(pair_codes) else 0
    first_sec = np.full(n_pairs, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_sec, pair_codes, sec)
    first_row = np.full(n_pairs, len(chat), dtype=np.int64)
    np.minimum.at(first_row, pair_codes, np.arange(len(chat)))
    pair_chat, pair_ext = chat[first_row], ext[first_row]
    rows, customers = [], []
    for j in dm:
        hit = np.flatnonzero((pair_chat == r.cid[j]) & (first_sec <= r.sec[j]))
        rows += [j] * len(hit)
        customers += list(pair_ext[hit])
    return rows, customers
