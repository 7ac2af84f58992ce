"""The CLI through Flask's runner: imports, rejects, idempotency, reclassify, export."""
from __future__ import annotations

import json
import sqlite3

import filelock
import pandas as pd
import pytest
from helpers import case, cell_centre, grid, invoke, numbered, published, run_scenario, write_cases, write_units

from geo.store.database import Store

DAY = "2021-07-31"


def rejects_of(output: str) -> pd.DataFrame:
    path = output.split("dòng bị loại ghi ở ")[1].split("\n")[0].strip()
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def stored_cases(app) -> pd.DataFrame:
    """The stored cases, with the ids these tests use put back in place of their pseudonyms (the
    store never holds a case id itself: geo/ingest/personal.py)."""
    from geo.ingest import personal
    with sqlite3.connect(app.config["ZONES"].db_path) as con:
        df = pd.read_sql_query("SELECT * FROM cases ORDER BY case_key", con)
    ids = pd.Series([f"{a}{n}" for a in "ABCDEFGHK" for n in range(1, 20)] + list("abcdefgh"))
    back = dict(zip(personal.pseudonyms(ids, personal.key(app.config["ZONES"].data_dir)), ids, strict=False))
    assert df["case_id"].dropna().str.startswith("p:").all()
    df["case_id"] = df["case_id"].map(lambda v: back.get(v, v))
    return df


@pytest.fixture
def units(runner, tmp_path):
    g = grid(2, 3)
    g["name"] = ["Phường 1", "Phường Phú Hội", "Xã Hương Long", "Thị trấn Phú Bài", "Xã Phú Mậu", "Phường 1"]
    g["district_name"] = ["Thành phố Huế"] * 5 + ["Thị xã Hương Thủy"]
    g["district_code"] = ["101"] * 5 + ["102"]
    g["province_name"] = "Thừa Thiên Huế"
    res = invoke(runner, "import-units", write_units(g, tmp_path / "units.geojson"), "--boundary-version", "t1")
    assert res.exit_code == 0, res.output
    assert "Đã nhập 6 xã, 2 huyện, 1 tỉnh" in res.output
    return g


def test_line_list_by_code_point_and_names_then_idempotent(runner, app, tmp_path, units):
    lon, lat = cell_centre(units, "10005")
    rows = [
        {"case_id": "A1", "report_date": "2021-07-30", "commune_code": "10002"},
        {"case_id": "A2", "report_date": "30/07/2021", "lon": lon, "lat": lat},
        {"case_id": "A3", "report_date": DAY, "commune_name": "phuong phu hoi", "district_name": "TP. Huế",
         "province_name": "tỉnh Thừa Thiên - Huế"},
        {"case_id": "A4", "report_date": DAY, "commune_name": "Phường 01", "district_name": "Huế",
         "province_name": "Thừa Thiên Huế"},
    ]
    path = write_cases(rows, tmp_path / "cases.csv")
    res = invoke(runner, "import-cases", path, "--community", "true", "--source-known", "false")
    assert res.exit_code == 0, res.output
    assert "Nhận 4 dòng, loại 0 dòng" in res.output
    got = stored_cases(app).set_index("case_id")
    assert got["commune_code"].to_dict() == {"A1": "10002", "A2": "10005", "A3": "10002", "A4": "10001"}
    assert got["located_by"].to_dict() == {"A1": "code", "A2": "point", "A3": "names", "A4": "names"}
    assert got.loc["A2", "report_date"] == "2021-07-30"
    assert (got["community"] == 1).all() and (got["source_known"] == 0).all()
    before = stored_cases(app)
    res = invoke(runner, "import-cases", path, "--community", "true", "--source-known", "false")
    assert "Không thay đổi: 4 dòng đã có sẵn" in res.output
    pd.testing.assert_frame_equal(stored_cases(app).drop(columns="import_id"), before.drop(columns="import_id"))
    # a corrected file updates the changed row only
    rows[0]["report_date"] = "2021-07-29"
    res = invoke(runner, "import-cases", write_cases(rows, tmp_path / "fix.csv"), "--community", "true", "--source-known", "false")
    assert "Không thay đổi: 3 dòng" in res.output
    assert stored_cases(app).set_index("case_id").loc["A1", "report_date"] == "2021-07-29"


