"""National benchmark on today's units: the 3,321 wards and 34 provinces of 1/7/2025 (two levels, no
districts), population from the 2019 census (scripts/population_2025.py), 100,000 synthetic cases over
14 days, one day reclassified and published.

    .venv/bin/python benchmarks/bench_vn2025.py [--shared ../shared/data] [--repeat 3]

Target: whole run <= 5 s on this 2-core machine (issue 14). The baseline measured in the same run is the
bare STRtree query of the same points (as in bench_national.py). Writes benchmarks/RESULTS.md.
The cases are SYNTHETIC (seeded), generated here.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_national import SEED, TARGET_RUN_S, daily_runs  # noqa: E402
from results import write_section  # noqa: E402

from geo.base import config  # noqa: E402
from geo.ingest.units import import_units  # noqa: E402
from geo.store.database import Store  # noqa: E402

WARDS = "vn_admin_2025_wards/vn_wards_2025_simplified_0p001.geojson"
PROVINCES = "vn_admin_2025_wards/vn_provinces_2025_full.gpkg"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    src = args.shared / WARDS
    if not src.exists():
        sys.exit(f"2025 ward layer not found: {src}")
    rng = np.random.default_rng(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        pop = Path(tmp) / "population-2025.csv"
        subprocess.run([sys.executable, str(ROOT / "scripts" / "population_2025.py"), "--shared", str(args.shared),
                        "--out", str(pop)], check=True, capture_output=True)
        settings = config.from_env({"ZONES_DATA_DIR": tmp, "ZONES_QUALITY_GATE": "off"})
        store = Store(settings.db_path)
        t = time.perf_counter()
        report = import_units(store, src, "vn2025", {"name": "fullName"}, None, settings.reports_dir,
                              provinces_path=args.shared / PROVINCES, population_path=pop)
        t_units = time.perf_counter() - t
        m = daily_runs(settings, store, "vn2025", rng, Path(tmp), args.repeat)
    imp, t_shapes, total, stages, assign = (m[k] for k in ("imp", "t_shapes", "total", "stages", "assign"))
    lines = [
        "## National daily run on the 2025 units (two levels)", "",
        f"Written by `benchmarks/bench_vn2025.py` on {dt.date.today().isoformat()}: "
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, "
        f"median of {args.repeat} runs.", "",
        f"2025 wards: {report['n_communes']:,} wards, {report['n_provinces']} provinces, no districts "
        f"(levels {' → '.join(report['levels'])}); population from the 2019 census through the crosswalks "
        f"({', '.join(f'{k} {v}' for k, v in report['population_file']['by_method'].items())}); "
        f"{imp['accepted']:,} synthetic community cases over 14 days (seed {SEED}).", "",
        "| stage | seconds |", "|---|---:|",
        *[f"| {k} | {v:.3f} |" for k, v in stages.items()],
        f"| **whole run (wall clock)** | **{total:.2f}** |", "",
        f"Target: whole run <= {TARGET_RUN_S:.0f} s: **{'met' if total <= TARGET_RUN_S else 'NOT met'}**.", "",
        f"Baseline in the same run: assigning the {assign['points']:,} points, ours {assign['ours_s']:.4f} s against a bare "
        f"STRtree query {assign['bare_s']:.4f} s (**{assign['ratio']:.2f}x**).", "",
        f"One-off: import-units with the nesting check and population {t_units:.1f} s; the version's shapes {t_shapes:.1f} s.", "",
    ]
    write_section("national_2025", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
