"""The committee's page against the previous page, both measured in this run, at province and
national scale: bytes and requests of a first visit, time to the first tile drawn and to every
commune drawn, in Debian's Chromium (Playwright), every outside request refused.

    .venv/bin/python benchmarks/bench_map.py [--shared ../shared/data] [--baseline REV] [--repeat 3]

Scales: the embedded sample (Thừa Thiên Huế and Khánh Hòa, scripts/run-sample.sh) and the national
2009 layer (11,163 communes) with 100,000 SYNTHETIC cases (bench_national's generator). The previous
page is the repository at --baseline (default: the last commit before the vector page), checked out
with `git worktree` into benchmarks/work/, with its own web assets (npm ci) and its own data folder
made by its own commands; both are served by gunicorn (2 workers) the same way.

- bytes: what went over the wire (headers and encoded bodies) on a visit with an empty browser cache;
- first tile: from navigation until the first map tile is drawn (Leaflet marks it loaded);
- all drawn: until the last tile of the first view is drawn (no tile pending, network idle).
Times are the median of --repeat visits, each in a fresh browser context against a warm server.
Targets (issue 11): first visit <= 250 KB, first tile <= 1 s, national all drawn <= 2 s.
Writes the "map" section of RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import national  # noqa: E402

WORK = ROOT / "benchmarks" / "work"
DAY = "2021-07-31"
# The last commit whose /map drew the raster-tile page.
BASELINE = "a628d7a"
TARGET_KB, TARGET_FIRST_S, TARGET_NATIONAL_S = 250, 1.0, 2.0
# Issue 28: the national first visit and the largest worker after the national map, tiles and exports.
TARGET_NATIONAL_KB, TARGET_WORKER_MB = 450, 300
# Records when each Leaflet tile is marked loaded (both pages are Leaflet grids of tiles).
OBSERVER = """
window.__tiles = {first: null, last: null, pending: 0};
new MutationObserver((changes) => {
  for (const c of changes) {
    const el = c.target;
    if (c.type === 'attributes' && el.classList && el.classList.contains('leaflet-tile-loaded') && !el.__counted) {
      el.__counted = true;
      const t = performance.now();
      if (window.__tiles.first === null) { window.__tiles.first = t; }
      window.__tiles.last = t;
    }
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['class']});
"""


def baseline_checkout(rev: str) -> Path:
    """The previous page's code in a worktree, with its own npm assets; our virtualenv serves both."""
    tree = WORK / f"baseline-{rev}"
    if not (tree / "server.py").exists():
        WORK.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--force", "--detach", str(tree), rev], check=True,
                       capture_output=True)
    if not (tree / "node_modules" / "leaflet").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=tree, check=True)
    if not (tree / ".venv").exists():
        (tree / ".venv").symlink_to(ROOT / ".venv")
    return tree


def sample_data(repo: Path, data: Path) -> Path:
    """The embedded sample published by `repo`'s own scripts/run-sample.sh."""
    if not (data / "zones.sqlite").exists():
        env = {**os.environ, "ZONES_DATA_DIR": str(data), "NO_SERVE": "1"}
        subprocess.run(["bash", "scripts/run-sample.sh"], cwd=repo, env=env, check=True, capture_output=True)
    return data


def national_data(repo: Path, data: Path, shared: Path) -> Path:
    """The national day published by `repo`'s own code (its benchmarks/national.py)."""
    if not (data / "zones.sqlite").exists():
        src = shared / "vn_communes_2009_census" / "communes_2009.geojson"
        code = ("import sys; from pathlib import Path; sys.path[:0] = ['.', 'benchmarks']; import national; "
                f"national.publish_day(Path({str(src)!r}), {str(data)!r})")
        subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", code], cwd=repo, check=True)
    return data


def visit(browser, base: str, url: str) -> dict:
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    page.add_init_script(OBSERVER)
    sizes, outside = [], []
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else (outside.append(r.request.url), r.abort()))
    page.on("requestfinished", lambda r: sizes.append(r.sizes()))
    t0 = time.perf_counter()
    page.goto(base + url)
    page.wait_for_load_state("networkidle", timeout=60000)
    page.wait_for_timeout(300)
    tiles = page.evaluate("() => ({...window.__tiles, start: performance.timeOrigin})")
    nav = page.evaluate("() => performance.getEntriesByType('navigation')[0].startTime")
    out = {"bytes": sum(s["responseBodySize"] + s["responseHeadersSize"] + s["requestHeadersSize"] for s in sizes),
           "requests": len(sizes), "first": (tiles["first"] - nav) / 1000 if tiles["first"] else None,
           "all": (tiles["last"] - nav) / 1000 if tiles["last"] else None, "outside": outside,
           "wall": time.perf_counter() - t0}
    ctx.close()
    return out


def measure(browser, base: str, repeat: int, scale: str) -> dict:
    # the national view is the whole country (the previous page opened there anyway)
    url = f"/map?date={DAY}" + ("&province=all" if scale == "national" else "")
    first = visit(browser, base, url)         # an empty cache: bytes and requests of a first visit
    runs = [visit(browser, base, url) for _ in range(repeat)]
    return {"bytes": first["bytes"], "requests": first["requests"], "outside": first["outside"],
            "first": statistics.median(r["first"] for r in runs), "all": statistics.median(r["all"] for r in runs)}


