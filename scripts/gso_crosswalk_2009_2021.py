"""The crosswalk from the 2009 commune polygons (../shared/data/vn_communes_2009_census, 7-digit ids) to
the GSO commune list of 01/11/2021 (../shared/data/vn_admin_units_gso_codes), for
`import-units --derive-from vn2009 --crosswalk FILE`. Written from the shared tables, never committed
(their licences differ); each row says how it was found (`method`):

- `code`: the 2009 id is the CODE_OLD of a 2019 GSO code that is in the 2021 list
  (a code link is kept only where the commune's name is the same: the 2019 table misplaces some ids);
- `changes`: that 2019 code left the list by 2021; the GSO change report's successor is in it;
- `names`: no code link; the 2009 commune, district and province names match one 2021 commune exactly;
- `names_province`: the same in the province, the district renamed since (Quận 9 -> Thành phố Thủ Đức);
- `none`: a 2021 commune nothing leads to (old_code empty): it needs a polygon.

    .venv/bin/python scripts/gso_crosswalk_2009_2021.py [--shared ../shared/data] --out FILE
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
import pyogrio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo.base.names import BY_PROVINCE, EXACT, NameIndex, normalise  # noqa: E402


def list_2021(shared: Path) -> pd.DataFrame:
    data = json.loads((shared / "vn_admin_units_gso_codes" / "dvhcvn_2021-11-01.json").read_text(encoding="utf-8"))["data"]
    rows = [(c["level3_id"], c["name"], d["level2_id"], d["name"], p["level1_id"], p["name"])
            for p in data for d in p["level2s"] for c in d["level3s"]]
    return pd.DataFrame(rows, columns=["new_code", "new_name", "new_district_code", "new_district_name",
                                       "new_province_code", "new_province_name"])


def crosswalk(shared: Path) -> pd.DataFrame:
    gso = shared / "vn_admin_units_gso_codes"
    new = list_2021(shared).set_index("new_code")
    c19 = pd.read_csv(gso / "communesVN_2019_gso_codes_tcvn3.csv", dtype=str, encoding="latin-1")
    c19["C_CODE"] = c19["C_CODE"].str.zfill(5)
    changes = pd.read_csv(gso / "commune_changes_2019-01-01_to_2024-11-10.csv", dtype=str)
    later = changes.dropna(subset=["commune_code_2024"]).drop_duplicates("commune_code_2019")
    successor = later.set_index("commune_code_2019")["commune_code_2024"].str.zfill(5)
    old = pyogrio.read_dataframe(shared / "vn_communes_2009_census" / "communes_2009.geojson", read_geometry=False)
    old["commune_id"] = old["commune_id"].astype(str)
    links = []
    by_old = c19.drop_duplicates("CODE_OLD").set_index("CODE_OLD")["C_CODE"]
    name_of = dict(zip(old["commune_id"], old["commune_vn"], strict=True))
    for code in old["commune_id"]:
        c = by_old.get(code)
        if c is None:
            continue
        if c in new.index and normalise(new.at[c, "new_name"]) == normalise(name_of[code]):
            links.append((code, c, "code"))          # the 2019 table misplaces some ids: a link must keep the name
        elif c not in new.index and successor.get(c) in new.index:
            links.append((code, successor[c], "changes"))
    found = {o for o, _, _ in links}
    index = NameIndex(new.index, new["new_name"], new["new_district_name"], new["new_province_name"])
    for r in old[~old["commune_id"].isin(found)].itertuples():
        code, rule = index.place(r.commune_vn, r.district_vn, r.province_vn)[:2]
        if code is not None and rule in (EXACT, BY_PROVINCE):      # a district renamed since (Quận 9 -> Thủ Đức)
            links.append((r.commune_id, code, "names" if rule == EXACT else "names_province"))
    out = pd.DataFrame(links, columns=["old_code", "new_code", "method"])
    # the 2021 communes nothing leads to: listed with no predecessor, so the derivation counts them
    rest = pd.DataFrame({"old_code": "", "new_code": sorted(set(new.index) - set(out["new_code"])), "method": "none"})
    return pd.concat([out, rest], ignore_index=True).join(new, on="new_code")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    out = crosswalk(args.shared)
    out.to_csv(args.out, index=False, encoding="utf-8")
    print(f"{len(out)} links, {out.loc[out['old_code'] != '', 'old_code'].nunique()} old communes -> {out['new_code'].nunique()} of "
          f"{len(list_2021(args.shared))} communes of 2021; by method: {out['method'].value_counts().to_dict()}")


if __name__ == "__main__":
    main()
