"""The committee's page as a committee member uses it: Debian's Chromium driven by Playwright, every
request outside our server refused, on the embedded sample served by gunicorn.

The colour checks read nothing from the page's own code: the published GeoJSON gives each commune's
level, shapely its representative point, the legend chip its colour, and the pixel is read from a
screenshot. Points closer than a few pixels to a boundary (or inside another commune of the 2009
layer, which overlaps itself) are left out: everything else must be exactly its legend's colour.
"""
from __future__ import annotations

import io
import json
import math
import re
import urllib.error
import urllib.request

import pytest
import shapely
from browsing import (  # noqa: F401  (names the tests below use)
    BACKGROUND,
    CHROMIUM,
    DAY,
    MARGIN_PX,
    NEEDS_BROWSER,
    SHOTS,
    UI,
    Visit,
    _check_pixels,
    _checkable,
    _day,
    _get_json,
    _legend,
    _levels_only,
    _playwright,
    _set_view,
)

pytestmark = NEEDS_BROWSER


def test_every_commune_is_its_legend_colour(browser, sample_server):
    base, _ = sample_server
    v = Visit(browser, base, f"/map?date={DAY}")
    page = v.page
    day = _day(base, DAY)
    _levels_only(page)
    legend = _legend(page)
    checked: dict[str, int] = {}
    red = {c for c, lv in zip(day["code"], day["level"], strict=False) if lv == "very_high_risk"}
    for view in (None, red):        # the province as it opens, then zoomed on the red wards of Nha Trang
        if view is not None:
            _set_view(page, day, view)
        for lv, n in _check_pixels(page.screenshot(), day, _checkable(page, day), lambda lv: legend[lv]).items():
            checked[lv] = checked.get(lv, 0) + n
    assert {lv for lv in day["level"]} <= set(checked), checked            # every level of the day checked
    assert sum(checked.values()) >= 60, checked
    # only red: red communes keep their colour, every other commune shows the map's background
    for lv in ("high_risk", "risk", "safe", "unknown"):
        page.uncheck(f'input[data-level="{lv}"]')
    page.wait_for_timeout(200)
    only_red = _check_pixels(page.screenshot(), day, _checkable(page, day),
                             lambda lv: legend[lv] if lv == "very_high_risk" else BACKGROUND)
    assert only_red.get("very_high_risk", 0) >= 3 and len(only_red) >= 3, only_red
    # the colour-blind palette: the legend changes, and every commune follows it exactly
    for lv in ("high_risk", "risk", "safe", "unknown"):
        page.check(f'input[data-level="{lv}"]')
    page.select_option("#zones-palette", "cb")
    page.wait_for_timeout(200)
    cb = _legend(page)
    assert cb != legend
    seen = _check_pixels(page.screenshot(), day, _checkable(page, day), lambda lv: cb[lv])
    assert len(seen) >= 3, seen
    v.close()


def test_play_through_shows_every_day_in_its_own_colours(browser, sample_server):
    base, _ = sample_server
    v = Visit(browser, base, f"/map?date={DAY}")
    page = v.page
    _levels_only(page)
    legend = _legend(page)
    dates = [r["date"] for r in _get_json(base, "/api/runs")["runs"]][-30:]
    shapes_before = len([u for u in v.requests if u.startswith("/tiles/shapes/")])
    day0 = _day(base, DAY)
    points = _checkable(page, day0)           # the view does not move while playing
    page.click("#zones-play")
    frames = []
    for d in dates:
        page.wait_for_selector(f"body[data-zones-date='{d}']", timeout=15000)
        frames.append((d, page.screenshot()))
    page.wait_for_selector("#zones-play:has-text('▶')", timeout=5000)
    changed = 0
    for d, png in frames:
        day = _day(base, d)
        assert day["code"] == day0["code"]
        _check_pixels(png, day, points, lambda lv: legend[lv])
        changed += day["level"] != day0["level"]
    assert len(frames) == len(dates) == 15 and changed >= 5
    # re-coloured from the geometry already held: not one shape tile fetched again
    assert len([u for u in v.requests if u.startswith("/tiles/shapes/")]) == shapes_before
    v.close()