def after_use(base: str, master: int) -> float:
    """The largest worker's resident memory (MB) after the national map (visited above), picture tiles over the
    country and an export of every commune."""
    import urllib.request
    run = json.loads(urllib.request.urlopen(f"{base}/api/runs").read())["runs"][-1]["run_id"]
    for z, x, y in [(6, 50, 28), (6, 51, 28), (6, 51, 29), (7, 101, 57), (7, 102, 58), (8, 204, 114)]:
        for _ in range(2):      # every worker once (two workers)
            urllib.request.urlopen(f"{base}/tiles/runs/{run}/commune/{z}/{x}/{y}.png").read()
    for fmt in ("geojson", "gpkg", "xlsx"):
        for _ in range(2):
            urllib.request.urlopen(f"{base}/api/exports/{fmt}?run={run}", timeout=300).read()
    return max(national.workers_rss_mb(master))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--baseline", default=BASELINE)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium not installed (scripts/setup.sh)")
    old = baseline_checkout(args.baseline)
    data = WORK / "map-data"
    for ours in data.glob("*-ours"):        # the previous page's data is kept; ours is made by this checkout now
        shutil.rmtree(ours)
    setups = {
        ("province", "previous"): (old, sample_data(old, data / "province-previous")),
        ("province", "ours"): (ROOT, sample_data(ROOT, data / "province-ours")),
        ("national", "previous"): (old, national_data(old, data / "national-previous", args.shared)),
        ("national", "ours"): (ROOT, national_data(ROOT, data / "national-ours", args.shared)),
    }
    results = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        browser.new_page().goto("about:blank")          # Chromium's own first start is not a page's
        for key, (repo, folder) in setups.items():
            master: list[int] = []
            with national.gunicorn(folder, workers=2, extra=("--threads", "4"), repo=repo, master=master) as base:
                results[key] = measure(browser, base, args.repeat, key[0])
                if key == ("national", "ours"):
                    results[key]["worker_mb"] = after_use(base, master[0])
            print(key, results[key], file=sys.stderr)
        browser.close()

    def row(scale: str, what: str, fmt, lower_better=True) -> str:
        a, b = results[(scale, "previous")][what], results[(scale, "ours")][what]
        return f"| {scale} | {what_names[what]} | {fmt(a)} | {fmt(b)} | {b / a:.2f} |"
    what_names = {"bytes": "first visit, transferred", "requests": "first visit, requests",
                  "first": "first tile drawn", "all": "every commune drawn"}
    kb, n, s = (lambda v: f"{v / 1024:.0f} KB"), (lambda v: f"{v}"), (lambda v: f"{v:.2f} s")
    prov, nat = results[("province", "ours")], results[("national", "ours")]
    met = lambda ok: "met" if ok else "NOT met"  # noqa: E731
    lines = [
        "## The committee's page: ours against the previous page", "",
        f"Written by `benchmarks/bench_map.py` on {dt.date.today().isoformat()}: {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores, gunicorn 2 workers x 4 threads, Debian Chromium "
        f"(Playwright), 1366 x 768, every outside request refused. Previous page: commit `{args.baseline}` (raster tiles), "
        "checked out and served in this same run with its own data. Province: the embedded sample; national: the 2009 "
        f"layer (11,163 communes) with 100,000 synthetic cases. Times: median of {args.repeat} visits with an empty cache.", "",
        "| scale | measure | previous page | ours | ours / previous |", "|---|---|---:|---:|---:|",
        row("province", "bytes", kb), row("province", "requests", n), row("province", "first", s), row("province", "all", s),
        row("national", "bytes", kb), row("national", "requests", n), row("national", "first", s), row("national", "all", s), "",
        f"- first visit <= {TARGET_KB} KB (province): **{met(prov['bytes'] <= TARGET_KB * 1024)}** ({prov['bytes'] / 1024:.0f} KB)",
        f"- first tile <= {TARGET_FIRST_S:.0f} s: province **{met(prov['first'] <= TARGET_FIRST_S)}**, "
        f"national **{met(nat['first'] <= TARGET_FIRST_S)}**",
        f"- national, every commune drawn <= {TARGET_NATIONAL_S:.0f} s: **{met(nat['all'] <= TARGET_NATIONAL_S)}** "
        f"({nat['all']:.2f} s)",
        f"- national first visit <= {TARGET_NATIONAL_KB} KB: **{met(nat['bytes'] <= TARGET_NATIONAL_KB * 1024)}** "
        f"({nat['bytes'] / 1024:.0f} KB; the red/orange list comes a page of 100 at a time)",
        f"- the largest worker after the national map, picture tiles and exports (GeoJSON, GeoPackage, XLSX) <= "
        f"{TARGET_WORKER_MB} MB: **{met(nat['worker_mb'] <= TARGET_WORKER_MB)}** ({nat['worker_mb']:.0f} MB)",
        f"- requests outside our server: {sum(len(r['outside']) for r in results.values())}",
    ]
    from results import write_section
    write_section("map", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
