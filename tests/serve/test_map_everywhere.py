"""One map everywhere: what a committee member sees first at a desktop's 1366x768 and a phone's 390x844 (the red
area, the list), a unit picked on a phone, the list and the trend for the day and area shown, a level declared in
the console on the map at once, the keyboard, and the offline file: the same page, opened from a disk.

Pixel checks read nothing from the page's own code: the published GeoJSON gives each commune's level and shape,
the legend chip its colour, and the screenshot the pixels."""
from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import urllib.request

import numpy as np
import pytest
import shapely
from browsing import DAY, NEEDS_BROWSER, Visit, _check_pixels, _checkable, _day, _get_json, _legend, _names_off
from helpers import ROOT, gunicorn

pytestmark = NEEDS_BROWSER
SIZES = {"desktop": (1366, 768), "phone": (390, 844)}
HOT = ("very_high_risk", "high_risk")


def _visit(browser, base: str, size: str, url: str = f"/map?date={DAY}") -> Visit:
    w, h = SIZES[size]
    extra = {"is_mobile": True, "has_touch": True} if size == "phone" else {}
    return Visit(browser, base, url, width=w, height=h, wait=url.startswith("/map"), **extra)


def _image(png: bytes):
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _screen_boxes(page, geoms) -> list[tuple[float, float, float, float]]:
    """Each geometry's box in the page's pixels."""
    boxes = shapely.bounds(geoms).tolist()
    return page.evaluate("""bs => bs.map(b => { const m = zonesApi.map;
        const a = m.latLngToContainerPoint([b[1], b[0]]), c = m.latLngToContainerPoint([b[3], b[2]]);
        return [Math.min(a.x, c.x), Math.min(a.y, c.y), Math.max(a.x, c.x), Math.max(a.y, c.y)]; })""", boxes)


def _ui_boxes(page) -> list:
    return page.evaluate("""() => ['#zones-bar', '#zones-side', '#zones-panel:not([hidden])', '.leaflet-control']
        .flatMap(s => [...document.querySelectorAll(s)]).map(e => { const r = e.getBoundingClientRect();
        return [r.left, r.top, r.right, r.bottom]; })""")


@pytest.mark.parametrize("size", SIZES)
def test_red_and_orange_are_seen_at_the_home_view_and_no_name_covers_them(browser, sample_server, size):
    """At the view the page opens on, every red and orange commune on the map shows its colour (a mark of it
    when it is too small to see), and no place name stands over red or orange (a hot commune's own name aside,
    drawn without its white halo)."""
    base, _ = sample_server
    v = _visit(browser, base, size)
    page, day = v.page, _day(base, DAY)
    legend = _legend(page)
    labels = page.evaluate("""() => [...document.querySelectorAll('.zones-label:not(.zones-label-on-hot)')]
        .map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom, e.textContent]; })""")
    assert len(labels) >= 3, labels                                      # names are there
    with_names = _image(page.screenshot())
    _names_off(page)
    bare = _image(page.screenshot())
    hot = {tuple(legend[lv]) for lv in HOT}
    # no name over red or orange: under each label's box, the bare map has none of their pixels
    for x0, y0, x1, y1, name in labels:
        under = bare[max(0, int(y0)):int(y1) + 1, max(0, int(x0)):int(x1) + 1].reshape(-1, 3)
        assert not any(tuple(p) in hot for p in under), f"{name} covers red or orange"
    # every red or orange commune in the open part of the screen shows its colour, names on
    h, w = with_names.shape[:2]
    ui = _ui_boxes(page)
    ks = [k for k, lv in enumerate(day["level"]) if lv in HOT]
    seen, shown = 0, 0
    for k, (x0, y0, x1, y1) in zip(ks, _screen_boxes(page, day["geom"][ks]), strict=True):
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        if not (0 <= cx < w and 0 <= cy < h) or any(a <= cx <= c and b <= cy <= d for a, b, c, d in ui):
            continue
        shown += 1
        box = with_names[max(0, int(y0) - 6):int(y1) + 7, max(0, int(x0) - 6):int(x1) + 7].reshape(-1, 3)
        want = tuple(legend[day["level"][k]])
        if any(tuple(p) == want for p in box):
            seen += 1
    assert shown >= 10 and seen == shown, (seen, shown)
    v.close()


