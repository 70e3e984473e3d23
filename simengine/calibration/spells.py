"""Contact spells rebuilt from a log's link events (docs/model.md section 11): a
customer is a contact while any of its links (a member or a group) is open;
adds and deletes are idempotent, a link first seen deleted was open before
the log. Also the per-customer and per-spell facts the fits need.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .events import DAY, EventLog


@dataclass
class Spells:
    """Deduplicated contact spells, sorted by (customer, start)."""
    customer: np.ndarray
    start: np.ndarray          # day
    end: np.ndarray            # churn day, -1 while open at the log end
    start_row: np.ndarray      # 0-based file row that opened it
    before: np.ndarray         # open since before the log began (first event a delete)
    age: np.ndarray            # days held when the window opened (its add time known), else 0
    n_customers: int
    last_day: int
    duplicate_adds: int = 0
    stray_deletes: int = 0
    closed_before_window: int = 0

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
    # a link first seen deleted was open since before the first row (day 0 or
    # the first day of the history before the window)
    first_day = min(0, int(day.min()))
    t_s = np.concatenate([np.full(len(bi), min(log.day0, int(log.sec.min())) - 1), log.sec[oi],
                          log.sec[ci]])
    t_r = np.concatenate([log.row[bi], log.row[oi], log.row[ci]])
    t_d = np.concatenate([np.ones(len(bi) + len(oi), np.int64), -np.ones(len(ci), np.int64)])
    t_b = np.concatenate([np.ones(len(bi), bool), np.zeros(len(oi) + len(ci), bool)])
    t_day = np.concatenate([np.full(len(bi), first_day, np.int64), day[oi], day[ci]])
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
    ended = np.zeros(m, bool)
    ei = np.flatnonzero(is_end)
    end_day[last_start[ei]] = t_day[ei]
    ended[last_start[ei]] = True
    start, end, before = t_day[si], end_day[si], t_b[si]
    # Left truncation: history before the window (day 0) shows the contacts
    # held when it opened. A spell over by day 0 was never observed held; a
    # spell open at day 0 enters at day 0, its age then known (unless it was
    # first seen as a delete: age unknown, taken as new).
    gone = ended[si] & (start < 0) & (end <= 0)
    keep = ~gone
    age = np.where(before, 0, np.maximum(-start, 0))
    start = np.maximum(start, 0)
    return Spells(customer=t_c[si][keep], start=start[keep], end=end[keep],
                  start_row=t_r[si][keep], before=before[keep], age=age[keep],
                  n_customers=len(log.customers), last_day=log.last_day,
                  duplicate_adds=dup_adds, stray_deletes=stray,
                  closed_before_window=int(gone.sum()))


@dataclass
class SpellFacts:
    """What the fits read from the spells. Per customer: the first spell's
    start (0: an initial contact), closed spells, churn exposure. Per spell:
    whether it ended and was followed by a re-add, the delay, and the days
    left in the log after a churn without a re-add."""
    first_start: np.ndarray
    initial: np.ndarray
    entry_age: np.ndarray      # days an initial contact had been held when the window opened
    n_closed: np.ndarray
    exposure: np.ndarray       # T = sum(L - 1) over closed spells + days of the open one
    closed: np.ndarray
    readded: np.ndarray
    delay: np.ndarray
    window: np.ndarray
    notes: list


def spell_facts(sp: Spells) -> SpellFacts:
    C = sp.n_customers
    notes = []
    first = np.ones(len(sp.customer), bool)
    first[1:] = sp.customer[1:] != sp.customer[:-1]
    first_start = np.zeros(C, dtype=np.int64)
    first_start[sp.customer[first]] = sp.start[first]
    entry_age = np.zeros(C, dtype=np.int64)
    entry_age[sp.customer[first]] = sp.age[first]
    closed = sp.closed
    L = np.maximum(sp.end - sp.start, 1)
    same_day = closed & (sp.end <= sp.start)
    if same_day.any():
        notes.append(f"{int(same_day.sum()):,} spells ended on the day they began: "
                     "counted as 1-day spells")
    expo = np.where(closed, L - 1, sp.last_day - sp.start)
    n_closed = np.bincount(sp.customer, weights=closed, minlength=C).astype(np.int64)
    T = np.bincount(sp.customer, weights=expo, minlength=C).astype(np.int64)
    # A re-add is the next spell of the same customer.
    next_same = np.zeros(len(sp.customer), bool)
    next_same[:-1] = sp.customer[1:] == sp.customer[:-1]
    next_start = np.full(len(sp.customer), -1, dtype=np.int64)
    next_start[:-1] = sp.start[1:]
    readded = closed & next_same
    delay = np.where(readded, next_start - sp.end, 0)
    window = np.where(closed & ~readded, sp.last_day - sp.end, 0)
    if (readded & (delay < 1)).any():
        notes.append(f"{int((readded & (delay < 1)).sum()):,} re-adds on the day of the churn: "
                     "counted as a 1-day delay")
    # a customer whose every spell ended before the window is no initial contact
    held = np.zeros(C, bool)
    held[sp.customer] = True
    return SpellFacts(first_start, (first_start == 0) & held, entry_age, n_closed, T, closed, readded,
                      delay, window, notes)
