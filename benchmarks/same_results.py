"""The results are the same before and after the speed work (issue 28): a backfilled month and the national day,
published by this checkout and by --baseline (a git worktree in benchmarks/work/), from copies of one data folder.

    .venv/bin/python benchmarks/same_results.py [--shared ../shared/data] [--baseline fbc2901]

The national 2009 layer and 100,000 SYNTHETIC cases (bench_commands' data); `backfill` of 04/07-30/07/2021 (levels
runs) then `reclassify` of 31/07/2021 (a full run). Compared, each run's id set aside: every day's tables of every
kind of unit (levels, reasons, explanations, inputs, outlook), its manifest's input digests, counts and quality
facts, its map table; the national day's GeoJSON files byte for byte and its GeoPackage's tables (what the exports
are made from). Writes the "same" section of RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import national  # noqa: E402
from bench_commands import BACKFILL, DAY, MAPPING, prepare  # noqa: E402
from bench_import import baseline_checkout  # noqa: E402
from results import write_section  # noqa: E402

from geo.store import runfiles  # noqa: E402
from geo.store.database import Store  # noqa: E402

BASELINE = "fbc2901"        # main before issue 28's second round of work
MANIFEST_KEYS = ("input_hashes", "counts", "quality", "cases_not_in_boundaries", "cases_followed", "n_active_lockdowns")
FILES = ("commune.geojson", "district.geojson", "province.geojson", "lockdown.geojson", "map-levels.json")


def publish(repo: Path, data: Path) -> None:
    """The month backfilled, then the national day, by the code of `repo`."""
    env = {**os.environ, "ZONES_DATA_DIR": str(data), "ZONES_QUALITY_GATE": "off"}
    flask = [str(Path(sys.executable).parent / "flask"), "--app", "server"]
    for args in (["backfill", "--from", BACKFILL[0].isoformat(), "--to", BACKFILL[1].isoformat()],
                 ["reclassify", "--date", DAY.isoformat()]):
        subprocess.run([*flask, *args], cwd=repo, env=env, check=True, capture_output=True)


def _records(run_dir: Path, unit: str, run_id: str) -> list[dict]:
    df = runfiles.attributes(run_dir, unit).replace(run_id, "RUN")
    return json.loads(df.to_json(orient="records", double_precision=15, force_ascii=False))


def differences(before: Path, after: Path) -> tuple[int, list[str]]:
    """(days compared, what differs)."""
    stores = {"before": Store(before / "zones.sqlite"), "after": Store(after / "zones.sqlite")}
    days = [BACKFILL[0] + dt.timedelta(days=k) for k in range((DAY - BACKFILL[0]).days + 1)]
    out = []
    for day in days:
        runs = {k: s.run_for_date(day.isoformat()) for k, s in stores.items()}
        dirs = {k: (before if k == "before" else after) / "runs" / r["run_id"] for k, r in runs.items()}
        ids = {k: r["run_id"] for k, r in runs.items()}
        if runfiles.kind(dirs["before"]) != runfiles.kind(dirs["after"]):
            out.append(f"{day}: kind of run")
            continue
        for unit in runfiles.kinds(dirs["after"]):
            if _records(dirs["before"], unit, ids["before"]) != _records(dirs["after"], unit, ids["after"]):
                out.append(f"{day} {unit}: table")
        for key in MANIFEST_KEYS:
            if runs["before"]["manifest"].get(key) != runs["after"]["manifest"].get(key):
                out.append(f"{day}: manifest {key}")
        for name in FILES if runfiles.kind(dirs["after"]) == runfiles.FULL else ("map-levels.json",):
            a, b = ((dirs[k] / name).read_bytes().replace(ids[k].encode(), b"RUN") for k in ("before", "after"))
            if a != b:
                out.append(f"{day} {name}: bytes")
    return len(days), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--baseline", default=BASELINE)
    args = ap.parse_args()
    old = baseline_checkout(args.baseline)
    if not (old / "node_modules").exists():
        (old / "node_modules").symlink_to(ROOT / "node_modules")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        prepare(data, national.source(args.shared), "vn2009", MAPPING, DAY)
        shutil.copytree(data, Path(tmp) / "before", symlinks=True)
        shutil.move(data, Path(tmp) / "after")
        publish(old, Path(tmp) / "before")
        publish(ROOT, Path(tmp) / "after")
        n, diff = differences(Path(tmp) / "before", Path(tmp) / "after")
    lines = [
        "## The same results before and after",
        "",
        f"Written by `benchmarks/same_results.py` on {dt.date.today().isoformat()}: this checkout against `{args.baseline}`,"
        f" from copies of one data folder (national 2009 layer, 100,000 synthetic cases): `backfill` "
        f"{BACKFILL[0]:%d/%m}–{BACKFILL[1]:%d/%m/%Y} then `reclassify` {DAY:%d/%m/%Y}. Each day's tables of every kind "
        "of unit, its manifest's input digests, counts and quality facts and its map table; the national day's GeoJSON "
        "files byte for byte and its GeoPackage's tables.",
        "",
        f"- {n} days compared: **{'identical' if not diff else f'{len(diff)} differences'}**",
        *[f"  - {d}" for d in diff[:20]],
    ]
    write_section("same", lines)
    print("\n".join(lines))
    if diff:
        sys.exit(1)


if __name__ == "__main__":
    main()
