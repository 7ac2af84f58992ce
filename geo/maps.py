"""The committee's map: a Folium page built when a run is published, with every asset served
by our own server (no CDN, no external basemap)."""
from __future__ import annotations

import json

import folium
import geopandas as gpd
import pandas as pd
from branca.element import Element, MacroElement, Template

from .formats import DISPLAY_COL, feature_collection, geometry_json, properties, records

# Local asset paths (installed from npm at set-up, served by server.py under /vendor).
ASSET_JS = [("leaflet", "/vendor/leaflet/dist/leaflet.js"), ("jquery", "/vendor/jquery/dist/jquery.min.js")]
ASSET_CSS = [("leaflet_css", "/vendor/leaflet/dist/leaflet.css")]

TEXT = {
    "vi": {"title": "Phân vùng nguy cơ COVID-19", "date": "Ngày", "ruleset": "Bộ quy tắc",
           "commune": "Xã/phường", "district": "Ranh giới quận/huyện", "province": "Ranh giới tỉnh",
           "lockdown": "Vùng phong tỏa", "name": "Tên", "level": "Mức", "reasons": "Lý do",
           "cases": "Ca cộng đồng (cửa sổ)", "known": "Rõ nguồn", "unknown_src": "Chưa rõ nguồn",
           "population": "Dân số", "decision": "Quyết định", "issuer": "Cơ quan", "start": "Từ ngày",
           "end": "Đến ngày", "declared": "Cấp độ đã công bố", "legend": "Chú giải", "rules": "Tiêu chí", "lockdown_flag": "Có phong tỏa"},
    "en": {"title": "COVID-19 risk zones", "date": "Date", "ruleset": "Ruleset",
           "commune": "Communes", "district": "District outlines", "province": "Province outlines",
           "lockdown": "Lockdowns", "name": "Name", "level": "Level", "reasons": "Reasons",
           "cases": "Community cases (window)", "known": "Known source", "unknown_src": "Unknown source",
           "population": "Population", "decision": "Decision", "issuer": "Issuer", "start": "From",
           "end": "Until", "declared": "Declared level", "legend": "Legend", "rules": "Rules", "lockdown_flag": "Lockdown"},
}

LEGEND = """{% macro html(this, kwargs) %}
<div id="zones-legend" style="position:absolute;bottom:24px;left:12px;z-index:1000;background:#fff;
 padding:8px 10px;border:1px solid #888;border-radius:4px;font:13px/1.5 sans-serif;">
 <b>{{ this.heading }}</b><br>
 {% for item in this.items %}<span style="display:inline-block;width:14px;height:14px;background:{{ item.color }};
 border:1px solid #555;vertical-align:middle;margin-right:6px"></span>{{ item.label }} ({{ item.count }})<br>{% endfor %}
 <span style="display:inline-block;width:14px;height:14px;border:2px dashed #000;background:rgba(123,50,148,.35);
 vertical-align:middle;margin-right:6px"></span>{{ this.lockdown }}<br>
 <a href="{{ this.rules_url }}" target="_blank">{{ this.rules_label }}</a>
</div>{% endmacro %}"""


class Legend(MacroElement):
    _template = Template(LEGEND)

    def __init__(self, heading, items, lockdown, rules_url, rules_label):
        super().__init__()
        self.heading, self.items, self.lockdown = heading, items, lockdown
        self.rules_url, self.rules_label = rules_url, rules_label


class RemoteGeoJson(folium.GeoJson):
    """A GeoJson layer the page fetches from `url` (served by us, cached immutably).
    `sample` (a FeatureCollection of one feature) lets Folium check popup and tooltip fields
    without reading the whole layer again."""

    def __init__(self, url: str, sample: dict, **kwargs):
        self._remote = (url, sample)
        super().__init__(url, embed=False, **kwargs)

    def process_data(self, data):
        self.embed = False
        self.embed_link = self._remote[0]
        return self._remote[1]


def _display(frame: gpd.GeoDataFrame, unit: str, cols: list[str], style: dict, fill: bool = True) -> str:
    """The layer's display GeoJSON: chosen columns plus a Leaflet `style` per feature (which
    Folium applies when no style_function is given), geometry simplified for the screen."""
    props = properties(frame)[cols].copy() if len(frame) else pd.DataFrame(columns=cols)
    if "declared_level_vi" in props:
        props["declared_level_vi"] = props["declared_level_vi"].fillna("—")
    colours = props["color"] if fill else pd.Series([None] * len(props), index=props.index)
    props["style"] = [{**style, "fillColor": c} if fill else style for c in colours]
    geoms = frame[DISPLAY_COL] if DISPLAY_COL in frame else geometry_json(frame.geometry.values, unit)
    return feature_collection(records(props), geoms, ids=True)


