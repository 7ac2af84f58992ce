"""Security rules under test: tokens and roles, the audit log, uploads (limits, type by content,
zip and XML attacks), the same validation as the command line, and the headers on pages."""
from __future__ import annotations

import hashlib
import io
import re
import zipfile

import geopandas as gpd
import pytest
from helpers import case, grid, invoke, numbered, run_scenario, store_dump, write_cases, write_units

from geo.domain import audit

# The same tests on the embedded store and on PostgreSQL/PostGIS (tests/conftest.py).
pytestmark = pytest.mark.both_backends

DAY = "2021-07-31"


def _token(runner, name: str, role: str) -> str:
    res = invoke(runner, "users", "add", name, "--role", role)
    assert res.exit_code == 0, res.output
    return re.search(r"(?:truy cập|Token)[^:]*: (\S+)", res.output).group(1)


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _upload(client, kind: str, data: bytes, name: str, token: str | None, **form):
    body = {"file": (io.BytesIO(data), name), **form}
    return client.post(f"/api/imports/{kind}", data=body, content_type="multipart/form-data",
                       headers=_auth(token) if token else {})


@pytest.fixture
def scenario(runner, app, tmp_path):
    run_scenario(runner, app, tmp_path, grid(2, 3), numbered([case("10002", DAY)]), DAY)
    tokens = {role: _token(runner, f"u-{role}", role) for role in ("viewer", "operator", "admin")}
    return app, tokens


def _cases_csv(rows) -> bytes:
    buf = io.StringIO()
    import pandas as pd
    pd.DataFrame(numbered(rows)).to_csv(buf, index=False)
    return buf.getvalue().encode()


def test_roles_tokens_and_the_audit_log(scenario, client):
    app, tok = scenario
    data = _cases_csv([case("10003", DAY, case_id="N1"), case("99999", DAY, case_id="N2")])
    assert _upload(client, "cases", data, "ca.csv", None).status_code == 401
    assert _upload(client, "cases", data, "ca.csv", "not-a-token").status_code == 401
    assert _upload(client, "cases", data, "ca.csv", tok["viewer"]).status_code == 403
    res = _upload(client, "cases", data, "ca.csv", tok["operator"])
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    # the same validation as the command line: the row in no commune is rejected with its reason
    assert body["accepted"] == 1 and body["rejected"] == 1 and body["sha256"] == hashlib.sha256(data).hexdigest()
    # a new boundary version is for admins only
    units = gpd.read_file(app.config["ZONES"].runs_dir / next(iter(p.name for p in app.config["ZONES"].runs_dir.iterdir()))
                          / "commune.geojson", engine="pyogrio")[["code", "name", "district_code", "district_name",
                                                                  "province_code", "province_name", "population", "geometry"]]
    gj = units.to_json().encode()
    assert _upload(client, "units", gj, "xa-2022.geojson", tok["operator"]).status_code == 403
    res = _upload(client, "units", gj, "xa-2022.geojson", tok["admin"])
    assert res.status_code == 200 and res.get_json()["boundary_version"] == "xa-2022"
    # a cookie never authorises a write (another site could make the browser send it)
    client.set_cookie("zones_token", tok["admin"])
    assert client.post("/api/declarations", json={"unit": "10002"}).status_code == 401
    client.delete_cookie("zones_token")
    # declarations over HTTP: "by" is the logged-in user, whatever the body says
    res = client.post("/api/declarations", headers=_auth(tok["operator"]),
                      json={"unit": "10002", "level": "high_risk", "from": DAY, "decision": "12/QĐ-UBND", "by": "someone else"})
    assert res.status_code == 200 and res.get_json()["recorded"]["by"] == "u-operator"
    assert client.post("/api/declarations", headers=_auth(tok["operator"]), json={"unit": "10002", "level": "red"}).status_code == 400
    # tokens are stored hashed only
    from geo.store.database import Store
    dump = store_dump(Store(app.config["ZONES"].db_path))
    assert all(t not in dump for t in tok.values())
    assert all(hashlib.sha256(t.encode()).hexdigest() in dump for t in tok.values())
    # every write is in the audit log with who, what and the file's hash; failures too
    assert client.get("/api/audit", headers=_auth(tok["operator"])).status_code == 403
    log = client.get("/api/audit", headers=_auth(tok["admin"])).get_json()["audit"]
    rows = [(a["who"], a["via"], a["action"], a["outcome"]) for a in log]
    assert ("u-operator", "http", "import-cases", "ok") in rows
    assert ("u-admin", "http", "import-units", "ok") in rows
    assert ("u-operator", "http", "declare", "ok") in rows
    assert any(r[2] == "declare" and r[3].startswith("failed") for r in rows)
    up = next(a for a in log if a["action"] == "import-cases")
    assert up["file_sha256"] == hashlib.sha256(data).hexdigest() and up["file_name"] == "ca.csv" and up["remote"]
    cli_rows = [a for a in log if a["via"] == "cli"]
    assert {a["action"] for a in cli_rows} >= {"import-units", "import-cases", "reclassify", "users-add"}
    assert all(a["who"] for a in cli_rows)
    # a revoked token is refused
    assert invoke(runner_of(app), "users", "revoke", "u-operator").exit_code == 0
    assert _upload(client, "cases", data, "ca.csv", tok["operator"]).status_code == 401
    # anything but GET on a read route is refused, not run
    assert client.post("/api/runs", headers=_auth(tok["admin"])).status_code == 405


