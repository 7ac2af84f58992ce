"""The operator's console as a browser uses it, through the real app: signing in once with a token
gives an HttpOnly SameSite=Strict session cookie; form posts need the session's CSRF token and this
site's origin; signing out (or revoking the user) ends the session on the server; a sign-in never
keeps a session id chosen before it (fixation); a session expires; a viewer sees no write action; a
held run is released from the console with a reason, audited; the audit log is filtered."""
from __future__ import annotations

import html
import re

import pytest
from helpers import case, grid, invoke, numbered, write_cases, write_units

from geo.domain import audit
from geo.serve import auth, sessions
from geo.store.database import Store

DAY = "2021-07-31"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _sign_in(client, token: str):
    return client.post("/console/signin", data={"token": token})


@pytest.fixture
def users(app):
    store = Store(app.config["ZONES"].db_path)
    return {role: auth.add_user(store, f"cb-{role}", role) for role in ("viewer", "operator", "admin")}


def test_sign_in_sets_a_strict_httponly_session_cookie(client, users):
    r = _sign_in(client, users["operator"])
    assert r.status_code == 303 and r.headers["Location"].startswith("/console")
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith(f"{sessions.COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert users["operator"] not in cookie                         # the token itself never goes into a cookie
    page = client.get("/console").get_data(as_text=True)
    assert "cb-operator" in page and "cán bộ nghiệp vụ" in page and "Đăng xuất" in page
    bad = _sign_in(client.application.test_client(), "not-a-token")
    assert bad.status_code == 401 and "Mã truy cập không đúng" in bad.get_data(as_text=True)


def test_form_posts_need_the_csrf_token_and_this_origin(client, users):
    _sign_in(client, users["operator"])
    token = _csrf(client.get("/console").get_data(as_text=True))
    assert client.post("/console/signout").status_code == 403                       # no token
    assert client.post("/console/signout", data={"csrf": "forged"}).status_code == 403
    r = client.post("/console/signout", data={"csrf": token}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403                                                     # a cross-site form post
    assert "cb-operator" in client.get("/console").get_data(as_text=True)          # still signed in
    # the API's write path is unchanged: a session cookie never authorises it
    assert client.post("/api/declarations", json={}).status_code == 401
    r = client.post("/console/signout", data={"csrf": token}, headers={"Origin": "http://localhost"})
    assert r.status_code == 303


def test_sign_out_ends_the_session_on_the_server(app, client, users):
    r = _sign_in(client, users["admin"])
    sid = r.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    token = _csrf(client.get("/console").get_data(as_text=True))
    out = client.post("/console/signout", data={"csrf": token})
    assert out.status_code == 303 and f"{sessions.COOKIE}=;" in out.headers["Set-Cookie"]
    thief = app.test_client()
    thief.set_cookie(sessions.COOKIE, sid)                     # a copy of the old cookie is worth nothing
    page = thief.get("/console").get_data(as_text=True)
    assert "cb-admin" not in page and 'name="token"' in page


def test_no_fixation_expiry_and_revocation(app, users):
    store = Store(app.config["ZONES"].db_path)
    c = app.test_client()
    c.set_cookie(sessions.COOKIE, "chosen-by-an-attacker")
    r = _sign_in(c, users["operator"])
    sid = r.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    assert sid != "chosen-by-an-attacker" and len(sid) >= 40
    assert sessions.user(store, "chosen-by-an-attacker") is None
    # expiry: a session of zero hours is over at once
    gone = sessions.start(store, users["viewer"], hours=0)
    assert gone is not None and sessions.user(store, gone[0]) is None
    # revoking the user ends their sessions
    assert sessions.user(store, sid)["name"] == "cb-operator"
    auth.revoke(store, "cb-operator")
    assert sessions.user(store, sid) is None


def test_a_viewer_sees_no_write_action(client, users):
    _sign_in(client, users["viewer"])
    page = client.get("/console").get_data(as_text=True)
    assert "cb-viewer" in page and 'id="read-only"' in page
    assert "Vẫn công bố" not in page and 'id="audit"' not in page
    token = _csrf(page)
    assert client.post("/console/holds/x/publish", data={"csrf": token, "reason": "r"}).status_code == 403


def test_a_held_run_is_released_from_the_console_and_audited(app, tmp_path, users):
    from server import create_app
    gated = create_app({"ZONES_DATA_DIR": str(app.config["ZONES"].data_dir), "ZONES_QUALITY_GATE": "on"})
    runner = gated.test_cli_runner()
    units = grid(2, 2)
    assert invoke(runner, "import-units", write_units(units, tmp_path / "u.geojson")).exit_code == 0
    rows = numbered([case("10001", "2021-07-01")])          # the newest case a month before the day: held
    assert invoke(runner, "import-cases", write_cases(rows, tmp_path / "c.csv")).exit_code == 0
    res = invoke(runner, "reclassify", "--date", DAY)
    assert res.exit_code == 3, res.output
    run_id = res.output.split("Lần chạy ")[1].split(" ")[0]
    c = gated.test_client()
    _sign_in(c, users["operator"])
    page = c.get("/console").get_data(as_text=True)
    assert run_id in page and "dữ liệu cũ" in page
    token = _csrf(page)
    assert c.post(f"/console/holds/{run_id}/publish", data={"csrf": token, "reason": " "}).status_code == 400
    r = c.post(f"/console/holds/{run_id}/publish", data={"csrf": token, "reason": "đã kiểm tra với CDC tỉnh"})
    assert r.status_code == 200 and f"Đã công bố lần chạy {run_id}" in r.get_data(as_text=True)
    assert Store(app.config["ZONES"].db_path).run_for_date(DAY)["run_id"] == run_id
    a = gated.test_client()
    _sign_in(a, users["admin"])
    log = a.get("/console?action=publish-anyway").get_data(as_text=True)
    assert "publish-anyway" in log and run_id in log and "cb-operator" in log
    assert "console-signin" not in log                                   # filtered to the one action
    c.post("/console/signout", data={"csrf": "forged"})                   # refused, and audited
    refused = a.get("/console?outcome=refused").get_data(as_text=True)
    # the log in the operator's words and Vietnam time (the ids kept as data)
    assert "bị từ chối: csrf" in refused and 'data-action="publish-anyway"' not in refused
    assert "Công bố lượt bị giữ lại" in log and re.search(r'<td class="small">\d{2}/\d{2}/\d{4} \d{2}:\d{2}</td>', log)


def test_an_operator_imports_an_xlsx_sees_the_reject_and_downloads_it(app, runner, tmp_path, users):
    """As an office sends it: an XLSX line list with a personal column and one bad row; the page shows
    the dropped column and the rejected row, the rejects come back as XLSX, corrected, imported again."""
    import io

    from openpyxl import Workbook, load_workbook
    assert invoke(runner, "import-units", write_units(grid(2, 2), tmp_path / "u.geojson")).exit_code == 0

    def xlsx(rows):
        wb = Workbook()
        ws = wb.active
        ws.append(["Mã ca", "Ngày công bố", "Mã xã", "Họ và tên", "Cộng đồng", "Rõ nguồn"])
        for r in rows:
            ws.append(r)
        buf = io.BytesIO()
        wb.save(buf)
        buf.seek(0)
        return buf

    c = app.test_client()
    _sign_in(c, users["operator"])
    token = _csrf(c.get("/console").get_data(as_text=True))
    rows = [["BN1", "2021-07-30", "10001", "Nguyễn Văn A", "có", "không"],
            ["BN2", "2021-07-30", "99999", "Trần Thị B", "có", "có"]]
    r = c.post("/console/upload", data={"csrf": token, "kind": "cases", "file": (xlsx(rows), "ca-benh.xlsx")},
               content_type="multipart/form-data")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "nhận 1 dòng" in page and "loại 1 dòng" in page, page[-2000:]
    assert 'id="personal"' in page and "Họ và tên" in page
    assert "Nguyễn Văn A" not in page and "Trần Thị B" not in page           # no name on the page
    assert "mã xã không có trong ranh giới hiện hành: 99999" in page, page[page.find('id="result"'):][:3000]
    link = page.split('id="rejects-xlsx" href="')[1].split('"')[0]
    got = c.get(link)
    assert got.status_code == 200 and got.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(got.data)).active
    table = [[cell.value for cell in row] for row in ws.iter_rows()]
    assert "Họ và tên" not in table[0] and any("99999" in map(str, row) for row in table[1:]), table
    assert app.test_client().get(link).status_code in (401, 403)             # not for anyone else
    fixed = [["BN2", "2021-07-30", "10002", "Trần Thị B", "có", "có"]]
    r = c.post("/console/upload", data={"csrf": token, "kind": "cases", "file": (xlsx(fixed), "ca-benh-sua.xlsx")},
               content_type="multipart/form-data")
    assert "nhận 1 dòng" in r.get_data(as_text=True) and "loại 0 dòng" in r.get_data(as_text=True)
    # no CSRF token: refused before the file is read
    r = c.post("/console/upload", data={"kind": "cases", "file": (xlsx(fixed), "x.xlsx")}, content_type="multipart/form-data")
    assert r.status_code == 403


def test_the_sign_in_form_is_reachable_when_reading_needs_a_token(app, users):
    from server import create_app
    closed = create_app({"ZONES_DATA_DIR": str(app.config["ZONES"].data_dir), "ZONES_READ_ACCESS": "token"}).test_client()
    page = closed.get("/console")
    assert page.status_code == 200 and 'name="token"' in page.get_data(as_text=True)
    assert closed.get("/api/runs").status_code == 401
    _sign_in(closed, users["viewer"])
    assert closed.get("/api/runs").status_code == 200          # the session lets the browser read


@pytest.mark.parametrize("kind", ["cases", "flags", "indicators", "declarations"])
def test_each_template_imports_its_own_example_row(app, runner, tmp_path, users, kind):
    """A blank template as downloaded: Vietnamese headers, validation on the checked columns, and an
    example row that the importer takes as it is (the same file an office fills in)."""
    import io

    from openpyxl import load_workbook
    # boundaries without the code 10001: the example row names a commune these boundaries have
    codes = ["0" + str(26734 + k) for k in range(4)]
    assert invoke(runner, "import-units", write_units(grid(2, 2, codes=codes), tmp_path / "u.geojson")).exit_code == 0
    c = app.test_client()
    _sign_in(c, users["operator"])
    page = c.get("/console").get_data(as_text=True)
    assert f'href="/console/templates/{kind}.xlsx"' in page
    got = c.get(f"/console/templates/{kind}.xlsx")
    assert got.status_code == 200 and got.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(got.data)).active
    headers = [cell.value for cell in ws[1]]
    assert any(h and any(ch in h for ch in "ãạảáàăâđêôơư") for h in headers), headers      # Vietnamese headers
    assert ws.data_validations.dataValidation, "no validation"
    assert [cell.value for cell in ws[2]][headers.index("Mã xã" if kind in ("cases", "flags") else "Mã")] == "026734"
    r = c.post("/console/upload", data={"csrf": _csrf(page), "kind": kind,
                                        "file": (io.BytesIO(got.data), f"mau-{kind}.xlsx")},
               content_type="multipart/form-data")
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and "nhận 1 dòng" in text and "loại 0 dòng" in text, text[text.find('id="result"'):][:1500]


