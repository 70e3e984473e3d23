"""The numba kernel: one path of every strategy, event by event.

    layout.py    the kernel's records: scenario (CONFIG, TIER, SEGMENT,
                 STRATEGY, KernelScenario), running STATE, phantom DAY
                 record, calendar EVENT, the event word
    arrivals.py  draws shared by a path's strategies: multipliers,
                 propensities, first-attempt days, initial contacts' churns
    calendar.py  the block calendar: take a day's events, push new ones
    periods.py   billing events shared by simulation and replay: period
                 open/close, upgrade bought, peaks, month record
    day.py       a simulated day's churn and attempt phases, the log rows
    strategy.py  a strategy's working memory, start, finish and its days
    path.py      one path: each strategy simulated (from day 0, or resumed
                 from a phantom's rerun) or replayed
    priority.py  who passes when not all of a day's attempts can
    hindsight.py the oracle's hindsight plan per period
    replay.py    replay of a never-blocking strategy from a phantom's days
    driver.py    the parallel loop over paths

The rules themselves live in `billing.py` and `strategies.py`; the model's
exact readings are `docs/model-notes.md`; `tests/reference.py` is a plain
Python twin of a whole path and `tests/naive.py` of every rule.
"""
