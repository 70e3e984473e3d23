"""The phases of a simulated day that meet customers. A day has the phases
of docs/model.md section 4's order within a day: (1) period start
(`periods.open_period`), (2) churns due today (`churn_phase`), (3) attempts
due today (`attempt_phase`), with the outcomes of meeting them in their
priority order (`priority.py`), (4) end of day (peaks, period and month
records); `strategy.simulate_days` runs them. Phases (2) and (3) are one
call a day each, with their event loops written flat: calling a function
with arrays per event costs reference counting on every call. Events they
schedule are staged (STAGED) and pushed into the calendar in one call at
the day's end (always for a later day, so today's queues never see them).

Also the rows a day writes besides its counts: the contact log of the
logged strategy and a phantom's DAY record.
"""
import numpy as np

from ..billing import NO_TIER, churn_lowers_usage
from ..jit import jit_inner
from ..rng import (LIFETIME, READD_DECISION, READD_DELAY, RETRY_DELAY, attempt_occurrence,
                   exponential, uniform)
from ..strategies import ADMITTED, LOST, OVERFLOWED, RETRY, blocked_outcome, ordered_tier, \
    refused_outcome
from .arrivals import age_of, stock_curve
from .calendar import ATTEMPTS, CHURNS
from .layout import (LOG_ADD, LOG_CHURN, UNBOUNDED, customer_of, episode_of, event_word,
                     is_overflow, retry_of, segment_of)
from .periods import attempt_order_level, place_order
from .priority import none_can_pass, pop_first

# how today's attempts are met (attempt_phase's `heaped`, else a heap's size)
AS_TAKEN, BY_THRESHOLD = -1, -2


@jit_inner
def log_row(log, state, day, customer, kind, segment, age):
    """Write a contact log row while room lasts; count it anyway."""
    i = state.logged
    if i < log.shape[0]:
        log[i].day = day
        log[i].customer = customer
        log[i].kind = kind
        log[i].segment = segment
        log[i].age = age
    state.logged = i + 1


@jit_inner
def log_initial_contacts(pk, segs, churn_mult, log, state):
    """The contact log starts with the initial contacts, as adds on day 0,
    each with its age (its add dated that long before the start)."""
    for s in range(segs.shape[0]):
        sg = segs[s]
        curve = stock_curve(sg.initial_age, sg.churn_rate, sg.churn_shape, churn_mult)
        for u in range(sg.start, sg.start + sg.initial):
            age = age_of(pk, u, sg, curve) if sg.initial_age > 0.0 else 0.0
            log_row(log, state, np.int64(0), u, LOG_ADD, s, age)


@jit_inner
def record_day(state, prow, rec):
    """A phantom's DAY record at the end of day (counts: running totals)."""
    rec.active = state.active
    rec.usage = state.usage
    rec.overflow = state.overflow
    rec.first_adds = prow.first_adds
    rec.readds = prow.readds
    rec.churns = prow.churns


@jit_inner
def churn_phase(pk, c, segs, state, prow, per, today, n, staged, log):
    """Churns due today (today[:n]), in any order: a WeCom churn lowers the
    contacts (and U unless cumulative); then the lapse decision, and a
    re-add attempt staged if it falls before the horizon."""
    t = state.day
    D = c.days
    lowers = churn_lowers_usage(c.rule)
    readd_prob = segs.readd_prob
    readd_delay = segs.readd_delay
    active = state.active
    usage = state.usage
    overflow = state.overflow
    net = state.net_today
    n_staged = state.staged
    churns = 0
    for i in range(n):
        w = today[i].word
        u = customer_of(w)
        e = episode_of(w)
        s = segment_of(w)
        if is_overflow(w):
            overflow -= 1
        else:
            active -= 1
            if lowers:
                usage -= 1
            churns += 1
            net -= 1
            if state.logging:
                log_row(log, state, t, u, LOG_CHURN, s, 0.0)
        rp = readd_prob[s]
        if rp > 0.0 and uniform(pk, u, READD_DECISION, e) <= rp:
            delay = readd_delay[s] * exponential(pk, u, READD_DELAY, e)
            if delay < D - t - 1:
                sv = staged[n_staged]
                sv.queue = ATTEMPTS
                sv.day = t + 1 + np.int64(delay)
                sv.word = event_word(u, e + 1, 0, s, 0)
                sv.lam = today[i].lam
                n_staged += 1
    state.active = active
    state.usage = usage
    state.overflow = overflow
    state.net_today = net
    state.staged = n_staged
    state.events += n
    prow.churns += churns
    per.churns += churns