def test_preview_maps_an_unknown_column_and_remembers_it_for_the_layout(app, runner, tmp_path, users):
    """An office's own header ("Mã ĐVHC" for the commune code) is not known to the importer: the preview
    says so (and hides a personal column's cells), the operator maps it once, and the next file of the
    same layout imports with that mapping without asking."""
    import io
    assert invoke(runner, "import-units", write_units(grid(2, 2), tmp_path / "u.geojson")).exit_code == 0
    c = app.test_client()
    _sign_in(c, users["operator"])
    token = _csrf(c.get("/console").get_data(as_text=True))
    text = ("Mã ca,Ngày công bố,Mã ĐVHC,Điện thoại liên hệ\n"
            "BN1,30/07/2021,10001,0912345678\nBN2,30/07/2021,10002,0987654321\n")

    def send(url, body, **extra):
        return c.post(url, data={"csrf": token, "kind": "cases", "file": (io.BytesIO(body.encode()), "xa-phuong.csv"), **extra},
                      content_type="multipart/form-data")
    p = send("/console/preview", text)
    assert p.status_code == 200, p.data
    cols = {col["header"]: col for col in p.get_json()["columns"]}
    assert cols["Mã ca"]["target"] == "case_id" and cols["Ngày công bố"]["target"] == "report_date"
    # the columns offered under their names in the operator's language (the id is what the form sends)
    assert {"id": "commune_code", "label": "Mã xã"} in p.get_json()["fields"]
    assert cols["Mã ĐVHC"]["target"] == "" and cols["Điện thoại liên hệ"]["personal"]
    assert "0912345678" not in p.get_data(as_text=True)                       # a personal cell never shown
    assert send("/console/preview", text, csrf="forged").status_code == 403
    # without a mapping the file cannot be located: refused, nothing stored
    r = send("/console/upload", text)
    assert r.status_code == 400 and "Mã xã" in r.get_data(as_text=True) and "commune_code" not in r.get_data(as_text=True)
    r = send("/console/upload", text, **{"map::Mã ĐVHC": "commune_code", "remember": "1", "community": "true"})
    page = html.unescape(r.get_data(as_text=True))
    # no community and source columns: each row says what to do, in the operator's words
    assert "loại 2 dòng" in page and 'chọn "Rõ nguồn lây" khi nhập' in page and "--source-known" not in page
    r = send("/console/upload", text, **{"map::Mã ĐVHC": "commune_code", "remember": "1", "community": "true",
                                         "source_known": "true"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "nhận 2 dòng" in page and "Mã ĐVHC → Mã xã" in page, page[-1500:]
    again = text.replace("BN1", "BN3").replace("BN2", "BN4")
    p = send("/console/preview", again)
    assert {col["header"]: col for col in p.get_json()["columns"]}["Mã ĐVHC"] == \
        {"header": "Mã ĐVHC", "target": "commune_code", "personal": False, "remembered": True}
    r = send("/console/upload", again, community="true", source_known="true")
    page = r.get_data(as_text=True)
    assert "nhận 2 dòng" in page and "theo cách đã nhớ" in page


def test_an_admin_issues_a_token_shown_once_and_revokes_it(app, users):
    a = app.test_client()
    _sign_in(a, users["admin"])
    page = a.get("/console").get_data(as_text=True)
    assert 'id="users"' in page and "cb-operator" in page
    token = _csrf(page)
    r = a.post("/console/users", data={"csrf": token, "name": "cb-moi", "role": "operator"})
    body = r.get_data(as_text=True)
    new = re.search(r'id="token-once">([^<]+)<', body).group(1)
    assert r.status_code == 200 and len(new) >= 40
    assert new not in a.get("/console").get_data(as_text=True)              # shown once, never again
    b = app.test_client()
    assert _sign_in(b, new).status_code == 303
    assert a.post("/console/users", data={"csrf": token, "name": "x y!", "role": "operator"}).status_code == 400
    r = a.post("/console/users/cb-moi/revoke", data={"csrf": token})
    assert r.status_code == 200 and "Đã thu hồi quyền của cb-moi" in r.get_data(as_text=True)
    assert 'name="token"' in b.get("/console").get_data(as_text=True)       # their session ended
    o = app.test_client()
    _sign_in(o, users["operator"])
    page = o.get("/console").get_data(as_text=True)
    assert 'id="users"' not in page
    assert o.post("/console/users", data={"csrf": _csrf(page), "name": "cb-x", "role": "admin"}).status_code == 403


def test_what_if_lists_the_units_that_would_change_and_publishes_nothing(app, runner, tmp_path, users):
    """A red commune whose last case was 10 days ago: published today as the day's evaluation; with
    "14 clean days before a downgrade" it would have stayed red. The what-if says so, and writes nothing."""
    assert invoke(runner, "import-units", write_units(grid(2, 2), tmp_path / "u.geojson")).exit_code == 0
    rows = numbered([case("10001", "2021-07-05", known=False, cluster="K") for _ in range(2)]
                    + [case("10004", "2021-07-15")])
    assert invoke(runner, "import-cases", write_cases(rows, tmp_path / "c.csv")).exit_code == 0
    for day in ("2021-07-10", DAY):
        assert invoke(runner, "reclassify", "--date", day).exit_code == 0
    store = Store(app.config["ZONES"].db_path)
    before = store.run_for_date(DAY)["run_id"]
    c = app.test_client()
    _sign_in(c, users["operator"])
    token = _csrf(c.get("/console").get_data(as_text=True))

    def whatif(**form) -> str:
        """A what-if is a job: the post moves to its page, which shows the result when the job ends."""
        r = c.post("/console/whatif", data={"csrf": token, "date": DAY, **form})
        assert r.status_code == 303, r.get_data(as_text=True)[-1500:]
        job_id = r.headers["Location"].split("job=")[1].split("&")[0]
        assert _wait_for_job(c, job_id)["status"] == "done"
        return c.get(r.headers["Location"]).get_data(as_text=True)
    assert "0 đơn vị sẽ đổi mức" in whatif()
    # the same what-if asked again while it runs follows the running job (a double click is not an error)
    twice = [c.post("/console/whatif", data={"csrf": token, "date": DAY, "settings": "window_days=20"}) for _ in range(2)]
    assert [r.status_code for r in twice] == [303, 303] and twice[0].headers["Location"] == twice[1].headers["Location"]
    assert _wait_for_job(c, twice[0].headers["Location"].split("job=")[1].split("&")[0])["status"] == "done"
    page = whatif(settings="min_clean_days_before_downgrade=28")
    assert 'id="whatif-changes"' in page, page[-2000:]
    assert 'data-code="10001"' in page and "▲" in page
    import json
    drawn = json.loads(html.unescape(page.split('id="whatif-geo">')[1].split("</script>")[0]))
    changed = {f["properties"]["code"]: f["properties"] for f in drawn["features"] if f["properties"]["changed"]}
    rows = re.findall(r'<tr data-code="(\d+)">', page.split('id="whatif-changes"')[1].split("</table>")[0])
    assert set(changed) == set(rows)                                      # the map shows what the list says
    # plan ahead: the same days under the stricter rule (red held from the 10th), and 10001's outlook moved
    plan = page.split('id="plan-ahead"')[1]
    assert plan.count("<svg") == 2 and 'data-days="2"' in plan and 'data-days="22"' in plan
    summary = re.search(r"xã-ngày đỏ (\d+) → (\d+)", plan)
    assert summary and int(summary.group(1)) == 1 and int(summary.group(2)) == 22
    moved = plan.split('id="whatif-outlook"')[1].split("</table>")[0]
    assert 'data-code="10001"' in moved and "02/08/2021" in moved and "nan" not in moved
    assert all(f["geometry"]["type"].endswith("Polygon") for f in drawn["features"])
    assert store.run_for_date(DAY)["run_id"] == before                      # nothing published
    for setting in ("no_such_setting=1", "window_days=.inf", "window_days=.nan", "window_days=-5", "window_days=0",
                    "notice_hours=87600", "date_column=foo", "adjacency=diagonal"):      # refused before any job
        bad = c.post("/console/whatif", data={"csrf": token, "date": DAY, "settings": setting})
        assert bad.status_code == 400 and setting.split("=")[0] in bad.get_data(as_text=True), setting


def test_declare_a_level_and_set_a_flag_from_the_console(app, runner, tmp_path, users):
    """From a unit's panel on the map to the console with its code filled in: a declared level with its
    decision, a committee flag set; both audited with who did it; a bad code is said in Vietnamese."""
    assert invoke(runner, "import-units", write_units(grid(2, 2), tmp_path / "u.geojson")).exit_code == 0
    c = app.test_client()
    _sign_in(c, users["operator"])
    page = c.get("/console?code=10002&unit=commune").get_data(as_text=True)
    assert 'name="unit" value="10002"' in page and 'name="code" value="10002"' in page
    token = _csrf(page)
    r = c.post("/console/declare", data={"csrf": token, "unit": "10002", "level": "cấp 3", "from": "2021-07-30",
                                         "decision": "45/QĐ-UBND", "reason": "ổ dịch chợ"})
    assert r.status_code == 200 and "Đã ghi cấp độ cấp 3 cho 10002" in r.get_data(as_text=True)
    r = c.post("/console/flag", data={"csrf": token, "code": "10002", "flag": "community_f1", "value": "true",
                                      "date": "2021-07-30"})
    assert r.status_code == 200 and "Đã lưu cờ community_f1 cho xã 10002" in r.get_data(as_text=True)
    r = c.post("/console/flag", data={"csrf": token, "code": "99999", "flag": "community_f1", "value": "true",
                                      "date": "2021-07-30"})
    assert r.status_code == 400 and "mã xã không có trong ranh giới hiện hành: 99999" in r.get_data(as_text=True)
    store = Store(app.config["ZONES"].db_path)
    with store.connect(readonly=True) as con:
        decl = [dict(x) for x in con.execute("SELECT * FROM declarations")]
        flags = [dict(x) for x in con.execute("SELECT * FROM flags")]
    assert len(decl) == 1 and decl[0]["level"] == "high_risk" and decl[0]["by"] == "cb-operator"
    assert len(flags) == 1 and flags[0]["code"] == "10002"
    log = audit.audit_log(store, 20)
    assert {(a["action"], a["who"]) for a in log} >= {("declare", "cb-operator"), ("import-flags", "cb-operator")}


def _wait_for_job(client, job_id: str, seconds: float = 60) -> dict:
    """Poll a console job as the page does until it ends -> its last view."""
    import time
    end = time.monotonic() + seconds
    seen = []
    while time.monotonic() < end:
        job = client.get(f"/console/jobs/{job_id}").get_json()
        seen.append(job["done"])
        if job["status"] != "running":
            assert seen == sorted(seen)                                    # stages only move forward
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still running after {seconds} s")


def test_reclassify_from_the_console_publishes_then_the_map_changes(app, runner, tmp_path, users):
    """Upload a case, reclassify from the console, and the published day has the new level; while another
    writer holds the lock the console says so and runs nothing."""
    import io

    from geo.store.locks import writer_lock
    assert invoke(runner, "import-units", write_units(grid(2, 2), tmp_path / "u.geojson")).exit_code == 0
    c = app.test_client()
    _sign_in(c, users["operator"])
    token = _csrf(c.get("/console").get_data(as_text=True))
    body = "Mã ca,Ngày công bố,Mã xã,Cộng đồng,Rõ nguồn,Chùm\nA1,31/07/2021,10003,có,không,K\nA2,31/07/2021,10003,có,không,K\n"
    c.post("/console/upload", data={"csrf": token, "kind": "cases", "file": (io.BytesIO(body.encode()), "c.csv")},
           content_type="multipart/form-data")
    r = c.post("/console/reclassify", data={"csrf": token, "date": DAY})
    assert r.status_code == 303 and "/console?job=" in r.headers["Location"]
    job_id = r.headers["Location"].split("job=")[1].split("&")[0]
    running = c.get(r.headers["Location"]).get_data(as_text=True)
    assert 'id="job-progress"' in running and f'data-job="{job_id}"' in running
    job = _wait_for_job(c, job_id)
    assert job["status"] == "published" and job["percent"] == 100 and job["done"] == job["total"]
    assert "Đã công bố lần chạy" in job["message"] and job["map"].startswith(f"/map?date={DAY}")
    assert "Đã công bố lần chạy" in c.get(f"/console?job={job_id}").get_data(as_text=True)
    assert c.get("/console/jobs/nope").status_code == 404
    viewer = app.test_client()
    _sign_in(viewer, users["viewer"])
    assert viewer.get(f"/console/jobs/{job_id}").status_code == 403      # a viewer does not follow writes
    log = audit.audit_log(Store(app.config["ZONES"].db_path), 10, action="reclassify")
    assert log[0]["outcome"] == "published" and log[0]["who"] == "cb-operator"   # audited when it ended
    zones = c.get(f"/api/zones.geojson?date={DAY}").get_json()["features"]
    assert {f["properties"]["code"]: f["properties"]["level"] for f in zones}["10003"] == "very_high_risk"
    with writer_lock(app.config["ZONES"]):
        busy = c.post("/console/reclassify", data={"csrf": token, "date": DAY})
    assert busy.status_code == 503


def test_an_operator_chooses_the_commune_of_a_doubtful_place(app, runner, tmp_path, users):
    """Names that match two communes wait on the console's review list with both as choices; the operator's
    choice counts the rows at once, is audited, and places the same names on the next import by itself."""
    units = grid(1, 3)
    units.loc[units["code"] == "10003", "name"] = "Xã Ô 10001"          # two communes of one name in one district
    assert invoke(runner, "import-units", write_units(units, tmp_path / "u.geojson")).exit_code == 0
    rows = [{"report_date": "2021-07-30", "commune_name": "Xã Ô 10001", "district_name": "Huyện 101",
             "province_name": "Tỉnh Thử", "count": 4, "community": "true", "source_known": "true"}]
    res = invoke(runner, "import-cases", write_cases(rows, tmp_path / "c.csv"))
    assert "Chờ chọn xã: 1 dòng (4 ca)" in res.output, res.output
    c = app.test_client()
    _sign_in(c, users["operator"])
    page = c.get("/console").get_data(as_text=True)
    review = page.split('id="review"')[1].split("</section>")[0]
    assert "Tỉnh Thử / Huyện 101 / Xã Ô 10001" in review and "4" in review
    assert 'value="10001"' in review and 'value="10003"' in review and 'value="none"' in review
    key = re.search(r'name="review_key" value="([^"]+)"', review).group(1)
    r = c.post("/console/review", data={"csrf": _csrf(page), "review_key": key, "code": "10003"})
    assert r.status_code == 200 and "4 ca" in r.get_data(as_text=True) and 'id="review"' not in r.get_data(as_text=True)
    store = Store(app.config["ZONES"].db_path)
    with store.connect(readonly=True) as con:
        assert [tuple(r) for r in con.execute("SELECT commune_code, count, located_by FROM cases")] == [("10003", 4, "operator_choice")]
    assert ("review-decide", "cb-operator") in {(a["action"], a["who"]) for a in audit.audit_log(store, 5)}
    res = invoke(runner, "import-cases", write_cases(rows, tmp_path / "c.csv"))
    assert "Nhận 1 dòng, loại 0 dòng" in res.output and "Chờ chọn" not in res.output, res.output
    # a viewer sees no review list (and cannot post one)
    v = app.test_client()
    _sign_in(v, users["viewer"])
    assert 'id="review"' not in v.get("/console").get_data(as_text=True)


def test_one_job_per_day_and_a_lost_job_ends_failed(app, runner, tmp_path, users):
    """Ten reclassify posts at once make one job (the others are told the day is being reclassified); a job
    whose process died (its row untouched) reads as failed, not "running" forever, and a new one can start."""
    import datetime as dt
    from concurrent.futures import ThreadPoolExecutor

    from geo.store import jobs as jobs_table
    assert invoke(runner, "import-units", write_units(grid(2, 2), tmp_path / "u.geojson")).exit_code == 0
    assert invoke(runner, "import-cases", write_cases(numbered([case("10001", DAY)]), tmp_path / "c.csv")).exit_code == 0
    c = app.test_client()
    _sign_in(c, users["operator"])
    token = _csrf(c.get("/console").get_data(as_text=True))
    with ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(lambda _: c.post("/console/reclassify", data={"csrf": token, "date": DAY}).status_code,
                              range(10)))
    store = Store(app.config["ZONES"].db_path)
    with store.connect(readonly=True) as con:
        made = [dict(r) for r in con.execute("SELECT id, status FROM jobs WHERE kind = 'reclassify'")]
    assert len(made) == 1 and codes.count(303) == 1 and set(codes) <= {303, 503}, codes
    _wait_for_job(c, made[0]["id"])
    # a job left "running" by a process that died two minutes ago
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=jobs_table.STALE_S + 30)).isoformat(timespec="seconds")
    with store.transaction() as con:
        con.execute("INSERT INTO jobs (id, kind, target, who, status, stages_total, started_at, updated_at) "
                    "VALUES ('dead', 'reclassify', ?, 'x', 'running', 10, ?, ?)", ("2021-07-30", old, old))
    view = c.get("/console/jobs/dead").get_json()
    assert view["status"] == "failed" and "dừng" in view["message"]
    assert c.post("/console/reclassify", data={"csrf": token, "date": "2021-07-30"}).status_code == 303


