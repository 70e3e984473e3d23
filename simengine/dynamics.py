"""Customer dynamics: the numba kernel that simulates one path, every
strategy, day by day, event by event.

Pure array code. The Python layer (`engine.py`) packs the scenario into the
arrays below and turns the outputs into tables; `docs/model-notes.md` gives
the exact rules this kernel follows, and `tests/reference.py` is a plain
Python twin that must agree with it number for number.

Work follows events, not customers x days:
- shared by all strategies of a path (common random numbers, done once):
  the path multipliers, each customer's churn propensity, the day of each
  pool customer's first attempt (inverse cumulative hazard, then a counting
  sort by day) and the initial contacts' first churn day;
- per strategy: a calendar of fixed-size blocks per day holding event words
  (customer, episode, retry, segment, overflow flag) and the customer's
  propensity, so no per-customer array is touched in the hot loop.
The loop body is written flat on purpose: calling helpers with array
arguments inside it costs reference counting on every call.
"""
import math

import numpy as np
from numba import njit, prange

from .billing import CUMULATIVE, overflow_accounts_cost, upgrade_price
from .strategies import FORECAST_WINDOW, renewal_tier, upgrade_tier
from .rng import (FIRST_ADD, LAMBDA, LIFETIME, ORDER, PATH_CHURN, PATH_GROWTH, READD_DECISION,
                  READD_DELAY, RETRY_DELAY, draw_bits, exponential, gamma, normal, path_key,
                  uniform)

# Output columns of the kernel (money and counts as float64; counts are exact).
PATH_COLUMNS = ("tier_cost", "upgrade_cost", "certification_cost", "overflow_cost",
                "lost_value", "peak_contacts", "final_contacts", "first_adds", "readds",
                "churns", "blocked", "lost", "overflowed", "upgrades")
PERIOD_COLUMNS = ("tier_size", "capacity_end", "tier_cost", "upgrade_cost",
                  "certification_cost", "overflow_cost", "peak_usage", "peak_contacts",
                  "first_adds", "readds", "churns", "blocked")
MONTH_COLUMNS = ("contacts", "usage", "capacity", "cumulative_cost")

BLOCK = 64                      # events per calendar block
UNBOUNDED = np.int64(1) << np.int64(62)

# event word: customer 32 bits | episode 16 | retry 8 | segment 6 | overflow 1
MAX_CUSTOMERS = 1 << 32
MAX_SEGMENTS = 63
MAX_RETRIES = 255
LOG_ADD, LOG_CHURN = 1, 2


@njit(cache=True)
def _propensity(pk, u, rate, shape, churn_mult):
    if math.isinf(shape):
        return rate * churn_mult
    return gamma(pk, u, LAMBDA, shape) * (rate / shape) * churn_mult

# per-day record of a phantom (never-blocked) run, for replays
DAY_USAGE_START, DAY_USAGE_AFTER_CHURNS, DAY_ACTIVE, DAY_USAGE, DAY_OVERFLOW, \
    DAY_FIRST_ADDS, DAY_READDS, DAY_CHURNS = range(8)
DAY_FIELDS = 8


