"""The morning report's maps: one per province, and one per district that has red communes, as
inline SVG (prints as it is, no script): communes in their level's exact colour, district and
province outlines, lockdowns dashed, the names of red communes placed without overlap, a scale bar.
"""
from __future__ import annotations

import json

import numpy as np
import shapely

from geo.publish import shapes
from geo.store import runfiles
from rules.levels import RANK

# Drawing size in SVG units (the page scales it to the printable width).
WIDTH, MAX_HEIGHT = 700, 760
# Metres per degree of latitude (the drawing is equirectangular, x squeezed by cos(latitude)).
M_PER_DEG = 111_320.0
# Round lengths a scale bar may take, in kilometres.
SCALE_KM = (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500)
# District maps (zoomed on red communes) for at most this many districts, most red first: a
# national day still prints as a report, not an atlas.
MAX_DISTRICT_MAPS = 12
# The printed map's box (the report's CSS: the page's width, at most PRINT_H_MM high) and the size its names
# print at: a drawing is scaled to fit, so its labels are sized in drawing units to print at LABEL_PT.
PRINT_W_MM, PRINT_H_MM, LABEL_PT = 188.0, 112.0, 8.5
MM_PER_PT = 0.3528
# A label character's width and a label's height, in label sizes (for overlap tests).
CHAR_EM, LINE_EM = 0.58, 1.1


def _svg_paths(geoms: np.ndarray, project) -> list[str]:
    """One SVG path (even-odd rings) per geometry, coordinates projected by `project`."""
    out = [""] * len(geoms)
    polys, owner = shapely.get_parts(geoms, return_index=True)
    if not len(polys):
        return out
    rings, ring_poly = shapely.get_rings(polys, return_index=True)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    px = project(xy).round(1)
    cuts = np.flatnonzero(np.diff(ring_of)) + 1
    for seg, ring in zip(np.split(px, cuts), np.unique(ring_of), strict=False):
        out[owner[ring_poly[ring]]] += "M" + " ".join(f"{x:g},{y:g}" for x, y in seg) + "Z"
    return out


def _scale_bar(width_m: float, scale: float) -> dict:
    """A round length near a quarter of the map's width."""
    km = max([k for k in SCALE_KM if k * 1000 <= width_m / 4] or [SCALE_KM[0]])
    return {"km": km, "px": round(km * 1000 * scale, 1), "label": f"{km:g} km"}


def print_units(width: float, height: float) -> float:
    """Millimetres per drawing unit once printed (the drawing and its 4-unit margin fit the printed box)."""
    return min(PRINT_W_MM / (width + 8), PRINT_H_MM / (height + 8))


def _labels(names, points, project, font: float) -> list[dict]:
    placed: list = []
    out: list = []
    for name, p in zip(names, points, strict=False):
        x, y = project(np.array([[p.x, p.y]]))[0]
        w = CHAR_EM * font * len(name)
        box = (x - w / 2, y - LINE_EM * font, x + w / 2, y + 2)
        if any(box[0] < b[2] and box[2] > b[0] and box[1] < b[3] and box[3] > b[1] for b in placed):
            continue
        placed.append(box)
        out.append({"x": round(float(x), 1), "y": round(float(y) - font / 3, 1), "text": name})
    return out