def test_bad_rows_are_kept_with_row_field_and_reason(runner, app, tmp_path, units):
    rows = [
        {"case_id": "B1", "report_date": DAY, "commune_code": "10001", "community": "true", "source_known": "true"},
        {"case_id": "B2", "report_date": "31/13/2021", "commune_code": "10001", "community": "true", "source_known": "true"},
        {"case_id": "B3", "report_date": DAY, "commune_code": "99999", "community": "true", "source_known": "true"},
        {"case_id": "B4", "report_date": DAY, "commune_name": "Phường 1", "district_name": "", "province_name": "Thừa Thiên Huế",
         "community": "true", "source_known": "true"},
        {"case_id": "B5", "report_date": DAY, "commune_name": "Phường Không Có", "district_name": "Thành phố Huế",
         "province_name": "Thừa Thiên Huế", "community": "true", "source_known": "true"},
        {"case_id": "B6", "report_date": "2099-01-01", "commune_code": "10001", "community": "true", "source_known": "true"},
        {"case_id": "B7", "report_date": DAY, "commune_code": "10001", "community": "maybe", "source_known": "true"},
        {"case_id": "B1", "report_date": DAY, "commune_code": "10002", "community": "true", "source_known": "true"},
        {"case_id": "B9", "report_date": DAY, "commune_code": "10001", "community": "true", "source_known": ""},
    ]
    res = invoke(runner, "import-cases", write_cases(rows, tmp_path / "bad.csv"))
    assert res.exit_code == 0
    assert "Nhận 1 dòng, loại 7 dòng" in res.output and "Chờ chọn xã: 1 dòng (1 ca)" in res.output
    rej = rejects_of(res.output).set_index("row")
    assert (rej["file"] == "bad.csv").all()
    assert rej.loc["3", "field"] == "report_date" and "not a date" in rej.loc["3", "reason"]
    assert rej.loc["4", "field"] == "commune_code" and "unknown commune_code 99999" in rej.loc["4", "reason"]
    # no district given: looked for in the province, where two communes are named "Phường 1": it waits for a choice
    assert "5" not in rej.index
    listed = invoke(runner, "review", "list").output
    assert "Thừa Thiên Huế /  / Phường 1" in listed and "(10001)" in listed and "(10006)" in listed
    assert "closest: Phường Phú Hội" in rej.loc["6", "reason"] or "closest:" in rej.loc["6", "reason"]
    assert "future" in rej.loc["7", "reason"]
    assert rej.loc["8", "field"] == "community"
    assert "duplicate case_id in this file, first at row 2" == rej.loc["9", "reason"]
    assert rej.loc["10", "field"] == "source_known"
    assert list(stored_cases(app)["case_id"]) == ["B1"]


def test_ambiguous_name_lists_candidates(runner, app, tmp_path, units):
    rows = [{"case_id": "C1", "report_date": DAY, "commune_name": "Phường 1", "district_name": "Huế",
             "province_name": "Thừa Thiên Huế", "community": "true", "source_known": "true"}]
    # same commune name in two districts: with the district given it is unique ...
    res = invoke(runner, "import-cases", write_cases(rows, tmp_path / "ok.csv"))
    assert "Nhận 1 dòng, loại 0 dòng" in res.output
    # ... two identical (province, district, commune) names are ambiguous
    g = units.copy()
    g.loc[g["code"] == "10006", ["district_name", "district_code"]] = ["Thành phố Huế", "101"]
    invoke(runner, "import-units", write_units(g, tmp_path / "u2.geojson"), "--boundary-version", "t2")
    rows[0]["case_id"] = "C2"
    res = invoke(runner, "import-cases", write_cases(rows, tmp_path / "amb.csv"))
    assert "Nhận 0 dòng, loại 0 dòng" in res.output and "Chờ chọn xã: 1 dòng" in res.output, res.output
    listed = invoke(runner, "review", "list").output
    assert "Phường 1, Thành phố Huế, Thừa Thiên Huế (10001)" in listed and "(10006)" in listed
    # the operator chooses; the case counts at once, and the same file later is placed by the choice
    key = next(line for line in listed.splitlines() if line.startswith("t2|")).split("\t")[0]
    assert invoke(runner, "review", "decide", key, "10006").exit_code == 0
    assert sorted(stored_cases(app)["case_id"]) == ["C1", "C2"]
    res = invoke(runner, "import-cases", write_cases(rows, tmp_path / "amb.csv"))
    assert "Nhận 1 dòng, loại 0 dòng" in res.output and "Chờ chọn xã" not in res.output, res.output
    assert len(stored_cases(app)) == 2


