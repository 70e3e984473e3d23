"""Who passes when not all of a day's attempts can: docs/model.md section 4 meets
them in ascending priority (each attempt's ORDER draw), but the order
changes an outcome only for attempts that may pass. So the kernel sorts
nothing: the segments whose attempts may pass are marked contested; when
the capacity cannot change today, who passes follows from a key threshold
per segment (`priority_thresholds`, a selection, not a sort); else the
contested attempts are met from a heap in priority order until none of
them can pass (`priority_heap`, `pop_first`, `none_can_pass`). Every other
attempt is refused whatever its order, and counts do not depend on it.
"""
import numpy as np

from ..billing import NO_TIER
from ..jit import jit, jit_inner
from ..rng import ORDER, attempt_occurrence, draw_bits
from ..strategies import ordered_tier
from .layout import customer_of, episode_of, retry_of, segment_of


@jit
def needs_priority(n, usage, capacity, max_reserve, may_upgrade):
    """Who gets the last slots is decided by each attempt's random priority;
    sorting is needed only when some, not all, of today's n attempts could
    pass: some could meet a reserve (usage + n > capacity - max_reserve) or
    the capacity, while some can still pass (usage < capacity, or an upgrade
    may still raise a full capacity)."""
    return n > 1 and usage + n > capacity - max_reserve and (usage < capacity or may_upgrade)


@jit_inner
def sift_down(keys, heap, i, size):
    """Restore the min-heap heap[:size] (of indices, by their keys) below i."""
    x = heap[i]
    kx = keys[x]
    while True:
        j = 2 * i + 1
        if j >= size:
            break
        if j + 1 < size and keys[heap[j + 1]] < keys[heap[j]]:
            j += 1
        if keys[heap[j]] >= kx:
            break
        heap[i] = heap[j]
        i = j
    heap[i] = x


@jit
def contested_segments(rules, usage, capacity, may_upgrade, everyone):
    """Marks the segments whose attempts are met in priority order today:
    the admitted ones that may still pass (usage below the capacity less
    their reserve, or any while an upgrade may raise the capacity: without
    one the capacity stays, usage only grows, and a segment refused now is
    refused all day); every segment with `everyone`."""
    for s in range(rules.shape[0]):
        rules[s].contested = everyone or (rules[s].admit and (
            may_upgrade or usage < capacity - rules[s].reserve))


