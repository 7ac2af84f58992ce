"""The 2021 communes derived from the 2009 polygons and the GSO code tables (../shared/data), and the
MoH announcements of 2021 placed on them."""
from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from helpers import COLUMNS_2009, COMMUNES_2009, ROOT, SHARED, invoke

GSO = SHARED / "vn_admin_units_gso_codes"
MOH = SHARED / "vn_covid_2021_moh_announcements" / "cases_by_unit_and_date_2021-04-27_2021-07-13.csv"
pytestmark = pytest.mark.skipif(not (COMMUNES_2009.exists() and GSO.exists() and MOH.exists()),
                                reason=f"shared data not found at {SHARED} (tests on real data need ../shared/data)")


@pytest.fixture(scope="module")
def derived(tmp_path_factory):
    from server import create_app
    tmp = tmp_path_factory.mktemp("derived")
    app = create_app({"ZONES_DATA_DIR": str(tmp / "data")})
    runner = app.test_cli_runner()
    assert invoke(runner, "import-units", COMMUNES_2009, "--boundary-version", "vn2009", *COLUMNS_2009).exit_code == 0
    xwalk = tmp / "gso-2009-2021.csv"
    made = subprocess.run([sys.executable, str(ROOT / "scripts" / "gso_crosswalk_2009_2021.py"), "--shared", str(SHARED),
                           "--out", str(xwalk)], capture_output=True, text=True, check=True)
    res = invoke(runner, "import-units", "--derive-from", "vn2009", "--crosswalk", xwalk, "--boundary-version", "vn2021")
    assert res.exit_code == 0, res.output
    return app, runner, res.output, made.stdout, xwalk, tmp


def test_the_2021_communes_are_derived_and_the_report_says_how_many(derived):
    app, _, out, made, xwalk, _ = derived
    links = pd.read_csv(xwalk, dtype=str, keep_default_na=False)
    assert links["new_code"].nunique() == 10_599                       # the GSO list of 01/11/2021, every commune
    report = json.loads((app.config["ZONES"].reports_dir / "units-vn2021.json").read_text())["derived"]
    assert report["n_new_in_crosswalk"] == 10_599
    assert report["n_derived"] + report["n_need_polygons"] == 10_599
    # every 2021 commune but those split since 2009 or with no 2009 predecessor found (`method` none)
    assert report["n_derived"] > 10_300 and report["n_merged"] > 50
    assert report["n_need_polygons"] >= (links["method"] == "none").sum()
    assert f"Dựng được {report['n_derived']}/10599 xã từ phiên bản vn2009" in out
    from geo.store.database import Store
    units = Store(app.config["ZONES"].db_path).load_units("vn2021", "commune").set_index("code")
    assert len(units) == report["n_derived"] and units["province_code"].nunique() == 63
    # a commune merged between 2009 and 2021 is the union of its predecessors, its population their sum
    merged = links[links["method"] != "none"].groupby("new_code").filter(lambda g: len(g) > 1)
    code = merged["new_code"].iloc[0]
    old = Store(app.config["ZONES"].db_path).load_units("vn2009", "commune").set_index("code")
    parts = old.loc[merged.loc[merged["new_code"] == code, "old_code"]]
    assert abs(units.geometry[code].area - parts.geometry.union_all().area) < 1e-9
    assert units.loc[code, "name"] == links.loc[links["new_code"] == code, "new_name"].iloc[0]


def test_moh_announcements_placed_on_the_derived_2021_version(derived):
    _, runner, _, _, _, tmp = derived
    moh = pd.read_csv(MOH, dtype=str, keep_default_na=False)
    xa = moh[moh["level"] == "xa"].rename(columns={"commune": "commune_name", "district": "district_name",
                                                   "province": "province_name", "date": "report_date", "cases": "count"})
    csv = tmp / "moh-2021.csv"
    xa[["report_date", "province_name", "district_name", "commune_name", "count"]].to_csv(csv, index=False)
    imp = invoke(runner, "import-cases", csv, "--community", "true", "--source-known", "true")
    assert imp.exit_code == 0, imp.output
    accepted = int(imp.output.split("Nhận ")[1].split(" dòng")[0])
    assert accepted / len(xa) >= 0.97, accepted / len(xa)
