"""One self-contained HTML file of a published day, for a USB stick or an email attachment: Leaflet
inlined, communes, province outlines and lockdowns embedded, no request of any kind when opened.

Geometry is simplified to what a screen shows (about 100 m for the national layer) and carried as
integer deltas at 1e-4 degree (about 10 m), decoded to GeoJSON by a few lines of the page's
script: a third of the size of the same coordinates as GeoJSON text, so the national layer with
every unit's explanation stays under 5 MB.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import shapely
from jinja2 import Environment, FileSystemLoader, select_autoescape

from geo.base import i18n
from geo.serve.raster import drop_specks
from geo.store import runfiles
from geo.store.formats import inline_json

# Coordinates are integers of this many degrees.
QUANTUM = 1e-4
TEMPLATES = Path(__file__).parent / "templates"


def tolerance(n_units: int) -> float:
    """Simplification (degrees) by layer size: a province keeps its detail, the country is lighter."""
    return 0.0003 if n_units <= 1000 else 0.001 if n_units <= 4000 else 0.0015


# Outlines derived from a layer with gaps carry pinholes: holes under this many tolerances across go.
OUTLINE_SPECK = 30


def encode(geoms: np.ndarray, tol: float, speck: float = 1.0) -> list:
    """Per geometry: polygons -> rings -> [x0, y0, dx1, dy1, ...] in QUANTUM units; holes and parts
    smaller than (speck x tol)^2 left out."""
    geoms = shapely.simplify(np.asarray(geoms, dtype=object), tol, preserve_topology=True)
    geoms = drop_specks(geoms, (speck * tol) ** 2)
    polys, owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_poly = shapely.get_rings(polys, return_index=True)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    q = np.round(xy / QUANTUM).astype(np.int64)
    first = np.ones(len(q), dtype=bool)
    first[1:] = ring_of[1:] != ring_of[:-1]
    delta = q.copy()
    delta[~first] = q[~first] - q[np.flatnonzero(~first) - 1]
    flat = delta.ravel().tolist()
    cuts = np.flatnonzero(first).tolist() + [len(q)]
    out: list = [[] for _ in range(len(geoms))]
    owner, ring_poly = owner.tolist(), ring_poly.tolist()
    last = -1
    for ring, a, b in zip(ring_of[cuts[:-1]].tolist(), cuts[:-1], cuts[1:], strict=False):
        p = ring_poly[ring]
        if p != last:
            out[owner[p]].append([])
            last = p
        out[owner[p]][-1].append(flat[2 * a:2 * b])
    return out


def _text(v) -> str:
    return "" if v is None or (isinstance(v, float) and v != v) else str(v)


def page(store, run_dir: Path, run: dict, ruleset, lang: str, vendor_dir: Path) -> str:
    communes = runfiles.frame(store, run_dir, "commune")
    provinces = runfiles.frame(store, run_dir, "province")
    levels = [lv["id"] for lv in ruleset.levels] + ["unknown"]
    index = {lv: i for i, lv in enumerate(levels)}
    tol = tolerance(len(communes))
    none_text = i18n.word("explain", "none", lang)
    explanation = communes["explanation_en" if lang == "en" else "explanation"]
    units = [{"n": _text(n), "c": _text(c), "l": index.get(lv, len(levels) - 1),
              "d": index.get(dl, -1) if isinstance(dl, str) else -1,
              "e": "" if e == none_text else _text(e), "k": int(k) if k == k else None, "g": g}
             for n, c, lv, dl, e, k, g in zip(communes["name"], communes["code"], communes["level"],
                                             communes["declared_level"], explanation, communes["community_cases"],
                                             encode(communes.geometry.to_numpy(), tol), strict=False)]
    lk_path = run_dir / "lockdown.geojson"
    lk = json.loads(lk_path.read_text(encoding="utf-8"))["features"] if lk_path.exists() else []
    lk_geoms = [shapely.from_geojson(json.dumps(f["geometry"])) for f in lk]
    data = {
        "lang": lang, "date": run["date"], "run": run["run_id"], "ruleset": run["manifest"]["ruleset"],
        "none": none_text,
        "levels": [{"label": (ruleset.level(lv))[lang], "color": ruleset.level(lv)["color"]} for lv in levels],
        "units": units,
        "provinces": [{"n": _text(n), "g": g} for n, g in zip(provinces["name"], encode(provinces.geometry.to_numpy(), tol, OUTLINE_SPECK), strict=False)],
        "lockdowns": [{"n": _text(f["properties"].get("decision_no")), "s": _text(f["properties"].get("start_date")),
                       "e": _text(f["properties"].get("end_date")), "g": g}
                      for f, g in zip(lk, encode(np.array(lk_geoms, dtype=object), QUANTUM), strict=False)] if lk else [],
        "q": QUANTUM,
    }
    css = (vendor_dir / "leaflet" / "dist" / "leaflet.css").read_text(encoding="utf-8")
    css = css.replace("url(images/", "url(data:,")        # no image is needed; never ask for one
    js = (vendor_dir / "leaflet" / "dist" / "leaflet.js").read_text(encoding="utf-8")
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    payload = inline_json(data)
    return env.get_template("offline.html").render(
        lang=lang, date=run["date"], ruleset=run["manifest"]["ruleset"], boundary_version=run["boundary_version"], leaflet_css=css, leaflet_js=js.replace("</script", "<\\/script"),
        payload=payload, title=i18n.word("map", "title", lang))
