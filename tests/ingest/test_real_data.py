"""The real national 2009 layer and the MoH commune announcements of 2021 (../shared/data)."""
from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from helpers import COLUMNS_2009, COMMUNES_2009, MOH, SHARED, invoke, moh_communes, published

pytestmark = pytest.mark.skipif(not (COMMUNES_2009.exists() and MOH.exists()),
                                reason=f"shared data not found at {SHARED} (tests on real data need ../shared/data)")
DAY = "2021-07-13"


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    from server import create_app
    tmp = tmp_path_factory.mktemp("national")
    app = create_app({"ZONES_DATA_DIR": str(tmp / "data")})
    runner = app.test_cli_runner()
    res = invoke(runner, "import-units", COMMUNES_2009, "--boundary-version", "vn2009", *COLUMNS_2009)
    assert res.exit_code == 0, res.output
    # The MoH file is commune names per day: daily counts, community and known source for the file.
    path = tmp / "moh_communes.csv"
    xa = moh_communes(path)
    imp = invoke(runner, "import-cases", path, "--community", "true", "--source-known", "true")
    assert imp.exit_code == 0, imp.output
    res = invoke(runner, "reclassify", "--date", DAY)
    assert res.exit_code == 0, res.output
    return app, runner, res.output, imp.output, xa


def test_national_layer_imports_with_its_topology_measured(national):
    app, _, out, _, _ = national
    report = json.loads((app.config["ZONES"].reports_dir / "units-vn2009.json").read_text())
    assert (report["n_communes"], report["n_districts"], report["n_provinces"]) == (11163, 703, 63)
    # SOURCE.md: 16,273 commune pairs overlap by more than 1 ha; we count every overlap above 1 m²
    assert report["n_overlaps"] > 16_273 and 900 < report["overlap_km2"] < 1200
    assert report["n_gaps"] > 1000 and report["repaired"] == []
    assert "Tỉnh/thành phố:" in out


def _summary(imp: str) -> tuple[int, int, int, int]:
    """(rows accepted, rejected, waiting for a choice, their cases) as import-cases printed them."""
    accepted = int(imp.split("Nhận ")[1].split(" dòng")[0])
    rejected = int(imp.split("loại ")[1].split(" dòng")[0])
    waiting = int(imp.split("Chờ chọn xã: ")[1].split(" dòng")[0]) if "Chờ chọn xã: " in imp else 0
    waiting_cases = int(imp.split("Chờ chọn xã: ")[1].split("(")[1].split(" ca")[0]) if waiting else 0
    return accepted, rejected, waiting, waiting_cases


def test_moh_announcements_are_placed_or_rejected_with_reasons(national):
    """Every row stored, waiting for an operator's choice (doubtful names, with candidates) or rejected with its
    reason; none lost as a duplicate: two provinces announcing one commune on one day are two reports."""
    app, runner, _, imp, xa = national
    accepted, rejected, waiting, waiting_cases = _summary(imp)
    assert accepted + rejected + waiting == len(xa)
    assert accepted / len(xa) >= 0.99 and rejected <= 5, (accepted, rejected, waiting)
    assert "same date, commune" not in imp
    # Bắc Giang (181) and Lạng Sơn (2) both announced Quang Châu, Việt Yên on 25/5; Bình Dương (14) and TP HCM (30)
    # both Bình Chiểu, Thủ Đức on 11/7: both count
    import sqlite3

    from geo.store.database import Store
    with sqlite3.connect(Store(app.config["ZONES"].db_path).path) as con:
        def day_total(code, day):
            return con.execute("SELECT SUM(count) FROM cases WHERE commune_code = ? AND report_date = ?", (code, day)).fetchone()[0]
        assert day_total("2211735", "2021-05-25") == 183 and day_total("7013315", "2021-07-11") == 44
    # the doubtful wait with their candidates: TP HCM's "Cái Răng / Tân Phú" (a Thủ Đức ward the source filled in
    # with a Cần Thơ district) is never Cần Thơ's, and TP HCM has two Tân Phú
    listed = invoke(runner, "review", "list")
    assert f"({waiting} dòng, {waiting_cases} ca)" in listed.output
    tan_phu = [line for line in listed.output.splitlines() if "Cái Răng / Tân Phú" in line and "TP. Hồ Chí Minh" in line]
    assert tan_phu and "14 / 356" in tan_phu[0], listed.output[:2000]
    block = listed.output.split(tan_phu[0])[1].split("\nvn2009|")[0]
    assert "Quận 7" in block and "Quận 9" in block and "Cần Thơ" not in block
    rejects = pd.read_csv(imp.split("dòng bị loại ghi ở ")[1].split("\n")[0].strip(), dtype=str, keep_default_na=False)
    assert len(rejects) == rejected and rejects["reason"].str.contains("unknown commune").all()