def test_the_list_comes_first_and_the_legend_folds(browser, sample_server):
    base, _ = sample_server
    v = _visit(browser, base, "desktop")
    page = v.page
    rows = page.evaluate("""() => { const box = document.getElementById('zones-hot-list').getBoundingClientRect();
        return [...document.querySelectorAll('#zones-hot-list li[data-k]')].filter(li => {
            const r = li.getBoundingClientRect(); return r.top >= box.top && r.bottom <= box.bottom; }).length; }""")
    assert rows >= 5, rows
    assert page.is_hidden("#zones-legend-body")
    summary = page.inner_text("#zones-legend-summary")                 # the counts stay in sight, folded
    counts = next(r for r in _get_json(base, "/api/runs")["runs"] if r["date"] == DAY)["counts"]["commune"]
    assert all(str(counts[lv]) in summary for lv in HOT), summary
    page.click("#zones-legend-toggle")
    assert page.is_visible("#zones-legend-items")
    v.close()


def test_a_unit_picked_on_a_phone_is_fitted_above_its_panel(browser, sample_server):
    base, _ = sample_server
    v = _visit(browser, base, "phone")
    page, day = v.page, _day(base, DAY)
    page.click("#zones-hot-toggle")
    page.click("#zones-hot-list li[data-k] >> nth=0")
    page.wait_for_selector("#zones-panel:not([hidden])")
    page.wait_for_timeout(600)
    code = page.evaluate("document.body.dataset.zonesSelected").split(":")[1]
    k = day["code"].index(code)
    x0, y0, x1, y1 = _screen_boxes(page, day["geom"][[k]])[0]
    panel = page.evaluate("() => document.getElementById('zones-panel').getBoundingClientRect().top")
    bar = page.evaluate("() => document.getElementById('zones-bar').getBoundingClientRect().bottom")
    assert bar <= y0 and y1 <= panel and 0 <= x0 and x1 <= SIZES["phone"][0], ((x0, y0, x1, y1), bar, panel)
    zoom_out = page.evaluate("() => document.querySelector('.leaflet-control-zoom-out').getBoundingClientRect().bottom")
    assert zoom_out <= panel                                             # the zoom buttons above the sheet
    page.keyboard.press("Escape")                                         # Escape closes the panel
    assert page.is_hidden("#zones-panel")
    zoom_out = page.evaluate("() => document.querySelector('.leaflet-control-zoom-out').getBoundingClientRect().bottom")
    sheet = page.evaluate("() => document.getElementById('zones-side').getBoundingClientRect().top")
    assert zoom_out <= sheet
    v.close()


def test_the_list_and_the_trend_follow_the_day_and_the_area_shown(browser, sample_server):
    base, _ = sample_server
    v = _visit(browser, base, "desktop")
    page = v.page
    assert page.inner_text("#zones-hot-title") == "Vùng đỏ / cam ngày 31/07/2021"
    page.click("#zones-prev")
    page.wait_for_function("() => document.getElementById('zones-hot-title').textContent.includes('30/07/2021')")
    want = len(_get_json(base, "/api/hotspots?date=2021-07-30")["units"])
    assert page.inner_text("#zones-hot-count") == f"({want})" and "hôm nay" not in page.inner_text("#zones-hot")
    page.click("#zones-trend-toggle")
    src = page.get_attribute("#zones-trend-img", "src")
    province = page.input_value("#zones-province")
    assert f"code={province}" in src and "to=2021-07-30" in src
    with urllib.request.urlopen(base + src, timeout=30) as r:
        svg = r.read().decode()
    body = _get_json(base, f"/api/trend?to=2021-07-30&code={province}")
    for lv in HOT:      # red and orange on their own scale, each day's value written into the chart
        values = [int(x) for x in re.findall(rf'data-level="{lv}" data-date="[^"]+" data-value="(\d+)"', svg)]
        assert values == [d["units"][lv] for d in body["days"]]
    assert body["words"] in svg.replace("&gt;", ">") or body["words"].split(":")[0] in svg
    assert re.search(r"vùng đỏ (thu hẹp|mở rộng|không đổi)", svg)
    v.close()


