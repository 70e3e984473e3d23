"""One path: the shared draws, then each strategy in turn, replayed from a
phantom's day record when it never blocks (`replay.py`), else simulated day
by day (`strategy.py`). The strategies replayed from a phantom (oracles
aside) are replayed in step with it (`phantom_in_step`): the day one first
refuses an attempt is foreseen before the phantom lives it, and the
strategy is forked there and simulated to the horizon; until that day its
customers are the phantom's. An oracle is replayed once its phantom's
hindsight plan is known, and simulated from day 0 if it ever refused.
"""
import numpy as np

from ..billing import NO_TIER, churn_lowers_usage, usage_at_period_start
from ..jit import jit_entry, jit_inner
from ..rng import path_key
from ..strategies import FORECAST_WINDOW, R_ORACLE
from . import calendar as cal_
from .arrivals import draw_arrivals
from .calendar import ATTEMPTS, CHURNS
from .hindsight import plan_periods
from .followers import meets_alike, same_records, same_state, simulate_group
from .layout import DAY, REPLAY, SEGMENT_RULE, STATE, KernelScenario, is_overflow, segment_of
from .replay import (copy_customer_counts, replay_attempts, replay_begin, replay_day_end,
                     replay_day_start, replay_strategy, take_customers)
from .strategy import Records, Shared, fork_work, new_work, row_records, simulate_days


@jit_inner
def phantom_day_start(shared, work, t):
    """Phantom's usage once day t's period (if any) opens, and how many
    attempts at most it meets on day t (its working memory at the start of
    day t): both known before it lives the day."""
    scn, arrivals = shared.scn, shared.arrivals
    c = scn.config[0]
    state = work.state[0]
    attempts = arrivals.first_off[t + 1] - arrivals.first_off[t]
    if t == 0:                      # not started yet: its calendar is another's
        return arrivals.n_initial, attempts
    usage = state.usage
    if t % c.period_days == 0:
        usage = usage_at_period_start(c.rule, usage, state.active)
    return usage, attempts + cal_.queued(work.calendar, ATTEMPTS, t)


@jit_inner
def phantom_day_ahead(shared, src, work, t, usage):
    """What phantom `src` (its working memory at the start of day t, its
    usage `usage` once the day's period opened) will record of day t,
    foreseen: (usage after the churns, attempts of the segments it admits).
    The churns and attempts due are in its calendar and the shared arrivals
    already."""
    scn, arrivals = shared.scn, shared.arrivals
    c = scn.config[0]
    admit = scn.admit[src]
    wecom = arrivals.churn_off[t + 1] - arrivals.churn_off[t]     # starting contacts'
    admitted = 0
    if t > 0:                       # day 0: its calendar is not started yet
        wecom += cal_.count_day(work.calendar, CHURNS, t, admit)[0]
        admitted = cal_.count_day(work.calendar, ATTEMPTS, t, admit)[1]
    after = usage - wecom if churn_lowers_usage(c.rule) else usage
    for i in range(arrivals.first_off[t], arrivals.first_off[t + 1]):
        if admit[segment_of(arrivals.first[i].word)]:
            admitted += 1
    return after, admitted


