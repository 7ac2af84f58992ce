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

from helpers import ROOT, free_port, wait_until_serving

VENV_BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DAY = "2021-07-31"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    data = tmp_path_factory.mktemp("sample") / "data"
    env = {**os.environ, "ZONES_DATA_DIR": str(data), "NO_SERVE": "1", "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
    out = subprocess.run(["bash", "scripts/run-sample.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr + out.stdout
    return data, out.stdout


@pytest.fixture(scope="module")
def served(sample, tmp_path_factory):
    data, _ = sample
    port = free_port()
    log = tmp_path_factory.mktemp("gunicorn") / "access.log"
    proc = subprocess.Popen([str(VENV_BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}",
                             "--access-logfile", str(log), "server:create_app()"],
                            cwd=ROOT, env={**os.environ, "ZONES_DATA_DIR": str(data)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(base + "/api/runs")
    yield base, log
    proc.terminate()
    proc.wait(timeout=10)


def test_sample_imports_cleanly_and_publishes(sample):
    data, out = sample
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


def test_gunicorn_serves_the_api(served):
    base, _ = served
    runs = json.load(urllib.request.urlopen(base + "/api/runs"))["runs"]
    # two weeks backfilled (17-30 July), then the daily run of the 31st
    assert [r["date"] for r in runs] == [f"2021-07-{d}" for d in range(17, 32)]
    report = urllib.request.urlopen(f"{base}/report?date={DAY}").read().decode("utf-8")
    assert f"Báo cáo phân vùng nguy cơ — {DAY}" in report and "So với ngày: 2021-07-30" in report


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (scripts/setup.sh installs it)")
def test_map_renders_in_chromium_with_the_network_blocked(served, tmp_path):
    from PIL import Image
    base, log = served
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
    for layer in ("commune", "province", "lockdown", "differs"):
        assert any(f"/{layer}/" in u and u.endswith(".png") for u in requested), requested
    img = Image.open(shot).convert("RGB")
    img.paste((255, 255, 255), (0, img.height - 300, 320, img.height))   # hide the legend's swatches
    colours = {rgb for _, rgb in img.getcolors(1_000_000)}
    # fill colours are drawn at 75 % opacity over the grey background: look for blends of each level
    def near(target):
        return any(all(abs(c - t) < 40 for c, t in zip(rgb, target)) for rgb in colours)
    assert near((215, 25, 28)) or near((221, 74, 72)), "no red commune drawn"
    assert near((46, 158, 68)) or near((90, 174, 106)), "no green commune drawn"


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    return sync_playwright


@pytest.mark.skipif(CHROMIUM is None or _playwright() is None, reason="chromium or playwright not installed (scripts/setup.sh)")
def test_committee_uses_the_page_offline(served):
    """Search, click a commune, pick a date, filter levels, switch palette and language, play: in
    Debian's Chromium driven by Playwright, with every request outside our server refused."""
    base, _ = served
    runs = json.load(urllib.request.urlopen(base + "/api/runs"))["runs"]
    by_date = {r["date"]: r for r in runs}
    with _playwright()() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        errors, outside, tiles = [], [], []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        def gate(route):
            if route.request.url.startswith(base):
                if ".png" in route.request.url or ".mvt" in route.request.url:
                    tiles.append(route.request.url)
                return route.continue_()
            outside.append(route.request.url)
            return route.abort()
        page.route("**/*", gate)
        resp = page.goto(f"{base}/map?date={DAY}")
        # the page works under its Content-Security-Policy: a refused script would be a console error below
        assert "'nonce-" in resp.headers["content-security-policy"] and "unsafe-inline" not in \
            resp.headers["content-security-policy"].split("script-src")[1].split(";")[0]
        page.wait_for_selector("body[data-zones-ready='1']")
        counts = {el.get_attribute("data-level"): int(el.inner_text().replace(".", ""))
                  for el in page.query_selector_all(".zones-count")}
        assert counts == by_date[DAY]["counts"]["commune"]
        # the run's vector tiles, decoded and drawn by the page (Leaflet.VectorGrid from npm)
        assert page.evaluate("() => zonesApi.showVector()") is True
        page.wait_for_function("() => document.querySelectorAll('svg.leaflet-tile path').length > 0")
        assert any(u.endswith(".mvt") and by_date[DAY]["run_id"] in u for u in tiles)
        # search without diacritics, jump there
        zoom = page.evaluate("() => window[JSON.parse(document.getElementById('zones-config').textContent).map].getZoom()")
        page.fill("#zones-search", "cam ranh")
        page.wait_for_selector(".zones-hit")
        assert page.inner_text(".zones-hit >> nth=0").startswith("Thành phố Cam Ranh")
        page.click(".zones-hit >> nth=0")
        page.wait_for_timeout(500)
        assert page.evaluate("() => window[JSON.parse(document.getElementById('zones-config').textContent).map].getZoom()") > zoom
        # a click on the map: the unit's panel with its level, reasons and the 60-day chart
        page.mouse.click(650, 450)
        page.wait_for_selector("#zones-panel:not([hidden]) svg.zones-chart")
        body = page.inner_text("#zones-panel-body")
        assert "Lý do" in body and "Dân số" in body and "Thành phố Cam Ranh" in body
        assert len(page.query_selector_all("svg.zones-chart rect")) == 120      # 60 bars + 60 level cells
        # another date: every layer now reads that day's run
        page.select_option("#zones-date", "2021-07-20")
        page.wait_for_timeout(800)
        assert page.url.endswith("date=2021-07-20")
        assert page.evaluate("() => zonesApi.showVector()") is False     # a backfilled day has no vector tiles
        assert any(by_date["2021-07-20"]["run_id"] in u for u in tiles)
        # only red and orange communes, colour-blind palette
        page.uncheck('input[data-level="safe"]')
        page.uncheck('input[data-level="risk"]')
        page.select_option("#zones-palette", "cb")
        page.wait_for_timeout(800)
        assert any("levels=" in u and "palette=cb" in u and "safe" not in u.split("levels=")[1] for u in tiles)
        # play through the days after the 20th
        page.click("#zones-play")
        page.wait_for_function("() => document.getElementById('zones-date').value > '2021-07-21'", timeout=10000)
        page.click("#zones-play")
        # English on request
        page.click("#zones-lang")
        page.wait_for_selector("body[data-zones-ready='1']")
        assert "Legend" in page.inner_text("#zones-legend") and "lang=en" in page.url
        browser.close()
    assert outside == [] and errors == [], (outside, errors)


@pytest.mark.skipif(CHROMIUM is None or _playwright() is None, reason="chromium or playwright not installed (scripts/setup.sh)")
def test_offline_html_file_opens_with_no_request_at_all(sample, tmp_path):
    data, _ = sample
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
        page.wait_for_function("() => window.zonesOffline !== undefined")
        drawn = page.evaluate("() => [zonesOffline.communes, zonesOffline.drawn, zonesOffline.provinces, zonesOffline.lockdowns]")
        assert drawn[:3] == [289, 289, 2] and drawn[3] >= 2
        page.evaluate("() => { const l = zonesOffline.communesLayer.getLayers()[0]; l.fire('click', {latlng: l.getBounds().getCenter()}); }")
        popup = page.inner_text(".leaflet-popup-content")
        assert "Vùng" in popup and "(" in popup
        run = next((data / "runs").glob(f"{DAY}_*"))
        red = json.loads((run / "manifest.json").read_text(encoding="utf-8"))["counts"]["commune"]["very_high_risk"]
        assert f"Vùng nguy cơ rất cao (đỏ) ({red})" in page.inner_text("#legend")
        browser.close()
    assert requests == [usb.as_uri()] and errors == [], (requests, errors)