def test_the_keyboard_reaches_everything_with_a_visible_focus(browser, sample_server):
    base, _ = sample_server
    with urllib.request.urlopen(base + f"/map?date={DAY}", timeout=30) as r:
        assert "user-scalable=no" not in r.read().decode()               # a member may zoom the page
    v = _visit(browser, base, "desktop")
    page = v.page
    outlines = []
    for _ in range(12):
        page.keyboard.press("Tab")
        outlines.append(page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
            return [document.activeElement.id || document.activeElement.tagName, parseFloat(s.outlineWidth), s.outlineColor]; }"""))
    assert all(w >= 2 and c.startswith("rgb(11, 87, 208)") for _, w, c in outlines), outlines
    # the skip link leads past the red/orange list
    page.focus("#zones-skip")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "zones-trend-toggle"
    v.close()


@pytest.fixture(scope="module")
def own_site(sample_site, tmp_path_factory):
    """A copy of the sample served on its own (a declaration made here stays here)."""
    data, _ = sample_site
    copy = tmp_path_factory.mktemp("declared") / "data"
    shutil.copytree(data, copy, ignore=shutil.ignore_patterns("*.lock"))
    with gunicorn(copy) as base:
        yield base, copy


def test_a_level_declared_shows_at_once_on_the_map_the_panel_and_the_report(browser, own_site):
    """A level declared after the run (no new run) is drawn at once where it differs, with a rail visible on
    every level colour, and the panel and the morning report say it."""
    base, data = own_site
    day = _day(base, DAY)
    k = day["level"].index("very_high_risk")
    code = day["code"][k]
    env = {"ZONES_DATA_DIR": str(data), "PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin"}
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "server", "declare", "--unit", code, "--level",
                           "risk", "--from", DAY, "--decision", "77/QĐ-UBND", "--by", "BCĐ tỉnh"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    zone = _get_json(base, f"/api/zones/{code}?date={DAY}")
    assert zone["declared_level"] == "risk" and zone["level_differs"] and zone["declared_decision"] == "77/QĐ-UBND"
    v = _visit(browser, base, "desktop")
    page = v.page
    i = page.evaluate(f"() => zonesApi.state.index.units.commune.code.indexOf('{code}')")
    page.wait_for_function(f"() => zonesApi.state.differs.has({i})")
    page.evaluate("b => zonesApi.map.fitBounds([[b[1], b[0]], [b[3], b[2]]], {animate: false, maxZoom: 14})",
                  list(map(float, shapely.bounds(day["geom"][k]))))
    page.wait_for_selector("body[data-zones-drawn='1']")
    _names_off(page)
    x0, y0, x1, y1 = _screen_boxes(page, day["geom"][[k]])[0]
    img = _image(page.screenshot())
    edge = img[int(y0):int(y1) + 1, int(x0):int(x1) + 1].reshape(-1, 3)
    dark = (edge.max(axis=1) < 40).sum()
    light = (edge.min(axis=1) > 235).sum()
    assert dark > 20 and light > 5, (dark, light)                    # the black and white rail, on red
    v.close()
    report = urllib.request.urlopen(base + f"/report?date={DAY}", timeout=60).read().decode()
    declared = report.split('id="declared"')[1].split("</table>")[0]
    assert day["name"][k] in declared


def test_the_offline_file_is_the_same_map_with_no_request(browser, sample_site, tmp_path):
    """The exported file opens from a disk with no request at all and reads like the live page: exact legend
    colours, names, the red and orange list, a unit's panel with reasons, measures and outlook, search."""
    data, _ = sample_site
    out = tmp_path / "usb" / "ban-do.html"
    out.parent.mkdir()
    env = {"ZONES_DATA_DIR": str(data), "PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin"}
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "server", "export", "--date", DAY, "--format",
                           "html", "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size < 5_000_000
    for size in SIZES:
        _read_offline(browser, out, data, size)


