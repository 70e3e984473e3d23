"""One path: the shared draws, then each strategy in turn, replayed from a
phantom's day record when it never blocks (`replay.py`), else simulated day
by day here: from day 0, or, when several strategies replayed from the same
phantom refuse an attempt, each from the day of its first refusal, forked
from a rerun of the phantom (`resume_blocking`): until then its customers
are the phantom's.

A simulated day has the phases of SPEC section 4's order within a day:
(1) period start (`periods.open_period`), (2) churns due today, (3) attempts
due today, with the outcomes of meeting them in their priority order
(`priority.py`), (4) end of day (peaks, period and month records). Phases (2) and (3) are one call a day each, with their event loops
written flat: calling a function with arrays per event costs reference
counting on every call. Events they schedule are staged and pushed into the
calendar in one call at the day's end (always for a later day, so today's
queues never see them).
"""
from collections import namedtuple

import numpy as np
from numba import njit

from ..billing import NO_TIER, churn_lowers_usage
from ..rng import LIFETIME, READD_DECISION, READD_DELAY, RETRY_DELAY, exponential, path_key, \
    uniform
from ..strategies import (ADMITTED, FORECAST_WINDOW, LOST, OVERFLOWED, R_ORACLE, RETRY,
                          U_NONE, blocked_outcome, raises_capacity, refused_outcome,
                          upgrade_tier)
from . import calendar as cal_
from .arrivals import draw_arrivals
from .calendar import ATTEMPTS, CHURNS
from .hindsight import plan_periods
from .layout import (DAY, EVENT, LOG_ADD, LOG_CHURN, SEGMENT_RULE, STAGED, STATE, UNBOUNDED,
                     customer_of, episode_of, event_word, is_overflow, retry_of, segment_of)
from .periods import (buy_upgrade, clear_totals, close_period, end_of_day_peaks, is_period_end,
                      open_period, planned_upgrade, record_month)
from .priority import (contested_segments, needs_priority, none_can_pass, pop_first,
                       priority_heap, priority_thresholds)
from .replay import replay_strategy, take_customers

# Working memory of a path, reused by its strategies (grown as needed):
# the calendar; today's events, their priority keys and a heap of their
# indices; events staged today; net adds of the last FORECAST_WINDOW days;
# the strategy's STATE record; its SEGMENT_RULE per segment.
Work = namedtuple("Work", "calendar today keys heap staged ring state rules")

# how today's attempts are met (attempt_phase's `heaped`, else a heap's size)
AS_TAKEN, BY_THRESHOLD = -1, -2


@njit(cache=True)
def new_work(days, segments):
    return Work(cal_.new_calendar(days, 1024), np.empty(1024, EVENT),
                np.empty(1024, np.uint64), np.empty(1024, np.int64), np.empty(2048, STAGED),
                np.zeros(FORECAST_WINDOW, np.int64), np.zeros(1, STATE),
                np.zeros(segments, SEGMENT_RULE))


@njit(cache=True)
def fork_work(work, fork, admit, reserve):
    """`fork` (working memory) holding a copy of `work`'s calendar and net
    adds, and the rules of the strategy with rows `admit`, `reserve`."""
    for i in range(FORECAST_WINDOW):
        fork.ring[i] = work.ring[i]
    for s in range(fork.rules.shape[0]):
        fork.rules[s].admit = admit[s]
        fork.rules[s].reserve = reserve[s]
    return Work(cal_.copy_of(work.calendar, fork.calendar), fork.today, fork.keys, fork.heap,
                fork.staged, fork.ring, fork.state, fork.rules)


@njit(cache=True)
def log_row(log, state, day, customer, kind, segment):
    """Write a contact log row while room lasts; count it anyway."""
    i = state.logged
    if i < log.shape[0]:
        log[i].day = day
        log[i].customer = customer
        log[i].kind = kind
        log[i].segment = segment
    state.logged = i + 1


@njit(cache=True)
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
                log_row(log, state, t, u, LOG_CHURN, s)
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