@jit_inner
def fork_from_phantom(shared, src, work, outputs, si, plan, state, rules, t):
    """Strategy row si forked from phantom `src` (its working memory
    `work`) at the start of day t, before which it refused nothing: its
    billing replayed to day t (`plan`: no oracle's) into `state` and its records, its customers
    the phantom's (`rules`: its SEGMENT_RULE rows, losses taken)."""
    scn = shared.scn
    c = scn.config[0]
    K = outputs.period.shape[1]
    out = row_records(outputs, si)
    replay_strategy(shared.day_record[src], outputs.path[src], c, scn.strategies[si], scn.tiers,
                    state, plan, scn.month_end, out, t)
    k = min(t // c.period_days, K - 1)
    take_customers(work.state[0], outputs.path[src], outputs.period[src, k], work.rules,
                   state, out.path, out.period[k], rules, t % c.period_days != 0)


@jit_inner(inline="always")     # a function of its own costs compile time
def phantom_in_step(shared, src, work, pool, outputs, record_bytes, in_step, row_events):
    """Phantom `src` simulated day by day, the strategies replayed from it
    (rows in_step[:]) replayed in step. Before the phantom lives day t,
    each replay whose capacity (less a reserve) the day's attempts could
    reach meets them as foreseen (`phantom_day_ahead`); one that would
    refuse one is forked from the phantom there: its billing replayed to
    day t, its customers the phantom's (`take_customers`), and simulated
    from day t to the horizon (in pool[0]); those of a day that are alike
    as one (`followers.simulate_group`). After the day, the other replays meet the
    day's attempts (those that could not reach their capacity) and take the
    phantom's DAY record. Numbers equal a simulation from day 0, and the
    phantom is simulated once. Returns (its working memory, the pool of the
    forks' working memories, events simulated by the forks)."""
    scn = shared.scn
    plan_day, plan_tier, plan_n = shared.plans
    day_record = shared.day_record
    c = scn.config[0]
    D = c.days
    m = in_step.shape[0]
    states = np.zeros(m, STATE)
    replays = np.zeros(m, REPLAY)
    W = FORECAST_WINDOW                 # replay a's ring: rings[a * W:(a + 1) * W]
    rings = np.zeros(m * W, np.int64)
    live = np.zeros(m, np.int64)
    live[:] = 1
    plan = (plan_day[0], plan_tier[0], plan_n[0])     # no oracle is replayed in step
    for a in range(m):
        replay_begin(c, states[a:a + 1][0], outputs.path[in_step[a]], replays[a:a + 1],
                     rings[a * W:(a + 1) * W])
    phantom = work.state[0]
    simulated = 0
    n_live = m
    after_day = np.zeros(m, np.int64)   # its attempts met after the phantom's day
    refusing = np.empty(m, np.int64)
    followers = np.empty(m, np.int64)
    forked = np.zeros(m, STATE)         # the state of each fork of a day, and its losses
    forked_rules = np.zeros((m, work.rules.shape[0]), SEGMENT_RULE)
    for t in range(D):
        foreseen = False
        n_refusing = 0
        after, admitted = np.int64(0), np.int64(0)
        if n_live > 0:
            usage_start, most = phantom_day_start(shared, work, t)
        for a in range(m):
            if live[a] == 0:
                continue
            si = in_step[a]
            st = scn.strategies[si]
            state = states[a:a + 1][0]
            out = row_records(outputs, si)
            replay_day_start(c, st, scn.tiers, state, out.path, out.period, plan,
                             replays[a:a + 1], t, usage_start)
            # no attempt can meet its capacity (less a reserve) today, which
            # only grows within a day: met after the day, from its record
            reach = usage_start + most - 1
            after_day[a] = 1 if reach < state.capacity - st.max_reserve else 0
            if after_day[a] == 1:
                continue
            if not foreseen:
                after, admitted = phantom_day_ahead(shared, src, work, t, usage_start)
                foreseen = True
            if replay_attempts(c, st, scn.tiers, state, out.path,
                               out.period[state.period], after, admitted):
                continue
            live[a] = 0
            n_live -= 1
            refusing[n_refusing] = si
            n_refusing += 1
        # those that refuse on day t: forked from the phantom at the start of
        # day t (billing replayed to day t, customers taken), those alike
        # simulated as one (followers.py)
        for x in range(n_refusing):
            fork_from_phantom(shared, src, work, outputs, refusing[x], plan, forked[x],
                              forked_rules[x], t)
        for x in range(n_refusing):
            si = refusing[x]
            if si < 0:
                continue
            n_followers = 0
            for y in range(x + 1, n_refusing):
                sj = refusing[y]
                if sj >= 0 and meets_alike(scn, si, sj) and \
                        same_state(forked[x], forked[y]) and \
                        same_records(record_bytes, si, sj):
                    followers[n_followers] = sj
                    n_followers += 1
                    refusing[y] = -1
            pool[0] = fork_work(work, pool[0], scn.admit[si], scn.reserve[si])
            fork = pool[0]
            fork.state[0] = forked[x]
            for s in range(fork.rules.shape[0]):
                fork.rules[s].lost = forked_rules[x, s].lost
            alone = simulate_group(shared, si, followers[:n_followers], pool, outputs,
                                   record_bytes, t, row_events)
            fork = pool[0]
            simulated += fork.state[0].events - phantom.events + alone
        before = 0
        if t > 0:
            before = day_record[src, t - 1].first_adds + day_record[src, t - 1].readds
        work = simulate_days(shared, src, work, row_records(outputs, src), t, t + 1)
        rec = day_record[src, t]
        lived = rec.first_adds + rec.readds - before
        if foreseen and (rec.usage_start != usage_start or rec.usage_after_churns != after
                         or lived != admitted):
            # the replays met other attempts than the phantom's: a bug, never a wrong number
            raise AssertionError("phantom_in_step: the day foreseen is not the day lived")
        for a in range(m):
            if live[a] == 1:
                si = in_step[a]
                st = scn.strategies[si]
                state = states[a:a + 1][0]
                out = row_records(outputs, si)
                if after_day[a] == 1 and not replay_attempts(
                        c, st, scn.tiers, state, out.path, out.period[state.period],
                        rec.usage_after_churns, lived):
                    raise AssertionError("phantom_in_step: a refusal the bound ruled out")
                replay_day_end(c, st, scn.tiers, state, out.path, out.period, out.month,
                               scn.month_end, replays[a:a + 1], rings[a * W:(a + 1) * W], rec)
    for a in range(m):
        if live[a] == 1:
            si = in_step[a]
            copy_customer_counts(outputs.path[src], outputs.path[si])
            row_events[si] = phantom.events
    return work, pool, simulated


@jit_entry
def simulate_path(i, chunk, out):
    """Row i of a chunk (layout.Chunk, layout.ChunkOutputs `out`): every
    strategy row on path chunk.paths[i], under its own records (its
    [uncertainty] values) and its growth and churn normals (`sampling.py`).
    Fills row i of every output: the strategies' records, the path's
    multipliers, its events (customer events of every strategy, replayed
    ones included; events the loop stepped through), and the adds and
    churns of strategy row chunk.log_strategy (-1: none) while room lasts,
    with the log rows it wanted."""
    base, inputs = chunk.scn, chunk.inputs
    scn = KernelScenario(inputs.config[i], base.tiers, inputs.segments[i], inputs.strategies[i],
                         base.admit, base.reserve, base.season_day, base.month_end,
                         inputs.campaigns[i], base.reach)
    log_strategy = chunk.log_strategy
    log = out.log[i]
    c = scn.config[0]
    D = c.days
    S = scn.strategies.shape[0]
    K = (D + c.period_days - 1) // c.period_days
    pk = path_key(chunk.seed, chunk.paths[i])
    arrivals, G, Mc = draw_arrivals(pk, scn, inputs.normals[i, 0], inputs.normals[i, 1])
    out.mult[i, 0] = G
    out.mult[i, 1] = Mc
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
    shared = Shared(pk, scn, arrivals, day_record, (plan_day, plan_tier, plan_n), log)
    outputs = Records(out.path[i], out.period[i], out.month[i])
    record_bytes = (out.path_bytes[i], out.period_bytes[i], out.month_bytes[i])
    row_events = np.zeros(S, np.int64)
    pool = [new_work(D, scn.segments.shape[0])]     # the forks' working memories
    in_step = np.empty(S, np.int64)
    simulated = 0
    logged = 0
    # phantoms come first: each is simulated with the rows replayed in step
    # with it; oracles are replayed after, from its hindsight plan
    for si in range(S):
        st = scn.strategies[si]
        src = st.replay_source
        if src >= 0 and si != log_strategy:
            if st.renewal != R_ORACLE:
                continue                    # done in step with its phantom
            ph = max(st.oracle_source, 0)
            day = replay_strategy(day_record[src], outputs.path[src], c, st, scn.tiers, state,
                                  (plan_day[ph], plan_tier[ph], plan_n[ph]), scn.month_end,
                                  row_records(outputs, si), D)
            if day == D:
                row_events[si] = row_events[src]
                continue
            # an oracle that refuses an attempt (a member cap stops its
            # plan's tiers): simulated whole, as the others below
        state.logging = si == log_strategy
        state.logged = 0
        m = 0
        if st.unbounded:
            for sj in range(S):
                sr = scn.strategies[sj]
                if sr.replay_source == si and sj != log_strategy and sr.renewal != R_ORACLE:
                    in_step[m] = sj
                    m += 1
        if m > 0:
            work, pool, forked = phantom_in_step(shared, si, work, pool, outputs, record_bytes,
                                                 in_step[:m], row_events)
            simulated += forked
        else:
            work = simulate_days(shared, si, work, row_records(outputs, si), np.int64(0), D)
        if st.unbounded:
            plan_periods(c, scn.tiers, day_record[si], plan_day[si], plan_tier[si], plan_n[si],
                         plan_usage)
        if state.logging:
            logged = state.logged
        row_events[si] = state.events
        simulated += state.events
    state.logging = False
    represented = 0
    for si in range(S):
        if not scn.strategies[si].unbounded:
            represented += row_events[si]
    out.events[i, 0] = represented
    out.events[i, 1] = simulated
    out.log_n[i] = logged
