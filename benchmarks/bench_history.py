"""History benchmark: a year of the national 2009 layer (11,163 communes x 365 days) evaluated at once,
against single-day evaluations of the same days.

    .venv/bin/python benchmarks/bench_history.py [--shared ../shared/data] [--sample 7]

The single-day evaluation (load, assign, metrics, classify, roll-up, explanations; no publishing) is
timed on --sample days spread over the year and scaled to 365 days. Target: the year in <= 60 s and
<= 0.05x the 365 single-day evaluations. Cases are SYNTHETIC (seeded): 300,000 over the year.
Then the `backfill` command's work itself: the year evaluated and every day published as a run
(levels runs, the newest day in full), against single-day `reclassify` runs (evaluate + publish in
full) timed on two days and scaled to 365. Writes the "history" section of benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_national import MAPPING  # noqa: E402
from results import write_section  # noqa: E402

from geo.base import config  # noqa: E402
from geo.domain.rulesets import load_rulesets  # noqa: E402
from geo.evaluate import evaluation  # noqa: E402
from geo.ingest.cases import import_cases  # noqa: E402
from geo.ingest.units import import_units  # noqa: E402
from geo.publish import backfill  # noqa: E402
from geo.publish.pipeline import evaluate, reclassify  # noqa: E402
from geo.store.database import Store  # noqa: E402

FIRST = dt.date(2021, 1, 1)
DAYS = 365
N_CASES = 300_000
SEED = 365
TARGET_S, TARGET_RATIO = 60.0, 0.05


def synthetic_year(units, rng) -> pd.DataFrame:
    geoms = units.geometry.to_numpy()
    pts = shapely.get_coordinates(shapely.point_on_surface(geoms))
    pick = rng.integers(0, len(geoms), N_CASES)
    known = rng.random(N_CASES) < 0.8
    dates = np.array([(FIRST + dt.timedelta(days=k)).isoformat() for k in range(DAYS)])
    return pd.DataFrame({
        "case_id": [f"Y{i}" for i in range(N_CASES)], "report_date": dates[rng.integers(0, DAYS, N_CASES)],
        "lon": pts[pick, 0], "lat": pts[pick, 1], "community": "true",
        "source_known": np.where(known, "true", "false"),
        "cluster_id": np.where(~known & (rng.random(N_CASES) < 0.5), "K" + rng.integers(0, 5000, N_CASES).astype(str), ""),
        "source_setting": np.where(rng.random(N_CASES) < 0.001, "school", ""),
    })


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--sample", type=int, default=7)
    args = ap.parse_args()
    src = args.shared / "vn_communes_2009_census" / "communes_2009.geojson"
    if not src.exists():
        sys.exit(f"national layer not found: {src}")
    rng = np.random.default_rng(SEED)
    days = [FIRST + dt.timedelta(days=k) for k in range(DAYS)]
    with tempfile.TemporaryDirectory() as tmp:
        settings = config.from_env({"ZONES_DATA_DIR": tmp})
        store = Store(settings.db_path)
        import_units(store, src, "vn2009", MAPPING, None, settings.reports_dir)
        units = store.load_units("vn2009")
        path = Path(tmp) / "cases.csv"
        synthetic_year(units, rng).to_csv(path, index=False)
        import_cases(store, path, settings.rejects_dir, config.today())
        ruleset = load_rulesets()["qd2686"]
        stages: dict[str, float] = {}
        last = [time.perf_counter()]

        def step(stage):
            now = time.perf_counter()
            stages[stage] = now - last[0]
            last[0] = now
        t = time.perf_counter()
        res = evaluation.evaluate_range(settings, days, ruleset, progress=step)
        year_s = time.perf_counter() - t
        sample_days = [days[int(k)] for k in np.linspace(0, DAYS - 1, args.sample)]
        single = []
        for d in sample_days:
            t = time.perf_counter()
            evaluate(settings, d, "qd2686")
            single.append(time.perf_counter() - t)
        full_runs = []
        for d in (days[100], days[300]):
            t = time.perf_counter()
            reclassify(settings, d, "qd2686")
            full_runs.append(time.perf_counter() - t)
        t = time.perf_counter()
        runs = backfill.backfill(settings, days[0], days[-1], "qd2686")
        backfill_s = time.perf_counter() - t
        levels_bytes = [sum(f.stat().st_size for f in (settings.runs_dir / r["run_id"]).iterdir()) for r in runs[:-1]]
    per_day = statistics.median(single)
    ratio = year_s / (per_day * DAYS)
    counts = {name: int((res.commune.levels == code).sum()) for code, name in enumerate(["safe", "risk", "high_risk", "very_high_risk"])}
    lines = [
        "## History: a national year at once", "",
        f"Written by `benchmarks/bench_history.py` on {dt.date.today().isoformat()}: {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores. {len(units):,} communes x {DAYS} days "
        f"({len(units) * DAYS:,} commune-days), {N_CASES:,} synthetic community cases (seed {SEED}), ruleset qd2686.", "",
        "| stage of the year evaluation | seconds |", "|---|---:|",
        *[f"| {k} | {v:.2f} |" for k, v in stages.items()],
        f"| **whole year** | **{year_s:.1f}** |", "",
        f"Single-day evaluation (same inputs, no publishing): median {per_day:.2f} s over {len(single)} days spread over "
        f"the year, so 365 days take about {per_day * DAYS:.0f} s.", "",
        f"- year <= {TARGET_S:.0f} s: **{'met' if year_s <= TARGET_S else 'NOT met'}** ({year_s:.1f} s)",
        f"- year / 365 single days <= {TARGET_RATIO}: **{'met' if ratio <= TARGET_RATIO else 'NOT met'}** ({ratio:.3f})", "",
        f"Commune-days per level: {counts}, unknown {int((res.commune.levels < 0).sum()):,}.", "",
        "### `backfill --from 2021-01-01 --to 2021-12-31` (evaluation and publishing)", "",
        f"- {len(runs)} runs published in **{backfill_s:.0f} s** ({backfill_s / len(runs):.2f} s per day, "
        f"{min(os.cpu_count() or 1, 2)} worker processes writing the day tables); "
        f"single-day `reclassify` (evaluate + full publish) median {statistics.median(full_runs):.1f} s, so 365 of them "
        f"take about {statistics.median(full_runs) * DAYS:.0f} s: ratio **{backfill_s / (statistics.median(full_runs) * DAYS):.2f}**.",
        f"- A backfilled day is a levels run: median {statistics.median(levels_bytes) / 1e6:.2f} MB on disk "
        f"(three gzipped tables and the day's lockdowns; geometry is stored once per boundary version), "
        f"{sum(levels_bytes) / 1e6:.0f} MB for the year; the newest day is a full run with map and tiles.",
    ]
    write_section("history", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