@njit(cache=True)
def attempt_phase(pk, c, st, tiers, rules, state, prow, per, today, n, keys, heap, heaped,
                  staged, log):
    """Attempts due today (today[:n]): admission, upgrade, capacity check
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
    active = state.active
    usage = state.usage
    overflow = state.overflow
    capacity = state.capacity
    net = state.net_today
    n_staged = state.staged
    first_adds = 0
    readds = 0
    blocked = 0
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
                settled = none_can_pass(st, tiers, state.tier, usage, capacity, least_reserve)
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
            # only a full capacity tries an upgrade: a refusal by a reserve
            # while U < C does not
            if usage >= capacity and upgrade != U_NONE:
                new_tier = upgrade_tier(upgrade, state.tier, usage, st.headroom, tiers.nominal)
                if raises_capacity(new_tier, state.tier, tiers[new_tier].effective, capacity):
                    buy_upgrade(c, tiers, state, prow, per, new_tier)
                    capacity = state.capacity
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
                    log_row(log, state, t, u, LOG_ADD, s)
            else:
                blocked += 1
                outcome = blocked_outcome(st.on_blocked, j, st.max_retries)
        if outcome == LOST:
            lost += 1
            rules[s].lost += 1
            continue
        # stage a churn (of a WeCom or an overflow life) or the next retry
        if outcome == RETRY:
            delay = st.retry_days * exponential(pk, u, RETRY_DELAY, e * 256 + j + 1)
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


@njit(cache=True)
def start_strategy(c, st, admit, reserve, n_initial, state, prow, work):
    """Day 0 before anything happens: the initial contacts, no tier; the
    strategy's rules per segment (`admit`, `reserve`: its rows), no loss."""
    state.day = 0
    state.period = 0
    state.month = 0
    state.active = n_initial
    state.usage = n_initial
    state.overflow = 0
    state.tier = NO_TIER
    state.capacity = UNBOUNDED if st.unbounded else c.no_tier_capacity
    state.net_adds = 0
    state.net_today = 0
    state.peak_overflow = 0
    state.cumulative_cost = 0.0
    state.staged = 0
    state.events = 0
    clear_totals(prow)
    prow.peak_contacts = n_initial
    work.ring[:] = 0
    rules = work.rules
    for s in range(rules.shape[0]):
        rules[s].admit = admit[s]
        rules[s].reserve = reserve[s]
        rules[s].lost = 0
    cal_.clear(work.calendar)


@njit(cache=True)
def finish_strategy(segs, rules, state, prow):
    """After the last day: the final contacts and the value of the lost
    attempts, counted per segment (in segment order: the sum is the same
    whatever order the attempts were met in)."""
    prow.final_contacts = state.active
    value = 0.0
    for s in range(rules.shape[0]):
        value += rules[s].lost * segs[s].lost_value
    prow.lost_value = value


@njit(cache=True)
def plan_step(plan_day, plan_n, t):
    """The entry of a period's hindsight plan due next at the start of day t
    (entry 0, the renewal, is taken when the period opens)."""
    step = 1
    while step < plan_n and plan_day[step] < t:
        step += 1
    return step