def test_every_placement_by_a_fallback_names_its_rule(national):
    from geo.base.names import EARLIER_CODE, EARLIER_NAMES, OPERATOR_CHOICE
    from geo.ingest.cases import NON_EXACT
    _, _, _, imp, xa = national
    listed = imp.split("each row and where it was placed: ")[1].split("\n")[0].strip()
    placed = pd.read_csv(listed, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    # every fallback but the earlier versions' (this store has one boundary version) and no choice made yet
    assert set(placed["rule"]) == set(NON_EXACT) - {EARLIER_CODE, EARLIER_NAMES, OPERATOR_CHOICE}
    assert placed["placed_commune_name"].ne("").all()
    assert 300 < len(placed) < 0.1 * len(xa)
    by = {(r.province_name, r.district_name, r.commune_name): (r.placed_commune_name, r.placed_district_name, r.rule)
          for r in placed.itertuples()}
    # Thủ Đức became a city of Quận 2, Quận 9 and Thủ Đức in 2021; the 2009 layer has the three districts
    assert by[("TP. Hồ Chí Minh", "Thủ Đức", "Tăng Nhơn Phú B")][:2] == ("Phường Tăng Nhơn Phú B", "Quận 9")
    assert by[("TP. Hồ Chí Minh", "Thủ Đức", "Thảo Điền")][:2] == ("Phường Thảo Điền", "Quận 2")
    # Bình Dương announcing a case of Thủ Đức's Bình Chiểu (Bình Dương has none): outside, listed for review
    assert by[("Bình Dương", "Thủ Đức", "Bình Chiểu")] == ("Phường Bình Chiểu", "Quận Thủ Đức", "names_district_commune")
    # the announcing province has the commune, one tone away: Bắc Giang's, not another province's district
    assert by[("Bắc Giang", "Ba Đồn", "Quảng Châu")][:2] == ("Xã Quang Châu", "Huyện Việt Yên")
    assert by[("Bắc Giang", "Chợ Mới", "Kiến Thành")][:2] == ("Xã Kiên Thành", "Huyện Lục Ngạn")
    assert by[("Bắc Giang", "Hoằng Hóa", "Hoằng Lương")][:2] == ("Xã Hoàng Lương", "Huyện Hiệp Hòa")
    assert by[("Bắc Giang", "Đồ Sơn", "Minh Đức")][:2] == ("Xã Minh Đức", "Huyện Việt Yên")
    # every placement outside the announcing province is flagged for review, and counted in the notes
    outside = placed[placed["outside_announcing_province"] == "True"]
    assert len(outside) and (placed.loc[outside.index, "review"] == "True").all()
    assert f"{len(outside)} rows (" in imp


def test_no_row_placed_outside_an_announcing_province_that_has_the_commune(national):
    """The independent reader's check: for every placed row whose announcing province has a commune of that name
    in the GSO list of 2019 (tones as written, or one tone away), the row is in that province. And every distinct
    placement outside it agrees with the GSO change report where the report names one commune for the district
    and commune announced (its 2019 or 2024 district)."""
    from geo.base.names import normalise, tone_distance, tone_key
    _, _, _, imp, _ = national
    placed = pd.read_csv(imp.split("each row and where it was placed: ")[1].split("\n")[0].strip(), dtype=str,
                         keep_default_na=False, encoding="utf-8-sig")
    gso = pd.read_csv(SHARED / "vn_admin_units_gso_codes" / "commune_changes_2019-01-01_to_2024-11-10.csv", dtype=str,
                      keep_default_na=False)
    names_in = defaultdict(list)
    known = defaultdict(set)
    for r in gso.itertuples():
        names_in[(normalise(r.province_name_2019), normalise(r.commune_name_2019))].append(tone_key(r.commune_name_2019))
        for district, commune in ((r.district_name_2019, r.commune_name_2019), (r.district_name_2024, r.commune_name_2024)):
            if commune:
                known[(normalise(district), normalise(commune))].add((normalise(r.province_name_2019), normalise(r.commune_name_2019)))
    wrong, checked = [], 0
    for r in placed.drop_duplicates(["province_name", "district_name", "commune_name"]).itertuples():
        tones = tone_key(r.commune_name)
        here = [t for t in names_in.get((normalise(r.province_name), normalise(r.commune_name)), [])
                if tone_distance(t, tones) <= 1]
        if here and normalise(r.placed_province_name) != normalise(r.province_name):
            wrong.append((r.province_name, r.district_name, r.commune_name, r.placed_commune_name, r.placed_province_name))
        if r.outside_announcing_province == "True":
            truth = known.get((normalise(r.district_name), normalise(r.commune_name)), set())
            if len(truth) == 1:
                checked += 1
                if next(iter(truth)) != (normalise(r.placed_province_name), normalise(r.placed_commune_name)):
                    wrong.append((r.province_name, r.district_name, r.commune_name, r.placed_commune_name, "GSO"))
    assert checked >= 100 and wrong == [], (checked, wrong)


def test_every_commune_classified_and_case_rates_respected(national):
    app, _, _, imp, xa = national
    communes = published(app, DAY, "commune")
    assert len(communes) == 11163
    # independent recount of the 14-day window from what the store accepted (population as imported:
    # the file's three fractional values are "12.45" and "10.55", no head count, unknown, and "20.745", 20,745)
    import sqlite3

    from geo.store.database import Store
    with sqlite3.connect(Store(app.config["ZONES"].db_path).path) as con:
        pop = {c: np.nan if v is None else v for c, v in
               con.execute("SELECT code, population FROM units WHERE unit = 'commune'").fetchall()}
        cases = pd.read_sql_query("SELECT commune_code, count FROM cases WHERE report_date BETWEEN '2021-06-30' AND ?",
                                  con, params=(DAY,))
    per = cases.groupby("commune_code")["count"].sum()
    assert per.sum() == sum(c["community_cases"] for c in communes.values())
    for code, n in per.items():
        p = pop[code]
        props = communes[code]
        if p > 0 and n * 100_000 > p:        # Y1 holds: at least yellow, and yellow because of Y1
            assert props["level"] in ("risk", "high_risk", "very_high_risk"), code
            assert props["level"] != "risk" or "Y1" in props["reasons"], code
        if p <= 0 or np.isnan(p):
            assert props["level"] != "safe", code
    zero_pop = [c for c, p in pop.items() if not p > 0]
    assert zero_pop and all(communes[c]["level"] != "safe" for c in zero_pop)
    assert np.isnan(pop["7012909"]) and pop["7170118"] == 20745
    districts = published(app, DAY, "district")
    assert len(districts) == 703
    assert sum(d["n_unknown"] + d["n_safe"] + d["n_risk"] + d["n_high_risk"] + d["n_very_high_risk"]
               for d in districts.values()) == 11163


LEVELS_FILE = SHARED / "vn_covid_levels_published" / "vn_province_levels_moh_3_snapshots.csv"


@pytest.mark.skipif(not LEVELS_FILE.exists(), reason=f"{LEVELS_FILE} not found (../shared/data)")
def test_moh_province_lists_are_declared_and_the_dirty_one_refused_whole(national):
    """The MoH province lists of 22/10/2021 and 22/01/2022 become declared levels (cấp 1-4); the list of
    01/03/2022 names Khánh Hòa twice and leaves Hậu Giang out: refused whole, row by row, and said."""
    import sqlite3

    from geo.store.database import Store
    app, runner, _, _, _ = national
    res = invoke(runner, "declare", "--file", LEVELS_FILE, "--decision", "Bộ Y tế", "--by", "Bộ Y tế")
    assert res.exit_code == 0, res.output
    assert "Nhận 126 dòng, loại 63 dòng" in res.output
    assert "list 2022-03-01 | Bộ Y tế: refused (63 rows), nothing of it stored" in res.output
    assert "list 2022-03-01 | Bộ Y tế: 62 of 63 provinces; not listed: Hậu Giang" in res.output
    with sqlite3.connect(Store(app.config["ZONES"].db_path).path) as con:
        got = dict(((d, lv), n) for d, lv, n in con.execute(
            "SELECT valid_from, level, COUNT(*) FROM declarations GROUP BY valid_from, level"))
    # the counts each list states (SOURCE.md): 26 + 37 on 22/10/2021, 33 + 24 + 6 on 22/01/2022
    assert got == {("2021-10-22", "safe"): 26, ("2021-10-22", "risk"): 37,
                   ("2022-01-22", "safe"): 33, ("2022-01-22", "risk"): 24, ("2022-01-22", "high_risk"): 6}


def test_an_operator_places_the_doubtful_and_the_choice_is_remembered(national):
    """Last (it adds cases after the day was classified): the operator picks Quận 9 (Thủ Đức city) for TP HCM's
    "Cái Răng / Tân Phú"; its 356 cases count at once, the choice is audited and remembered for the next import."""
    app, runner, _, imp, xa = national
    accepted, rejected, waiting, waiting_cases = _summary(imp)
    listed = invoke(runner, "review", "list").output
    key = next(line for line in listed.splitlines() if "Cái Răng / Tân Phú" in line and "TP. Hồ Chí Minh" in line).split("\t")[0]
    assert invoke(runner, "review", "decide", key, "9999999").exit_code != 0        # not a commune of the version
    res = invoke(runner, "review", "decide", key, "7011715")
    assert res.exit_code == 0 and "14 dòng (356 ca)" in res.output, res.output
    assert "review-decide" in invoke(runner, "audit", "--limit", "3").output
    assert (accepted + 14) / len(xa) >= 0.992
    cases = pd.to_numeric(xa["count"]).sum()
    rejects = pd.read_csv(imp.split("dòng bị loại ghi ở ")[1].split("\n")[0].strip(), dtype=str, keep_default_na=False)
    assert 1 - (waiting_cases - 356 + pd.to_numeric(rejects["count"]).sum()) / cases >= 0.995
    again = invoke(runner, "import-cases", app.config["ZONES"].data_dir.parent / "moh_communes.csv",
                   "--community", "true", "--source-known", "true")
    assert _summary(again.output)[2] == waiting - 14 and "Không thay đổi: " in again.output, again.output
    import sqlite3

    from geo.store.database import Store
    with sqlite3.connect(Store(app.config["ZONES"].db_path).path) as con:
        n = con.execute("SELECT COUNT(*), SUM(count) FROM cases WHERE located_by = 'operator_choice'").fetchone()
    assert n == (14, 356)           # the same rows, placed by the remembered choice, not added twice