def _one(title: str, kind: str, communes, parents, outline, lockdowns, red_names) -> dict:
    bounds = shapely.total_bounds(communes["geom"])
    lat = np.radians((bounds[1] + bounds[3]) / 2)
    kx = np.cos(lat)
    w_deg, h_deg = max((bounds[2] - bounds[0]) * kx, 1e-6), max(bounds[3] - bounds[1], 1e-6)
    scale_deg = min(WIDTH / w_deg, MAX_HEIGHT / h_deg)

    def project(xy):
        return np.column_stack([(xy[:, 0] - bounds[0]) * kx * scale_deg, (bounds[3] - xy[:, 1]) * scale_deg])
    tol = 0.7 / scale_deg              # about a drawing unit: invisible, and far lighter
    simple = shapely.simplify(communes["geom"], tol, preserve_topology=True)
    order = np.argsort(communes["rank"], kind="stable")
    lk = [g for g in lockdowns if shapely.intersects(g, shapely.box(*bounds))]
    red = communes["level"] == "very_high_risk"
    width, height = round(w_deg * scale_deg, 1), round(h_deg * scale_deg, 1)
    mm = print_units(width, height)
    font = round(LABEL_PT * MM_PER_PT / mm, 1)
    return {
        "title": title, "kind": kind, "width": width, "height": height, "font": font,
        "label_pt": round(font * mm / MM_PER_PT, 1), "edge": round(0.12 / mm, 2),     # commune edges: 0.12 mm
        "units": [{"d": d, "color": c} for d, c in zip(np.array(_svg_paths(simple, project))[order], communes["color"][order], strict=False)],
        "districts": [d for d in _svg_paths(shapely.simplify(parents, tol), project) if d],
        "outline": [d for d in _svg_paths(shapely.simplify(outline, tol), project) if d],
        "lockdowns": [d for d in _svg_paths(np.array(lk, dtype=object), project) if d],
        "labels": _labels(communes["name"][red], shapely.point_on_surface(communes["geom"][red]), project, font),
        "scale": _scale_bar(w_deg * M_PER_DEG, scale_deg / M_PER_DEG), "n_red": int(red.sum()),
        "red_names": red_names,
    }


def maps(store, runs_dir, run: dict, cache_dir, text: dict) -> list[dict]:
    """Province maps (worst province first), each followed by maps of its districts with red communes."""
    run_dir = runs_dir / run["run_id"]
    version = run["manifest"]["boundary_version"]
    t = runfiles.attributes(run_dir, "commune", ["code", "name", "level", "color", "district_code", "province_code"])
    units = store.load_units(version, "commune", texts=False).set_index("code")
    t = t[t["code"].astype(str).isin(units.index)].copy()
    t["geom"] = units.geometry.reindex(t["code"].astype(str)).to_numpy()
    t["rank"] = t["level"].map(lambda v: RANK.get(v, -1))
    districts = store.load_units(version, "district", texts=False).set_index("code")
    provinces = store.load_units(version, "province", texts=False).set_index("code")
    lk_path = runfiles.geojson_path(store, run_dir, "lockdown", cache_dir)
    lockdowns = [shapely.from_geojson(json.dumps(f["geometry"]))
                 for f in json.loads(lk_path.read_text(encoding="utf-8"))["features"]]
    out = []
    red_districts = t[t["level"] == "very_high_risk"].groupby("district_code").size().sort_values(ascending=False)
    zoomed = set(red_districts.index[:MAX_DISTRICT_MAPS])

    def cols(df):
        return {k: df[k].to_numpy() for k in ("name", "level", "color", "geom", "rank")}
    by_prov = sorted(t.groupby("province_code"), key=lambda kv: (-(kv[1]["rank"] == 3).sum(), -(kv[1]["rank"] == 2).sum(),
                                                                 str(kv[0])))
    for pcode, grp in by_prov:
        pname = provinces["name"].get(pcode, str(pcode))
        dgeoms = shapes.shells(districts.geometry[districts["province_code"] == pcode].to_numpy())
        pgeom = shapes.shells(provinces.geometry.reindex([pcode]).dropna().to_numpy())
        red = grp[grp["level"] == "very_high_risk"]
        out.append(_one(text["map_province"].format(name=pname), "province", cols(grp), dgeoms, pgeom, lockdowns,
                        red["name"].tolist()))
        for dcode, dgrp in sorted(red.groupby("district_code"), key=lambda kv: -len(kv[1])):
            if dcode not in zoomed:
                continue
            whole = grp[grp["district_code"] == dcode]
            dname = districts["name"].get(dcode, str(dcode))
            dgeom = shapes.shells(districts.geometry.reindex([dcode]).dropna().to_numpy())
            out.append(_one(text["map_district"].format(name=dname, province=pname), "district", cols(whole), dgeom, dgeom,
                            lockdowns, dgrp["name"].tolist()))
    return out
