"""A large line list imported by this checkout and by the previous import, in the same run: seconds
and peak memory (resident set) of `import_cases` on a store holding the national 2009 layer.

    .venv/bin/python benchmarks/bench_import.py [--shared ../shared/data] [--rows 1000000] [--baseline REV] [--repeat 3]

The line list is SYNTHETIC (seeded, generated here): case_id, report_date over 60 days, commune_code
drawn from the 11,163 communes, community / source_known flags, 10% with a cluster, 1% with a
setting, age and sex: the columns of an office's line list, without personal columns. Each import
runs in a fresh Python process (its peak memory is its own) on a fresh copy of the same store; this
checkout's import is run --repeat times and the median (by seconds) reported, the baseline's once.
The previous import is the repository at --baseline (default: the last commit before the chunked,
columnar import), checked out with `git worktree` into benchmarks/work/ and run with our virtualenv.
Targets (issue 28; issue 12 asked 15 s): 1,000,000 rows in <= 10 s with <= 1 GB peak. Writes the "import" section of RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from results import write_section  # noqa: E402

WORK = ROOT / "benchmarks" / "work"
# The last commit whose import read a case file whole, row by row.
BASELINE = "789e486"
TARGET_S, TARGET_MB = 10.0, 1024
DAY = dt.date(2021, 7, 31)
# Run in a fresh interpreter for each import: the checkout's own geo package, its peak RSS in MB.
CHILD = """
import json, resource, shutil, sys, time
from pathlib import Path
repo, store_copy, cases, data = sys.argv[1:5]
sys.path.insert(0, repo)
try:
    from geo.base import config
    from geo.ingest.cases import import_cases
    from geo.store.database import Store
except ImportError:                     # a checkout from before the stage packages (the baseline)
    from geo import config
    from geo.cases import import_cases
    from geo.store import Store
Path(data).mkdir(parents=True, exist_ok=True)
shutil.copy(store_copy, Path(data) / "zones.sqlite")
settings = config.from_env({"ZONES_DATA_DIR": data})
start = time.perf_counter()
r = import_cases(Store(settings.db_path), Path(cases), settings.rejects_dir, config.today())
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "accepted": r["accepted"], "rejected": r["rejected"]}))
"""


def units_store(shared: Path) -> Path:
    """A store with the national 2009 layer and nothing else, made once."""
    from bench_national import MAPPING

    from geo.base import config
    from geo.ingest.units import import_units
    from geo.store.database import Store
    base = WORK / "import-units"
    if not (base / "zones.sqlite").exists():
        src = shared / "vn_communes_2009_census" / "communes_2009.geojson"
        if not src.exists():
            sys.exit(f"national layer not found: {src}")
        shutil.rmtree(base, ignore_errors=True)
        settings = config.from_env({"ZONES_DATA_DIR": str(base)})
        import_units(Store(settings.db_path), src, "vn2009", MAPPING, None, settings.reports_dir)
    return base / "zones.sqlite"


def line_list(store: Path, rows: int) -> Path:
    """SYNTHETIC line list of `rows` cases over the store's communes (seed 12)."""
    import sqlite3
    path = WORK / f"import-cases-{rows}.csv"
    if path.exists():
        return path
    with sqlite3.connect(store) as con:
        codes = np.array([r[0] for r in con.execute("SELECT code FROM units WHERE unit = 'commune'")])
    rng = np.random.default_rng(12)
    days = np.array([(DAY - dt.timedelta(days=k)).isoformat() for k in range(60)])
    pd.DataFrame({
        "case_id": [f"BN{i:07d}" for i in range(rows)], "report_date": days[rng.integers(0, 60, rows)],
        "commune_code": codes[rng.integers(0, len(codes), rows)],
        "community": np.where(rng.random(rows) < 0.6, "true", "false"),
        "source_known": np.where(rng.random(rows) < 0.8, "true", "false"),
        "cluster_id": np.where(rng.random(rows) < 0.1, "K" + rng.integers(0, 5000, rows).astype(str), ""),
        "source_setting": np.where(rng.random(rows) < 0.01, "school", ""),
        "age": rng.integers(1, 90, rows), "sex": np.where(rng.random(rows) < 0.5, "nam", "nữ"),
    }).to_csv(path, index=False)
    return path


def baseline_checkout(rev: str) -> Path:
    tree = WORK / f"baseline-{rev}"
    if not (tree / "geo").exists():
        WORK.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--force", "--detach", str(tree), rev],
                       check=True, capture_output=True)
    return tree


def measure(repo: Path, store: Path, cases: Path, name: str) -> dict:
    data = WORK / f"import-run-{name}"
    shutil.rmtree(data, ignore_errors=True)
    out = subprocess.run([sys.executable, "-c", CHILD, str(repo), str(store), str(cases), str(data)],
                         check=True, capture_output=True, text=True, cwd=repo)
    shutil.rmtree(data, ignore_errors=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--baseline", default=BASELINE)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    store = units_store(args.shared)
    cases = line_list(store, args.rows)
    runs = sorted((measure(ROOT, store, cases, "ours") for _ in range(args.repeat)), key=lambda r: r["seconds"])
    ours = runs[len(runs) // 2]
    print("ours", runs, flush=True)
    base = measure(baseline_checkout(args.baseline), store, cases, "baseline")
    print("baseline", base, flush=True)
    scale = args.rows / 1_000_000           # the targets are for a million rows
    met_s = ours["seconds"] <= TARGET_S * scale
    met_mb = ours["peak_mb"] <= TARGET_MB
    write_section("import", [
        f"## Import of a large line list (`benchmarks/bench_import.py`, {dt.date.today().isoformat()})",
        "",
        f"{args.rows:,} SYNTHETIC rows (case_id, dates, commune_code, flags, cluster, setting, age, sex) into a store "
        f"holding the 2009 national layer; each import in a fresh process. Machine: {platform.machine()}, "
        f"Python {platform.python_version()}. Baseline: commit `{args.baseline}` (whole file, row by row), same run.",
        "",
        "| import | seconds | peak memory (MB) | accepted | rejected |",
        "|---|---:|---:|---:|---:|",
        f"| this checkout (median of {args.repeat}) | {ours['seconds']:.1f} | {ours['peak_mb']:.0f} | {ours['accepted']:,} | {ours['rejected']:,} |",
        f"| baseline `{args.baseline}` | {base['seconds']:.1f} | {base['peak_mb']:.0f} | {base['accepted']:,} | "
        f"{base['rejected']:,} |",
        "",
        f"- Speed-up: {base['seconds'] / ours['seconds']:.1f}x; memory: {ours['peak_mb'] / base['peak_mb']:.2f}x of the baseline.",
        f"- Target <= {TARGET_S * scale:.0f} s: {'met' if met_s else 'NOT met'}; <= {TARGET_MB} MB: "
        f"{'met' if met_mb else 'NOT met'}.",
        "- Where the time goes (profile, a million rows): reading the file (pyarrow) ~0.6 s; parsing and placing "
        "~2.9 s (dates, numbers, pseudonyms, row hashes; the polygons read without their GeoJSON texts); binding "
        "rows into a temporary table ~1.4 s; the upsert of each chunk into `cases` runs on a helper thread while the "
        "next chunk is parsed, so only the last chunk's is waited for (SQLite releases the interpreter lock; binding "
        "does not, so it stays on the main thread); the date index and the commit ~1.3 s at the end.",
    ])


if __name__ == "__main__":
    main()