def _label_boxes(page):
    return page.evaluate("() => [...document.querySelectorAll('.zones-label')].map(e => { const r = e.getBoundingClientRect();"
                         " return {text: e.textContent, kind: e.className, box: [r.left, r.top, r.right, r.bottom]}; })")


def _overlaps(labels) -> list:
    out = []
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            p, q = a["box"], b["box"]
            if p[0] < q[2] - 0.5 and p[2] > q[0] + 0.5 and p[1] < q[3] - 0.5 and p[3] > q[1] + 0.5:
                out.append((a["text"], b["text"]))
    return out


def test_names_are_placed_and_never_overlap(browser, sample_server):
    base, _ = sample_server
    v = Visit(browser, base, f"/map?date={DAY}")
    page = v.page
    day = _day(base, DAY)
    page.wait_for_selector(".zones-label")
    home = _label_boxes(page)
    kinds = {k for lab in home for k in lab["kind"].split()}
    assert "zones-label-p" in kinds and "zones-label-d" in kinds, home          # province and district names
    assert any(lab["text"] == "Khánh Hòa" or "Khánh Hòa" in lab["text"] for lab in home), home
    assert not _overlaps(home)
    nha_trang = {c for c, n, d in zip(day["code"], day["name"], day["district"], strict=False)
                 if n.startswith("Phường") and d == "Thành phố Nha Trang"}
    _set_view(page, day, nha_trang, zoom=13)
    page.wait_for_timeout(300)
    close = _label_boxes(page)
    communes = [lab for lab in close if "zones-label-c" in lab["kind"].split()]
    assert len(communes) >= 8 and not _overlaps(close), close
    assert {lab["text"] for lab in communes} <= set(day["name"])
    v.close()


def test_search_ranks_names_highlights_and_opens_the_panel(browser, sample_server):
    base, _ = sample_server
    v = Visit(browser, base, f"/map?date={DAY}")
    page = v.page
    day = _day(base, DAY)
    page.fill("#zones-search", "vinh hai")
    page.wait_for_selector(".zones-hit")
    hits = [h.inner_text() for h in page.query_selector_all(".zones-hit")]
    assert hits[0].startswith("Phường Vĩnh Hải") and "Vùng nguy cơ cao (cam)" in hits[0], hits
    assert not any("Sơn Thái" in h for h in hits), hits
    page.click(".zones-hit >> nth=0")
    code = day["code"][day["name"].index("Phường Vĩnh Hải")]
    page.wait_for_selector(f"body[data-zones-selected='commune:{code}']")
    page.wait_for_selector("#zones-panel:not([hidden]) .zones-chart")
    assert "Phường Vĩnh Hải" in page.inner_text("#zones-panel-body")
    page.wait_for_selector("body[data-zones-drawn='1']")
    page.wait_for_timeout(400)
    # the chosen commune is outlined in black and white along its boundary
    from PIL import Image
    img = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    k = day["code"].index(code)
    ring = shapely.segmentize(day["geom"][k].boundary, 0.001)
    coords = shapely.get_coordinates(ring)[::3]
    xy = page.evaluate("pts => pts.map(p => { const c = zonesApi.map.latLngToContainerPoint([p[1], p[0]]); return [c.x, c.y]; })",
                       coords.tolist())
    w, h = page.viewport_size["width"], page.viewport_size["height"]
    on_screen = [(x, y) for x, y in xy if 3 <= x < w - 3 and 3 <= y < h - 3]
    outlined = [any(img.getpixel((int(x) + dx, int(y) + dy)) in ((0, 0, 0), (255, 255, 255))
                    for dx in range(-2, 3) for dy in range(-2, 3)) for x, y in on_screen]
    assert len(on_screen) >= 10 and sum(outlined) / len(outlined) > 0.8, (len(on_screen), sum(outlined))
    v.close()


