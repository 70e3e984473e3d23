"""One path: the shared draws, then each strategy in turn, replayed from a
phantom's day record when it never blocks (`replay.py`), else simulated day
by day (`strategy.py`): from day 0, or, when several strategies replayed
from the same phantom refuse an attempt, each from the day of its first
refusal, forked from a rerun of the phantom (`resume_blocking`): until then
its customers are the phantom's.
"""
import numpy as np

from ..billing import NO_TIER
from ..jit import jit, jit_inner
from ..rng import path_key
from .arrivals import draw_arrivals
from .hindsight import plan_periods
from .layout import DAY, KernelScenario
from .replay import replay_strategy, take_customers
from .strategy import Records, Shared, fork_work, new_work, row_records, simulate_days


@jit_inner(inline="always")
def resume_blocking(shared, src, work, outputs, refusal, row_events):
    """The strategies replayed from phantom `src` that refuse an attempt
    (refusal[si]: the day of their first refusal, -1 for the others) share
    the phantom's work up to that day: the phantom is run again, forked at
    each refusal day in turn, and each fork continues as its strategy from
    that day (its billing state replayed up to there, its customers the
    phantom's). Numbers equal a simulation from day 0: until its first
    refusal a strategy's customers are the phantom's, event for event.
    `outputs`: every strategy's Records. Returns (the working memory,
    events simulated)."""
    scn = shared.scn
    plan_day, plan_tier, plan_n = shared.plans
    c = scn.config[0]
    D = c.days
    K = outputs.period.shape[1]
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
    # the phantom's own records are final already: its rerun writes scratch
    # ones (prow: an array, for its record lives as long as the array)
    prow = outputs.path[src:src + 1].copy()
    periods = outputs.period[src].copy()
    months = outputs.month[src].copy()
    state = work.state[0]
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
            row, w, out, t_to = src, work, Records(prow[0], periods, months), refusal[si]
        else:
            st = scn.strategies[si]
            ph = max(st.oracle_source, 0)
            out = row_records(outputs, si)
            fork = fork_work(work, fork, scn.admit[si], scn.reserve[si])
            replay_strategy(shared.day_record[src], outputs.path[src], c, st, scn.tiers,
                            fork.state[0], (plan_day[ph], plan_tier[ph], plan_n[ph]),
                            scn.month_end, out, t)
            k = min(t // c.period_days, K - 1)
            take_customers(state, prow[0], periods[k], work.rules, fork.state[0], out.path,
                           out.period[k], fork.rules, t % c.period_days != 0)
            row, w, t_to = si, fork, D
        # the phantom starts on its first leg; a strategy from day 0 starts
        # afresh too, which is what its fork of a day-0 phantom holds
        w = simulate_days(shared, row, w, out, t, t_to)
        if on_phantom:
            work = w
            t = t_to
        else:
            fork = w
            row_events[si] = fork.state[0].events
            simulated += fork.state[0].events - state.events
    simulated += state.events
    return work, simulated


@jit
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
            day = replay_strategy(day_record[src], outputs.path[src], c, st, scn.tiers, state,
                                  (plan_day[ph], plan_tier[ph], plan_n[ph]), scn.month_end,
                                  row_records(outputs, si), D)
            if day == D:
                row_events[si] = row_events[src]
                continue
            refusal[si] = day
            refusing[src] += 1
            continue
        state.logging = si == log_strategy
        state.logged = 0
        work = simulate_days(shared, si, work, row_records(outputs, si), np.int64(0), D)
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
            work = simulate_days(shared, si, work, row_records(outputs, si), np.int64(0), D)
            row_events[si] = state.events
            simulated += state.events
    for src in range(n_phantoms):
        if refusing[src] > 1:
            work, resumed = resume_blocking(shared, src, work, outputs, refusal, row_events)
            simulated += resumed
    represented = 0
    for si in range(S):
        if not scn.strategies[si].unbounded:
            represented += row_events[si]
    out.events[i, 0] = represented
    out.events[i, 1] = simulated
    out.log_n[i] = logged
