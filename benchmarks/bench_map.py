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
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from geo import config  # noqa: E402
from geo.cases import import_cases  # noqa: E402
from geo.pipeline import reclassify  # noqa: E402
from geo.store import Store  # noqa: E402
from geo.units import import_units  # noqa: E402
from bench_national import MAPPING, synthetic_cases  # noqa: E402
from results import write_section  # noqa: E402

DAY = dt.date(2021, 7, 31)
TARGET_MB, TARGET_S = 5.0, 3.0


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    src = args.shared / "vn_communes_2009_census" / "communes_2009.geojson"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not src.exists() or chromium is None:
        sys.exit(f"needs {src} and chromium (scripts/setup.sh)")
    with tempfile.TemporaryDirectory() as tmp:
        settings = config.from_env({"ZONES_DATA_DIR": tmp})
        store = Store(settings.db_path)
        import_units(store, src, "vn2009", MAPPING, None, settings.reports_dir)
        cases = Path(tmp) / "cases.csv"
        synthetic_cases(store.load_units("vn2009"), np.random.default_rng(2021)).to_csv(cases, index=False)
        import_cases(store, cases, settings.rejects_dir, config.today())
        run = reclassify(settings, DAY)
        from geo import offline
        from geo.pipeline import load_rulesets
        html_path = Path(tmp) / "offline.html"
        html_path.write_text(offline.page(store, settings.runs_dir / run["run_id"], store.run_by_id(run["run_id"]),
                                          load_rulesets()["qd2686"], "vi", ROOT / "node_modules"), encoding="utf-8")
        offline_bytes = html_path.stat().st_size
        offline_s = offline_open(chromium, html_path)
        port = _port()
        venv = Path(sys.executable).parent
        server = subprocess.Popen([str(venv / "gunicorn"), "--workers", "4", "--bind", f"127.0.0.1:{port}",
                                   "server:create_app()"], cwd=ROOT, env={**os.environ, "ZONES_DATA_DIR": tmp},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    urllib.request.urlopen(base + "/api/runs", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            url = f"{base}/map?date={DAY.isoformat()}"
            cold, size, n_tiles = first_render(chromium, url)
            warm = [first_render(chromium, url)[0] for _ in range(args.repeat)]
        finally:
            server.terminate()
            server.wait(timeout=10)
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
