"""The operator's console in Debian's Chromium, every outside request refused, served by gunicorn:
sign in with a token, import an XLSX line list with a personal column and a bad row, see both, download
the rejects, sign out; a viewer sees no write action. Screenshots for the README."""
from __future__ import annotations

import io
import re

import pytest
from browsing import CHROMIUM, SHOTS, _playwright
from helpers import grid, gunicorn, invoke, write_units
from openpyxl import Workbook, load_workbook

pytestmark = pytest.mark.skipif(CHROMIUM is None or _playwright() is None,
                                reason="chromium or playwright not installed (scripts/setup.sh)")


@pytest.fixture(scope="module")
def console_server(tmp_path_factory):
    from geo.serve import auth
    from geo.store.database import Store
    from server import create_app
    tmp = tmp_path_factory.mktemp("console")
    data = tmp / "data"
    app = create_app({"ZONES_DATA_DIR": str(data)})
    assert invoke(app.test_cli_runner(), "import-units", write_units(grid(2, 2), tmp / "u.geojson")).exit_code == 0
    store = Store(app.config["ZONES"].db_path)
    tokens = {role: auth.add_user(store, f"cb-{role}", role) for role in ("viewer", "operator")}
    with gunicorn(data) as base:
        yield base, tokens, tmp


def _page(browser, base):
    ctx = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    page = ctx.new_page()
    outside = []
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base)
               else (outside.append(route.request.url), route.abort()))
    return ctx, page, outside


def _signed_in(browser, base: str, token: str, lang: str = "vi"):
    """A new browser context signed in to the console: (context, page, refused outside requests)."""
    ctx, page, outside = _page(browser, base)
    page.goto(f"{base}/console?lang={lang}")
    page.fill("input[name=token]", token)
    page.click("#signin button")
    page.wait_for_load_state()
    return ctx, page, outside


def test_an_operator_signs_in_imports_sees_rejects_and_signs_out(browser, console_server):
    base, tokens, tmp = console_server
    wb = Workbook()
    ws = wb.active
    ws.append(["Mã ca", "Ngày công bố", "Mã xã", "Họ và tên", "Số điện thoại", "Cộng đồng"])
    ws.append(["BN1", "30/07/2021", "10001", "Nguyễn Văn A", "0912345678", "có"])
    ws.append(["BN2", "30/07/2021", "19999", "Trần Thị B", "0987654321", "có"])
    xlsx = tmp / "danh-sach-ca.xlsx"
    wb.save(xlsx)
    ctx, page, outside = _signed_in(browser, base, tokens["operator"])
    assert page.locator("#who").count() == 1, page.content()[-3000:]
    assert "cb-operator" in page.inner_text("#who")
    page.set_input_files("input[type=file]", str(xlsx))
    page.select_option("select[name=source_known]", "true")
    page.click("#import")
    page.wait_for_selector("#result")
    text = page.inner_text("#result")
    assert "nhận 1 dòng" in text and "loại 1 dòng" in text and "Họ và tên" in text
    assert "mã xã không có trong ranh giới hiện hành: 19999" in text
    assert "Nguyễn Văn A" not in page.content() and "0912345678" not in page.content()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "console-import.png"), full_page=True)
    with page.expect_download() as dl:
        page.click("#rejects-xlsx")
    got = load_workbook(io.BytesIO(dl.value.path().read_bytes())).active
    rows = [[c.value for c in r] for r in got.iter_rows()]
    assert any("19999" in map(str, r) for r in rows[1:]) and "Họ và tên" not in rows[0] and "Số điện thoại" not in rows[0]
    # the sheet in the operator's language: its headers the names the importer reads, each fault's column and reason
    assert rows[0][:4] == ["Tệp", "Dòng", "Cột", "Lý do"] and "Mã xã" in rows[0] and "commune_code" not in rows[0]
    fault = next(r for r in rows[1:] if "19999" in map(str, r))
    assert fault[2] == "Mã xã" and fault[3].startswith("mã xã không có trong ranh giới hiện hành")
    # the office corrects the code in the rejects file and sends it again: accepted, nothing rejected
    fixed = Workbook()
    head = rows[0]
    fixed.active.append(head)
    for r in rows[1:]:
        fixed.active.append(["10002" if str(v) == "19999" else v for v in r])
    again = tmp / "danh-sach-ca-da-sua.xlsx"
    fixed.save(again)
    page.set_input_files("input[type=file]", str(again))
    page.select_option("select[name=source_known]", "true")
    page.click("#import")
    page.wait_for_selector("#result")
    assert "nhận 1 dòng" in page.inner_text("#result") and "loại 0 dòng" in page.inner_text("#result")
    # a form posted from another site (here a page of no origin) is refused: no cookie goes, no CSRF token
    page.set_content(f'<form id="x" method="post" action="{base}/console/reclassify"><input name="csrf" value="guess">'
                     '<input name="date" value="2021-07-31"></form>')
    with page.expect_navigation() as answer:
        page.evaluate("() => document.getElementById('x').submit()")
    assert answer.value.status in (401, 403)
    page.goto(base + "/console")
    page.click("#signout")
    page.wait_for_selector("input[name=token]")
    ctx.close()
    assert outside == []


def test_a_viewer_sees_no_write_action_in_the_browser(browser, console_server):
    base, tokens, _ = console_server
    ctx, page, outside = _signed_in(browser, base, tokens["viewer"], "en")
    assert page.locator("#upload").count() == 0 and page.locator("#read-only").count() == 1
    assert "Publish anyway" not in page.content()
    ctx.close()
    assert outside == []


