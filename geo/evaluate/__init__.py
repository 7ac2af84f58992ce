"""Stage 2: gather a range of days' inputs in one call and evaluate them once: metrics, rules, roll-up, hysteresis, explanations."""
