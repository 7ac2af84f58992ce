"""The committee's page (/map): a Folium map whose layers are our own raster tiles, so the national
layer (11,000 communes) stays as light as one province, with the controls the committee uses every
morning (geo/static/committee.js): date picker over published runs and a play-through, level
filter, colour-blind palette, search by name, a side panel per unit with a 60-day chart.

Everything it loads comes from our server: Leaflet and jQuery from npm (/vendor), the page's
own script and style (/assets), tiles and JSON (/tiles, /api). No basemap unless the province
names an intranet tile server (ZONES_BASEMAP_URL).
"""
from __future__ import annotations

import html
import json

import folium
from branca.element import Element, MacroElement, Template

from .raster import MIN_ZOOM, PALETTES

TEXT = {
    "vi": {"title": "Phân vùng nguy cơ COVID-19", "date": "Ngày", "play": "▶ Chạy", "stop": "■ Dừng",
           "levels": "Mức hiển thị", "palette": "Bảng màu", "official": "Màu chính thức", "cb": "Cho người mù màu",
           "search": "Tìm xã, huyện, tỉnh…", "legend": "Chú giải", "rules": "Tiêu chí", "lockdown": "Vùng phong tỏa",
           "differs": "Cấp đã công bố khác cấp tính toán", "commune": "Xã/phường", "district": "Quận/huyện",
           "province": "Tỉnh/thành phố", "declared": "Cấp đã công bố", "why": "Lý do", "cases": "Ca cộng đồng (cửa sổ)",
           "population": "Dân số", "lockdowns": "Phong tỏa", "none": "không", "chart": "Ca mỗi ngày và mức, 60 ngày",
           "outside": "Không thuộc xã nào", "other_lang": "English", "report": "Báo cáo", "decision": "QĐ",
           "from": "từ", "until": "đến", "close": "Đóng", "outbreak_over": "Đã qua 28 ngày không có ca mới",
           "vector": "Xã/phường (vector tiles)"},
    "en": {"title": "COVID-19 risk zones", "date": "Date", "play": "▶ Play", "stop": "■ Stop",
           "levels": "Levels shown", "palette": "Palette", "official": "Official colours", "cb": "Colour-blind safe",
           "search": "Find a commune, district, province…", "legend": "Legend", "rules": "Rules", "lockdown": "Lockdowns",
           "differs": "Declared level differs from computed", "commune": "Communes", "district": "Districts",
           "province": "Provinces", "declared": "Declared level", "why": "Why", "cases": "Community cases (window)",
           "population": "Population", "lockdowns": "Lockdowns", "none": "none", "chart": "Daily cases and level, 60 days",
           "outside": "In no commune", "other_lang": "Tiếng Việt", "report": "Report", "decision": "Decision",
           "from": "from", "until": "until", "close": "Close", "outbreak_over": "28 days without a new case",
           "vector": "Communes (vector tiles)"},
}
# Raster layers in drawing order (lowest first) and whether they start switched on.
LAYERS = (("province", True), ("district", False), ("commune", True), ("lockdown", True), ("differs", True))

# Leaflet and jQuery from npm, served by us (Folium would take them from a CDN).
ASSET_JS = [("leaflet", "/vendor/leaflet/dist/leaflet.js"), ("jquery", "/vendor/jquery/dist/jquery.min.js")]
ASSET_CSS = [("leaflet_css", "/vendor/leaflet/dist/leaflet.css")]


def page(run: dict, ruleset, lang: str, bounds, basemap: str | None = None, basemap_attribution: str = "") -> str:
    tx = TEXT[lang]
    m = folium.Map(location=[(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2], zoom_start=7, tiles=None,
                   control_scale=True, max_zoom=18)
    m.default_js, m.default_css = ASSET_JS, ASSET_CSS
    if basemap:
        folium.TileLayer(tiles=basemap, attr=basemap_attribution or "intranet", name="basemap", overlay=False,
                         control=False, max_zoom=18).add_to(m)
    layers = {}
    for unit, shown in LAYERS:
        name = tx[unit] if unit in tx else unit
        layer = folium.TileLayer(tiles=f"/tiles/runs/{run['run_id']}/{unit}/{{z}}/{{x}}/{{y}}.png",
                                 attr=html.escape(f"BCĐ · {run['manifest']['ruleset']} · {run['boundary_version']}"),
                                 name=name, overlay=True, control=True, show=shown, max_zoom=18,
                                 min_zoom=MIN_ZOOM[unit],
                                 opacity=1.0 if unit != "district" else 0.6)
        layer.add_to(m)
        layers[unit] = layer.get_name()
    # the layer switcher is made by committee.js (it also holds the run's vector tiles, which change with the date)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    levels = [{"id": lv["id"], "label": lv[lang], "color": lv["color"], "cb": PALETTES["cb"][lv["id"]]}
              for lv in reversed(ruleset.levels)]
    levels.append({"id": "unknown", "label": ruleset.unknown[lang], "color": ruleset.unknown["color"],
                   "cb": PALETTES["cb"]["unknown"]})
    config = {"map": m.get_name(), "layers": layers, "names": {u: (tx[u] if u in tx else u) for u, _ in LAYERS}, "run": run["run_id"], "date": run["date"], "lang": lang,
              "ruleset": run["manifest"]["ruleset"], "text": tx, "levels": levels}
    root = m.get_root()
    root.header.add_child(Element(f"<title>{html.escape(tx['title'])} — {run['date']}</title>"
                                  '<link rel="stylesheet" href="/assets/committee.css">'))
    root.html.add_child(Element(_PANEL.format(**{k: html.escape(v) for k, v in tx.items()})))
    # the configuration is data (JSON in a non-executed script element), read by committee.js
    cfg = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    root.html.add_child(Element(f'<script type="application/json" id="zones-config">{cfg}</script>'))
    # started right after the map and its layers are made (not at window load, which waits for
    # every first tile): a child of the map renders after it
    _Start().add_to(m)
    # in the body: after Leaflet (which Folium puts in the head), before the map's own script
    root.html.add_child(Element('<script src="/vendor/leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js"></script>'
                                '<script src="/assets/committee.js"></script>'))
    return root.render()


class _Start(MacroElement):
    _template = Template("{% macro script(this, kwargs) %}zonesCommittee();{% endmacro %}")


_PANEL = """
<div id="zones-bar">
  <b id="zones-title">{title}</b>
  <label>{date} <select id="zones-date"></select></label>
  <button id="zones-play" type="button">{play}</button>
  <input id="zones-search" type="search" placeholder="{search}" autocomplete="off">
  <div id="zones-results"></div>
  <a id="zones-lang" href="#">{other_lang}</a> · <a id="zones-report" href="#" target="_blank">{report}</a>
</div>
<div id="zones-legend"><b>{legend}</b><div id="zones-legend-items"></div>
  <div><span class="zones-hatch"></span>{lockdown}</div><div><span class="zones-differs"></span>{differs}</div>
  <div>{palette}: <select id="zones-palette"><option value="official">{official}</option><option value="cb">{cb}</option></select></div>
  <a id="zones-rules" href="#" target="_blank">{rules}</a></div>
<div id="zones-panel" hidden><button id="zones-close" type="button" title="{close}">×</button><div id="zones-panel-body"></div></div>
"""
