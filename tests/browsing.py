"""The committee's map in a browser, as the tests drive it: one page per context with every request outside our
server refused and recorded, the published communes of a day (geometry, level, representative point), the
legend's colours as the page shows them, and the pixels of a screenshot checked against them."""
from __future__ import annotations

import io
import json
import shutil
import urllib.request

import numpy as np
import pytest
import shapely
from helpers import ROOT
from pyproj import Transformer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DAY = "2021-07-31"
SHOTS = ROOT / "docs" / "screenshots"
# The map's background (--soft in geo/serve/static/committee.css): what a commune filtered out shows.
BACKGROUND = (243, 244, 246)
# A point this close to a boundary may take an outline's or a neighbour's anti-aliased colour.
MARGIN_PX = 3.0
MERCATOR_M_PER_PX_Z0 = 156543.03392804097
UI = ["#zones-bar", "#zones-hot", "#zones-legend", "#zones-panel:not([hidden])", ".leaflet-control",
      "#zones-results:not([hidden])", "#zones-tip:not([hidden])", "#zones-busy:not([hidden])"]


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    return sync_playwright


# A browser test module's mark: `pytestmark = NEEDS_BROWSER`.
NEEDS_BROWSER = pytest.mark.skipif(CHROMIUM is None or _playwright() is None,
                                reason="chromium or playwright not installed (scripts/setup.sh)")


class Visit:
    """One page in its own browser context: errors and refused outside requests recorded."""

    def __init__(self, browser, base: str, url: str, width=1366, height=768, wait=True, **ctx):
        self.base = base
        self.ctx = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1, **ctx)
        self.page = self.ctx.new_page()
        self.errors, self.outside, self.requests = [], [], []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.route("**/*", self._gate)
        self.response = self.page.goto(base + url)
        if wait:
            self.ready()

    def _gate(self, route):
        url = route.request.url
        if url.startswith(self.base):
            self.requests.append(url[len(self.base):])
            return route.continue_()
        self.outside.append(url)
        return route.abort()

    def ready(self):
        self.page.wait_for_selector("body[data-zones-ready='1']")
        self.page.wait_for_selector("body[data-zones-drawn='1']")
        self.page.wait_for_timeout(150)

    def close(self):
        self.ctx.close()
        assert self.outside == [] and self.errors == [], (self.outside, self.errors)


def _get_json(base: str, path: str):
    with urllib.request.urlopen(base + path, timeout=30) as r:
        return json.load(r)


def _day(base: str, day: str) -> dict:
    """The published communes of `day`: code, level, colour, geometry (EPSG:4326 and 3857), rep point."""
    feats = _get_json(base, f"/api/zones.geojson?date={day}")["features"]
    geoms = np.array([shapely.from_geojson(json.dumps(f["geometry"])) for f in feats], dtype=object)
    to_m = Transformer.from_crs(4326, 3857, always_xy=True)
    merc = shapely.transform(geoms, lambda c: np.column_stack(to_m.transform(c[:, 0], c[:, 1])))
    return {"code": [f["properties"]["code"] for f in feats], "name": [f["properties"]["name"] for f in feats],
            "district": [f["properties"]["district_name"] for f in feats],
            "level": [f["properties"]["level"] for f in feats], "geom": geoms, "merc": merc,
            "point": shapely.point_on_surface(geoms), "point_m": shapely.point_on_surface(merc)}


def _legend(page) -> dict:
    """Legend chip colour per level, as the page shows it."""
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#zones-legend-items label')].map(l => [
        l.querySelector('input').dataset.level,
        getComputedStyle(l.querySelector('.zones-chip')).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)]))""")


def _checkable(page, day: dict) -> list[int]:
    """Communes whose representative point is on the map (not under a control), at least MARGIN_PX
    from its boundary and from any other commune."""
    zoom = page.evaluate("() => zonesApi.map.getZoom()")
    m_per_px = MERCATOR_M_PER_PX_Z0 / 2 ** zoom
    pts = [[p.y, p.x] for p in day["point"]]
    xy = page.evaluate("pts => pts.map(p => { const c = zonesApi.map.latLngToContainerPoint(p); return [c.x, c.y]; })", pts)
    ui = page.evaluate("sels => sels.flatMap(s => [...document.querySelectorAll(s)]).map(e => { const r = e.getBoundingClientRect();"
                       " return [r.left - 2, r.top - 2, r.right + 2, r.bottom + 2]; })", UI)
    w, h = page.viewport_size["width"], page.viewport_size["height"]
    tree = shapely.STRtree(day["merc"])
    out = []
    for k, ((x, y), pm) in enumerate(zip(xy, day["point_m"], strict=False)):
        if not (2 <= x < w - 2 and 2 <= y < h - 2) or any(a <= x <= c and b <= y <= d for a, b, c, d in ui):
            continue
        if shapely.distance(pm, day["merc"][k].boundary) < MARGIN_PX * m_per_px:
            continue
        near = tree.query(pm.buffer(MARGIN_PX * m_per_px), predicate="intersects")
        if any(j != k for j in near):
            continue
        out.append((k, int(x), int(y)))
    return out


def _check_pixels(png: bytes, day: dict, points, colour_of) -> dict:
    """-> {level: number of communes checked}; fails on the first pixel that is not its level's colour."""
    from PIL import Image
    img = Image.open(io.BytesIO(png)).convert("RGB")
    seen: dict[str, int] = {}
    wrong = []
    for k, x, y in points:
        want = colour_of(day["level"][k])
        got = img.getpixel((x, y))
        if tuple(got) != tuple(want):
            wrong.append((day["name"][k], day["level"][k], got, want, (x, y)))
        seen[day["level"][k]] = seen.get(day["level"][k], 0) + 1
    assert not wrong, wrong[:10]
    return seen


def _set_view(page, day: dict, codes=None, zoom=None):
    """Fit the map to some communes (all by default) the way a user's zoom would."""
    keep = [k for k, c in enumerate(day["code"]) if codes is None or c in codes]
    b = shapely.total_bounds(day["geom"][keep])
    page.evaluate("([b, z]) => { const m = zonesApi.map; m.fitBounds([[b[1], b[0]], [b[3], b[2]]], {animate: false});"
                  " if (z) { m.setZoom(z, {animate: false}); } }", [list(map(float, b)), zoom])
    page.wait_for_selector("body[data-zones-drawn='1']")
    page.wait_for_timeout(300)


def _open_legend(page):
    """Unfold the legend (it starts folded: the red/orange list takes the column)."""
    if page.get_attribute("#zones-legend-toggle", "aria-expanded") != "true":
        page.click("#zones-legend-toggle")


def _names_off(page):
    """Names off with the legend's switch, the legend folded again as it was (on a phone it covers the map)."""
    folded = page.get_attribute("#zones-legend-toggle", "aria-expanded") != "true"
    _open_legend(page)
    page.uncheck("#zones-show-names")
    if folded:
        page.click("#zones-legend-toggle")
    page.mouse.move(1, 1)
    page.wait_for_timeout(150)


def _levels_only(page):
    """Names and lockdown outlines off (a user's switches): the map shows the levels alone."""
    _open_legend(page)
    page.uncheck("#zones-show-names")
    page.uncheck("#zones-show-lockdowns")
    page.mouse.move(1, 1)