def test_red_and_orange_list_is_in_the_stated_order(browser, sample_server):
    base, _ = sample_server
    today, yesterday = _get_json(base, f"/api/zones.geojson?date={DAY}"), _get_json(base, "/api/zones.geojson?date=2021-07-30")
    before = {f["properties"]["code"]: f["properties"]["level"] for f in yesterday["features"]}
    rank = {"very_high_risk": 3, "high_risk": 2, "risk": 1, "safe": 0, "unknown": -1}
    expected = []
    for f in today["features"]:
        p = f["properties"]
        if p["level"] not in ("very_high_risk", "high_risk"):
            continue
        was = rank.get(before.get(p["code"]), -2)
        newly_red = p["level"] == "very_high_risk" and was < 3
        change = 0 if newly_red else 1 if was < rank[p["level"]] else 2 if was == rank[p["level"]] else 3
        expected.append((-rank[p["level"]], change, -p["community_cases"], p["name"], p["code"]))
    expected = [e[-1] for e in sorted(expected)]
    v = Visit(browser, base, f"/map?date={DAY}")
    page = v.page
    shown = page.evaluate("() => [...document.querySelectorAll('#zones-hot-list li[data-code]')].map(li => li.dataset.code)")
    assert shown == expected
    first = page.inner_text("#zones-hot-list li >> nth=0")
    assert "mới đỏ" in first and "giữ 1 ngày" in first and "ca" in first
    page.click("#zones-hot-list li >> nth=0")
    page.wait_for_selector(f"body[data-zones-selected='commune:{expected[0]}']")
    page.wait_for_selector("#zones-panel:not([hidden])")
    v.close()

    # a long list (a national day has thousands of orange communes) comes a page at a time, the worst first: here
    # pages of 5, as if the day had twenty times as many; "show more" reads the next page, in the same order
    pages = _get_json(base, f"/api/hotspots?date={DAY}&limit=5"), _get_json(base, f"/api/hotspots?date={DAY}&offset=5&limit=5")
    assert [u["code"] for p in pages for u in p["units"]] == expected[:10] and pages[0]["total"] == len(expected)
    assert (pages[0]["offset"], pages[1]["offset"], pages[0]["limit"]) == (0, 5, 5)
    v = Visit(browser, base, f"/map?date={DAY}")
    v.page.route("**/api/hotspots?*", lambda route: route.continue_(
        url=route.request.url + ("" if "limit=" in route.request.url else "&limit=5")))
    v.page.goto(f"{base}/map?date={DAY}")
    v.page.wait_for_selector("#zones-hot-next")
    shown = lambda: v.page.evaluate("() => [...document.querySelectorAll('#zones-hot-list li[data-code]')].map(li => li.dataset.code)")  # noqa: E731
    assert shown() == expected[:5] and f"({len(expected)})" in v.page.inner_text("#zones-hot-count")
    while v.page.query_selector("#zones-hot-next"):
        n = len(shown())
        v.page.click("#zones-hot-next")
        v.page.wait_for_selector(f"#zones-hot-list li[data-k='{n}']")
    assert shown() == expected
    v.close()


def test_phone_screen_holds_everything(browser, sample_server):
    base, _ = sample_server
    v = Visit(browser, base, f"/map?date={DAY}", width=390, height=844, has_touch=True, is_mobile=True)
    page = v.page

    def inside(selector):
        r = page.evaluate(f"() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                          " return [r.left, r.top, r.right, r.bottom]; }")
        assert r[0] >= 0 and r[1] >= 0 and r[2] <= 390 and r[3] <= 844 and r[2] > r[0] and r[3] > r[1], (selector, r)
        return r
    bar = inside("#zones-bar")
    inside("#zones-search")
    page.fill("#zones-search", "phuoc")
    page.wait_for_selector(".zones-hit")
    for k in range(len(page.query_selector_all(".zones-hit"))):
        inside(f".zones-hit:nth-child({k + 1})") if k < 6 else None
    inside("#zones-results")
    page.tap(".zones-hit >> nth=0")
    page.wait_for_selector("#zones-panel:not([hidden]) .zones-chart")
    panel = inside("#zones-panel")
    assert panel[1] > bar[3]                                          # the sheet does not cover the bar
    page.tap("#zones-close")
    page.tap("#zones-legend-toggle")
    inside("#zones-legend-body")
    inside("#zones-legend-toggle")
    page.tap("#zones-hot-toggle")
    inside("#zones-hot")
    assert page.evaluate("() => document.querySelector('meta[name=viewport]') !== null && document.documentElement.lang") == "vi"
    v.close()