def test_daily_counts_from_xlsx_are_idempotent_on_date_and_commune(runner, app, tmp_path, units):
    df = pd.DataFrame([
        {"Ngày báo cáo": "2021-07-30", "Mã xã": "10001", "Số ca": 3, "community": "true", "source_known": "true"},
        {"Ngày báo cáo": "2021-07-31", "Mã xã": "10001", "Số ca": 2, "community": "true", "source_known": "false"},
        {"Ngày báo cáo": "2021-07-31", "Mã xã": "10002", "Số ca": -1, "community": "true", "source_known": "true"},
    ])
    path = tmp_path / "counts.xlsx"
    df.to_excel(path, index=False)
    res = invoke(runner, "import-cases", path)
    assert "Nhận 2 dòng, loại 1 dòng" in res.output, res.output
    assert rejects_of(res.output)["reason"].iat[0].startswith("count must be a whole number")
    res = invoke(runner, "import-cases", path)
    assert "Không thay đổi: 2 dòng" in res.output
    got = stored_cases(app)
    assert sorted(got["count"]) == [2, 3] and set(got["kind"]) == {"count"}


def test_personal_fields_never_leave_the_store(runner, app, tmp_path, units):
    rows = numbered([case("10001", DAY, known=False, cluster="K", ho_ten="Nguyễn Văn Bí Mật", dia_chi="12 Ngõ Riêng",
                          phone="0912345678"),
                     case("10001", DAY, known=False, cluster="K", ho_ten="Trần Thị Kín", dia_chi="34 Hẻm Kín",
                          phone="0987654321")])
    invoke(runner, "import-cases", write_cases(rows, tmp_path / "c.csv"))
    assert invoke(runner, "reclassify", "--date", DAY).exit_code == 0
    run_dir = app.config["ZONES"].runs_dir
    blob = b"".join(p.read_bytes() for p in run_dir.rglob("*") if p.is_file())
    for secret in ("Bí Mật", "Ngõ Riêng", "0912345678", "Trần Thị Kín", "0987654321"):
        assert secret.encode() not in blob
    with sqlite3.connect(app.config["ZONES"].db_path) as con:
        dump = "\n".join(con.iterdump())
    assert "0912345678" not in dump and "Ngõ Riêng" not in dump
    assert published(app, DAY, "commune")["10001"]["reasons"] == ["R1"]


def test_reclassify_without_inputs_fails_cleanly(runner, app, tmp_path):
    res = invoke(runner, "reclassify", "--date", DAY)
    assert res.exit_code != 0 and "import-units" in res.output
    invoke(runner, "import-units", write_units(grid(1, 2), tmp_path / "u.geojson"))
    res = invoke(runner, "reclassify", "--date", DAY)      # boundaries but no case data: not "all safe"
    assert res.exit_code != 0 and "Chưa nhập dữ liệu ca bệnh" in res.output
    assert Store(app.config["ZONES"].db_path).latest_run() is None
    res = invoke(runner, "reclassify", "--date", "2021-02-30")
    assert res.exit_code != 0 and "Ngày không hợp lệ" in res.output


def test_no_ruleset_in_force_keeps_previous_run(runner, app, tmp_path):
    run_scenario(runner, app, tmp_path, grid(1, 2), [], DAY)
    store = Store(app.config["ZONES"].db_path)
    before = store.latest_run()["run_id"]
    res = invoke(runner, "reclassify", "--date", "2021-01-15")
    assert res.exit_code != 0 and "Không có bộ quy tắc hiệu lực ngày 2021-01-15" in res.output
    assert store.latest_run()["run_id"] == before
    assert [p.name for p in app.config["ZONES"].runs_dir.iterdir()] == [before]


def test_rerun_replaces_the_date_and_keeps_the_old_run_readable(runner, app, tmp_path):
    run_scenario(runner, app, tmp_path, grid(1, 2), [], DAY)
    store = Store(app.config["ZONES"].db_path)
    first = store.run_for_date(DAY)["run_id"]
    invoke(runner, "import-cases", write_cases(numbered([case("10001", DAY, known=False)]), tmp_path / "more.csv"))
    res = invoke(runner, "reclassify", "--date", DAY)
    assert res.exit_code == 0
    second = store.run_for_date(DAY)["run_id"]
    assert second != first and second in res.output
    assert "Xã/phường: safe=0, risk=1, high_risk=1, very_high_risk=0, unknown=0" in res.output
    assert store.run_by_id(first)["manifest"]["counts"]["commune"]["safe"] == 2
    assert (app.config["ZONES"].runs_dir / first / "commune.geojson").exists()


