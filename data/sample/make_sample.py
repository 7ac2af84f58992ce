"""Regenerate the embedded sample (Thừa Thiên Huế and Khánh Hòa, late July 2021).

    python data/sample/make_sample.py [--shared ../shared/data]

- communes.geojson: the 289 communes of the two provinces, cut from the censusVN2009 layer
  (MIT, Marc Choisy; see ATTRIBUTION.md), columns renamed to the Vietnamese aliases the
  importer accepts. Codes are that layer's own 7-digit commune codes (2009 scheme).
- cases.csv, lockdowns.geojson, flags.csv: SYNTHETIC. The daily case totals per province follow
  the official daily figures of the MoH/NCSC portal (facts, listed below); which commune, the
  flags and every location are drawn at random with a fixed seed. No real person is described.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

HERE = Path(__file__).resolve().parent
PROVINCES = {411: "Thừa Thiên Huế", 511: "Khánh Hòa"}
# Official new cases per day, 12-31 July 2021 (MoH/NCSC province series; GSO 46 and 56).
DAILY = {
    411: [0, 1, 0, 0, 0, 0, 1, 0, 4, 0, 0, 1, 1, 2, 1, 6, 2, 10, 0, 13],
    511: [86, 30, 0, 18, 74, 22, 31, 0, 285, 28, 0, 109, 104, 172, 12, 26, 147, 18, 217, 337],
}
FIRST_DAY = dt.date(2021, 7, 12)
# Share of cases found in the community (the rest in quarantine/isolation), and of those the share
# with a known source: chosen to give a varied map, not measured.
P_COMMUNITY, P_KNOWN = 0.30, 0.80
# Where cases concentrate (district codes of the 2009 layer): Nha Trang, Cam Ranh, Huế city.
HOTSPOTS = {51101: 6.0, 51103: 3.0, 41101: 4.0}
SEED = 20210731


def communes(shared: Path) -> gpd.GeoDataFrame:
    g = gpd.read_file(shared / "vn_communes_2009_census" / "communes_2009.geojson")
    g = g[g["province_id"].isin(PROVINCES)].copy()
    g["province_vn"] = g["province_id"].map(PROVINCES)
    out = g.rename(columns={"commune_id": "ma_xa", "commune_vn": "ten_xa", "district_id": "ma_huyen",
                            "district_vn": "ten_huyen", "province_id": "ma_tinh", "province_vn": "ten_tinh",
                            "population": "dan_so"})
    out = out[["ma_xa", "ten_xa", "ma_huyen", "ten_huyen", "ma_tinh", "ten_tinh", "dan_so", "geometry"]]
    return out.sort_values("ma_xa").reset_index(drop=True)


def random_point_in(geom, rng) -> tuple[float, float]:
    x0, y0, x1, y1 = geom.bounds
    inner = geom.buffer(-0.0005)  # keep clear of the (imprecise) boundary
    target = inner if not inner.is_empty else geom
    for _ in range(1000):
        p = shapely.Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
        if target.contains(p):
            return round(p.x, 6), round(p.y, 6)
    p = target.representative_point()
    return round(p.x, 6), round(p.y, 6)


def cases(units: gpd.GeoDataFrame, rng) -> pd.DataFrame:
    rows = []
    for prov, totals in DAILY.items():
        sub = units[units["ma_tinh"] == prov]
        weight = sub["dan_so"].clip(lower=1).to_numpy() * sub["ma_huyen"].map(HOTSPOTS).fillna(1.0).to_numpy()
        weight = weight / weight.sum()
        for k, total in enumerate(totals):
            day = FIRST_DAY + dt.timedelta(days=k)
            for _ in range(total):
                i = rng.choice(len(sub), p=weight)
                u = sub.iloc[i]
                community = rng.random() < P_COMMUNITY
                known = (rng.random() < P_KNOWN) if community else True
                cluster = f"CUM-{u['ma_xa']}-{day.isocalendar()[1]}" if community and not known and rng.random() < 0.7 else ""
                how = rng.choice(["point", "code", "names"], p=[0.6, 0.3, 0.1])
                lon, lat = random_point_in(u.geometry, rng) if how == "point" else ("", "")
                rows.append({
                    "case_id": f"SYN-{prov}-{len(rows) + 1:05d}",
                    "report_date": day.isoformat() if rng.random() < 0.8 else day.strftime("%d/%m/%Y"),
                    "lon": lon, "lat": lat,
                    "commune_code": u["ma_xa"] if how == "code" else "",
                    "commune_name": u["ten_xa"] if how == "names" else "",
                    "district_name": u["ten_huyen"] if how == "names" else "",
                    "province_name": u["ten_tinh"] if how == "names" else "",
                    "community": "true" if community else "false",
                    "source_known": "true" if known else "false",
                    "source_setting": "",
                    "cluster_id": cluster,
                })
    df = pd.DataFrame(rows)
    # A handful of community cases traced to an industrial zone (R2) in Khánh Hòa's last week.
    late = df[(df["community"] == "true") & df["case_id"].str.startswith("SYN-511") &
              (df["report_date"].str.contains("2021-07-2[6-9]|2[6-9]/07/2021"))].index
    df.loc[rng.choice(late, size=min(3, len(late)), replace=False), "source_setting"] = "industrial_zone"
    return df


def lockdowns(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    def centre(code):
        return units.loc[units["ma_xa"] == code].geometry.iloc[0].representative_point()
    nha_trang = units[units["ma_huyen"] == 51101].sort_values("ma_xa")
    hue = units[units["ma_huyen"] == 41101].sort_values("ma_xa")
    a, b, c = nha_trang["ma_xa"].iloc[2], nha_trang["ma_xa"].iloc[7], hue["ma_xa"].iloc[4]
    rows = [
        ("SYN-01/QĐ-UBND", "UBND TP Nha Trang (tổng hợp)", "Tổ dân phố (tổng hợp)", "2021-07-20", "2021-08-03", None,
         centre(a).buffer(0.003)),
        ("SYN-02/QĐ-UBND", "UBND TP Nha Trang (tổng hợp)", "Khu dân cư (tổng hợp)", "2021-07-25", None, None,
         centre(b).buffer(0.004)),
        ("SYN-03/QĐ-UBND", "UBND TP Huế (tổng hợp)", "Thôn (tổng hợp, đã gỡ)", "2021-07-14", "2021-07-28", "2021-07-24",
         centre(c).buffer(0.002)),
    ]
    cols = ["decision_no", "issuer", "name", "start_date", "end_date", "lifted_date"]
    return gpd.GeoDataFrame([r[:6] for r in rows], columns=cols, geometry=[r[6] for r in rows], crs="EPSG:4326")


def flags(units: gpd.GeoDataFrame) -> pd.DataFrame:
    hue = units[units["ma_huyen"] == 41101].sort_values("ma_xa")["ma_xa"].tolist()
    return pd.DataFrame([
        {"code": hue[10], "date": "2021-07-28", "flag": "community_f1", "value": "true", "author": "Tổ thường trực (tổng hợp)"},
        {"code": hue[11], "date": "2021-07-29", "flag": "large_quarantine_site", "value": "true", "author": "Tổ thường trực (tổng hợp)"},
    ])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=HERE.parent.parent.parent / "shared" / "data")
    args = ap.parse_args()
    rng = np.random.default_rng(SEED)
    units = communes(args.shared)
    units.to_file(HERE / "communes.geojson", driver="GeoJSON", engine="pyogrio", COORDINATE_PRECISION=7)
    cases(units, rng).to_csv(HERE / "cases.csv", index=False)
    lockdowns(units).to_file(HERE / "lockdowns.geojson", driver="GeoJSON", engine="pyogrio", COORDINATE_PRECISION=6)
    flags(units).to_csv(HERE / "flags.csv", index=False)
    print(json.dumps({"communes": len(units)}))


if __name__ == "__main__":
    main()
