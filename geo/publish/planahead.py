"""Plan ahead: what a what-if (another ruleset, changed settings) would have meant over the last month.
The days are evaluated again by the one evaluation (a run of days, nothing published) and counted
per level as the published trend is (geo/serve/trend.py), so the two can be drawn side by side."""
from __future__ import annotations

import datetime as dt

from geo.base.config import Settings
from geo.base.vocabulary import LEVEL_IDS
from geo.evaluate import evaluation


def trend_under(settings: Settings, ruleset, last: dt.date, n_days: int) -> list[dict]:
    """[{date, units: {level: communes}}] for the `n_days` up to `last`, under `ruleset`."""
    days = [last - dt.timedelta(days=k) for k in range(n_days - 1, -1, -1)]
    res = evaluation.evaluate_range(settings, days, ruleset)
    names = evaluation.level_names(res.commune.levels)
    return [{"date": d.isoformat(), "units": {lv: int((names[:, k] == lv).sum()) for lv in LEVEL_IDS}}
            for k, d in enumerate(days)]
