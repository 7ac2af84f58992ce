"""The committee's page on the national layer: size of the page and first render in Chromium.

    .venv/bin/python benchmarks/bench_map.py [--shared ../shared/data] [--repeat 3]

Imports the national 2009 layer (11,163 communes) with 100,000 SYNTHETIC cases (bench_national's
generator), publishes one day, serves it with gunicorn (the production command, 2 workers) and
opens /map in Debian's Chromium driven by Playwright, every outside request refused. "First
render" is from navigation until the page is ready (runs listed, layers set) and the last tile of
the first view has arrived: on the first visit after the server starts, and again (median). The
overview tiles (zooms 0-6) are published with the run; anything closer is rendered on request. The server
runs as the README's production command (gunicorn, 4 workers).
Targets (issue 5): page <= 5 MB, first render <= 3 s. Writes the "map" section of RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import national  # noqa: E402
from geo import offline  # noqa: E402
from geo.pipeline import load_rulesets  # noqa: E402
from national import DAY  # noqa: E402
from results import write_section  # noqa: E402

TARGET_MB, TARGET_S = 5.0, 3.0


def first_render(chromium: str, url: str) -> tuple[float, int, int]:
    """(seconds to a ready page with its first view's tiles, page bytes, tiles loaded)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        tiles, last = [], [0.0]

        def finished(r):
            if ".png" in r.url:
                tiles.append(r.url)
                last[0] = time.perf_counter()
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(url.split("/map")[0]) else r.abort())
        page.on("requestfinished", finished)
        t = time.perf_counter()
        resp = page.goto(url, wait_until="load")
        page.wait_for_selector("body[data-zones-ready='1']")
        ready = time.perf_counter()
        page.wait_for_load_state("networkidle")     # (500 ms without requests: not counted)
        seconds = max(ready, last[0]) - t
        size = len(resp.body())
        browser.close()
    print(f"page ready {ready - t:.2f} s, last tile {last[0] - t:.2f} s, {len(tiles)} tiles", file=sys.stderr)
    return seconds, size, len(tiles)


def start_browser_once(chromium: str) -> None:
    """Chromium's own first start on a machine (profile, fonts) is not our page's first render."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        browser.new_page().goto("about:blank")
        browser.close()


def offline_open(chromium: str, path: Path) -> float:
    """Seconds until the single-file export has drawn every commune (file://, nothing else allowed)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
        t = time.perf_counter()
        page.goto(path.as_uri())
        page.wait_for_function("() => window.zonesOffline !== undefined", timeout=60000)
        seconds = time.perf_counter() - t
        browser.close()
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    src = national.source(args.shared)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium not installed (scripts/setup.sh)")
    with tempfile.TemporaryDirectory() as tmp:
        settings, store, run = national.publish_day(src, tmp)
        html_path = Path(tmp) / "offline.html"
        html_path.write_text(offline.page(store, settings.runs_dir / run["run_id"], run, load_rulesets()["qd2686"], "vi",
                                          ROOT / "node_modules"), encoding="utf-8")
        offline_bytes = html_path.stat().st_size
        offline_s = offline_open(chromium, html_path)
        start_browser_once(chromium)
        with national.gunicorn(tmp) as base:
            url = f"{base}/map?date={DAY.isoformat()}"
            cold, size, n_tiles = first_render(chromium, url)
            warm = [first_render(chromium, url)[0] for _ in range(args.repeat)]
    warm_s = statistics.median(warm)
    lines = [
        "## The committee's page, national layer", "",
        f"Written by `benchmarks/bench_map.py` on {dt.date.today().isoformat()}: {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores, gunicorn 4 workers, Debian Chromium (Playwright), "
        f"1366 x 768. National 2009 layer (11,163 communes), 100,000 synthetic cases, one day published.", "",
        "| | value |", "|---|---:|",
        f"| page HTML | {size / 1024:.1f} KB |",
        f"| tiles in the first view | {n_tiles} |",
        f"| first render, first visit (server just started; overview tiles published with the run) | {cold:.2f} s |",
        f"| first render, later visits (median of {len(warm)}) | {warm_s:.2f} s |",
        f"| `export --format html` single file (communes, provinces, lockdowns, explanations) | {offline_bytes / 1e6:.2f} MB |",
        f"| that file opened from disk until every commune is drawn | {offline_s:.2f} s |", "",
        f"- page <= {TARGET_MB:.0f} MB: **{'met' if size <= TARGET_MB * 1e6 else 'NOT met'}**",
        f"- single-file export <= {TARGET_MB:.0f} MB: **{'met' if offline_bytes <= TARGET_MB * 1e6 else 'NOT met'}**",
        f"- first render <= {TARGET_S:.0f} s: first visit **{'met' if cold <= TARGET_S else 'NOT met'}**, "
        f"later visits **{'met' if warm_s <= TARGET_S else 'NOT met'}**",
    ]
    write_section("map", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