def runner_of(app):
    return app.test_cli_runner()


def test_reading_can_require_a_token(tmp_path, runner, app, store_config):
    from server import create_app
    run_scenario(runner, app, tmp_path, grid(2, 3), numbered([case("10002", DAY)]), DAY)
    viewer = _token(runner, "reader", "viewer")
    closed = create_app({"ZONES_DATA_DIR": str(app.config["ZONES"].data_dir), "ZONES_READ_ACCESS": "token", **store_config})
    c = closed.test_client()
    for url in ("/api/runs", "/map", "/ogc/collections", "/api/zones.geojson", "/api/exports/csv"):
        assert c.get(url).status_code == 401, url
        assert c.get(url, headers=_auth(viewer)).status_code == 200, url
    # a link with the token logs the browser in (HttpOnly cookie); later requests carry it
    page = c.get(f"/map?access_token={viewer}")
    assert page.status_code == 200 and "HttpOnly" in page.headers["Set-Cookie"]
    assert "SameSite=Strict" in page.headers["Set-Cookie"]
    assert c.get("/api/zones.geojson").status_code == 200
    assert create_app({"ZONES_DATA_DIR": str(tmp_path / "other")}).test_client().get("/api/runs").status_code == 200


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>&lol3;</name></Document></kml>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE kml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>&xxe;</name></Document></kml>"""


def test_uploads_refuse_attacks_and_wrong_types(scenario, client, tmp_path, store_config):
    app, tok = scenario
    op, admin = tok["operator"], tok["admin"]
    uploads = app.config["ZONES"].uploads_dir
    refused = [
        ("cases", b"\x00\x01\x02binary\xff" * 50, "ca.csv", 415),                            # binary
        ("cases", b'{"type": "FeatureCollection", "features": []}', "ca.csv", 415),        # JSON for a table
        ("lockdowns", b"report_date,commune_code\n2021-07-31,10002\n", "pt.geojson", 415),  # CSV for polygons
        ("lockdowns", BILLION_LAUGHS, "pt.kml", 400),
        ("lockdowns", XXE, "pt.kml", 400),
        ("lockdowns", b"<kml><Document>", "pt.kml", 400),                                   # not well-formed
        ("units", _zip({"../../evil.shp": b"x", "evil.dbf": b"x"}), "u.zip", 400),          # traversal
        ("units", _zip({"/etc/evil.shp": b"x"}), "u.zip", 400),                              # absolute
        ("units", _zip({"a.shp": b"\x00" * (60 << 20)}), "u.zip", 400),                      # bomb (ratio ~1000)
        ("units", _zip({f"f{i}.txt": b"x" for i in range(300)}), "u.zip", 400),              # too many members
        ("units", _zip({"readme.txt": b"hello"}), "u.zip", 400),                             # zip of nothing useful
        ("cases", _zip({"[Content_Types].xml": b"<x/>", "xl/a.xml": b"\x00" * (60 << 20)}), "ca.xlsx", 400),
        ("cases", b"", "empty.csv", 400),
        ("nothing", b"a,b\n", "x.csv", 400),
    ]
    for kind, data, name, status in refused:
        res = _upload(client, kind, data, name, admin)
        assert res.status_code == status, (kind, name, res.get_json())
        assert res.get_json()["message"]
    assert not list(tmp_path.rglob("evil*"))
    # link members are refused too
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("link.shp")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    assert _upload(client, "units", buf.getvalue(), "l.zip", admin).status_code == 400
    # nothing refused was imported and the store still has the original boundaries and cases
    assert client.get("/api/runs").get_json()["runs"][0]["boundary_version"] == "units"
    # the size limit: 413 before the body is read
    from server import create_app
    small = create_app({"ZONES_DATA_DIR": str(app.config["ZONES"].data_dir), "ZONES_MAX_UPLOAD_MB": "0.01", **store_config})
    res = _upload(small.test_client(), "cases", b"a" * 20000, "big.csv", op)
    assert res.status_code == 413
    # a good KML lockdown and a zipped shapefile pass through the same importers as the CLI
    units = grid(2, 3).to_crs(4326)
    lk = gpd.GeoDataFrame([{"decision_no": "5/QĐ-UBND", "start_date": "2021-07-30", "end_date": "2021-08-09",
                            "geometry": units.geometry.iloc[1].centroid.buffer(0.001)}], crs=4326)
    lk.to_file(tmp_path / "lk.kml", driver="KML", engine="pyogrio")
    res = _upload(client, "lockdowns", (tmp_path / "lk.kml").read_bytes(), "phong-toa.kml", op)
    assert res.status_code == 200 and res.get_json()["accepted"] == 1, res.get_json()
    shp = tmp_path / "shp"
    shp.mkdir()
    write_units(grid(2, 3), shp / "xa.shp")
    data = _zip({f"sub/xa{p.suffix}": p.read_bytes() for p in shp.iterdir()})
    res = _upload(client, "units", data, "xa-shp.zip", admin)
    assert res.status_code == 200 and res.get_json()["accepted"] == 6, res.get_json()
    assert all(p.resolve().is_relative_to(uploads.resolve()) for p in uploads.rglob("*"))


def test_upload_errors_name_the_file_row_and_field(scenario, client):
    _, tok = scenario
    data = b"case_id,report_date,commune_code,community,source_known\nA1,2021-07-31,10002,true,true\nA2,31/13/2021,10002,true,true\n"
    res = _upload(client, "cases", data, "ds-ca.csv", tok["operator"])
    body = res.get_json()
    assert res.status_code == 200 and body["accepted"] == 1 and body["rejected"] == 1
    text = " ".join(body["reasons"])
    assert "report_date" in text and "3" in text          # the row (header is row 1) and the field


def test_pages_carry_security_headers_and_nonced_scripts(scenario, client):
    page = client.get(f"/map?date={DAY}")
    csp = page.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    script_src = re.search(r"script-src ([^;]+)", csp).group(1)
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    html = page.get_data(as_text=True)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline and all(f'nonce="{nonce}"' in attrs for attrs in inline)
    assert not re.search(r"\son[a-z]+=\"", html)                  # no inline event handlers
    assert client.get(f"/map?date={DAY}").headers["Content-Security-Policy"] != csp   # a nonce per response
    for url in (f"/map?date={DAY}", "/api/runs", "/ogc"):
        h = client.get(url).headers
        assert h["X-Content-Type-Options"] == "nosniff" and h["X-Frame-Options"] == "DENY"
        # no referrer to other sites; same-origin form posts keep their Origin (the console's CSRF check)
        assert h["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in client.get("/rulesets/qd2686").headers["Content-Security-Policy"]


def test_cli_and_http_write_the_same_store(scenario, client, runner, tmp_path):
    app, tok = scenario
    rows = [case("10004", DAY, case_id="C1")]
    assert invoke(runner, "import-cases", write_cases(numbered(rows), tmp_path / "c1.csv")).exit_code == 0
    res = _upload(client, "cases", _cases_csv([case("10004", DAY, case_id="C1")]), "c1.csv", tok["operator"])
    assert res.get_json()["changed"] == 0         # the same row through HTTP changes nothing


def test_sessions_tokens_and_floods(tmp_path, runner, app, store_config):
    """Issue 27 §2: a re-issued token ends the sessions of the old one; a reading link's cookie and a console
    session live side by side; anonymous writes and wrong sign-ins are slowed per client with one audit row for a
    flood, audit rows are capped, a refused upload's body is never read; behind a TLS proxy that does not say so
    the console's forms still work; an admin cannot revoke themselves."""
    from geo.store.database import Store
    from server import create_app
    run_scenario(runner, app, tmp_path, grid(2, 3), numbered([case("10002", DAY)]), DAY)
    closed = create_app({"ZONES_DATA_DIR": str(app.config["ZONES"].data_dir), "ZONES_READ_ACCESS": "token", **store_config})
    admin = _token(runner, "boss", "admin")
    c = closed.test_client()
    assert c.get(f"/map?access_token={admin}").status_code == 200          # the reading cookie
    assert c.post("/console/signin", data={"token": admin}).status_code == 303
    page = c.get("/console").get_data(as_text=True)
    assert 'name="csrf"' in page and "boss" in page                        # signed in, not the sign-in form again
    # behind a TLS proxy without X-Forwarded-Proto: the browser's Origin is https, our host http
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = c.post("/console/users/boss/revoke", data={"csrf": csrf}, headers={"Origin": "https://localhost"})
    assert r.status_code == 403 and "chính mình" in r.get_data(as_text=True)          # not yourself
    assert c.post("/console/users", data={"csrf": csrf, "name": "boss", "role": "viewer"},
                  headers={"Origin": "https://localhost"}).status_code == 403
    # a new token for the same user ends the session signed in with the old one
    _token(runner, "boss", "admin")
    assert 'name="token"' in c.get("/console").get_data(as_text=True)       # back to the sign-in form
    # anonymous uploads with long names: 401 until the client's limit, then 429, one audit row for the flood
    store = Store(app.config["ZONES"].db_path)
    before = len(audit.audit_log(store, 10_000))
    flood = app.test_client()
    codes = [flood.post("/api/imports/cases", data={"file": (io.BytesIO(b"x" * 300_000), "n" * 20_000 + ".csv")},
                        content_type="multipart/form-data").status_code for _ in range(40)]
    assert codes[:30] == [401] * 30 and set(codes[30:]) == {429}
    rows = audit.audit_log(store, 10_000)[: len(audit.audit_log(store, 10_000)) - before]
    assert len(rows) == 31 and sum("rate_limited" in r["outcome"] for r in rows) == 1
    assert all(r["file_name"] is None for r in rows)                       # the body was never read
    assert all(len(r["target"] or "") <= 201 for r in rows)
    # wrong tokens at the sign-in: ten a minute, then 429
    guesses = [app.test_client().post("/console/signin", data={"token": f"guess-{k}"}).status_code for k in range(12)]
    assert guesses[:10] == [401] * 10 and guesses[10:] == [429, 429]