def test_a_day_without_a_run_is_an_html_notice(browser, sample_server):
    base, _ = sample_server
    v = Visit(browser, base, "/map?date=2021-08-15", wait=False)
    page = v.page
    assert v.response.status == 404 and "text/html" in v.response.headers["content-type"]
    text = page.inner_text("body")
    assert "Chưa có kết quả công bố cho ngày 15/08/2021" in text and "31/07/2021" in text
    assert v.errors == ["Failed to load resource: the server responded with a status of 404 (NOT FOUND)"]
    v.errors.clear()                          # the notice's own status, as asked: nothing else went wrong
    page.click("a")
    v.ready()
    assert page.evaluate("() => document.body.dataset.zonesDate") == DAY
    v.close()
    req = urllib.request.Request(base + "/map?date=2021-08-15", headers={"Accept": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    with err.value:
        assert err.value.code == 404 and json.load(err.value)["error"] == "no_run_for_date"
    report = urllib.request.Request(base + "/report?date=2021-08-15", headers={"Accept": "text/html"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(report)
    with err.value:
        body = err.value.read().decode()
    assert err.value.code == 404 and "<html lang=\"vi\">" in body and "/report?date=2021-07-31" in body


def test_words_on_screen_in_both_languages(browser, sample_server):
    base, _ = sample_server
    v = Visit(browser, base, f"/map?date={DAY}")
    page = v.page
    page.click("#zones-hot-list li >> nth=0")
    page.wait_for_selector("#zones-panel:not([hidden]) .zones-chart")
    text = page.inner_text("body")
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", text), "an ISO date on screen"
    for raw in ("very_high_risk", "high_risk", "qd2686", "Leaflet", "max", "vector", "cửa sổ", "_2026"):
        assert raw not in text, raw
    assert page.title() == "Phân vùng nguy cơ COVID-19 — 31/07/2021"
    scale = page.inner_text(".leaflet-control-scale")
    assert ("km" in scale or " m" in scale) and "mi" not in scale and "ft" not in scale
    assert page.get_attribute(".leaflet-control-zoom-in", "title") == "Phóng to"
    assert page.input_value("#zones-date") == DAY and "31/07/2021" in page.inner_text("#zones-date")
    page.click("#zones-lang")
    v.ready()
    en = page.inner_text("body")
    assert "Legend" in en and "Red / orange on 31/07/2021" in en and "Chú giải" not in en and "Tìm xã" not in en
    assert page.get_attribute(".leaflet-control-zoom-in", "title") == "Zoom in"
    assert page.evaluate("() => document.documentElement.lang") == "en"
    v.close()


def test_pages_have_viewport_and_language(sample_server):
    base, _ = sample_server
    for path in (f"/map?date={DAY}", f"/report?date={DAY}", "/rulesets/qd2686", "/rulesets/qd2686?lang=en"):
        with urllib.request.urlopen(base + path) as r:
            page = r.read().decode()
        assert 'name="viewport"' in page and re.search(r'<html lang="(vi|en)"', page), path
    with urllib.request.urlopen(base + "/rulesets/qd2686") as r:
        rules = r.read().decode()
    # settings as a readable table: their meaning, not only their keys
    assert "Số ngày gần nhất được tính ca bệnh" in rules and ">14<" in rules and "khu công nghiệp" in rules


def test_responses_are_compressed(sample_server):
    base, _ = sample_server
    run = _get_json(base, "/api/runs")["runs"][-1]
    with urllib.request.urlopen(base + f"/map?date={DAY}") as res:
        cfg_page = res.read().decode()
    shapes_id = json.loads(re.search(r'id="zones-config">(.*?)</script>', cfg_page).group(1))["shapes"]
    for path in (f"/map?date={DAY}", "/assets/committee.js", "/assets/committee.css", "/vendor/leaflet/dist/leaflet.js",
                 f"/tiles/runs/{run['run_id']}/map-levels.json", f"/tiles/shapes/{shapes_id}/index.json",
                 f"/api/zones.geojson?date={DAY}", f"/api/hotspots?date={DAY}"):
        req = urllib.request.Request(base + path, headers={"Accept-Encoding": "br, gzip"})
        with urllib.request.urlopen(req) as r:
            assert r.headers.get("Content-Encoding") in ("br", "gzip"), path
            assert "Accept-Encoding" in (r.headers.get("Vary") or ""), path


def _tile_box(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """A web-mercator tile's (west, south, east, north) in degrees."""
    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / 2 ** z))))
    return x / 2 ** z * 360 - 180, lat(y + 1), (x + 1) / 2 ** z * 360 - 180, lat(y)


def test_no_shape_tile_is_asked_for_outside_the_shapes(browser, sample_server):
    """Zoomed out, most tiles on screen hold no shape (sea, other countries): they are not asked for (each was a
    204 costing a round trip and a kilobyte of headers on a phone), and those holding the shapes are drawn."""
    base, _ = sample_server
    v = Visit(browser, base, f"/map?date={DAY}")
    page = v.page
    cfg = page.evaluate("() => JSON.parse(document.getElementById('zones-config').textContent)")
    index = _get_json(base, f"/tiles/shapes/{cfg['shapes']}/index.json")
    page.evaluate("(z) => zonesApi.map.setZoom(z, {animate: false})", cfg["min_zoom"])
    page.wait_for_selector("body[data-zones-drawn='1']")
    page.wait_for_timeout(300)
    west, south, east, north = index["bounds"]

    asked = [tuple(map(int, m.groups())) for m in (re.search(r"/tiles/shapes/[^/]+/(\d+)/(\d+)/(\d+)\.mvt", u)
                                                   for u in v.requests) if m]
    on_screen = page.evaluate("() => document.querySelectorAll('.leaflet-tile-container canvas').length")
    assert asked and on_screen > len({a for a in asked if a[0] == min(a[0] for a in asked)}), (asked, on_screen)
    for z, x, y in asked:
        w, s, e, n = _tile_box(z, x, y)
        assert e >= west and w <= east and n >= south and s <= north, ((z, x, y), index["bounds"])
    v.close()


def test_a_lockdown_in_the_panel_has_its_issuer_and_dates(browser, sample_server):
    base, _ = sample_server
    lockdowns = _get_json(base, f"/api/lockdowns.geojson?date={DAY}")["features"]
    open_ended = next(f for f in lockdowns if not f["properties"]["end_date"])
    centre = shapely.from_geojson(json.dumps(open_ended["geometry"])).centroid
    v = Visit(browser, base, f"/map?date={DAY}")
    page = v.page
    page.evaluate("p => zonesApi.map.setView(p, 14, {animate: false})", [centre.y, centre.x])
    page.wait_for_selector("body[data-zones-drawn='1']")
    xy = page.evaluate("p => { const c = zonesApi.map.latLngToContainerPoint(p); return [c.x, c.y]; }", [centre.y, centre.x])
    page.mouse.click(xy[0], xy[1])
    page.wait_for_selector("#zones-panel:not([hidden]) .zones-chart")
    body = page.inner_text("#zones-panel-body")
    p = open_ended["properties"]
    assert p["decision_no"] in body and p["issuer"] in body and "đến khi có thông báo mới" in body
    assert "từ 25/07/2021" in body and "Quận/huyện" in body and "Tỉnh/thành phố" in body
    v.close()


def test_readme_screenshots_and_the_sample_pdf(browser, sample_server, sample_site, tmp_path):
    """The README's pictures, made here from the sample; and the PDF a committee member prints:
    every red commune on page 1, every page numbered."""
    from pypdf import PdfReader
    base, _ = sample_server
    SHOTS.mkdir(parents=True, exist_ok=True)
    v = Visit(browser, base, f"/map?date={DAY}")
    v.page.screenshot(path=str(SHOTS / "map.png"))
    v.page.click("#zones-hot-list li >> nth=0")
    v.page.wait_for_selector("#zones-panel:not([hidden]) .zones-chart")
    v.page.wait_for_selector("body[data-zones-drawn='1']")
    v.page.wait_for_timeout(500)
    v.page.screenshot(path=str(SHOTS / "panel.png"))
    v.close()
    phone = Visit(browser, base, f"/map?date={DAY}", width=390, height=844, has_touch=True, is_mobile=True)
    phone.page.tap("#zones-hot-toggle")
    phone.page.wait_for_timeout(300)
    phone.page.screenshot(path=str(SHOTS / "phone.png"))
    phone.close()
    report = Visit(browser, base, f"/report?date={DAY}", width=900, height=1270, wait=False)
    report.page.screenshot(path=str(SHOTS / "report.png"))
    report.close()
    for name in ("map", "panel", "phone", "report"):
        assert (SHOTS / f"{name}.png").stat().st_size > 20_000, name
    pdf = tmp_path / "bao-cao.pdf"
    with urllib.request.urlopen(base + f"/report?date={DAY}&format=pdf") as r:
        pdf.write_bytes(r.read())
    pages = [p.extract_text() for p in PdfReader(pdf).pages]
    red = [f["properties"]["name"] for f in _get_json(base, f"/api/zones.geojson?date={DAY}")["features"]
           if f["properties"]["level"] == "very_high_risk"]
    first = " ".join(pages[0].split())
    assert len(red) == 11 and all(name in first for name in red), [n for n in red if n not in first]
    for k, text in enumerate(pages, start=1):
        assert f"Trang {k} / {len(pages)}" in " ".join(text.split()), (k, text[-200:])
    assert "31/07/2021" in first and "2021-07-31_" in first                  # Vietnamese date; the run in the footer


def test_the_trend_chart_is_drawn_on_the_map_and_the_panel_says_measures_and_outlook(browser, sample_server):
    """The committee's "is red shrinking?": the side list's trend opens to the chart of the published days up to
    the day shown (drawn by our server, loaded by Chromium); a red commune's panel says what it must apply and
    when it would come down if no new case came."""
    base, _ = sample_server
    runs = [r for r in _get_json(base, "/api/runs")["runs"] if "2021-07-02" <= r["date"] <= DAY]
    v = Visit(browser, base, f"/map?date={DAY}")
    page = v.page
    page.click("#zones-trend-toggle")
    page.wait_for_function("() => { const i = document.getElementById('zones-trend-img'); return i.complete && i.naturalWidth > 0; }")
    src = page.get_attribute("#zones-trend-img", "src")
    with urllib.request.urlopen(base + src) as r:
        assert f'data-days="{len({x["date"] for x in runs})}"' in r.read().decode()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.click("#zones-hot-list li >> nth=0")
    page.wait_for_selector("#zones-panel:not([hidden]) .zones-measures")
    body = page.inner_text("#zones-panel-body")
    assert "Biện pháp phải áp dụng" in body and "Giãn cách xã hội toàn địa bàn 14 ngày" in body
    assert "Nếu không có ca mới" in body and re.search(r"từ \d\d/\d\d/2021", body)
    page.wait_for_selector("body[data-zones-drawn='1']")
    page.wait_for_timeout(500)                                             # the zoom to the commune settled
    page.screenshot(path=str(SHOTS / "map-trend-panel.png"))
    v.close()
