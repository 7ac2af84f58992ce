"""The committee's page (/map): a Folium map on which geo/serve/static/committee.js draws the boundary
version's shape tiles (geo/publish/shapes.py) in the colours of a day's levels table (geo/publish/maplevels.py).

Colours are exact: every commune is filled with its level's colour and nothing is drawn under it
(districts and provinces are outlines). A new date, the level filter or the palette re-colour the
geometry the page already holds, in the same frame. Names are placed without overlap, provinces and
districts first; communes where their name fits. The page opens on the province that matters (a
configured home area, else the province with the most red communes), lists the day's red and orange
communes beside the map, and has a panel per unit (a bottom sheet on a phone).

Everything it loads comes from our server: Leaflet, pbf and @mapbox/vector-tile from npm (/vendor),
the page's own script and style (/assets), tiles and JSON (/tiles, /api). No basemap unless the
province names an intranet tile server (ZONES_BASEMAP_URL).
"""
from __future__ import annotations

import datetime as dt
import html
import json
import re
from typing import TYPE_CHECKING, cast

import lazy_loader as lazy

from geo.base import i18n
from geo.base.i18n import vn_date
from geo.base.vocabulary import PALETTES
from geo.store.formats import inline_json

if TYPE_CHECKING:
    from branca.element import Figure

# Folium compiles its page templates when imported: loaded by the first page drawn, not by every command
folium = lazy.load("folium")
branca = lazy.load("branca")

# Leaflet from npm, served by us (Folium would take it from a CDN); no jQuery: nothing here uses it.
ASSET_JS = [("leaflet", "/vendor/leaflet/dist/leaflet.js")]
ASSET_CSS = [("leaflet_css", "/vendor/leaflet/dist/leaflet.css")]
# The page's ES modules: the vector tile decoder from npm, resolved by an import map.
IMPORTS = {"pbf": "/vendor/pbf/index.js", "@mapbox/vector-tile": "/vendor/@mapbox/vector-tile/index.js",
           "@mapbox/point-geometry": "/vendor/@mapbox/point-geometry/index.js"}
# The whole country on a phone: the map never zooms out further (the shape tiles start here too).
MIN_ZOOM = 4


_CB: dict[str, str] = PALETTES["cb"] or {}


def _days_between(first: str, last: str | None) -> int | None:
    return (dt.date.fromisoformat(last) - dt.date.fromisoformat(first)).days if last else None


def level_entries(ruleset, lang: str) -> list[dict]:
    levels = [{"id": lv["id"], "label": lv[lang], "color": lv["color"], "cb": _CB[lv["id"]]}
              for lv in reversed(ruleset.levels)]
    levels.append({"id": "unknown", "label": ruleset.unknown[lang], "color": ruleset.unknown["color"],
                   "cb": _CB["unknown"]})
    return levels


def rule_texts(ruleset, lang: str) -> dict:
    return {r.id: {"text": r.en if lang == "en" else r.vi, "level": r.level}
            for _, section in ruleset.sections() for r in section.rules}


def page(run: dict, ruleset, lang: str, dates: list[tuple[str, str]], shapes_index: dict, home: dict,
         basemap: str | None = None, basemap_attribution: str = "", offline: bool = False,
         native_zoom: int | None = None, public: bool = False) -> str:
    """The page (`offline`: for the one-file export, geo/serve/offline.py: no link to the server's other pages, and
    the shape tiles drawn past `native_zoom` from that zoom's; `public`: the citizens' lookup, the levels in force
    only, geo/serve/public.py)."""
    tx = i18n.words("map", lang)
    bbox = home["bbox"]
    m = folium.Map(location=[(bbox[1] + bbox[3]) / 2, (bbox[0] + bbox[2]) / 2], zoom_start=8, tiles=None,
                   zoom_control=False, control_scale=False, attribution_control=False, max_zoom=18,
                   min_zoom=MIN_ZOOM)
    m.default_js, m.default_css = ASSET_JS, ASSET_CSS
    if basemap:
        folium.TileLayer(tiles=basemap, attr=basemap_attribution or "intranet", name="basemap", overlay=False,
                         control=False, max_zoom=18).add_to(m)
    prov = shapes_index["units"]["province"]
    config = {
        "map": m.get_name(), "lang": lang, "text": tx, "levels": level_entries(ruleset, lang),
        "rules": rule_texts(ruleset, lang), "run": run["run_id"], "date": run["date"],
        "dates": [[d, r] for d, r in dates], "shapes": shapes_index["id"], "home": home,
        "provinces": [{"i": k, "code": c, "name": n, "bbox": b}
                      for k, (c, n, b) in enumerate(zip(prov["code"], prov["name"], prov["bbox"], strict=False))],
        "ruleset": {"id": ruleset.id, "title": ruleset.title_en if lang == "en" and ruleset.title_en else ruleset.title,
                    "why": i18n.ruleset_why(run.get("manifest", {}), lang)},
        "boundary_version": run["boundary_version"], "min_zoom": MIN_ZOOM,
        "max_native_zoom": native_zoom if native_zoom is not None else shapes_index["zooms"][1], "offline": offline,
        "public": public,
        "attribution": (basemap_attribution if basemap else ""),
        "window_days": int(ruleset.settings.get("window_days", 14)),
        # the outlook's horizon: days evaluated after the run's date (none for a backfilled run)
        "outlook_days": _days_between(run["date"], run.get("manifest", {}).get("outlook_until")),
    }
    root = cast("Figure", m.get_root())
    title = f"{tx['public_title'] if public else tx['title']} — {vn_date(run['date'])}"
    imports = json.dumps({"imports": IMPORTS})
    root.header.add_child(branca.element.Element(f"<title>{html.escape(title)}</title>"
                                  '<link rel="stylesheet" href="/assets/committee.css">'
                                  f'<script type="importmap">{imports}</script>'
                                  f'<link rel="modulepreload" href="/assets/committee.js">'))
    words = {**tx, "title": tx["public_title"]} if public else tx
    root.html.add_child(branca.element.Element(_PANEL.format(**{k: html.escape(v) for k, v in words.items() if isinstance(v, str)})))
    # the configuration is data (JSON in a non-executed script element), read by committee.js
    root.html.add_child(branca.element.Element(f'<script type="application/json" id="zones-config">{inline_json(config)}</script>'))
    text = root.render()
    # a module runs after the document (and Folium's map script) is parsed
    text = text.replace("</html>", '<script type="module" src="/assets/committee.js"></script>\n</html>')
    # Folium's viewport forbids zooming the page: a member who needs larger text must be able to pinch
    text = re.sub(r'<meta name="viewport"[^>]*>', '<meta name="viewport" content="width=device-width, initial-scale=1">', text)
    return text.replace("<html>", f'<html lang="{lang}">', 1)


