"""The committee's map and report on a two-level version (communes -> provinces, Vietnam since 2025),
in Debian's Chromium with every outside request refused, served by gunicorn: drawn without a district
layer, the panel names the province and no district, the PDF ranks provinces."""
from __future__ import annotations

import sys
import urllib.request

import pytest
from browsing import CHROMIUM, SHOTS, Visit, _playwright
from helpers import ROOT, gunicorn, invoke, write_cases, write_units

pytestmark = pytest.mark.skipif(CHROMIUM is None or _playwright() is None,
                                reason="chromium or playwright not installed (scripts/setup.sh)")
sys.path.insert(0, str(ROOT / "tests" / "evaluate"))
from test_two_levels import DAY, _two_level  # noqa: E402


@pytest.fixture(scope="module")
def two_level_server(tmp_path_factory):
    from server import create_app
    tmp = tmp_path_factory.mktemp("two-level")
    data = tmp / "data"
    app = create_app({"ZONES_DATA_DIR": str(data)})
    runner = app.test_cli_runner()
    assert invoke(runner, "import-units", write_units(_two_level(), tmp / "wards.geojson")).exit_code == 0
    rows = [{"case_id": f"T{k}", "report_date": DAY, "commune_code": c, "community": "true", "source_known": "false",
             "cluster_id": f"K{c}"} for k, c in enumerate(["10001", "10001", "10009", "10009", "10017", "10017"])]
    assert invoke(runner, "import-cases", write_cases(rows, tmp / "cases.csv")).exit_code == 0
    assert invoke(runner, "reclassify", "--date", DAY).exit_code == 0
    with gunicorn(data) as base:
        yield base


def test_two_level_map_panel_and_pdf(browser, two_level_server, tmp_path):
    from pypdf import PdfReader
    base = two_level_server
    v = Visit(browser, base, f"/map?date={DAY}")
    assert not any("/district" in r for r in v.requests), v.requests
    v.page.click("#zones-hot-list li >> nth=0")
    v.page.wait_for_selector("#zones-panel:not([hidden]) .zones-chart")
    body = v.page.inner_text("#zones-panel-body")
    assert "Tỉnh Một" in body and "Quận/huyện" not in body and "None" not in body, body
    link = v.page.get_attribute(".zones-console a", "href")             # to the console, the code filled in
    assert link.startswith("/console?code=") and "#declare" in link
    SHOTS.mkdir(parents=True, exist_ok=True)
    v.page.screenshot(path=str(SHOTS / "two-levels.png"))
    v.close()
    pdf = tmp_path / "bao-cao.pdf"
    with urllib.request.urlopen(base + f"/report?date={DAY}&format=pdf") as r:
        pdf.write_bytes(r.read())
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(pdf).pages)
    assert "Tỉnh/thành phố theo mức độ" in text and "Tỉnh Một" in text and "None" not in text
