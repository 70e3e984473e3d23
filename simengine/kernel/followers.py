"""Strategies simulated as one while they decide alike.

Strategies forked from a phantom on the same day often go on living the
same days: the optimiser's candidates differ in a rule that may never act
on a path (an upgrade rule of a strategy whose reserve keeps it below its
capacity, a headroom that buys the same tier, `fixed` and `fit` renewing to
the same tier). Two strategies stay one while
- they meet attempts by the same rules (`meets_alike`: admission, others,
  reserves, the blocked rule and its retries, the lead time), which only
  read the state and the customers' own draws, and
- their state is the same (at the fork: byte for byte, with their records)
  and each day they make the same billing decisions (`decide_alike`: the
  renewal at a period start, an order at a review, an order an attempt
  places).
So the first of a day's forks that match is simulated (the leader) and the
others follow it (`simulate_group`). Before the leader lives a day, each
follower is asked whether it decides that day as the leader does; one that
may not (when the day's attempts could meet an upgrade threshold the two do
not share, that is enough) leaves: it takes a copy of the leader's working
memory and records at the start of that day and is simulated alone from
there, as a strategy forked from a phantom is. Those that follow to the
horizon take the leader's records. Numbers are those of each strategy
simulated alone (tests/test_kernel_vs_reference.py).
"""
import numpy as np

from ..billing import NO_TIER, churn_lowers_usage, tier_capacity, usage_at_period_start
from ..jit import jit_inner
from ..strategies import R_ORACLE, U_FIT, ordered_tier, renewal_tier
from . import calendar as cal_
from .calendar import ATTEMPTS, CHURNS
from .layout import UNBOUNDED
from .periods import order_level, review_tier
from .strategy import fork_work, new_work, row_records, simulate_days, start_strategy

LEAVES = np.int64(-1)       # alike_until: a follower that may decide otherwise today
DONE = np.int64(-1)         # simulate_group: a follower no group holds any more


@jit_inner
def meets_alike(scn, a, b):
    """Strategy rows a and b meet every attempt alike from the same state:
    the same admission, others, reserves, blocked rule, retries and lead
    time; neither an oracle nor a phantom."""
    x, y = scn.strategies[a], scn.strategies[b]
    if x.unbounded or y.unbounded or x.renewal == R_ORACLE or y.renewal == R_ORACLE:
        return False
    if x.others != y.others or x.on_blocked != y.on_blocked or \
            x.retry_days != y.retry_days or x.max_retries != y.max_retries or \
            x.max_reserve != y.max_reserve or x.lead_days != y.lead_days:
        return False
    for s in range(scn.admit.shape[1]):
        if scn.admit[a, s] != scn.admit[b, s] or scn.reserve[a, s] != scn.reserve[b, s]:
            return False
    return True


@jit_inner
def same_state(a, b):
    """Two STATE records are equal, field by field."""
    return a.day == b.day and a.period == b.period and a.month == b.month and \
        a.active == b.active and a.usage == b.usage and a.overflow == b.overflow and \
        a.tier == b.tier and a.capacity == b.capacity and a.net_adds == b.net_adds and \
        a.net_today == b.net_today and a.peak_overflow == b.peak_overflow and \
        a.cumulative_cost == b.cumulative_cost and a.staged == b.staged and \
        a.events == b.events and a.logging == b.logging and a.logged == b.logged and \
        a.pending_tier == b.pending_tier and a.pending_day == b.pending_day


@jit_inner
def same_records(record_bytes, a, b):
    """Strategy rows a and b hold the same records so far (rows not yet
    written are zeros): `record_bytes`, the bytes of their PATH_RECORD,
    PERIOD_RECORDs and MONTH_RECORDs, (strategies, bytes) each."""
    for rows in record_bytes:
        for k in range(rows.shape[1]):
            if rows[a, k] != rows[b, k]:
                return False
    return True


@jit_inner
def copy_records(record_bytes, src, dst):
    """Strategy row dst's records become row src's."""
    for rows in record_bytes:
        for k in range(rows.shape[1]):
            rows[dst, k] = rows[src, k]