@njit(cache=True)
def replay_strategy(day, phantom_row, D, P, rule, free_quota, pricing, cert_fee,
                    account_capacity, account_cost, tier_size, tier_price, nominal, effective,
                    no_tier_cap, renewal, fixed_tier, upgrade, headroom, oracle_peaks,
                    month_end, out_path, out_period, out_month):
    """Billing of a strategy on the customer trajectory of its phantom run.

    Until a strategy refuses an attempt, its customers live exactly as in the
    never-blocked run with the same admission rules; only tiers, upgrades
    and payments differ, and those depend on usage alone. So the strategy is
    replayed from the phantom's per-day record in O(days + upgrades). The
    k-th admitted attempt of day t meets usage `usage_after_churns + k`,
    whatever the order. Returns False at the first attempt the strategy
    would refuse: the caller then simulates it in full.
    """
    tier = -1
    capacity = no_tier_cap
    ring = np.zeros(FORECAST_WINDOW, np.int64)
    net_sum = 0
    cum_cost = 0.0
    tier_cost = 0.0
    upgrade_cost = 0.0
    cert_cost = 0.0
    overflow_cost = 0.0
    upgrades = 0
    k = 0
    m = 0
    p_tier_cost = 0.0
    p_upgrade_cost = 0.0
    p_cert_cost = 0.0
    p_peak_usage = 0
    p_peak_contacts = 0
    p_peak_overflow = 0
    first_before = 0
    readds_before = 0
    churns_before = 0
    p_first0 = 0
    p_readds0 = 0
    p_churns0 = 0
    for t in range(D):
        if t % P == 0:
            k = t // P
            usage = day[t, DAY_USAGE_START]
            tier = renewal_tier(renewal, fixed_tier, headroom, usage, net_sum, k, P,
                                oracle_peaks[k], nominal, free_quota)
            capacity = effective[tier] if tier >= 0 else no_tier_cap
            p_tier_cost = tier_price[tier] if tier >= 0 else 0.0
            p_cert_cost = cert_fee
            tier_cost += p_tier_cost
            cert_cost += p_cert_cost
            cum_cost += p_tier_cost + p_cert_cost
            p_upgrade_cost = 0.0
            p_peak_usage = 0
            p_peak_contacts = 0
            p_peak_overflow = 0
            p_first0 = first_before
            p_readds0 = readds_before
            p_churns0 = churns_before
        slot = t % FORECAST_WINDOW
        net_sum -= ring[slot]
        ring[slot] = 0

        first_now = day[t, DAY_FIRST_ADDS]
        readds_now = day[t, DAY_READDS]
        churns_now = day[t, DAY_CHURNS]
        admitted = (first_now - first_before) + (readds_now - readds_before)
        usage = day[t, DAY_USAGE_AFTER_CHURNS]
        left = admitted
        while left > 0 and usage + left > capacity:
            reached = max(usage, capacity)     # usage met by the first attempt at capacity
            left -= reached - usage
            usage = reached
            if upgrade == 0:
                return False
            nt = upgrade_tier(upgrade, tier, usage, headroom, nominal)
            if nt <= tier or effective[nt] <= capacity:
                return False
            old_price = tier_price[tier] if tier >= 0 else 0.0
            cost = upgrade_price(pricing, old_price, tier_price[nt], (k + 1) * P - t, P)
            upgrade_cost += cost
            p_upgrade_cost += cost
            cum_cost += cost
            upgrades += 1
            tier = nt
            capacity = effective[nt]
            if usage >= capacity:
                return False
            usage += 1
            left -= 1
        net = admitted - (churns_now - churns_before)
        ring[slot] += net
        net_sum += net
        first_before = first_now
        readds_before = readds_now
        churns_before = churns_now

        active = day[t, DAY_ACTIVE]
        usage = day[t, DAY_USAGE]
        overflow_active = day[t, DAY_OVERFLOW]
        if active > p_peak_contacts:
            p_peak_contacts = active
        if usage > p_peak_usage:
            p_peak_usage = usage
        if overflow_active > p_peak_overflow:
            p_peak_overflow = overflow_active
        if t == min((k + 1) * P, D) - 1:
            p_overflow = overflow_accounts_cost(p_peak_overflow, account_capacity, account_cost)
            overflow_cost += p_overflow
            cum_cost += p_overflow
            row = out_period[k]
            row[0] = tier_size[tier] if tier >= 0 else 0
            row[1] = capacity
            row[2] = p_tier_cost
            row[3] = p_upgrade_cost
            row[4] = p_cert_cost
            row[5] = p_overflow
            row[6] = p_peak_usage
            row[7] = p_peak_contacts
            row[8] = first_now - p_first0
            row[9] = readds_now - p_readds0
            row[10] = churns_now - p_churns0
            row[11] = 0
        if t == month_end[m]:
            mrow = out_month[m]
            mrow[0] = active
            mrow[1] = usage
            mrow[2] = capacity
            mrow[3] = cum_cost
            m += 1
    out_path[:] = phantom_row          # the customers' counts are the phantom's
    out_path[0] = tier_cost
    out_path[1] = upgrade_cost
    out_path[2] = cert_cost
    out_path[3] = overflow_cost
    out_path[13] = upgrades
    return True