@njit(cache=True)
def simulate_days(pk, si, scn, arrivals, work, day_record, plans, prow, periods, months, log,
                  t0, t1):
    """Strategy row `si` on the path with key `pk`, days t0..t1-1, from its
    state at the start of day t0 (work.state, work.calendar); fills its
    output records (and, for a phantom, its day record). An oracle follows
    the hindsight plan of its phantom (`plans`: day, tier, entries per
    period and phantom). Returns the working memory, grown if it had to."""
    c = scn.config[0]
    st = scn.strategies[si]
    segs = scn.segments
    tiers = scn.tiers
    month_end = scn.month_end
    P = c.period_days
    unbounded = st.unbounded
    max_effective = tiers[tiers.shape[0] - 1].effective
    calendar, today, keys, heap, staged, ring, state_arr, rules = work
    state = state_arr[0]
    plan_day, plan_tier, plan_n = plans
    oracle = st.renewal == R_ORACLE
    src = max(st.oracle_source, 0)
    step = 0
    if oracle and t0 % P != 0:
        step = plan_step(plan_day[src, t0 // P], plan_n[src, t0 // P], t0)
    for t in range(t0, t1):
        state.day = t
        if t % P == 0:
            state.period = t // P
            open_period(c, st, tiers, state, prow, periods[state.period],
                        plan_tier[src, state.period, 0])
            step = 1
        per = periods[state.period]
        if oracle:
            k = state.period
            step = planned_upgrade(c, tiers, state, prow, per, plan_day[src, k], plan_tier[src, k],
                                   plan_n[src, k], step)
        if unbounded:
            day_record[si, t].usage_start = state.usage
        # make room: every event of today schedules at most one new event
        churn_lo, churn_hi = arrivals.churn_off[t], arrivals.churn_off[t + 1]
        first_lo, first_hi = arrivals.first_off[t], arrivals.first_off[t + 1]
        n_churns = churn_hi - churn_lo + calendar.index[CHURNS, t].count
        n_attempts = calendar.index[ATTEMPTS, t].count + first_hi - first_lo
        if cal_.blocks_free(calendar) < n_churns + n_attempts:
            calendar = cal_.with_room(calendar, n_churns + n_attempts)
        if max(n_churns, n_attempts) > today.shape[0]:
            cap = max(2 * today.shape[0], max(n_churns, n_attempts))
            today = np.empty(cap, EVENT)
            keys = np.empty(cap, np.uint64)
            heap = np.empty(cap, np.int64)
        if n_churns + n_attempts > staged.shape[0]:
            staged = np.empty(max(2 * staged.shape[0], n_churns + n_attempts), STAGED)

        # (2) churns due today: the initial contacts', then the calendar's
        n = 0
        for i in range(churn_lo, churn_hi):
            today[n] = arrivals.churn[i]
            n += 1
        n = cal_.take(calendar, CHURNS, t, today, n)
        churn_phase(pk, c, segs, state, prow, per, today, n, staged, log)
        if unbounded:
            day_record[si, t].usage_after_churns = state.usage

        # (3) attempts due today: re-adds and retries, then first adds
        n = cal_.take(calendar, ATTEMPTS, t, today, 0)
        for i in range(first_lo, first_hi):
            today[n] = arrivals.first[i]
            n += 1
        heaped = AS_TAKEN
        # an upgrade needs an attempt that finds the capacity full: not today
        # unless today's attempts could fill it
        may_upgrade = st.upgrade != U_NONE and max_effective > state.capacity and \
            state.usage + n > state.capacity
        if needs_priority(n, state.usage, state.capacity, st.max_reserve, may_upgrade):
            contested_segments(rules, state.usage, state.capacity, may_upgrade, state.logging)
            if may_upgrade or state.logging:
                heaped = priority_heap(pk, today, n, keys, heap, rules)
            else:
                priority_thresholds(pk, today, n, keys, rules, state.usage, state.capacity)
                heaped = BY_THRESHOLD
        attempt_phase(pk, c, st, tiers, rules, state, prow, per, today, n, keys, heap, heaped,
                      staged, log)
        cal_.push(calendar, staged, state.staged)
        state.staged = 0

        # (4) end of day
        slot = t % FORECAST_WINDOW
        state.net_adds += state.net_today - ring[slot]
        ring[slot] = state.net_today
        state.net_today = 0
        end_of_day_peaks(state, prow, per)
        if unbounded:
            record_day(state, prow, day_record[si, t])
        if is_period_end(c, state):
            close_period(c, tiers, unbounded, state, prow, per)
        if t == month_end[state.month]:
            record_month(state, months[state.month])
            state.month += 1
    return Work(calendar, today, keys, heap, staged, ring, state_arr, rules)


@njit(cache=True)
def simulate_strategy(pk, si, scn, arrivals, work, day_record, plans, prow, periods, months,
                      log):
    """Strategy row `si` on the path with key `pk`, every day from day 0
    (see `simulate_days`). Returns the working memory, grown if it had to."""
    state = work.state[0]
    start_strategy(scn.config[0], scn.strategies[si], scn.admit[si], scn.reserve[si],
                   arrivals.n_initial, state, prow, work)
    if state.logging:
        log_initial_contacts(scn.segments, log, state)
    # day 0 as an int64, not a literal: one compiled simulate_days for both callers
    work = simulate_days(pk, si, scn, arrivals, work, day_record, plans, prow, periods, months,
                         log, np.int64(0), scn.config[0].days)
    finish_strategy(scn.segments, work.rules, state, prow)
    return work


@njit(cache=True)
def record_day(state, prow, rec):
    rec.active = state.active
    rec.usage = state.usage
    rec.overflow = state.overflow
    rec.first_adds = prow.first_adds
    rec.readds = prow.readds
    rec.churns = prow.churns


@njit(cache=True)
def log_initial_contacts(segs, log, state):
    """The contact log starts with the initial contacts, as adds on day 0."""
    for s in range(segs.shape[0]):
        for u in range(segs[s].start, segs[s].start + segs[s].initial):
            log_row(log, state, 0, u, LOG_ADD, s)


@njit(cache=True, inline="always")
def resume_blocking(pk, src, scn, arrivals, work, day_record, plans, out_path, out_period,
                    out_month, log, refusal, row_events):
    """The strategies replayed from phantom `src` that refuse an attempt
    (refusal[si]: the day of their first refusal, -1 for the others) share
    the phantom's work up to that day: the phantom is run again, forked at
    each refusal day in turn, and each fork continues as its strategy from
    that day (its billing state replayed up to there, its customers the
    phantom's). Numbers equal a simulation from day 0: until its first
    refusal a strategy's customers are the phantom's, event for event.
    Returns (the working memory, events simulated)."""
    c = scn.config[0]
    D = c.days
    K = out_period.shape[1]
    S = refusal.shape[0]
    rows = np.empty(S, np.int64)
    days = np.empty(S, np.int64)
    m = 0
    for si in range(S):
        if refusal[si] >= 0 and scn.strategies[si].replay_source == src:
            rows[m] = si
            days[m] = refusal[si]
            m += 1
    for a in range(1, m):           # by refusal day, then row (insertion: few rows)
        r, d = rows[a], days[a]
        b = a - 1
        while b >= 0 and days[b] > d:
            rows[b + 1], days[b + 1] = rows[b], days[b]
            b -= 1
        rows[b + 1], days[b + 1] = r, d
    # the phantom's own records are final already: its rerun writes scratch ones
    prow = out_path[src:src + 1].copy()
    periods = out_period[src].copy()
    months = out_month[src].copy()
    state = work.state[0]
    start_strategy(c, scn.strategies[src], scn.admit[src], scn.reserve[src], arrivals.n_initial,
                   state, prow[0], work)
    fork = new_work(D, scn.segments.shape[0])
    simulated = 0
    t = np.int64(0)
    # legs: the phantom up to a refusal day, then that strategy from there,
    # with one call of simulate_days for both (each call site costs compile
    # time, as does a function of its own: this one is inlined for that)
    for leg in range(2 * m):
        si = rows[leg // 2]
        on_phantom = leg % 2 == 0
        if on_phantom:
            row, w, rec, pers, mons, t_to = src, work, prow[0], periods, months, refusal[si]
        else:
            st = scn.strategies[si]
            ph = max(st.oracle_source, 0)
            fork = fork_work(work, fork, scn.admit[si], scn.reserve[si])
            replay_strategy(day_record[src], out_path[src], c, st, scn.tiers, fork.state[0],
                            (plans[0][ph], plans[1][ph], plans[2][ph]), scn.month_end,
                            out_path[si], out_period[si], out_month[si], t)
            k = min(t // c.period_days, K - 1)
            take_customers(state, prow[0], periods[k], work.rules, fork.state[0], out_path[si],
                           out_period[si, k], fork.rules, t % c.period_days != 0)
            row, w, rec, pers, mons, t_to = si, fork, out_path[si], out_period[si], \
                out_month[si], D
        w = simulate_days(pk, row, scn, arrivals, w, day_record, plans, rec, pers, mons, log, t,
                          t_to)
        if on_phantom:
            work = w
            t = t_to
        else:
            fork = w
            finish_strategy(scn.segments, fork.rules, fork.state[0], out_path[si])
            row_events[si] = fork.state[0].events
            simulated += fork.state[0].events - state.events
    simulated += state.events
    return work, simulated


@njit(cache=True)
def simulate_path(path, seed, scn, normals, out_path, out_period, out_month, out_mult,
                  log_strategy, log):
    """Every strategy row on one path, whose growth and churn normals are
    normals[0], normals[1] (`sampling.py`): fills out_path[S] (PATH_RECORD),
    out_period[S, K], out_month[S, M], out_mult = (G, churn multiplier).
    Logs the adds and churns of row `log_strategy` (-1: none) into `log`
    while room lasts. Returns (customer events of every strategy, replayed
    ones included; events the loop stepped through; log rows wanted)."""
    c = scn.config[0]
    D = c.days
    S = scn.strategies.shape[0]
    K = (D + c.period_days - 1) // c.period_days
    pk = path_key(seed, path)
    arrivals, G, Mc = draw_arrivals(pk, scn, normals[0], normals[1])
    out_mult[0] = G
    out_mult[1] = Mc
    work = new_work(D, scn.segments.shape[0])
    state = work.state[0]
    n_phantoms = 0
    for si in range(S):
        if scn.strategies[si].unbounded:
            n_phantoms += 1
    day_record = np.zeros((max(n_phantoms, 1), D), DAY)
    # each phantom's hindsight plan per period (for the oracles)
    entries = scn.tiers.shape[0] + 2
    plan_day = np.zeros((max(n_phantoms, 1), K, entries), np.int64)
    plan_tier = np.full((max(n_phantoms, 1), K, entries), NO_TIER, np.int64)
    plan_n = np.ones((max(n_phantoms, 1), K), np.int64)
    plan_usage = np.empty(c.period_days, np.int64)
    plans = (plan_day, plan_tier, plan_n)
    row_events = np.zeros(S, np.int64)
    # the day each replayed strategy first refuses an attempt (-1: never, or
    # not replayed), and how many refuse per phantom
    refusal = np.full(S, -1, np.int64)
    refusing = np.zeros(max(n_phantoms, 1), np.int64)
    simulated = 0
    logged = 0
    # phantoms come first: each is simulated before the rows replayed from it
    for si in range(S):
        st = scn.strategies[si]
        src = st.replay_source
        if src >= 0 and si != log_strategy:
            ph = max(st.oracle_source, 0)
            day = replay_strategy(day_record[src], out_path[src], c, st, scn.tiers, state,
                                  (plan_day[ph], plan_tier[ph], plan_n[ph]), scn.month_end,
                                  out_path[si], out_period[si], out_month[si], D)
            if day == D:
                row_events[si] = row_events[src]
                continue
            refusal[si] = day
            refusing[src] += 1
            continue
        state.logging = si == log_strategy
        state.logged = 0
        work = simulate_strategy(pk, si, scn, arrivals, work, day_record, plans, out_path[si],
                                 out_period[si], out_month[si], log)
        if st.unbounded:
            plan_periods(c, scn.tiers, day_record[si], plan_day[si], plan_tier[si], plan_n[si],
                         plan_usage)
        if state.logging:
            logged = state.logged
        row_events[si] = state.events
        simulated += state.events
    state.logging = False
    # a strategy alone in refusing costs the same simulated whole as resumed
    for si in range(S):
        src = scn.strategies[si].replay_source
        if refusal[si] >= 0 and refusing[src] == 1:
            refusal[si] = -1
            work = simulate_strategy(pk, si, scn, arrivals, work, day_record, plans,
                                     out_path[si], out_period[si], out_month[si], log)
            row_events[si] = state.events
            simulated += state.events
    for src in range(n_phantoms):
        if refusing[src] > 1:
            work, resumed = resume_blocking(pk, src, scn, arrivals, work, day_record, plans,
                                            out_path, out_period, out_month, log, refusal,
                                            row_events)
            simulated += resumed
    represented = 0
    for si in range(S):
        if not scn.strategies[si].unbounded:
            represented += row_events[si]
    return represented, simulated, logged
