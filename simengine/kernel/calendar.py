"""The calendar of one strategy's future events: for each day, two queues
(churns, attempts) of events in fixed-size blocks.

A queue-day is a singly linked list of blocks of BLOCK events; blocks are
recycled through a free stack as days are taken. Event words carry the
customer, episode and segment, and events carry the customer's propensity,
so no per-customer array is touched (at a million customers, per-customer
linked lists stall on cache misses). Events are pushed in the order they
were scheduled and taken in the same order.

`take` and `push` are the only code that walks blocks; the kernel calls each
once or twice a day, never per event (calls with arrays cost reference
counting).
"""
from collections import namedtuple

import numpy as np

from ..jit import jit, jit_inner
from .layout import EVENT, is_overflow, segment_of

BLOCK = 64                          # events per block
CHURNS, ATTEMPTS = np.int64(0), np.int64(1)      # the two queues of a day

# blocks of a (queue, day): head and tail block, events held
QUEUE_DAY = np.dtype([("head", np.int64), ("tail", np.int64), ("count", np.int64)])

# events[b * BLOCK:(b + 1) * BLOCK]: block b; links[0, b]: the block after b;
# links[1, :top[1]]: the free stack; top[0]: blocks ever used (fresh ones
# start there); index[queue, day]: QUEUE_DAY
Calendar = namedtuple("Calendar", "events links index top")


@jit
def new_calendar(days, blocks):
    return Calendar(np.empty(blocks * BLOCK, EVENT), np.empty((2, blocks), np.int64),
                    np.zeros((2, days), QUEUE_DAY), np.zeros(2, np.int64))


@jit
def clear(cal):
    """Empty every queue; every block becomes fresh."""
    index = cal.index
    for q in range(2):
        for d in range(index.shape[1]):
            index[q, d].count = 0
    cal.top[0] = 0
    cal.top[1] = 0


@jit
def blocks_free(cal):
    return cal.links.shape[1] - cal.top[0] + cal.top[1]


@jit
def queued(cal, queue, day):
    return cal.index[queue, day].count


@jit
def with_room(cal, events):
    """The calendar, grown if needed so that `events` pushes (at most a block
    each) find a free block."""
    nb = cal.links.shape[1]
    if blocks_free(cal) >= events:
        return cal
    new_nb = max(2 * nb, nb + events)
    ev = np.empty(new_nb * BLOCK, EVENT)
    for i in range(nb * BLOCK):          # loops, not slices: they compile much faster
        ev[i] = cal.events[i]
    links = np.empty((2, new_nb), np.int64)
    for b in range(nb):
        links[0, b] = cal.links[0, b]
    for i in range(cal.top[1]):
        links[1, i] = cal.links[1, i]
    return Calendar(ev, links, cal.index, cal.top)


@jit
def take(cal, queue, day, out, n):
    """Append the events of (queue, day) to out[n:], in the order pushed,
    and free their blocks; returns the new count."""
    events = cal.events
    next_block = cal.links[0]
    free_stack = cal.links[1]
    free_top = cal.top[1]
    c = cal.index[queue, day].count
    b = cal.index[queue, day].head if c > 0 else -1
    while c > 0:
        m = min(c, BLOCK)
        base = b * BLOCK
        for i in range(m):
            out[n] = events[base + i]
            n += 1
        c -= m
        free_stack[free_top] = b
        free_top += 1
        b = next_block[b]
    cal.top[1] = free_top
    return n


@jit
def push(cal, staged, n):
    """Append staged[:n] to the end of their (queue, day), in order."""
    events = cal.events
    next_block = cal.links[0]
    free_stack = cal.links[1]
    index = cal.index
    fresh = cal.top[0]
    free_top = cal.top[1]
    for i in range(n):
        q = staged[i].queue
        d = staged[i].day
        qd = index[q, d]
        c = qd.count
        if c % BLOCK == 0:
            if free_top > 0:
                free_top -= 1
                b = free_stack[free_top]
            else:
                b = fresh
                fresh += 1
            next_block[b] = -1
            if c == 0:
                qd.head = b
            else:
                next_block[qd.tail] = b
            qd.tail = b
        pos = qd.tail * BLOCK + c % BLOCK
        events[pos].word = staged[i].word
        events[pos].lam = staged[i].lam
        qd.count = c + 1
    cal.top[0] = fresh
    cal.top[1] = free_top


@jit_inner
def copy_of(src, dst):
    """`dst` (grown if needed) holding the same events in the same queues
    and order as `src`: a fork of one strategy's future events."""
    nb = src.links.shape[1]
    if dst.links.shape[1] < nb:
        dst = Calendar(np.empty(nb * BLOCK, EVENT), np.empty((2, nb), np.int64), dst.index,
                       dst.top)
    used = src.top[0]
    for i in range(used * BLOCK):
        dst.events[i] = src.events[i]
    for b in range(used):
        dst.links[0, b] = src.links[0, b]
    for i in range(src.top[1]):
        dst.links[1, i] = src.links[1, i]
    for q in range(2):
        for d in range(src.index.shape[1]):
            dst.index[q, d] = src.index[q, d]
    dst.top[0] = src.top[0]
    dst.top[1] = src.top[1]
    return dst


@jit_inner
def count_day(cal, queue, day, admit):
    """Of the events of (queue, day): (those not of an overflow life, those
    of a segment `admit` admits). Walks the day's blocks as `take` does,
    without taking them."""
    events = cal.events
    next_block = cal.links[0]
    c = cal.index[queue, day].count
    b = cal.index[queue, day].head if c > 0 else -1
    wecom = 0
    admitted = 0
    while c > 0:
        m = min(c, BLOCK)
        base = b * BLOCK
        for i in range(m):
            w = events[base + i].word
            if not is_overflow(w):
                wecom += 1
            if admit[segment_of(w)]:
                admitted += 1
        c -= m
        b = next_block[b]
    return wecom, admitted
