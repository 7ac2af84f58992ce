"""The morning report and the change list: what changed since the previous published day."""
from __future__ import annotations

import re
import shutil

import pytest
from helpers import case, grid, import_lockdown, invoke, run_scenario, write_cases
from openpyxl import load_workbook

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def week(runner, app, tmp_path):
    """A school case in 10001 on 3 July (red for 14 days, neighbours orange/yellow), a lockdown from
    3 to 8 July named like a spreadsheet formula, days 1-6 July published by backfill."""
    units = grid(3, 4, district_of=lambda c: "A" if int(c) <= 10006 else "B")
    run_scenario(runner, app, tmp_path, units, [case("10001", "2021-07-03", setting="school", case_id="s1")], "2021-06-30")
    import_lockdown(runner, tmp_path, units, 0, 150, decision_no="9/QĐ-UBND", name="=HYPERLINK(\"http://x\")",
                    start_date="2021-07-03", end_date="2021-07-08")
    res = invoke(runner, "backfill", "--from", "2021-07-01", "--to", "2021-07-06")
    assert res.exit_code == 0, res.output
    return units


def test_changes_api_lists_units_that_moved(week, client):
    body = client.get("/api/changes?from=2021-07-02&to=2021-07-03").get_json()
    assert (body["from"], body["to"]) == ("2021-07-02", "2021-07-03")
    moved = {(r["unit"], r["code"]): r for r in body["changes"]}
    red = moved[("commune", "10001")]
    assert (red["level_from"], red["level_to"], red["change"], red["newly_red"]) == ("safe", "very_high_risk", "up", True)
    # neighbours by adjacency: 10002 and 10005 orange (O2), one more step yellow (Y3)
    assert moved[("commune", "10002")]["level_to"] == "high_risk" and not moved[("commune", "10002")]["newly_red"]
    assert moved[("commune", "10003")]["level_to"] == "risk"
    assert ("commune", "10004") not in moved or moved[("commune", "10004")]["change"] != "same"
    assert all(r["change"] != "same" for r in body["changes"])
    everything = client.get("/api/changes?from=2021-07-02&to=2021-07-03&all=true&unit=commune").get_json()["changes"]
    assert len(everything) == 12 and {r["unit"] for r in everything} == {"commune"}
    # without `from`: the previous published day; a red commune held since the 3rd
    held = {r["code"]: r for r in client.get("/api/changes?to=2021-07-06&all=1&unit=commune").get_json()["changes"]}
    assert held["10001"]["change"] == "same" and held["10001"]["unchanged_days"] == 4
    assert held["10012"]["level_to"] == "safe" and held["10012"]["unchanged_days"] == 7   # 30 June to 6 July
    assert client.get("/api/changes?to=2021-08-01").status_code == 404
    assert client.get("/api/changes?to=July").status_code == 400


def test_report_html_is_a_printable_offline_page(week, client):
    r = client.get("/report?date=2021-07-03")
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    assert "Báo cáo phân vùng nguy cơ COVID-19 — ngày 03/07/2021" in page and "size: A4" in page
    assert 'name="viewport"' in page and '<html lang="vi">' in page
    assert re.search(r'id="n-newly-red">1<', page)
    hot = page.split('id="hot"')[1].split("</table>")[0]                       # the red commune with its reason
    assert "Xã Ô 10001" in hot and "trường học" in hot and "R2:" not in hot and "Mới vào vùng đỏ" in hot
    assert "9/QĐ-UBND" in page and "Bắt đầu" in page and "03/07/2021" in page  # lockdown started that day
    # the worst province's map comes first, before the red list (page 1-2 of the print), names at 8 pt or more,
    # white edges between communes of the same level
    assert page.index('id="province-maps"') < page.index('id="hot"')
    first_map = page.split('id="province-maps"')[1].split("<svg")[1].split("</svg>")[0]
    assert float(re.search(r'data-label-pt="([\d.]+)"', page.split('id="province-maps"')[1]).group(1)) >= 8
    assert 'stroke="#ffffff"' in first_map
    links = page.split('id="links"')[1].split("</nav>")[0]                     # the PDF, the workbook and the map
    assert "format=pdf" in links and "format=xlsx" in links and "/map?date=2021-07-03" in links
    assert len(re.findall(r'<path d="M[^"]*" fill="#', first_map)) == 12        # 12 communes in their colours
    assert len(re.findall(r'stroke-dasharray', first_map)) == 1                # and the lockdown's outline
    assert "Xã Ô 10001</text>" in first_map                                    # the red commune is named
    assert "<script" not in page and not re.search(r'(src|href)="(https?:)?//', page)
    ranking = page.split('id="ranking"')[1].split("</table>")[0]
    assert ranking.index("Huyện A") < ranking.index("Huyện B")                # the red commune's district first
    assert 'counter(page)' in page and "2021-07-03_" in page                  # page numbers, run id in the footer
    en = client.get("/report?date=2021-07-06&lang=en").get_data(as_text=True)
    assert "COVID-19 risk zone report — date 06/07/2021" in en and "Held (days)" in en
    row = en.split('id="hot"')[1].split("Xã Ô 10001")[1].split("</tr>")[0]
    assert '<td class="n">4</td>' in row                                      # red since the 3rd: 4 days
    assert "Ending" in en                                                     # the lockdown ends on the 8th


def test_report_warns_about_rejected_rows_and_stale_data(week, runner, app, tmp_path, client):
    bad = [case("10001", "2021-07-06", case_id="ok1"), case("99999", "2021-07-06", case_id="bad1")]
    assert invoke(runner, "import-cases", write_cases(bad, tmp_path / "late.csv")).exit_code == 0
    assert invoke(runner, "reclassify", "--date", "2021-07-09").exit_code == 0
    page = client.get("/report?date=2021-07-09").get_data(as_text=True)
    assert "late.csv" in page and "bị loại 1 dòng" in page
    assert "Không có dữ liệu ca bệnh mới từ 06/07/2021" in page


def test_report_xlsx_and_cli(week, runner, tmp_path):
    out = tmp_path / "r.xlsx"
    res = invoke(runner, "report", "--date", "2021-07-03", "--format", "xlsx", "--out", out)
    assert res.exit_code == 0 and "Đã ghi báo cáo ngày 2021-07-03" in res.output, res.output
    wb = load_workbook(out)
    assert wb.sheetnames[:4] == ["Số đơn vị theo mức", "Vùng đỏ và vùng cam hôm nay", "Quận-huyện theo mức độ", "Thay đổi"]
    hot = list(wb["Vùng đỏ và vùng cam hôm nay"].values)
    assert hot[1][1] == "Xã Ô 10001" and hot[1][4] == "Mới vào vùng đỏ"
    changes = list(wb["Thay đổi"].values)
    head = changes[0]
    rows = [dict(zip(head, r, strict=False)) for r in changes[1:]]
    assert any(r["code"] == "10001" and r["level_to"] == "very_high_risk" for r in rows)
    names = [r[2] for r in wb["Phong tỏa"].values][1:]
    assert names and all(not str(n).startswith("=") for n in names)           # formula injection neutralised
    assert names[0] == "'=HYPERLINK(\"http://x\")"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (scripts/setup.sh installs it)")
def test_report_pdf_printed_by_chromium(week, runner, client, tmp_path):
    out = tmp_path / "r.pdf"
    res = invoke(runner, "report", "--date", "2021-07-03", "--format", "pdf", "--out", out)
    assert res.exit_code == 0, res.output
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 1
    r = client.get("/report?date=2021-07-03&format=pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data.startswith(b"%PDF")