def test_second_reclassify_waits_then_gives_up_with_a_message(runner, app, tmp_path):
    run_scenario(runner, app, tmp_path, grid(1, 2), [], DAY)
    settings = app.config["ZONES"]
    before = Store(settings.db_path).latest_run()["run_id"]
    from server import create_app
    impatient = create_app({"ZONES_DATA_DIR": str(settings.data_dir), "ZONES_LOCK_TIMEOUT": "0.2"})
    with filelock.FileLock(str(settings.lock_path)):
        res = invoke(impatient.test_cli_runner(), "reclassify", "--date", DAY)
    assert res.exit_code != 0 and "Một lệnh reclassify khác đang chạy" in res.output
    assert Store(settings.db_path).latest_run()["run_id"] == before


def test_export_formats(runner, app, tmp_path):
    run_scenario(runner, app, tmp_path, grid(1, 3), numbered([case("10002", DAY, setting="school")]), DAY)
    res = invoke(runner, "export", "--date", DAY, "--unit", "commune", "--format", "geojson", "--out", "-")
    data = json.loads(res.output)
    assert [f["properties"]["level"] for f in data["features"]] == ["high_risk", "very_high_risk", "high_risk"]
    out = tmp_path / "d.csv"
    assert invoke(runner, "export", "--date", DAY, "--unit", "district", "--format", "csv", "--out", out).exit_code == 0
    csv = pd.read_csv(out, dtype=str)
    # 1 red of 3 (>= 30 %) and 3 orange-or-worse of 3 (>= 50 %): both red factors, nothing lower
    assert csv.loc[0, "level"] == "very_high_risk" and json.loads(csv.loc[0, "reasons"]) == ["RV1", "RV2"]
    assert csv.loc[0, "n_very_high_risk"] == "1"
    gpkg = tmp_path / "p.gpkg"
    assert invoke(runner, "export", "--date", DAY, "--unit", "province", "--format", "gpkg", "--out", gpkg).exit_code == 0
    import pyogrio
    assert pyogrio.list_layers(gpkg)[0][0] == "province"
    res = invoke(runner, "export", "--date", "2021-08-01", "--unit", "commune", "--format", "csv", "--out", "-")
    assert res.exit_code != 0 and "Chưa có kết quả công bố cho ngày 01/08/2021" in res.output


def test_english_on_request(tmp_path, monkeypatch):
    monkeypatch.setenv("ZONES_LANG", "en")
    from server import create_app
    app = create_app({"ZONES_DATA_DIR": str(tmp_path / "d")})
    res = invoke(app.test_cli_runner(), "reclassify", "--date", DAY)
    assert res.exit_code != 0 and "No commune boundaries: run import-units first" in res.output


def test_crash_while_publishing_leaves_the_previous_run_served(runner, app, tmp_path, monkeypatch, client):
    run_scenario(runner, app, tmp_path, grid(1, 2), [], DAY)
    settings = app.config["ZONES"]
    store = Store(settings.db_path)
    before = store.run_for_date(DAY)["run_id"]
    from geo.publish import tiles

    def crash(proc):
        proc.kill()
        raise RuntimeError("power cut")
    monkeypatch.setattr(tiles, "finish_build", crash)
    invoke(runner, "import-cases", write_cases(numbered([case("10001", DAY, setting="school")]), tmp_path / "c.csv"))
    res = runner.invoke(args=["reclassify", "--date", DAY])
    assert res.exit_code != 0
    assert store.run_for_date(DAY)["run_id"] == before
    assert client.get(f"/api/zones.geojson?date={DAY}").get_json(force=True)["features"][0]["properties"]["run_id"] == before
    # an error while writing: nothing half-written is left (a killed process leaves its staging folder,
    # never visible and removed by the next run: tests/publish/test_crash.py)
    assert not [p.name for p in settings.runs_dir.iterdir() if p.name.startswith(".staging-")]
    monkeypatch.undo()
    assert invoke(runner, "reclassify", "--date", DAY).exit_code == 0
    assert store.run_for_date(DAY)["run_id"] != before
    assert not [p for p in settings.runs_dir.iterdir() if p.name.startswith(".staging-")]