@jit
def priority_heap(pk, today, n, keys, heap, rules):
    """heap[:h], a min-heap of the indices of today[:n]'s attempts of
    contested segments by priority (the ORDER draw of each attempt, in
    keys), then heap[h:n] the others' indices as taken; returns h."""
    h = np.int64(0)
    rest = n
    for i in range(n):
        w = today[i].word
        if rules[segment_of(w)].contested:
            keys[i] = draw_bits(pk, customer_of(w), ORDER,
                                attempt_occurrence(episode_of(w), retry_of(w)))
            heap[h] = i
            h += 1
        else:
            rest -= 1
            heap[rest] = i
    # the others were filled from the end: put them back as taken
    lo, hi = h, n - 1
    while lo < hi:
        heap[lo], heap[hi] = heap[hi], heap[lo]
        lo += 1
        hi -= 1
    for i in range(h // 2 - 1, -1, -1):
        sift_down(keys, heap, i, h)
    return h


@jit_inner
def kth_smallest(values, m, k):
    """The k-th smallest of values[:m] (1 <= k <= m), reordering them
    (quickselect; loops, not np.partition: they compile much faster)."""
    lo, hi, want = 0, m - 1, k - 1
    while lo < hi:
        pivot = values[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while values[i] < pivot:
                i += 1
            while values[j] > pivot:
                j -= 1
            if i <= j:
                values[i], values[j] = values[j], values[i]
                i += 1
                j -= 1
        if want <= j:
            hi = j
        elif want >= i:
            lo = i
        else:
            return values[want]
    return values[want]


MAX_KEY = np.uint64(0xFFFFFFFFFFFFFFFF)
TOP = 18446744073709551616.0        # 2^64


@jit_inner
def open_keys(today, n, keys, rules, usage, capacity, above, first, bound, out):
    """The keys of today[:n]'s attempts of open segments (contested, usage
    below the capacity less their reserve) above `above` (any, `first`)
    and at most `bound`: counted, and copied to `out` while it has room."""
    m = 0
    for i in range(n):
        s = segment_of(today[i].word)
        k = keys[i]
        if rules[s].contested and usage < capacity - rules[s].reserve and \
                (first or k > above) and k <= bound:
            if m < out.shape[0]:
                out[m] = k
            m += 1
    return m


@jit
def priority_thresholds(pk, today, n, keys, rules, usage, capacity):
    """When the capacity cannot change today, who passes in priority order
    is known without meeting them in it: the contested segments' attempts
    get their priority keys (in keys), and each contested segment the
    highest key that passes (SEGMENT_RULE `passes`, `last_key`). In
    priority order, every open segment's attempts pass until usage meets
    the capacity less the largest open reserve; that segment then closes,
    and the others go on from there."""
    for i in range(n):
        w = today[i].word
        if rules[segment_of(w)].contested:
            keys[i] = draw_bits(pk, customer_of(w), ORDER,
                                attempt_occurrence(episode_of(w), retry_of(w)))
    for s in range(rules.shape[0]):
        rules[s].passes = False
    candidates = np.empty(n, np.uint64)
    above = np.uint64(0)            # keys up to here are decided (none at first)
    first = True
    while True:
        largest = -1                # the largest reserve of the open segments
        for s in range(rules.shape[0]):
            if rules[s].contested and usage < capacity - rules[s].reserve:
                largest = max(largest, rules[s].reserve)
        if largest < 0:
            return
        room = capacity - largest - usage
        m = open_keys(today, n, keys, rules, usage, capacity, above, first, MAX_KEY,
                      candidates[:0])
        if m == 0:
            return
        last = MAX_KEY              # all of them pass
        if m > room:
            # the room-th lowest of the m keys: they are uniform above
            # `above`, so a bound that a few more than `room` of them are
            # under is known; select among those (all of them if too few)
            share = (room + 4.0 * np.sqrt(room) + 16.0) / m
            bound = float(above) + share * (TOP - float(above))
            got = 0
            if share < 1.0 and bound < TOP:
                got = open_keys(today, n, keys, rules, usage, capacity, above, first,
                                np.uint64(bound), candidates)
            if got < room:
                got = open_keys(today, n, keys, rules, usage, capacity, above, first, MAX_KEY,
                                candidates)
            last = kth_smallest(candidates, got, room)
        for s in range(rules.shape[0]):
            if rules[s].contested and usage < capacity - rules[s].reserve:
                rules[s].passes = True
                rules[s].last_key = last
        if m <= room:
            return
        usage += room
        above = last
        first = False


@jit
def pop_first(keys, heap, size):
    """The index of heap[:size] with the lowest key, moved to heap[size - 1]
    (heap[:size - 1] stays a heap)."""
    first = heap[0]
    heap[0] = heap[size - 1]
    heap[size - 1] = first
    if size > 2:
        sift_down(keys, heap, np.int64(0), size - 1)
    return first


@jit
def none_can_pass(st, tiers, tier, usage, capacity, min_reserve, order_at):
    """No attempt of today's rest can be admitted, whatever their order: the
    capacity less every admitted segment's reserve (`min_reserve`, the
    least of them) is reached, and no order the next attempt places
    (usage at `order_at`) would raise the capacity today (the state then
    stays as it is for the rest of the day)."""
    if usage >= order_at and st.lead_days == 0 and \
            ordered_tier(st.upgrade, st.headroom, tier, usage, order_at, capacity,
                         tiers.nominal, tiers.effective) != NO_TIER:
        return False
    return usage >= capacity - min_reserve