@jit_inner
def attempt_phase(pk, c, st, tiers, rules, state, prow, per, today, n, keys, heap, heaped,
                  order_at, staged, log):
    """Attempts due today (today[:n]): admission, an upgrade ordered by an
    attempt that meets usage `order_at` (periods.attempt_order_level), capacity check
    (less the segment's reserve), the blocked rule (`rules`: SEGMENT_RULE
    per segment, losses counted there); admitted lives and overflow lives
    get their churn staged, retries their next try.

    `heaped` says how they are met:
    - AS_TAKEN: in the order taken (their order cannot change an outcome);
    - BY_THRESHOLD: in the order taken, an attempt of a contested segment
      passing as it would in priority order (`priority_thresholds`);
    - h >= 0 (`priority_heap`): heap[:h] is a min-heap by priority `keys` of
      the attempts of contested segments: they are met in ascending
      priority while one of them could still pass, then the rest in any
      order (each refused whatever the order).
    Outcomes are those of meeting all of them in priority order; counts and
    per-segment losses do not depend on the order. A logged strategy meets
    them all in priority order (its log rows keep that order)."""
    t = state.day
    D = c.days
    upgrade = st.upgrade
    pending = state.pending_tier != NO_TIER
    active = state.active
    usage = state.usage
    overflow = state.overflow
    capacity = state.capacity
    net = state.net_today
    n_staged = state.staged
    first_adds = 0
    readds = 0
    blocked = 0
    blocked_pending = 0
    lost = 0
    overflowed = 0
    least_reserve = UNBOUNDED            # of the contested segments (met from a heap)
    if heaped >= 0:
        for s in range(rules.shape[0]):
            if rules[s].contested and rules[s].admit and rules[s].reserve < least_reserve:
                least_reserve = rules[s].reserve
    everyone = state.logging
    settled = heaped < 0
    by_threshold = heaped == BY_THRESHOLD
    popped = 0
    for ii in range(n):
        if heaped < 0:
            i = ii
        else:
            if not settled and not everyone:
                settled = none_can_pass(st, tiers, state.tier, usage, capacity, least_reserve,
                                        order_at)
            if popped < heaped and (everyone or not settled):
                i = pop_first(keys, heap, heaped - popped)
                popped += 1
            else:
                j = ii - popped         # the heap's rest, then the others
                i = heap[j] if j < heaped - popped else heap[j + popped]
        w = today[i].word
        lam = today[i].lam
        u = customer_of(w)
        e = episode_of(w)
        j = retry_of(w)
        s = segment_of(w)
        if not rules[s].admit:
            outcome = refused_outcome(st.others)
        else:
            if usage >= order_at:
                new_tier = ordered_tier(upgrade, st.headroom, state.tier, usage, order_at,
                                        capacity, tiers.nominal, tiers.effective)
                # no tier raises the capacity now: none will today (U only grows)
                order_at = UNBOUNDED
                if new_tier != NO_TIER:
                    place_order(c, st, tiers, state, prow, per, new_tier)
                    capacity = state.capacity
                    pending = st.lead_days > 0
                    if not pending:
                        order_at = attempt_order_level(st, tiers, state)
            if by_threshold and rules[s].contested:
                passes = rules[s].passes and keys[i] <= rules[s].last_key
            else:
                passes = usage < capacity - rules[s].reserve
            if passes:
                outcome = ADMITTED
                active += 1
                usage += 1
                net += 1
                if e == 0:                  # the first episode: a first add
                    first_adds += 1
                else:
                    readds += 1
                if state.logging:
                    log_row(log, state, t, u, LOG_ADD, s, 0.0)
            else:
                blocked += 1
                if pending:
                    blocked_pending += 1
                outcome = blocked_outcome(st.on_blocked, j, st.max_retries)
        if outcome == LOST:
            lost += 1
            rules[s].lost += 1
            continue
        # stage a churn (of a WeCom or an overflow life) or the next retry
        if outcome == RETRY:
            delay = st.retry_days * exponential(pk, u, RETRY_DELAY, attempt_occurrence(e, j + 1))
            queue = ATTEMPTS
            word = event_word(u, e, j + 1, s, 0)
        else:
            if outcome == OVERFLOWED:
                overflow += 1
                overflowed += 1
            word = event_word(u, e, 0, s, 1 if outcome == OVERFLOWED else 0)
            if lam <= 0.0:
                continue
            delay = exponential(pk, u, LIFETIME, e) / lam
            queue = CHURNS
        if delay < D - t - 1:
            sv = staged[n_staged]
            sv.queue = queue
            sv.day = t + 1 + np.int64(delay)
            sv.word = word
            sv.lam = lam
            n_staged += 1
    state.active = active
    state.usage = usage
    state.overflow = overflow
    state.net_today = net
    state.staged = n_staged
    state.events += n
    prow.first_adds += first_adds
    prow.readds += readds
    prow.blocked += blocked
    prow.lost += lost
    prow.overflowed += overflowed
    per.first_adds += first_adds
    per.readds += readds
    per.blocked += blocked
    prow.blocked_pending += blocked_pending
    per.blocked_pending += blocked_pending