def test_declare_and_flag_forms_refuse_what_no_committee_writes(app, runner, tmp_path, users):
    """Year 9999, a megabyte of reason, a NUL or a line break in a decision number, a flag ending before it
    starts: each refused with the field named, nothing stored."""
    assert invoke(runner, "import-units", write_units(grid(2, 2), tmp_path / "u.geojson")).exit_code == 0
    c = app.test_client()
    _sign_in(c, users["operator"])
    token = _csrf(c.get("/console").get_data(as_text=True))
    base = {"csrf": token, "unit": "10002", "level": "cấp 3", "from": "2021-07-30", "decision": "45/QĐ-UBND"}
    for change, word in (({"from": "9999-01-01"}, "tương lai"), ({"reason": "x" * 1_000_000}, "dài quá"),
                         ({"decision": "45/QĐ\x00-UBND"}, "ký tự điều khiển"), ({"decision": "45/QĐ\r\nX: y"}, "ký tự điều khiển")):
        r = c.post("/console/declare", data={**base, **change})
        assert r.status_code == 400 and word in r.get_data(as_text=True), (change.keys(), r.get_data(as_text=True)[-800:])
    r = c.post("/console/flag", data={"csrf": token, "code": "10002", "flag": "community_f1", "value": "true",
                                      "date": "2021-07-30", "end_date": "2021-07-20"})
    assert r.status_code == 400 and "ngày kết thúc trước ngày bắt đầu" in r.get_data(as_text=True)
    store = Store(app.config["ZONES"].db_path)
    with store.connect(readonly=True) as con:
        assert con.execute("SELECT COUNT(*) FROM declarations").fetchone()[0] == 0
        assert con.execute("SELECT COUNT(*) FROM flags").fetchone()[0] == 0
