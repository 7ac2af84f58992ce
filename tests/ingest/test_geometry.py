"""Geometry: case assignment on edges and corners, CRS handling, invalid and overlapping inputs."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from helpers import CELL_M, ORIGIN, grid, invoke, write_cases, write_units

from geo.domain.assign import Assigner, code_rank
from geo.store.database import Store

DAY = "2021-07-31"
TO_WGS84 = pyproj.Transformer.from_crs(32648, 4326, always_xy=True)
# VN-2000 as a provincial TM-3 definition with the official 7-parameter shift (Circular 973/2001).
VN2000_TM3_CUSTOM = ("+proj=tmerc +lat_0=0 +lon_0=107.75 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 "
                     "+towgs84=-191.90441429,-39.30318279,-111.45032835,-0.00928836,0.01975479,-0.00427372,0.252906278 "
                     "+units=m +no_defs")


def utm_to_lonlat(x, y):
    return TO_WGS84.transform(x, y)


def lonlat_grid(codes):
    """2 x 2 cells of 0.01 degree drawn directly in WGS 84, so shared edges are exact."""
    cells = [shapely.box(107.0 + c * 0.01, 16.0 - r * 0.01, 107.01 + c * 0.01, 16.01 - r * 0.01)
             for r in range(2) for c in range(2)]
    return np.array(cells), np.array(codes, dtype=object)


@pytest.mark.parametrize("codes,edge_owner,corner_owner", [
    (["10001", "10002", "10003", "10004"], "10001", "10001"),
    (["40", "30", "20", "10"], "30", "10"),      # lowest code wins whatever the drawing order
])
def test_point_on_shared_edge_and_corner_goes_to_lowest_code(codes, edge_owner, corner_owner):
    geoms, codes = lonlat_grid(codes)
    assigner = Assigner(geoms, codes)
    # (107.01, 16.005): edge between the two top cells; (107.01, 16.0): corner of all four
    idx = assigner.assign([107.01, 107.01, 107.015], [16.005, 16.0, 15.995])
    assert list(codes[idx]) == [edge_owner, corner_owner, codes[3]]


def test_lowest_code_is_numeric_when_codes_are_digits():
    assert list(code_rank(["10", "9", "100", "A1"])) == [1, 0, 2, 3]
    geoms, codes = lonlat_grid(["10", "9", "300", "400"])
    assert Assigner(geoms, codes).assign([107.01], [16.005])[0] == 1    # "9" < "10"


def test_points_outside_every_commune_are_rejected_with_nearest(runner, app, tmp_path):
    invoke(runner, "import-units", write_units(grid(1, 2), tmp_path / "u.geojson"))
    lon_in, lat_in = utm_to_lonlat(ORIGIN[0] + 500, ORIGIN[1] - 500)
    lon_out, lat_out = utm_to_lonlat(ORIGIN[0] - 300, ORIGIN[1] - 500)     # 300 m west of 10001
    rows = [{"case_id": "a", "report_date": DAY, "lon": lon_in, "lat": lat_in, "community": "true", "source_known": "true"},
            {"case_id": "b", "report_date": DAY, "lon": lon_out, "lat": lat_out, "community": "true", "source_known": "true"},
            {"case_id": "c", "report_date": DAY, "lon": 16.5, "lat": 107.5, "community": "true", "source_known": "true"}]
    res = invoke(runner, "import-cases", write_cases(rows, tmp_path / "c.csv"))
    assert res.exit_code == 0
    assert "Nhận 1 dòng, loại 2 dòng" in res.output
    rejects = pd.read_csv(res.output.split("dòng bị loại ghi ở ")[1].split("\n")[0].strip())
    by_id = rejects.set_index("case_id")
    assert by_id.loc["b", "row"] == 3 and by_id.loc["b", "field"] == "lon"
    assert "outside every commune (nearest 10001" in by_id.loc["b", "reason"]
    dist = float(by_id.loc["b", "reason"].split("about ")[1].split(" m")[0])
    assert 250 < dist < 350
    assert "swapped" in by_id.loc["c", "reason"]


@pytest.mark.parametrize("crs,driver,suffix,tol_m", [
    ("EPSG:32648", "GeoJSON", ".geojson", 0.05),
    ("EPSG:5899", "GPKG", ".gpkg", 0.05),                 # VN-2000 / TM-3 107-45
    # Provincial VN-2000 with its own towgs84: GDAL stores it as a BoundCRS whose 2D Helmert
    # differs from the PROJ-string pipeline by < 1 m, far below the accuracy of any boundary.
    (VN2000_TM3_CUSTOM, "GPKG", ".gpkg", 1.0),
    ("EPSG:3405", "ESRI Shapefile", ".shp", 0.05),        # VN-2000 / UTM 48N, CRS in a .prj file
])
def test_any_crs_is_reprojected_to_wgs84(runner, app, tmp_path, crs, driver, suffix, tol_m):
    src = grid(2, 2)
    path = tmp_path / f"units{suffix}"
    src.to_crs(crs).to_file(path, driver=driver, engine="pyogrio")
    res = invoke(runner, "import-units", path)
    assert res.exit_code == 0, res.output
    store = Store(app.config["ZONES"].db_path)
    got = store.load_units(store.current_boundary_version()).set_index("code")
    want = src.to_crs(4326).set_index("code")
    # the round trip through the file's CRS moves no vertex by more than tol_m
    dist_m = shapely.hausdorff_distance(got.geometry.to_crs(32648).values, want.geometry.to_crs(32648).loc[got.index].values)
    assert np.all(dist_m < tol_m), dist_m


def test_file_without_crs_needs_one(runner, tmp_path):
    path = tmp_path / "nocrs.geojson"
    g = grid(1, 2).to_crs(4326)
    data = json.loads(g.to_json())
    data.pop("crs", None)
    path.write_text(json.dumps(data))
    # plain GeoJSON is WGS 84 by definition, so it imports; a Shapefile without .prj does not
    assert invoke(runner, "import-units", path).exit_code == 0
    shp = tmp_path / "nocrs.shp"
    g.to_file(shp, engine="pyogrio")
    (tmp_path / "nocrs.prj").unlink()
    res = invoke(runner, "import-units", shp)
    assert res.exit_code != 0 and "--crs" in res.output
    assert invoke(runner, "import-units", shp, "--crs", "EPSG:4326").exit_code == 0


def test_invalid_geometry_is_repaired_and_reported(runner, app, tmp_path):
    g = grid(1, 3)
    x0, y0, x1, y1 = g.geometry.iloc[1].bounds
    g.loc[1, "geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])   # bow-tie
    res = invoke(runner, "import-units", write_units(g, tmp_path / "u.geojson"))
    assert res.exit_code == 0, res.output
    assert "Đã sửa 1 hình học không hợp lệ: 10002" in res.output
    store = Store(app.config["ZONES"].db_path)
    units = store.load_units(store.current_boundary_version())
    assert units.geometry.is_valid.all()
    assert units.set_index("code").to_crs(32648).geometry.area["10002"] == pytest.approx(CELL_M ** 2 / 2)


@pytest.mark.parametrize("mutate,needle", [
    (lambda g: g.assign(code=["10001", "10001", "10003"]), "duplicate code '10001' in features 1, 2"),
    (lambda g: g.assign(code=["10001", None, "10003"]), "feature 2 (code=None, name='Xã Ô 10002'): missing code"),
    (lambda g: g.assign(geometry=[g.geometry.iloc[0], shapely.Polygon(), g.geometry.iloc[2]]),
     "feature 2 (code='10002', name='Xã Ô 10002'): empty geometry"),
])
def test_bad_boundaries_fail_naming_the_feature_and_keep_the_old_ones(runner, app, tmp_path, mutate, needle):
    assert invoke(runner, "import-units", write_units(grid(1, 2), tmp_path / "good.geojson"), "--boundary-version", "v1").exit_code == 0
    bad = mutate(grid(1, 3))
    res = invoke(runner, "import-units", write_units(bad, tmp_path / "bad.geojson"), "--boundary-version", "v2")
    assert res.exit_code != 0
    assert needle in res.output and "bad.geojson" in res.output
    store = Store(app.config["ZONES"].db_path)
    assert store.current_boundary_version() == "v1"
    assert len(store.load_units("v1")) == 2 and len(store.load_units("v2")) == 0


def test_overlaps_and_gaps_are_measured(runner, app, tmp_path):
    g = grid(3, 3)
    g = g[g["code"] != "10005"].copy()                       # a 1 km² hole in the middle
    g.loc[g["code"] == "10001", "geometry"] = g.loc[g["code"] == "10001"].geometry.buffer(50, join_style="mitre")
    res = invoke(runner, "import-units", write_units(g, tmp_path / "u.geojson"), "--boundary-version", "holes")
    assert res.exit_code == 0, res.output
    report = json.loads((app.config["ZONES"].reports_dir / "units-holes.json").read_text())
    assert report["n_gaps"] == 1 and report["gap_km2"] == pytest.approx(1.0, rel=0.02)
    pairs = {(p["a"], p["b"]) for p in report["largest_overlaps"]}
    assert pairs == {("10001", "10002"), ("10001", "10004")}
    assert report["n_overlaps"] == 2
    assert "Chồng lấn: 2 cặp xã" in res.output


def test_rook_equals_libpysal_on_a_clean_grid():
    from libpysal.weights import Queen, Rook

    from geo.domain import adjacency
    g = grid(4, 5)
    pairs = adjacency.shared_borders(g.geometry.to_numpy(), 20.0)
    for kind, ref in (("rook", Rook), ("queen", Queen)):
        sel = adjacency.select(pairs, kind, 100.0)
        ours = {(int(i), int(j)) for i, j in zip(sel["i"], sel["j"], strict=False)}
        w = ref.from_dataframe(g, use_index=False)
        theirs = {(i, j) for i, nbrs in w.neighbors.items() for j in nbrs if i < j}
        assert ours == theirs, kind


def test_tolerance_closes_small_gaps_only():
    from geo.domain import adjacency
    a = shapely.box(0, 0, 1000, 1000)
    near = shapely.box(1010, 0, 2000, 1000)     # 10 m gap: same border, digitised apart
    far = shapely.box(-1000, 0, -30, 1000)      # 30 m gap: not neighbours
    pairs = adjacency.select(adjacency.shared_borders(np.array([a, near, far]), 20.0), "rook", 100.0)
    assert {(int(i), int(j)) for i, j in zip(pairs["i"], pairs["j"], strict=False)} == {(0, 1)}
