"""Each province's new cases per 100,000 over the 7 days ending each date, from the NCSC/MoH portal's
daily province counts (../shared/data/vn_covid_ncsc_province_daily) and the 2019 census population, as
an indicator file for `import-indicators` (column community_cases_per_100k_7d, GSO province codes).
Written from the shared data, never committed (no licence stated).

The series counts every new case (community and quarantine alike: it does not split them), so the rate
is an upper bound of the community rate NQ 128 reads; a day missing from the series counts as no case.

    .venv/bin/python scripts/ncsc_province_rates.py [--shared ../shared/data] --out FILE [--dates D1,D2]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo.base.names import normalise  # noqa: E402

WEEK = 7


def province_population(shared: Path) -> pd.Series:
    """2019 census population by GSO province code (names matched to the 01/11/2021 GSO list)."""
    census = pd.read_csv(shared / "vn_population_census2019" / "population_2019_by_admin_unit.csv")
    census = census[census["level"] == "province"]
    data = json.loads((shared / "vn_admin_units_gso_codes" / "dvhcvn_2021-11-01.json").read_text(encoding="utf-8"))["data"]
    code_of = {normalise(p["name"]): p["level1_id"] for p in data}
    codes = census["province"].map(lambda n: code_of.get(normalise(n)))
    if codes.isna().any():
        raise SystemExit(f"provinces of the census not in the GSO list: {census.loc[codes.isna(), 'province'].tolist()}")
    return pd.Series(census["total"].to_numpy(float), index=codes.to_numpy())


def rates(shared: Path, dates: list[str] | None = None) -> pd.DataFrame:
    daily = pd.read_csv(shared / "vn_covid_ncsc_province_daily" / "cases_deaths_long.csv",
                        dtype={"gso_province_code": str}, parse_dates=["date"])
    wide = daily.pivot_table(index="date", columns="gso_province_code", values="cases", aggfunc="sum")
    wide = wide.reindex(pd.date_range(wide.index.min(), wide.index.max(), freq="D")).fillna(0.0)
    week = wide.rolling(WEEK, min_periods=WEEK).sum().dropna(how="all")
    pop = province_population(shared).reindex(week.columns)
    per_100k = (week / pop * 100_000).round(2)
    out = per_100k.stack().rename("community_cases_per_100k_7d").reset_index()
    out.columns = ["date", "code", "community_cases_per_100k_7d"]
    out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    if dates:
        out = out[out["date"].isin(dates)]
    return out[["code", "date", "community_cases_per_100k_7d"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--dates", default="", help="only these dates (YYYY-MM-DD, comma-separated)")
    args = ap.parse_args()
    out = rates(args.shared, [d for d in args.dates.split(",") if d] or None)
    out.to_csv(args.out, index=False, encoding="utf-8")
    print(f"{len(out)} rows, {out['code'].nunique()} provinces, {out['date'].nunique()} dates")


if __name__ == "__main__":
    main()