@njit(cache=True)
def simulate_path(path, seed, D, P, rule, free_quota, pricing, cert_fee,
                  account_capacity, account_cost,
                  tier_size, tier_price, nominal, effective, no_tier_cap,
                  seg_start, seg_initial, seg_adoption, seg_churn, seg_shape,
                  seg_readd_prob, seg_readd_delay, seg_lost_value,
                  season_day, month_end, growth_sigma, churn_sigma,
                  st_renewal, st_fixed, st_upgrade, st_headroom, st_admit, st_others,
                  st_on_blocked, st_retry_days, st_max_retries, st_unbounded, st_oracle_src,
                  st_replay_src, out_path, out_period, out_month, out_mult, log_row, out_log,
                  out_log_n):
    """Simulate every strategy row on one path; fill the out_* arrays
    (out_path[S, len(PATH_COLUMNS)], out_period[S, K, ...], out_month[S, M, ...],
    out_mult[2]). Returns (customer events of every strategy, replayed ones
    included; events the loop actually stepped through).

    Contact log: for strategy row `log_row` (-1: none) every WeCom add and
    churn is written to out_log[i] = (day, customer, kind, segment), kind
    LOG_ADD or LOG_CHURN (initial contacts as adds on day 0), while room
    lasts; out_log_n[0] counts them all, so the caller can tell it overflowed."""
    L = out_log.shape[0]
    n_log = 0
    S = st_renewal.shape[0]
    nseg = seg_start.shape[0] - 1
    K = (D + P - 1) // P
    T = tier_size.shape[0]
    max_effective = effective[T - 1]
    pk = path_key(seed, path)
    G = math.exp(growth_sigma * normal(pk, 0, PATH_GROWTH, 0))
    Mc = math.exp(churn_sigma * normal(pk, 0, PATH_CHURN, 0))
    out_mult[0] = G
    out_mult[1] = Mc

    # ---- shared by all strategies: first attempts (inverse cumulative hazard)
    H = np.empty(D + 1)
    # E in bucket b (E * scale >= b) starts its search at first_day[b - 1]:
    # every earlier day has H[t + 1] * scale <= b - 1 < E * scale, so
    # H[t + 1] < E strictly (float products by one positive scale are
    # monotone). A lower bound, so the short forward walk is exact.
    n_buckets = 2 * D
    first_day = np.empty(n_buckets + 1, np.int64)
    n_pool = 0
    for s in range(nseg):
        n_pool += seg_start[s + 1] - seg_start[s] - seg_initial[s]
    att_cust = np.empty(max(n_pool, 1), np.int64)
    att_day = np.empty(max(n_pool, 1), np.int64)
    att_seg = np.empty(max(n_pool, 1), np.int64)
    n_att = 0
    for s in range(nseg):
        a = seg_adoption[s]
        H[0] = 0.0
        for t in range(D):
            H[t + 1] = H[t] + a * season_day[t] * G
        HD = H[D]
        if HD <= 0.0:
            continue
        scale = n_buckets / HD
        t = 0
        for b in range(n_buckets + 1):
            # smallest t with H[t + 1] > b / scale, for any E in the bucket
            while t < D - 1 and H[t + 1] * scale <= b:
                t += 1
            first_day[b] = t
        # E = -log(v) < H(D)  <=>  v > exp(-H(D)); skip the log for the clear misses
        v_skip = math.exp(-HD) * (1.0 - 1e-9)
        for u in range(seg_start[s] + seg_initial[s], seg_start[s + 1]):
            v = uniform(pk, u, FIRST_ADD, 0)
            if v < v_skip:
                continue
            E = -math.log(v)
            if E >= HD:
                continue
            t = first_day[max(min(np.int64(E * scale), n_buckets) - 1, 0)]
            while H[t + 1] <= E:    # smallest t with H[t + 1] > E
                t += 1
            att_cust[n_att] = u
            att_day[n_att] = t
            att_seg[n_att] = s
            n_att += 1
    fa_off = np.zeros(D + 1, np.int64)
    for i in range(n_att):
        fa_off[att_day[i] + 1] += 1
    for t in range(D):
        fa_off[t + 1] += fa_off[t]
    fill = fa_off[:D].copy()
    fa_word = np.empty(max(n_att, 1), np.int64)
    fa_lam = np.empty(max(n_att, 1))
    for i in range(n_att):
        u = att_cust[i]
        s = att_seg[i]
        pos = fill[att_day[i]]
        fill[att_day[i]] = pos + 1
        fa_word[pos] = u | (s << 56)
        fa_lam[pos] = _propensity(pk, u, seg_churn[s], seg_shape[s], Mc)

    # ---- shared: initial contacts and their first churn day
    n_initial = 0
    for s in range(nseg):
        n_initial += seg_initial[s]
    ic_day = np.empty(max(n_initial, 1), np.int64)
    ic_tmp_word = np.empty(max(n_initial, 1), np.int64)
    ic_tmp_lam = np.empty(max(n_initial, 1))
    n_ic = 0
    for s in range(nseg):
        for u in range(seg_start[s], seg_start[s] + seg_initial[s]):
            lam = _propensity(pk, u, seg_churn[s], seg_shape[s], Mc)
            if lam <= 0.0:
                continue
            x = exponential(pk, u, LIFETIME, 0) / lam
            if x < D - 1:
                ic_day[n_ic] = 1 + np.int64(x)
                ic_tmp_word[n_ic] = u | (s << 56)
                ic_tmp_lam[n_ic] = lam
                n_ic += 1
    ic_off = np.zeros(D + 1, np.int64)
    for i in range(n_ic):
        ic_off[ic_day[i] + 1] += 1
    for t in range(D):
        ic_off[t + 1] += ic_off[t]
    fill = ic_off[:D].copy()
    ic_word = np.empty(max(n_ic, 1), np.int64)
    ic_lam = np.empty(max(n_ic, 1))
    for i in range(n_ic):
        pos = fill[ic_day[i]]
        fill[ic_day[i]] = pos + 1
        ic_word[pos] = ic_tmp_word[i]
        ic_lam[pos] = ic_tmp_lam[i]

    # ---- per-strategy working memory, reused across strategies
    nb = 1024
    blk_word = np.empty(nb * BLOCK, np.int64)
    blk_lam = np.empty(nb * BLOCK)
    blk_next = np.empty(nb, np.int64)
    free_stack = np.empty(nb, np.int64)
    cal_head = np.empty((2, D), np.int64)
    cal_tail = np.empty((2, D), np.int64)
    cal_cnt = np.zeros((2, D), np.int64)
    buf_cap = 1024
    buf_word = np.empty(buf_cap, np.int64)
    buf_lam = np.empty(buf_cap)
    order = np.empty(buf_cap, np.int64)
    keys = np.empty(buf_cap, np.uint64)
    ring = np.zeros(FORECAST_WINDOW, np.int64)
    phantom_peak = np.zeros((S, K), np.int64)
    n_phantoms = 0
    for si in range(S):
        if st_unbounded[si]:
            n_phantoms += 1
    day_record = np.zeros((max(n_phantoms, 1), D, DAY_FIELDS), np.int64)
    row_events = np.zeros(S, np.int64)
    simulated = 0

    for si in range(S):
        src = st_replay_src[si]
        if src >= 0 and si != log_row:
            if replay_strategy(day_record[src], out_path[src], D, P, rule, free_quota, pricing,
                               cert_fee, account_capacity, account_cost, tier_size,
                               tier_price, nominal, effective, no_tier_cap, st_renewal[si],
                               st_fixed[si], st_upgrade[si], st_headroom[si],
                               phantom_peak[max(st_oracle_src[si], 0)], month_end,
                               out_path[si], out_period[si], out_month[si]):
                row_events[si] = row_events[src]
                continue
        events = 0
        unbounded = st_unbounded[si]
        renewal = st_renewal[si]
        upgrade = st_upgrade[si]
        headroom = st_headroom[si]
        others = st_others[si]
        on_blocked = st_on_blocked[si]
        retry_days = st_retry_days[si]
        max_retries = st_max_retries[si]

        cal_cnt[:, :] = 0
        fresh = 0
        free_top = 0
        ring[:] = 0
        net_sum = 0

        if si == log_row:
            for s in range(nseg):
                for u in range(seg_start[s], seg_start[s] + seg_initial[s]):
                    if n_log < L:
                        out_log[n_log, 0] = 0
                        out_log[n_log, 1] = u
                        out_log[n_log, 2] = LOG_ADD
                        out_log[n_log, 3] = s
                    n_log += 1
        active = n_initial
        usage = n_initial
        overflow_active = 0
        tier = -1
        capacity = UNBOUNDED if unbounded else no_tier_cap
        cum_cost = 0.0
        tier_cost = 0.0
        upgrade_cost = 0.0
        cert_cost = 0.0
        overflow_cost = 0.0
        lost_value = 0.0
        peak_contacts = active
        first_adds = 0
        readds = 0
        churns = 0
        blocked = 0
        lost = 0
        overflowed = 0
        upgrades = 0
        k = 0
        m = 0
        p_tier_cost = 0.0
        p_upgrade_cost = 0.0
        p_cert_cost = 0.0
        p_peak_usage = 0
        p_peak_contacts = 0
        p_peak_overflow = 0
        p_first = 0
        p_readds = 0
        p_churns = 0
        p_blocked = 0

        for t in range(D):
            # (1) period start: reset cumulative usage, renew, pay
            if t % P == 0:
                k = t // P
                if rule == CUMULATIVE:
                    usage = active
                if not unbounded:
                    tier = renewal_tier(renewal, st_fixed[si], headroom, usage, net_sum, k, P,
                                        phantom_peak[max(st_oracle_src[si], 0), k], nominal,
                                        free_quota)
                    capacity = effective[tier] if tier >= 0 else no_tier_cap
                    p_tier_cost = tier_price[tier] if tier >= 0 else 0.0
                    p_cert_cost = cert_fee
                    tier_cost += p_tier_cost
                    cert_cost += p_cert_cost
                    cum_cost += p_tier_cost + p_cert_cost
                p_upgrade_cost = 0.0
                p_peak_usage = 0
                p_peak_contacts = 0
                p_peak_overflow = 0
                p_first = 0
                p_readds = 0
                p_churns = 0
                p_blocked = 0
            slot = t % FORECAST_WINDOW
            net_sum -= ring[slot]
            ring[slot] = 0
            if unbounded:
                day_record[si, t, DAY_USAGE_START] = usage

            # make room: every event today schedules at most one new event
            n_ic_today = ic_off[t + 1] - ic_off[t]
            n_fa_today = fa_off[t + 1] - fa_off[t]
            n_today = cal_cnt[0, t] + cal_cnt[1, t] + n_ic_today + n_fa_today
            if (nb - fresh) + free_top < n_today:
                new_nb = max(2 * nb, nb + n_today)
                w2 = np.empty(new_nb * BLOCK, np.int64)
                w2[:nb * BLOCK] = blk_word
                blk_word = w2
                l2 = np.empty(new_nb * BLOCK)
                l2[:nb * BLOCK] = blk_lam
                blk_lam = l2
                n2 = np.empty(new_nb, np.int64)
                n2[:nb] = blk_next
                blk_next = n2
                f2 = np.empty(new_nb, np.int64)
                f2[:free_top] = free_stack[:free_top]
                free_stack = f2
                nb = new_nb
            need = max(cal_cnt[0, t] + n_ic_today, cal_cnt[1, t] + n_fa_today)
            if need > buf_cap:
                buf_cap = max(2 * buf_cap, need)
                buf_word = np.empty(buf_cap, np.int64)
                buf_lam = np.empty(buf_cap)
                order = np.empty(buf_cap, np.int64)
                keys = np.empty(buf_cap, np.uint64)

            # (2) churns due today: gather, free their blocks, process
            n = 0
            for i in range(ic_off[t], ic_off[t + 1]):
                buf_word[n] = ic_word[i]
                buf_lam[n] = ic_lam[i]
                n += 1
            c = cal_cnt[0, t]
            b = cal_head[0, t] if c > 0 else -1
            while c > 0:
                take = min(c, BLOCK)
                base = b * BLOCK
                for i in range(take):
                    buf_word[n] = blk_word[base + i]
                    buf_lam[n] = blk_lam[base + i]
                    n += 1
                c -= take
                free_stack[free_top] = b
                free_top += 1
                b = blk_next[b]
            events += n
            for i in range(n):
                w = buf_word[i]
                u = w & 0xFFFFFFFF
                e = (w >> 32) & 0xFFFF
                s = (w >> 56) & 0x3F
                if (w >> 62) & 1:
                    overflow_active -= 1
                else:
                    active -= 1
                    if rule != CUMULATIVE:
                        usage -= 1
                    churns += 1
                    p_churns += 1
                    ring[slot] -= 1
                    net_sum -= 1
                    if si == log_row:
                        if n_log < L:
                            out_log[n_log, 0] = t
                            out_log[n_log, 1] = u
                            out_log[n_log, 2] = LOG_CHURN
                            out_log[n_log, 3] = s
                        n_log += 1
                rp = seg_readd_prob[s]
                if rp > 0.0 and uniform(pk, u, READD_DECISION, e) <= rp:
                    delay = seg_readd_delay[s] * exponential(pk, u, READD_DELAY, e)
                    if delay < D - t - 1:
                        d = t + 1 + np.int64(delay)
                        nw = u | ((e + 1) << 32) | (s << 56)
                        cc = cal_cnt[1, d]
                        if cc % BLOCK == 0:
                            if free_top > 0:
                                free_top -= 1
                                nbk = free_stack[free_top]
                            else:
                                nbk = fresh
                                fresh += 1
                            blk_next[nbk] = -1
                            if cc == 0:
                                cal_head[1, d] = nbk
                            else:
                                blk_next[cal_tail[1, d]] = nbk
                            cal_tail[1, d] = nbk
                        pos = cal_tail[1, d] * BLOCK + cc % BLOCK
                        blk_word[pos] = nw
                        blk_lam[pos] = buf_lam[i]
                        cal_cnt[1, d] = cc + 1

            if unbounded:
                day_record[si, t, DAY_USAGE_AFTER_CHURNS] = usage

            # (3) attempts due today (re-adds, retries, first adds)
            n = 0
            c = cal_cnt[1, t]
            b = cal_head[1, t] if c > 0 else -1
            while c > 0:
                take = min(c, BLOCK)
                base = b * BLOCK
                for i in range(take):
                    buf_word[n] = blk_word[base + i]
                    buf_lam[n] = blk_lam[base + i]
                    n += 1
                c -= take
                free_stack[free_top] = b
                free_top += 1
                b = blk_next[b]
            for i in range(fa_off[t], fa_off[t + 1]):
                buf_word[n] = fa_word[i]
                buf_lam[n] = fa_lam[i]
                n += 1
            events += n
            # Who gets the last slots is decided by each attempt's random
            # priority. Sorting is needed only when some, not all, could pass.
            ordered = False
            if n > 1 and usage + n > capacity:
                if usage < capacity or (upgrade != 0 and max_effective > capacity):
                    ordered = True
                    for i in range(n):
                        w = buf_word[i]
                        keys[i] = draw_bits(pk, w & 0xFFFFFFFF, ORDER,
                                            ((w >> 32) & 0xFFFF) * 256 + ((w >> 48) & 0xFF))
                    order[:n] = np.argsort(keys[:n])
            for ii in range(n):
                i = order[ii] if ordered else ii
                w = buf_word[i]
                lam = buf_lam[i]
                u = w & 0xFFFFFFFF
                e = (w >> 32) & 0xFFFF
                j = (w >> 48) & 0xFF
                s = (w >> 56) & 0x3F
                outcome = 0             # 0 admitted, 1 lost, 2 overflow, 3 retry
                if not st_admit[si, s]:
                    outcome = 2 if others == 1 else 1
                else:
                    if usage >= capacity and upgrade != 0:
                        nt = upgrade_tier(upgrade, tier, usage, headroom, nominal)
                        if nt > tier and effective[nt] > capacity:
                            old_price = tier_price[tier] if tier >= 0 else 0.0
                            cost = upgrade_price(pricing, old_price, tier_price[nt],
                                                 (k + 1) * P - t, P)
                            upgrade_cost += cost
                            p_upgrade_cost += cost
                            cum_cost += cost
                            upgrades += 1
                            tier = nt
                            capacity = effective[nt]
                    if usage < capacity:
                        active += 1
                        usage += 1
                        ring[slot] += 1
                        net_sum += 1
                        if e == 0:
                            first_adds += 1
                            p_first += 1
                        else:
                            readds += 1
                            p_readds += 1
                        if si == log_row:
                            if n_log < L:
                                out_log[n_log, 0] = t
                                out_log[n_log, 1] = u
                                out_log[n_log, 2] = LOG_ADD
                                out_log[n_log, 3] = s
                            n_log += 1
                    else:
                        blocked += 1
                        p_blocked += 1
                        if on_blocked == 1:
                            outcome = 3 if j < max_retries else 1
                        elif on_blocked == 2:
                            outcome = 2
                        else:
                            outcome = 1
                if outcome == 1:
                    lost += 1
                    lost_value += seg_lost_value[s]
                    continue
                # schedule: a churn (admitted or overflow life) or a retry
                if outcome == 3:
                    delay = retry_days * exponential(pk, u, RETRY_DELAY, e * 256 + j + 1)
                    q = 1
                    nw = u | (e << 32) | ((j + 1) << 48) | (s << 56)
                else:
                    if outcome == 2:
                        overflow_active += 1
                        overflowed += 1
                        nw = u | (e << 32) | (s << 56) | (1 << 62)
                    else:
                        nw = u | (e << 32) | (s << 56)
                    if lam <= 0.0:
                        continue
                    delay = exponential(pk, u, LIFETIME, e) / lam
                    q = 0
                if delay < D - t - 1:
                    d = t + 1 + np.int64(delay)
                    cc = cal_cnt[q, d]
                    if cc % BLOCK == 0:
                        if free_top > 0:
                            free_top -= 1
                            nbk = free_stack[free_top]
                        else:
                            nbk = fresh
                            fresh += 1
                        blk_next[nbk] = -1
                        if cc == 0:
                            cal_head[q, d] = nbk
                        else:
                            blk_next[cal_tail[q, d]] = nbk
                        cal_tail[q, d] = nbk
                    pos = cal_tail[q, d] * BLOCK + cc % BLOCK
                    blk_word[pos] = nw
                    blk_lam[pos] = lam
                    cal_cnt[q, d] = cc + 1

            # (4) end of day: peaks, period and month records
            if unbounded:
                rec = day_record[si, t]
                rec[DAY_ACTIVE] = active
                rec[DAY_USAGE] = usage
                rec[DAY_OVERFLOW] = overflow_active
                rec[DAY_FIRST_ADDS] = first_adds
                rec[DAY_READDS] = readds
                rec[DAY_CHURNS] = churns
            if active > peak_contacts:
                peak_contacts = active
            if active > p_peak_contacts:
                p_peak_contacts = active
            if usage > p_peak_usage:
                p_peak_usage = usage
            if overflow_active > p_peak_overflow:
                p_peak_overflow = overflow_active
            if t == min((k + 1) * P, D) - 1:
                if unbounded:
                    phantom_peak[si, k] = p_peak_usage
                    p_overflow = 0.0
                else:
                    p_overflow = overflow_accounts_cost(p_peak_overflow, account_capacity,
                                                        account_cost)
                overflow_cost += p_overflow
                cum_cost += p_overflow
                row = out_period[si, k]
                row[0] = tier_size[tier] if tier >= 0 else 0
                row[1] = capacity
                row[2] = p_tier_cost
                row[3] = p_upgrade_cost
                row[4] = p_cert_cost
                row[5] = p_overflow
                row[6] = p_peak_usage
                row[7] = p_peak_contacts
                row[8] = p_first
                row[9] = p_readds
                row[10] = p_churns
                row[11] = p_blocked
            if t == month_end[m]:
                mrow = out_month[si, m]
                mrow[0] = active
                mrow[1] = usage
                mrow[2] = capacity
                mrow[3] = cum_cost
                m += 1

        prow = out_path[si]
        prow[0] = tier_cost
        prow[1] = upgrade_cost
        prow[2] = cert_cost
        prow[3] = overflow_cost
        prow[4] = lost_value
        prow[5] = peak_contacts
        prow[6] = active
        prow[7] = first_adds
        prow[8] = readds
        prow[9] = churns
        prow[10] = blocked
        prow[11] = lost
        prow[12] = overflowed
        prow[13] = upgrades
        row_events[si] = events
        simulated += events
    out_log_n[0] = n_log
    represented = 0
    for si in range(S):
        if not st_unbounded[si]:
            represented += row_events[si]
    return represented, simulated


