"""The numba kernel: one path of every strategy, event by event.

    layout.py    the kernel's records: scenario (CONFIG, TIER, SEGMENT,
                 STRATEGY, KernelScenario), running STATE, phantom DAY
                 record, calendar EVENT, the event word
    arrivals.py  draws shared by a path's strategies: multipliers,
                 propensities, first-attempt days, initial contacts' churns
    calendar.py  the block calendar: take a day's events, push new ones
    periods.py   billing events shared by simulation and replay: period
                 open/close, upgrade bought, peaks, month record
    path.py      one path: strategies simulated day by day (churn and
                 attempt phases) or replayed
    replay.py    replay of a never-blocking strategy from a phantom's days
    driver.py    the parallel loop over paths

The rules themselves live in `billing.py` and `strategies.py`; the model's
exact readings are `docs/model-notes.md`; `tests/reference.py` is a plain
Python twin of a whole path and `tests/naive.py` of every rule.
"""