def home_area(index: dict, table: dict, configured: str | None, wanted: str | None) -> dict:
    """Where the map opens: the province asked for (?province=CODE, or ?province=all), else the configured home area
    (ZONES_HOME: province codes or a lon/lat box), else the province with the most red communes
    (then orange, then yellow); a layer of one province opens on it."""
    prov = index["units"]["province"]
    codes, boxes = prov["code"], prov["bbox"]
    out = {"all": index["bounds"], "province": None}
    if wanted == "all":
        return {**out, "bbox": index["bounds"]}
    if wanted in codes:
        k = codes.index(wanted)
        return {**out, "bbox": boxes[k], "province": wanted}
    if configured:
        parts = [p.strip() for p in configured.split(",") if p.strip()]
        picked = [codes.index(p) for p in parts if p in codes]
        if picked:
            b = [boxes[k] for k in picked]
            return {**out, "bbox": [min(x[0] for x in b), min(x[1] for x in b), max(x[2] for x in b), max(x[3] for x in b)],
                    "province": codes[picked[0]] if len(picked) == 1 else None}
        try:
            box = [float(p) for p in parts]
            if len(box) == 4:
                return {**out, "bbox": box}
        except ValueError:
            pass
    level = table["units"]["commune"]["level"]
    of = index["units"]["commune"]["province"]
    score = [[0, 0, 0] for _ in codes]
    worst = {"3": 0, "2": 1, "1": 2}
    for k, ch in enumerate(level):
        if ch in worst and 0 <= of[k] < len(codes):
            score[of[k]][worst[ch]] += 1
    k = max(range(len(codes)), key=lambda j: (score[j], -j)) if codes else 0
    if not codes:
        return {**out, "bbox": index["bounds"]}
    return {**out, "bbox": boxes[k], "province": codes[k]}


_PANEL = """
<div id="zones-bar" role="toolbar">
  <b id="zones-title">{title}</b>
  <span class="zones-day">
    <button id="zones-prev" type="button" title="{prev_day}" aria-label="{prev_day}">‹</button>
    <select id="zones-date" aria-label="{date}"></select>
    <button id="zones-next" type="button" title="{next_day}" aria-label="{next_day}">›</button>
    <button id="zones-play" type="button">{play}</button>
  </span>
  <label id="zones-view" class="zones-view" hidden title="{proposal_help}"><input type="checkbox" id="zones-proposal"> {proposal_switch}</label>
  <select id="zones-province" aria-label="{province_pick}"></select>
  <span id="zones-find"><input id="zones-search" type="search" placeholder="{search}" autocomplete="off" aria-label="{search}"></span>
  <span class="zones-links"><a id="zones-report" href="#">{report}</a> · <a id="zones-lang" href="#">{other_lang}</a></span>
</div>
<div id="zones-results" role="listbox" hidden></div>
<aside id="zones-side">
  <a id="zones-skip" class="zones-skip" href="#zones-trend-toggle">{skip_list}</a>
  <section id="zones-hot">
    <button id="zones-hot-toggle" type="button" class="zones-head" aria-expanded="true"><span id="zones-hot-title">{hot_title_plain}</span> <span id="zones-hot-count"></span></button>
    <ol id="zones-hot-list"></ol>
  </section>
  <section id="zones-trend">
    <button id="zones-trend-toggle" type="button" class="zones-head" aria-expanded="false">{trend}</button>
    <div id="zones-trend-body" hidden><img id="zones-trend-img" alt="{trend}" width="100%"></div>
  </section>
  <section id="zones-legend">
    <button id="zones-legend-toggle" type="button" class="zones-head" aria-expanded="false">{legend} <span id="zones-legend-summary"></span></button>
    <div id="zones-legend-body" hidden>
      <div id="zones-legend-items"></div>
      <label><input type="checkbox" id="zones-show-lockdowns" checked><span class="zones-dash"></span>{lockdown}</label>
      <label><input type="checkbox" id="zones-show-differs" checked><span class="zones-differs"></span>{differs}</label>
      <label><input type="checkbox" id="zones-show-names" checked><span class="zones-abc">Aa</span>{names}</label>
      <label>{palette} <select id="zones-palette"><option value="official">{official}</option><option value="cb">{cb}</option></select></label>
      <a id="zones-rules" href="#">{rules}</a>
      <small id="zones-about"></small>
    </div>
  </section>
</aside>
<div id="zones-panel" role="dialog" hidden><button id="zones-close" type="button" title="{close}" aria-label="{close}">×</button><div id="zones-panel-body"></div></div>
<div id="zones-tip" hidden></div>
<div id="zones-busy" hidden>{loading}</div>
"""
