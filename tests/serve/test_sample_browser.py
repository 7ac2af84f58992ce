"""README command (1) as a user runs it: the sample through scripts/run-sample.sh, served by
gunicorn (the production command), opened in Chromium with every non-local host blocked."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from helpers import ROOT

VENV_BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DAY = "2021-07-31"


def test_sample_imports_cleanly_and_publishes(sample_site):
    data, out = sample_site
    assert "Đã nhập 289 xã, 17 huyện, 2 tỉnh" in out
    assert out.count("loại 0 dòng") == 3          # cases, lockdowns and flags: nothing rejected
    assert "Bản đồ / map: http://127.0.0.1:8000/map?date=2021-07-31" in out
    assert "Đã công bố 14 ngày từ 2021-07-17 đến 2021-07-30" in out and (data / f"bao-cao-{DAY}.html").exists()
    run = next((data / "runs").glob(f"{DAY}_*"))
    communes = json.loads((run / "commune.geojson").read_text(encoding="utf-8"))["features"]
    props = {f["properties"]["code"]: f["properties"] for f in communes}
    assert len(props) == 289
    levels = {p["level"] for p in props.values()}
    assert {"safe", "risk", "high_risk", "very_high_risk"} <= levels
    assert sum(p["lockdown"] for p in props.values()) >= 2            # SYN-01 and SYN-02 are active on 31/7
    assert any("R2" in p["reasons"] for p in props.values())          # the industrial-zone cases


def test_gunicorn_serves_the_api(sample_server):
    base, _ = sample_server
    with urllib.request.urlopen(base + "/api/runs") as res:
        runs = json.load(res)["runs"]
    # two weeks backfilled (17-30 July), then the daily run of the 31st
    assert [r["date"] for r in runs] == [f"2021-07-{d}" for d in range(17, 32)]
    with urllib.request.urlopen(f"{base}/report?date={DAY}") as res:
        report = res.read().decode("utf-8")
    assert "Báo cáo phân vùng nguy cơ COVID-19 — ngày 31/07/2021" in report and "So với ngày: 30/07/2021" in report


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (scripts/setup.sh installs it)")
def test_map_renders_in_chromium_with_the_network_blocked(sample_server, sample_site, tmp_path):
    """Chromium on its own (no driver): the page draws the sample's communes in their exact colours
    from our own tiles, with every other host unreachable."""
    from PIL import Image
    base, log = sample_server
    shot = tmp_path / "map.png"
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--enable-logging=stderr", "--v=0", "--window-size=1200,900", "--virtual-time-budget=10000"]
    dom = subprocess.run(args + ["--dump-dom", f"{base}/map?date={DAY}"], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "Uncaught" in line or "Error" in line], console
    assert 'id="zones-legend"' in dom.stdout and "leaflet-container" in dom.stdout
    assert "Vùng nguy cơ rất cao (đỏ)" in dom.stdout and 'data-zones-ready="1"' in dom.stdout
    subprocess.run(args + [f"--screenshot={shot}", f"{base}/map?date={DAY}"], capture_output=True, timeout=120)
    requested = [line.split('"')[1].split()[1] for line in log.read_text().splitlines() if '"GET ' in line]
    assert any(u.startswith("/tiles/shapes/") and u.endswith(".mvt") for u in requested), requested
    assert any(u.endswith("/map-levels.json") for u in requested), requested
    img = Image.open(shot).convert("RGB")
    colours = {rgb for _, rgb in img.getcolors(1_000_000)}
    # every level of the day is drawn in exactly its legend colour (no tint, no transparency)
    run = next((sample_site[0] / "runs").glob(f"{DAY}_*"))
    communes = json.loads((run / "commune.geojson").read_text(encoding="utf-8"))["features"]
    for hex_colour in {f["properties"]["color"] for f in communes}:
        rgb = tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
        assert rgb in colours, (hex_colour, "not drawn")


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    return sync_playwright


@pytest.mark.skipif(CHROMIUM is None or _playwright() is None, reason="chromium or playwright not installed (scripts/setup.sh)")
def test_offline_html_file_opens_with_no_request_at_all(sample_site, tmp_path):
    data, _ = sample_site
    out = tmp_path / "ban-do.html"
    env = {**os.environ, "ZONES_DATA_DIR": str(data)}
    done = subprocess.run([str(VENV_BIN / "flask"), "--app", "server", "export", "--date", DAY, "--format", "html",
                           "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Đã ghi 289 đơn vị" in done.stdout, done.stderr
    assert out.stat().st_size < 5_000_000
    usb = tmp_path / "usb" / "copy.html"              # works wherever the file goes
    usb.parent.mkdir()
    shutil.copy(out, usb)
    with _playwright()() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        requests, errors = [], []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.route("**/*", lambda r: (requests.append(r.request.url), r.continue_() if r.request.url.startswith("file:") else r.abort()))
        page.goto(usb.as_uri())
        page.wait_for_selector("body[data-zones-ready='1'][data-zones-drawn='1']", timeout=60_000)
        run = next((data / "runs").glob(f"{DAY}_*"))
        counts = json.loads((run / "manifest.json").read_text(encoding="utf-8"))["counts"]["commune"]
        shown = page.evaluate("() => Object.fromEntries([...document.querySelectorAll('.zones-count')]"
                              ".map(e => [e.dataset.level, Number(e.textContent.replace(/\\D/g, ''))]))")
        assert shown == counts                                           # every commune of the day counted
        page.click("#zones-hot-list li[data-k] >> nth=0")                # the list opens a unit's panel
        page.wait_for_selector("#zones-panel:not([hidden])")
        assert "Vùng" in page.inner_text("#zones-panel")
        browser.close()
    assert requests == [usb.as_uri()] and errors == [], (requests, errors)
