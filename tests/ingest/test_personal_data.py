"""Personal data stays on the operator's computer: a name, an ID number, a phone and an address
planted in files with Vietnamese headers, English headers, and hidden in innocently named columns,
imported by the command line and by upload, with a bad row (so rejects are written), then
reclassified, exported in every format and reported, are found nowhere in the data folder, the store,
the logs or what the server sends; and no upload is kept."""
from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from helpers import grid, invoke, store_dump, write_units
from unidecode import unidecode

pytestmark = pytest.mark.both_backends

DAY = "2021-07-31"
PLANTED = {
    "name_vi": "Nguyễn Văn Thử Nghiệm", "cccd": "079201001234", "phone": "0912345678", "address": "12 Trần Phú, phường Vĩnh Hải",
    "name_en": "Trần Thị Bí Mật", "cmnd": "381234567", "phone_en": "+84 987 654 321", "address_en": "số 45 ngõ 7 Lê Lợi",
    "hidden_phone": "0903 111 222", "hidden_address": "27/4 Hùng Vương, Huế", "hidden_id": "079099887766",
}
VIETNAMESE = pd.DataFrame([
    {"Mã ca": "BN1", "Họ và tên": PLANTED["name_vi"], "Số CCCD/CMND": PLANTED["cccd"], "Địa chỉ thường trú": PLANTED["address"],
     "SĐT liên hệ": PLANTED["phone"], "Ngày công bố": DAY, "Mã xã": "10001", "Cộng đồng": "có", "Rõ nguồn": "có",
     "Ghi chú": "gọi " + PLANTED["hidden_phone"]},
    {"Mã ca": "BN2", "Họ và tên": "Lê Văn Hai", "Số CCCD/CMND": "079201009999", "Địa chỉ thường trú": "số 3 ngõ 9",
     "SĐT liên hệ": "0911000000", "Ngày công bố": "hôm qua", "Mã xã": "10002", "Cộng đồng": "có", "Rõ nguồn": "có",
     "Ghi chú": ""},
])
ENGLISH = pd.DataFrame([
    {"case_id": PLANTED["hidden_id"], "Full name": PLANTED["name_en"], "National ID": PLANTED["cmnd"],
     "Home address": PLANTED["address_en"], "Phone": PLANTED["phone_en"], "report_date": DAY, "commune_code": "10003",
     "community": "true", "source_known": "false", "notes": PLANTED["hidden_address"], "cluster_id": PLANTED["hidden_phone"]},
    {"case_id": "X2", "Full name": "Phạm Văn Ba", "National ID": "381111111", "Home address": "số 1 ngõ 1",
     "Phone": "0988000000", "report_date": DAY, "commune_code": "99999", "community": "true", "source_known": "false",
     "notes": "", "cluster_id": ""},
])


def _xlsx(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_excel(buf, index=False)
    return buf.getvalue()


def _forms(value: str) -> list[bytes]:
    """Every way a value could be written: as is, without diacritics, digits alone, UTF-16."""
    digits = "".join(ch for ch in value if ch.isdigit())
    out = {value, unidecode(value), value.replace(" ", "")}
    if len(digits) >= 9:
        out |= {digits, digits[-9:]}
    return [f.encode() for f in out] + [value.encode("utf-16-le")]


def test_planted_personal_data_is_found_nowhere(runner, app, client, tmp_path, caplog):
    import re
    assert invoke(runner, "import-units", write_units(grid(2, 3), tmp_path / "xa.geojson")).exit_code == 0
    uploads_before = set(Path(tempfile.gettempdir()).glob("zones-upload-*"))
    # 1. the command line, a CSV with Vietnamese headers
    VIETNAMESE.to_csv(tmp_path / "ds-vi.csv", index=False)
    res = invoke(runner, "import-cases", tmp_path / "ds-vi.csv")
    assert res.exit_code == 0 and "loại 1 dòng" in res.output, res.output
    assert "Họ và tên" in res.output and "Ghi chú (phone)" in res.output, res.output      # said what was dropped
    # 2. an upload by an operator, a workbook with English headers and personal data in other columns
    token = re.search(r": (\S+)$", invoke(runner, "users", "add", "op", "--role", "operator").output.strip()).group(1)
    resp = client.post("/api/imports/cases", data={"file": (io.BytesIO(_xlsx(ENGLISH)), "ds-en.xlsx")},
                       content_type="multipart/form-data", headers={"Authorization": f"Bearer {token}"})
    body = resp.get_json()
    assert resp.status_code == 200 and body["accepted"] == 1 and body["rejected"] == 1, body
    assert {"Full name", "National ID", "Home address", "Phone", "notes"} <= set(body["personal_columns"]), body
    # 3. everything the service then makes
    assert invoke(runner, "reclassify", "--date", DAY).exit_code == 0
    for fmt in ("geojson", "csv", "gpkg", "xlsx", "html"):
        out = tmp_path / f"export.{fmt}"
        assert invoke(runner, "export", "--date", DAY, "--format", fmt, "--out", out).exit_code == 0
        assert out.exists()
    for fmt in ("html", "xlsx"):
        assert invoke(runner, "report", "--date", DAY, "--format", fmt, "--out", tmp_path / f"r.{fmt}").exit_code == 0
    served = [client.get(u).data for u in ("/api/zones.geojson", "/api/zones/10001", "/api/audit", f"/report?date={DAY}",
                                           "/ogc/collections/commune/items", f"/api/exports/csv?date={DAY}",
                                           f"/api/exports/xlsx?date={DAY}", "/api/runs")]
    from geo.store.database import Store
    settings = app.config["ZONES"]
    files = [p for p in settings.data_dir.rglob("*") if p.is_file()] + [p for p in tmp_path.glob("r.*")] + \
        [p for p in tmp_path.glob("export.*")]
    blobs = {str(p): p.read_bytes() for p in files}
    blobs["store"] = store_dump(Store(settings.db_path)).encode()
    blobs["logs"] = caplog.text.encode()
    blobs.update({f"served {k}": b for k, b in enumerate(served)})
    assert len(files) > 15 and any("rejects" in k for k in blobs)
    for what, value in PLANTED.items():
        for form in _forms(value):
            leaks = [k for k, b in blobs.items() if form in b]
            assert not leaks, (what, form, leaks)
    # the upload is not kept, in the data folder or anywhere else
    assert set(Path(tempfile.gettempdir()).glob("zones-upload-*")) == uploads_before
    assert not (settings.data_dir / "uploads").exists() or not any((settings.data_dir / "uploads").rglob("*.*"))