def _read_offline(browser, out, data, size: str) -> None:
    w, h = SIZES[size]
    ctx = browser.new_context(viewport={"width": w, "height": h}, device_scale_factor=1)
    page = ctx.new_page()
    requests, errors = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.route("**/*", lambda r: (requests.append(r.request.url),
                                  r.continue_() if r.request.url.startswith("file:") else r.abort()))
    page.goto(out.as_uri())
    page.wait_for_selector("body[data-zones-ready='1'][data-zones-drawn='1']", timeout=60_000)
    page.wait_for_timeout(300)
    assert page.locator(".zones-label").count() >= 3                 # names
    assert page.locator("#zones-hot-list li[data-k]").count() >= 10   # the red and orange list
    if size == "desktop":
        live = _published_colours(data)
        legend = _legend(page)
        assert {lv: tuple(legend[lv]) for lv in live} == live         # the legend's colours are the run's
        _names_off(page)
        day = _offline_day(data)
        seen = _check_pixels(page.screenshot(), day, _checkable(page, day), lambda lv: legend[lv])
        assert sum(seen.values()) >= 40, seen
        page.fill("#zones-search", "vinh nguyen")                    # search without tones
        page.wait_for_selector(".zones-hit")
        page.click(".zones-hit >> nth=0")
        page.wait_for_selector("#zones-panel:not([hidden])")
        panel = page.inner_text("#zones-panel")
        assert "Vĩnh Nguyên" in panel and "Lý do" in panel and "Biện pháp" in panel and "Nếu không có ca mới" in panel
    ctx.close()
    assert requests == [out.as_uri()] and errors == [], (requests, errors)


def _published_colours(data) -> dict:
    """Each level's colour as the day's run publishes it (its communes' `color`), as RGB."""
    run = next(p for p in (data / "runs").iterdir() if p.name.startswith(DAY))
    colours: dict = {}
    for feat in json.loads((run / "commune.geojson").read_text(encoding="utf-8"))["features"]:
        p = feat["properties"]
        colours.setdefault(p["level"], tuple(int(p["color"][i:i + 2], 16) for i in (1, 3, 5)))
    return colours


def _offline_day(data) -> dict:
    """The published communes of DAY read from the run's own GeoJSON (no server for the offline file)."""
    from pyproj import Transformer
    run = next(p for p in (data / "runs").iterdir() if p.name.startswith(DAY))
    feats = json.loads((run / "commune.geojson").read_text(encoding="utf-8"))["features"]
    geoms = np.array([shapely.from_geojson(json.dumps(f["geometry"])) for f in feats], dtype=object)
    to_m = Transformer.from_crs(4326, 3857, always_xy=True)
    merc = shapely.transform(geoms, lambda c: np.column_stack(to_m.transform(c[:, 0], c[:, 1])))
    return {"code": [f["properties"]["code"] for f in feats], "name": [f["properties"]["name"] for f in feats],
            "level": [f["properties"]["level"] for f in feats], "geom": geoms, "merc": merc,
            "point": shapely.point_on_surface(geoms), "point_m": shapely.point_on_surface(merc)}


def test_the_report_links_its_other_forms_fits_a_phone_and_prints_the_map_first(browser, sample_server, tmp_path):
    base, _ = sample_server
    v = _visit(browser, base, "phone", f"/report?date={DAY}")
    page = v.page
    assert page.evaluate("document.documentElement.scrollWidth") <= SIZES["phone"][0]
    links = page.inner_text("#links")
    assert "PDF" in links and "Excel" in links and "Bản đồ" in links
    v.close()
    from pypdf import PdfReader
    with urllib.request.urlopen(base + f"/report?date={DAY}&format=pdf", timeout=120) as r:
        (tmp_path / "r.pdf").write_bytes(r.read())
    pages = [p.extract_text() for p in PdfReader(tmp_path / "r.pdf").pages]
    first_map = next(i for i, t in enumerate(pages) if "Xã đỏ:" in t)
    assert first_map <= 1, first_map                                     # the province map on page 1 or 2
    assert "Bản PDF để in" not in "".join(pages)                          # the links are for the screen
