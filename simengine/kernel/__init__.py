"""The numba kernel: one path of every strategy, event by event.

    layout.py    the kernel's records: scenario (CONFIG, TIER, SEGMENT,
                 CAMPAIGN, STRATEGY, KernelScenario), a chunk's inputs and
                 outputs, running STATE, phantom DAY record, calendar EVENT,
                 the event word
    arrivals.py  draws shared by a path's strategies: multipliers,
                 propensities, first-attempt days, initial contacts' churns
    campaigns.py a path's campaign runs and the daily lifts of first adds
    calendar.py  the block calendar: take a day's events, push new ones
    periods.py   billing events shared by simulation and replay: period
                 open/close, an upgrade ordered (pending with a lead
                 time), arriving or ordered at a review, upgrade bought,
                 peaks, month record
    priority.py  who passes when not all of a day's attempts can
    day.py       a simulated day's churn and attempt phases, the log rows
    strategy.py  a strategy on a path: its working memory, start, days, finish
    hindsight.py the oracle's hindsight plan per period
    replay.py    replay of a never-blocking strategy from a phantom's days
    path.py      one path: each strategy replayed in step with its phantom
                 and forked from it where it first refuses, or simulated
    followers.py the forks of a day that meet attempts alike, simulated as
                 one while they decide their tiers alike
    driver.py    a chunk's paths on the thread count

The rules themselves live in `billing.py` and `strategies.py`; the model's
exact readings are `docs/model-notes.md`; `tests/reference.py` is a plain
Python twin of a whole path and `tests/naive.py` of every rule.

Vocabulary (short names the kernel uses throughout):

    scn      the scenario's records (layout.KernelScenario); on a path, with
             the path's own CONFIG, SEGMENT and STRATEGY rows
    c        the CONFIG record, scn.config[0]
    st       a strategy's STRATEGY record; si its row (phantoms come first)
    segs, sg the SEGMENT rows, one of them; s a segment's index
    tiers    the TIER rows; T how many
    src      the phantom row a strategy is replayed (or forked) from
    ph       the phantom whose hindsight plan an oracle follows
    pk       the path's key (rng.path_key), the first input of every draw
    G, Mc    the path's growth and churn multipliers
    state    a strategy's running STATE record; rules its SEGMENT_RULE rows
    prow     a strategy's PATH_RECORD (its totals on the path)
    per      the current period's PERIOD_RECORD; mrow a MONTH_RECORD
    rec      a phantom's DAY record
    work     the working memory (strategy.Work), fork a second one
    shared   what a path's strategies share (strategy.Shared)
    out      output records: a strategy's (strategy.Records) or a chunk's
             (layout.ChunkOutputs); outputs: every strategy's Records
    today    events due today (layout.EVENT), n how many; keys their
             priority keys, heap indices of them, heaped how they are met
    staged   events scheduled today for later days (layout.STAGED), sv one
    w, word  an event word: customer u, episode e (its life number), retry j,
             segment s, overflow flag (layout.event_word)
    lam      a customer's churn propensity (lambda)
    t        a day; t0, t1 the first and past-the-last day simulated
    D, P     days of the horizon, of a billing period; K periods, M months,
             S strategy rows
    U, C     usage and capacity (in docstrings: state.usage, state.capacity)
    H, E     a segment's cumulative adoption hazard; a customer's draw
             against it (arrivals.py)
    cal_     the calendar module (a local `calendar` is a Calendar)
    plan_day, plan_tier, plan_n: hindsight plans, per phantom and period;
             step the entry due next
    ring     net adds of the last FORECAST_WINDOW days; slot today's

Compile time. Every numba function here is compiled with `simengine/jit.py`.
A compiled function holds, and compiles anew, every function it calls, so
only one compiled function calls the kernel (`path.simulate_path`) and the
driver loops over paths in Python. A function is compiled once per
signature, and numba types a Python int passed as an argument as a literal
of its own: counters and codes passed to numba functions are np.int64
(`np.int64(0)`, `calendar.CHURNS`, `layout.LOG_ADD`).
"""