@jit_inner
def alike_until(c, tiers, f, lead, state, attempts, churns, d):
    """Strategies `f` and `lead` (STRATEGY records that meet attempts
    alike), both in `state` at the start of day d (before its period opens),
    with `attempts` attempts and at most `churns` churns due on day d: do
    they make the same billing decisions that day? The same tier at a period
    start, the same order at a review, and either no attempt that can meet
    either's upgrade threshold, or the same threshold and the same tier
    ordered there. Returns LEAVES when they may not; else the usage W such
    that they did if the day ends below W (no attempt met a threshold that
    one has and the other has not); UNBOUNDED when they do whatever
    happens."""
    P = c.period_days
    usage = state.usage
    tier = state.tier
    capacity = state.capacity
    pending = state.pending_tier
    if d % P == 0:                      # periods.open_period
        usage = usage_at_period_start(c.rule, usage, state.active)
        pending = NO_TIER
        tier = renewal_tier(lead.renewal, lead.fixed_tier, lead.headroom, usage, state.net_adds,
                            d // P, P, NO_TIER, tiers.nominal, c.free_quota)
        if renewal_tier(f.renewal, f.fixed_tier, f.headroom, usage, state.net_adds, d // P, P,
                        NO_TIER, tiers.nominal, c.free_quota) != tier:
            return LEAVES
        capacity = tier_capacity(tier, tiers.effective, c.no_tier_capacity)
    if pending != NO_TIER and state.pending_day == d:       # periods.order_arrives
        tier = pending
        capacity = tiers[pending].effective
        pending = NO_TIER
    ordered = review_tier(lead, tiers, d, tier, usage, capacity, pending)
    if review_tier(f, tiers, d, tier, usage, capacity, pending) != ordered:
        return LEAVES
    if ordered != NO_TIER:              # periods.place_order
        if lead.lead_days == 0:
            tier = ordered
            capacity = tiers[ordered].effective
        else:
            pending = ordered
    level = order_level(lead, tiers, capacity, pending)
    level_f = order_level(f, tiers, capacity, pending)
    # the k-th attempt meets usage at most usage + k - 1 (churns come first),
    # and no attempt meets more than the day's last usage
    reach = usage + attempts - 1
    first = min(level, level_f)
    if reach < first:
        return UNBOUNDED                # no attempt orders today
    if level_f != level:
        return first
    if f.upgrade == lead.upgrade and (f.upgrade != U_FIT or f.headroom == lead.headroom):
        return UNBOUNDED                # an attempt that orders orders alike
    if lead.lead_days == 0:
        return first                    # an order in force at once: another may follow today
    # the first attempt of an admitted segment that meets the level orders,
    # at usage max(level, U after the churns), between these two; the tier
    # ordered grows with usage, so one tier at both ends is that tier
    lo = max(level, usage - churns if churn_lowers_usage(c.rule) else usage)
    hi = max(level, usage)
    ordered = ordered_tier(lead.upgrade, lead.headroom, tier, lo, level, capacity,
                           tiers.nominal, tiers.effective)
    if ordered == ordered_tier(lead.upgrade, lead.headroom, tier, hi, level, capacity,
                               tiers.nominal, tiers.effective) and \
            ordered == ordered_tier(f.upgrade, f.headroom, tier, lo, level, capacity,
                                    tiers.nominal, tiers.effective) and \
            ordered == ordered_tier(f.upgrade, f.headroom, tier, hi, level, capacity,
                                    tiers.nominal, tiers.effective):
        return UNBOUNDED
    return first


@jit_inner
def keep_state(work, keep, admit, reserve):
    """`keep` (working memory) holding a copy of `work`: its calendar, net
    adds, state and rules (`admit`, `reserve`: the rows of the strategy
    that will go on in it)."""
    keep = fork_work(work, keep, admit, reserve)
    keep.state[0] = work.state[0]
    for s in range(keep.rules.shape[0]):
        keep.rules[s] = work.rules[s]
    return keep


@jit_inner
def simulate_group(shared, lead, followers, pool, outputs, record_bytes, t, row_events):
    """Strategy row `lead`, forked at the start of day t into pool[0], and
    the rows `followers` (in the same state, meeting attempts alike),
    simulated from day t to the horizon as one while they decide alike.

    The followers that may decide otherwise on day d than their leader
    (`alike_until`: LEAVES) leave before it: they form a group of their
    own (its leader the first of them) from a copy of the leader's start of
    day d, simulated to the horizon before its parent goes on. Those that
    decide alike unless the day's attempts meet a threshold go through the
    day with the leader, from a copy of its start of day (a snapshot), and
    form such a group from it if they did. Groups nest (level `lv`: its
    working memory pool[2 lv], its snapshot pool[2 lv + 1], grown as
    needed). Fills every row's records and customer events; returns the
    events simulated by the groups below level 0."""
    scn, arrivals = shared.scn, shared.arrivals
    c = scn.config[0]
    D = c.days
    n = followers.shape[0]
    segments = scn.segments.shape[0]
    group = np.zeros(n, np.int64)       # the level of follower k's group (DONE: finished)
    watch = np.empty(n, np.int64)
    leads = np.empty(n + 1, np.int64)
    days = np.empty(n + 1, np.int64)
    started = np.empty(n + 1, np.int64)     # a group's customer events when it started
    leads[0] = lead
    days[0] = t
    if t == 0:      # started here, to be asked about day 0 (simulate_days starts it again)
        start_strategy(c, scn.strategies[lead], scn.admit[lead], scn.reserve[lead],
                       arrivals.n_initial, pool[0].state[0], outputs.path[lead], pool[0])
    started[0] = pool[0].state[0].events
    simulated = 0
    lv = 0
    while lv >= 0:
        d = days[lv]
        ld = leads[lv]
        w = pool[2 * lv]
        members = 0
        for k in range(n):
            if group[k] == lv:
                members += 1
        child = -1                      # a follower leading the followers that part
        from_snap = False
        watched = False
        if d < D and members > 0:       # ask about day d before the leader lives it
            state = w.state[0]
            attempts = cal_.queued(w.calendar, ATTEMPTS, d) + \
                arrivals.first_off[d + 1] - arrivals.first_off[d]
            churns = cal_.queued(w.calendar, CHURNS, d) + \
                arrivals.churn_off[d + 1] - arrivals.churn_off[d]
            for k in range(n):
                if group[k] != lv:
                    continue
                watch[k] = alike_until(c, scn.tiers, scn.strategies[followers[k]],
                                       scn.strategies[ld], state, attempts, churns, d)
                if watch[k] == LEAVES:
                    child = part(group, followers, k, child, lv)
                elif watch[k] != UNBOUNDED:
                    watched = True
        if child < 0 and d < D:
            if watched:                 # the start of day d kept, the records as they are
                pool = grown(pool, lv, D, segments)
                pool[2 * lv + 1] = keep_state(w, pool[2 * lv + 1], scn.admit[ld],
                                              scn.reserve[ld])
                for k in range(n):
                    if group[k] == lv and watch[k] != UNBOUNDED:
                        copy_records(record_bytes, ld, followers[k])
            stop = d + 1 if members > 0 else D
            w = simulate_days(shared, ld, w, row_records(outputs, ld), d, stop)
            pool[2 * lv] = w
            days[lv] = stop
            if watched:
                usage = w.state[0].usage        # no attempt met more
                for k in range(n):
                    if group[k] == lv and watch[k] != UNBOUNDED and usage >= watch[k]:
                        child = part(group, followers, k, child, lv)
                from_snap = child >= 0
        if child < 0:
            if days[lv] < D:
                continue
            # the group lived to the horizon as one
            events = w.state[0].events
            row_events[ld] = events
            for k in range(n):
                if group[k] == lv:
                    copy_records(record_bytes, ld, followers[k])
                    row_events[followers[k]] = events
                    group[k] = DONE
            if lv > 0:
                simulated += events - started[lv]
            lv -= 1
            continue
        # those that part on day d: a group of their own from the start of
        # day d (a copy of the leader's, or of the day's start kept), lived
        # to the horizon before this group asks about day d again or goes on
        pool = grown(pool, lv + 1, D, segments)
        source = pool[2 * lv + 1] if from_snap else w
        if not from_snap:
            for k in range(n):
                if group[k] == lv + 1 or followers[k] == child:
                    copy_records(record_bytes, ld, followers[k])
        pool[2 * lv + 2] = keep_state(source, pool[2 * lv + 2], scn.admit[child],
                                      scn.reserve[child])
        leads[lv + 1] = child
        days[lv + 1] = d
        started[lv + 1] = source.state[0].events
        lv += 1
    return simulated


@jit_inner
def part(group, followers, k, child, lv):
    """Follower k parts from its group (level lv): the first to part on a
    day leads those that follow (returned), the others join it."""
    if child < 0:
        group[k] = DONE
        return followers[k]
    group[k] = lv + 1
    return child


@jit_inner(inline="always")
def grown(pool, lv, days, segments):
    """The pool of working memories with room for group level `lv`."""
    while len(pool) < 2 * lv + 2:
        pool.append(new_work(days, segments))
    return pool
