"""Calibrate a scenario from a WeCom contact event log (docs/model.md section 11), and
write such logs from the engine (`simengine run --events`). The method, with
every choice stated, is docs/calibration.md.

    from simengine.calibration import calibrate, write_calibration
    cal = calibrate("events.csv", population=40_000, check_paths=200)
    print(cal.report())
    write_calibration(cal, "fitted.toml")   # + fitted-check.png, fitted-fit.json

Modules, in the order data flows:
  files     reading CSV / Parquet / Arrow inputs (pyarrow and NumPy only),
            columns as text, integers or unix seconds; the segments file
  events    the event vocabulary, column aliases, the path of a simulated
            log, the observation window: `read_events` -> EventLog
  spells    contact spells per customer (`reconstruct_spells`) and the facts
            the fits read from them
  fit       maximum-likelihood fits (adoption with season, churn with
            heterogeneity, re-adds with censoring) with standard errors
  model     `calibrate()`: segments, populations, the fits -> Calibration
  check     the fitted scenario simulated against the served count; its plot
  report    the printed fit report and the fit record (JSON)
  writer    the calibrated scenario (TOML with comments) and the files beside
            it; refuses to overwrite
  eventlog  the simulated contact log of `simengine run --events`
  cohorts   churn from a cohort retention table (`--cohorts`): interval-censored
            maximum likelihood of the Lomax survival, the projection table, the
            base scenario rewritten with the fit
"""
from .check import CHECK_PATHS, Check
from .cohorts import (PERIOD_DAYS, Cohort, CohortFit, calibrate_cohorts, cohort_report,
                      fit_cohort, read_cohorts)
from .eventlog import LOG_EPOCH, MAX_EVENT_ROWS, check_event_log_size, write_event_log
from .events import (ADD_FRIEND, ADD_GROUP, DEL_FRIEND_CUSTOMER, DEL_FRIEND_MEMBER, DEL_GROUP,
                     DISMISS, EventLog, read_events)
from .files import CalibrationError, read_segments
from .fit import PARAMS, Estimate, churn_loglik, fit_adoption, fit_churn, fit_readd, month_of_year
from .model import Calibration, SegmentFit, calibrate
from .spells import Spells, reconstruct_spells
from .writer import check_output, companion, scenario_toml, write_calibration

__all__ = [
    "PERIOD_DAYS", "Cohort", "CohortFit", "calibrate_cohorts", "cohort_report", "fit_cohort",
    "read_cohorts",
    "ADD_FRIEND", "ADD_GROUP", "DEL_FRIEND_CUSTOMER", "DEL_FRIEND_MEMBER", "DEL_GROUP",
    "DISMISS", "CHECK_PATHS", "LOG_EPOCH", "MAX_EVENT_ROWS", "PARAMS", "Calibration",
    "CalibrationError", "Check", "Estimate", "EventLog", "SegmentFit", "Spells",
    "calibrate", "check_event_log_size", "check_output", "churn_loglik",
    "companion", "fit_adoption", "fit_churn", "fit_readd", "month_of_year", "read_events",
    "read_segments", "reconstruct_spells", "scenario_toml", "write_calibration",
    "write_event_log",
]