def test_as_of_gives_what_had_been_published_then(runner, app, tmp_path, client):
    import datetime as dt
    import time
    run_scenario(runner, app, tmp_path, grid(1, 2), [], DAY)
    store = Store(app.config["ZONES"].db_path)
    first = store.run_for_date(DAY)["run_id"]
    seen_at = dt.datetime.now(dt.UTC).isoformat()
    time.sleep(0.01)
    invoke(runner, "import-cases", write_cases(numbered([case("10001", DAY, known=False)]), tmp_path / "late.csv"))
    assert invoke(runner, "reclassify", "--date", DAY).exit_code == 0
    second = store.run_for_date(DAY)["run_id"]
    assert second != first
    morning = client.get("/api/zones.geojson", query_string={"date": DAY, "as_of": seen_at}).get_json(force=True)
    assert {f["properties"]["run_id"] for f in morning["features"]} == {first}
    assert {f["properties"]["level"] for f in morning["features"]} == {"safe"}
    now = client.get(f"/api/zones.geojson?date={DAY}").get_json(force=True)
    assert {f["properties"]["run_id"] for f in now["features"]} == {second}
    assert client.get(f"/api/zones.geojson?date={DAY}&as_of=2001-01-01T00:00").status_code == 404
    assert client.get(f"/api/zones.geojson?date={DAY}&as_of=yesterday").status_code == 400
    res = invoke(runner, "export", "--date", DAY, "--format", "csv", "--out", "-", "--as-of", seen_at)
    assert res.exit_code == 0 and first in res.output and second not in res.output


def test_commands_are_listed_without_loading_them_and_each_line_is_its_own(app, tmp_path):
    """`--help` lists every command from geo.cli.COMMANDS without importing a command's module (nor the libraries
    only some commands or pages use); each listed line is the command's own first line; running one loads its
    module only."""
    import subprocess
    import sys

    from geo.cli import COMMANDS, ModuleLoader
    loader = ModuleLoader(type(app.cli), app.config)
    for name, (module, line) in COMMANDS.items():
        assert loader.commands(module)[name].get_short_help_str(limit=500) == line, name
    modules = sorted({m for m, _ in COMMANDS.values()})
    probe = ("import sys\nfrom flask.cli import FlaskGroup\n"
             "try:\n    FlaskGroup(create_app=__import__('server').create_app).main(sys.argv[1:], standalone_mode=False)\n"
             "finally:\n    print('LOADED', ' '.join(sorted(m for m, v in sys.modules.items() if (m.startswith('geo.cli.') or "
             "m in ('folium', 'openpyxl', 'docx')) and type(v).__name__ != '_LazyModule')))\n")
    env = {"ZONES_DATA_DIR": str(tmp_path / "data"), "PATH": ""}

    def loaded(*args: str) -> set[str]:
        out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, env=env, check=True,
                             cwd=str(__import__("server").ROOT)).stdout
        return set(out.split("LOADED")[1].split())
    assert not loaded("--help") & ({f"geo.cli.{m}" for m in modules} | {"folium", "openpyxl", "docx"})
    used = loaded("users", "add", "ana", "--role", "viewer")
    assert "geo.cli.admin" in used and not used & {"geo.cli.runs", "geo.cli.imports", "folium", "docx"}


def test_a_point_keeps_the_commune_import_gave_it_unless_its_polygons_were_replaced(runner, app, tmp_path):
    """The evaluation does not place again a point the import placed under the version it evaluates (the same
    polygons: the same commune); a version replaced before any run used it has its points placed again."""
    g = grid(1, 2)
    assert invoke(runner, "import-units", write_units(g, tmp_path / "u.geojson"), "--boundary-version", "t1").exit_code == 0
    lon, lat = cell_centre(g, "10002")
    path = write_cases([case("", DAY, lon=lon, lat=lat, count=3)], tmp_path / "c.csv")
    assert invoke(runner, "import-cases", path).exit_code == 0
    assert stored_cases(app)[["commune_code", "located_by", "code_version"]].values.tolist() == [["10002", "point", "t1"]]
    # the same version imported again with the two codes swapped (a correction, before any run used it)
    swapped = g.assign(code=["10002", "10001"])
    assert invoke(runner, "import-units", write_units(swapped, tmp_path / "u2.geojson"), "--boundary-version", "t1").exit_code == 0
    assert stored_cases(app)["code_version"].isna().all()
    assert invoke(runner, "reclassify", "--date", DAY).exit_code == 0
    communes = published(app, DAY, "commune")
    assert (communes["10001"]["community_cases"], communes["10002"]["community_cases"]) == (3, 0)