# Per-layer display: the columns shown and the static part of the style (fill = level colour).
LAYERS = {
    "commune": (["code", "name", "level_vi", "level_en", "declared_level_vi", "explanation", "explanation_en",
                 "community_cases", "known_source_community_cases", "unknown_source_community_cases", "population",
                 "color", "lockdown"],
                {"color": "#666666", "weight": 0.3, "opacity": 0.8, "fillOpacity": 0.75}),
    "district": (["code", "name", "level_vi", "level_en", "reasons_text", "color"],
                 {"fill": False, "color": "#333333", "weight": 0.8, "opacity": 0.8}),
    "province": (["code", "name", "level_vi", "level_en", "reasons_text", "color"],
                 {"fill": False, "color": "#000000", "weight": 1.8}),
    "lockdown": (["decision_no", "issuer", "start_date", "end_date"],
                 {"color": "#000000", "weight": 2, "dashArray": "6 4", "fillColor": "#7b3294", "fillOpacity": 0.35}),
}


def write_display(frames: dict[str, gpd.GeoDataFrame], lockdowns: gpd.GeoDataFrame, folder) -> dict:
    """Simplified GeoJSON for the map page, one file per layer, shared by every language."""
    folder.mkdir(parents=True, exist_ok=True)
    samples = {}
    for unit, (cols, style) in LAYERS.items():
        if unit == "lockdown":
            frame = lockdowns.copy()
            for c in cols:
                frame[c] = frame[c].fillna("") if c in frame.columns else ""
            text = _display(frame, unit, cols, style, fill=False)
        else:
            frame = frames[unit].copy()
            frame["reasons_text"] = [", ".join(r) for r in frame["reasons"]]
            text = _display(frame, unit, cols, style)
        (folder / f"{unit}.geojson").write_text(text, encoding="utf-8")
        first = text.find('{"type":"Feature"')
        sample = {"type": "Feature", "properties": {c: None for c in cols}, "geometry": None}
        if first >= 0:
            sample = json.loads(text[first:_feature_end(text, first)])
        samples[unit] = {"type": "FeatureCollection", "features": [sample]}
    return samples


def _feature_end(text: str, start: int) -> int:
    """End of the JSON object starting at `start` (features are written one after another)."""
    return start + json.JSONDecoder().raw_decode(text[start:])[1]


def build(frames: dict[str, gpd.GeoDataFrame], display: dict, ruleset, manifest: dict, lang: str) -> str:
    """The page: Folium layers that load the run's display GeoJSON from our server."""
    tx = TEXT[lang]
    label = "level_en" if lang == "en" else "level_vi"
    b = frames["commune"].total_bounds
    m = folium.Map(location=[(b[1] + b[3]) / 2, (b[0] + b[2]) / 2], zoom_start=8, tiles=None,
                   control_scale=True, prefer_canvas=True)
    m.default_js, m.default_css = ASSET_JS, ASSET_CSS
    title = f"{tx['title']} — {tx['date']} {manifest['date']} — {tx['ruleset']} {ruleset.id}"
    m.get_root().header.add_child(Element(f"<title>{title}</title>"))
    m.get_root().html.add_child(Element(
        f'<div id="zones-title" style="position:absolute;top:8px;left:60px;z-index:1000;background:#fff;'
        f'padding:4px 10px;border:1px solid #888;border-radius:4px;font:bold 15px sans-serif">{title}</div>'))
    url = f"/runs/{manifest['run_id']}/display"
    popups = {
        "commune": (["name", label, "declared_level_vi", "explanation_en" if lang == "en" else "explanation",
                     "community_cases", "known_source_community_cases", "unknown_source_community_cases", "population"],
                    [tx["name"], tx["level"], tx["declared"], tx["reasons"], tx["cases"], tx["known"], tx["unknown_src"],
                     tx["population"]]),
        "district": (["name", label, "reasons_text"], [tx["name"], tx["level"], tx["reasons"]]),
        "province": (["name", label, "reasons_text"], [tx["name"], tx["level"], tx["reasons"]]),
        "lockdown": (["decision_no", "issuer", "start_date", "end_date"], [tx["decision"], tx["issuer"], tx["start"], tx["end"]]),
    }
    for unit in ("commune", "district", "province", "lockdown"):
        fields, aliases = popups[unit]
        has_popup = unit == "commune" or (unit == "lockdown" and manifest["n_active_lockdowns"] > 0)
        layer = RemoteGeoJson(
            f"{url}/{unit}.geojson", display[unit], name=tx[unit],
            popup=folium.GeoJsonPopup(fields=fields, aliases=aliases) if has_popup else None,
            tooltip=folium.GeoJsonTooltip(fields=fields[:2], aliases=aliases[:2]) if unit != "lockdown" else None)
        layer.add_to(m)
    counts = manifest["counts"]["commune"]
    items = [{"color": lv["color"], "label": lv["en" if lang == "en" else "vi"], "count": counts.get(lv["id"], 0)}
             for lv in reversed(ruleset.levels)]
    items.append({"color": ruleset.unknown["color"], "label": ruleset.unknown["en" if lang == "en" else "vi"],
                  "count": counts.get("unknown", 0)})
    m.get_root().add_child(Legend(tx["legend"], items, tx["lockdown"], f"/rulesets/{ruleset.id}?lang={lang}",
                                  f"{tx['rules']}: {ruleset.id}"))
    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds([[b[1], b[0]], [b[3], b[2]]])
    return m.get_root().render()
