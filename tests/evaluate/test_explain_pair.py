"""explain_pair() (both languages at once, the path a day's thousands of explanations take) gives the very texts
explain() gives in each language: every shipped ruleset's sections, random values (missing, whole, fractional,
large, yes/no), random reasons (rules, unknown cells, missing inputs, hysteresis), with and without neighbours."""
from __future__ import annotations

import math
import random

import pytest

from geo.domain.rulesets import load_rulesets
from geo.evaluate import explain
from rules.engine import MISSING_PREFIX, UNKNOWN_WHEN_ID

RULESETS = load_rulesets()


def _value(rng: random.Random, spec: dict):
    if spec.get("type") == "bool":
        return rng.choice([0.0, 1.0, math.nan, None])
    return rng.choice([math.nan, None, 0.0, float(rng.randint(0, 200_000)), rng.uniform(0, 5_000), rng.uniform(0, 1)])


def _hysteresis(lang: str) -> dict:
    return {"prev": f"prev-{lang}", "computed": f"now-{lang}", "since": "01/07/2021", "notice": 48, "clean": 3,
            "need": 14, "step": 1, "hours": 24, "effective": "2021-08-02"}


@pytest.mark.parametrize("ruleset_id", sorted(RULESETS))
def test_both_languages_at_once_are_the_texts_of_each(ruleset_id):
    rng = random.Random(ruleset_id)
    ruleset = RULESETS[ruleset_id]
    levels = [lv["id"] for lv in ruleset.levels] + ["unknown"]
    compared = 0
    for _, section in ruleset.sections():
        ids = [r.id for r in section.rules]
        others = [r.id for r in section.unknown_rules] + [MISSING_PREFIX + n for n in section.inputs] + [UNKNOWN_WHEN_ID]
        for _ in range(300):
            values = {n: _value(rng, spec) for n, spec in section.inputs.items() if rng.random() < 0.9}
            reasons = rng.sample(ids, k=rng.randint(0, min(3, len(ids))))
            if rng.random() < 0.2:
                reasons = rng.sample(others, k=rng.randint(1, min(2, len(others)))) + reasons
            if rng.random() < 0.1:
                reasons = [rng.choice(explain.HYSTERESIS_REASONS), *reasons]
                values["hysteresis"] = {lang: _hysteresis(lang) for lang in ("vi", "en")}
            triggers = rng.choice([[], ["Xã A"], ["Xã A", "Phường B"]])
            level = rng.choice(levels)
            settings = dict(ruleset.settings)
            each = tuple(explain.explain(section, values, level, reasons, triggers, lang, settings) for lang in ("vi", "en"))
            assert explain.explain_pair(section, values, level, reasons, triggers, settings) == each, (reasons, values)
            compared += 1
    assert compared >= 300