@njit(cache=True, parallel=True)
def simulate_paths(paths, seed, D, P, rule, free_quota, pricing, cert_fee,
                   account_capacity, account_cost,
                   tier_size, tier_price, nominal, effective, no_tier_cap,
                   seg_start, seg_initial, seg_adoption, seg_churn, seg_shape,
                   seg_readd_prob, seg_readd_delay, seg_lost_value,
                   season_day, month_end, growth_sigma, churn_sigma,
                   st_renewal, st_fixed, st_upgrade, st_headroom, st_admit, st_others,
                   st_on_blocked, st_retry_days, st_max_retries, st_unbounded, st_oracle_src,
                   st_replay_src, out_path, out_period, out_month, out_mult, out_events,
                   log_row, out_log, out_log_n):
    """Paths in parallel; each path's results depend only on its number."""
    for i in prange(paths.shape[0]):
        out_events[i, 0], out_events[i, 1] = simulate_path(
            paths[i], seed, D, P, rule, free_quota, pricing, cert_fee,
            account_capacity, account_cost, tier_size, tier_price, nominal, effective,
            no_tier_cap, seg_start, seg_initial, seg_adoption, seg_churn, seg_shape,
            seg_readd_prob, seg_readd_delay, seg_lost_value, season_day, month_end,
            growth_sigma, churn_sigma, st_renewal, st_fixed, st_upgrade, st_headroom,
            st_admit, st_others, st_on_blocked, st_retry_days, st_max_retries, st_unbounded,
            st_oracle_src, st_replay_src, out_path[i], out_period[i], out_month[i], out_mult[i],
            log_row, out_log[i], out_log_n[i])