def test_the_preview_maps_an_office_header_in_the_browser(browser, console_server):
    base, tokens, tmp = console_server
    csv = tmp / "bao-cao-xa.csv"
    csv.write_text("Mã ca,Ngày công bố,Mã ĐVHC,Cộng đồng,Rõ nguồn\nBX1,30/07/2021,10004,có,có\n", encoding="utf-8")
    ctx, page, outside = _signed_in(browser, base, tokens["operator"])
    page.set_input_files("input[type=file]", str(csv))
    page.click("#preview-button")
    page.wait_for_selector("#preview-table")
    assert page.input_value("select[name='map::Mã ĐVHC']") == ""          # not known: the operator says
    assert page.input_value("select[name='map::Mã ca']") == "case_id"
    # the columns offered by their Vietnamese names
    assert "Mã xã" in page.inner_text("select[name='map::Mã ĐVHC']") and "commune_code" not in page.inner_text("#preview")
    page.select_option("select[name='map::Mã ĐVHC']", "commune_code")
    page.check("input[name=remember]")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "console-preview.png"), full_page=True)
    page.click("#import")
    page.wait_for_selector("#result")
    assert "nhận 1 dòng" in page.inner_text("#result") and "Mã ĐVHC → Mã xã" in page.inner_text("#result")
    ctx.close()
    assert outside == []


def test_the_operators_morning_in_the_browser(browser, console_server):
    """Sign in, reclassify now, ask what a stricter downgrade rule would change, go from the map's panel
    to the console to declare a level: the README's pictures are made here."""
    base, tokens, tmp = console_server
    csv = tmp / "sang-nay.csv"
    csv.write_text("Mã ca,Ngày công bố,Mã xã,Cộng đồng,Rõ nguồn,Chùm\nM1,31/07/2021,10002,có,không,K9\n"
                   "M2,31/07/2021,10002,có,không,K9\n", encoding="utf-8")
    ctx, page, outside = _page(browser, base)
    page.goto(base + "/console")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "console-signin.png"))
    page.fill("input[name=token]", tokens["operator"])
    page.click("#signin button")
    page.wait_for_load_state()
    page.set_input_files("input[type=file]", str(csv))
    page.click("#import")
    page.wait_for_selector("#result")
    # dates typed as the committee writes them; "publish now" asks once, naming the day and what it replaces
    page.fill("#reclassify-form input[name=date]", "31/07/2021")
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    page.click("#reclassify-button")
    page.wait_for_selector("#job progress")                              # the stages shown while it runs
    page.wait_for_selector("#job:not([data-status=running])", timeout=60_000)
    assert page.get_attribute("#job-progress", "value") == "100"
    assert len(asked) == 1 and "31/07/2021" in asked[0]
    assert "Đã công bố lần chạy" in page.inner_text("#job-message") or "GIỮ LẠI" in page.inner_text("#job-message")
    if page.locator("#holds form input[name=reason]").count():          # held (quality gate): release it
        page.fill("#holds form input[name=reason]", "đã kiểm tra")
        page.click("#holds form button")
        page.wait_for_selector("#message")
    page.fill("#whatif input[name=date]", "31/07/2021")
    page.fill("#whatif textarea[name=settings]", "cluster_min_cases=3")
    page.click("#whatif-run")
    page.wait_for_selector("#whatif-result")
    assert "10002" in page.inner_html("#whatif-changes") and "▼" in page.inner_text("#whatif-changes")
    page.wait_for_selector("#whatif-map[data-drawn]")                     # the changes drawn on a map too
    assert int(page.get_attribute("#whatif-map", "data-drawn")) == page.locator("#whatif-changes tr[data-code]").count()
    page.screenshot(path=str(SHOTS / "console-whatif.png"), full_page=True)
    page.goto(base + "/map?date=2021-07-31")
    page.wait_for_selector("body[data-zones-drawn='1']")
    page.click("#zones-hot-list li >> nth=0")
    page.wait_for_selector(".zones-console a")
    page.click(".zones-console a")
    page.wait_for_selector("#declare-form")
    assert page.input_value("#declare-form input[name=unit]") == "10002"
    page.fill("#declare-form input[name=decision]", "12/QĐ-BCĐ")
    page.click("#declare-button")
    page.wait_for_selector("#message")
    assert "Đã ghi cấp độ" in page.inner_text("#message")
    page.screenshot(path=str(SHOTS / "console-declare.png"))
    ctx.close()
    assert outside == []
    for name in ("console-signin", "console-preview", "console-import", "console-whatif", "console-declare"):
        assert (SHOTS / f"{name}.png").stat().st_size > 10_000, name


def test_the_console_fits_a_phone_and_speaks_vietnamese(browser, console_server):
    """At 390 px the console is no wider than the screen (wide tables scroll in place), and the words on it, the
    file button's included, are Vietnamese."""
    base, tokens, _ = console_server
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    page.goto(f"{base}/console")
    page.fill("input[name=token]", tokens["operator"])
    page.click("#signin button")
    page.wait_for_load_state()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    text = page.inner_text("main")
    assert "Chọn tệp" in text and "Choose File" not in text
    assert page.get_attribute("#reclassify-form input[name=date]", "placeholder") == "dd/mm/yyyy"
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", page.input_value("#reclassify-form input[name=date]"))
    ctx.close()
