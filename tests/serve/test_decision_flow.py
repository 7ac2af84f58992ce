"""From proposal to decision, as the committee's secretariat and a citizen meet it, served by gunicorn in Debian's
Chromium: reclassify → review (one unit changed, with its reason) → approve → the DOCX and the PDF → the map shows
the levels in force, the proposal behind a switch → the citizens' lookup shows the approved level and decision and
nothing else. And the server killed during an approval: every unit of it in force, or none."""
from __future__ import annotations

import io
import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest
from browsing import NEEDS_BROWSER, SHOTS
from docx import Document
from helpers import ROOT, case, free_port, grid, numbered, run_scenario, wait_until_serving

from geo.serve import auth
from geo.store import inputs
from geo.store.database import Store

pytestmark = NEEDS_BROWSER
DAY = "2021-07-31"
RED = "10002"


def _serve(data):
    port = free_port()
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "--workers", "1", "--bind", f"127.0.0.1:{port}",
                             "server:create_app()"], cwd=ROOT, env={**os.environ, "ZONES_DATA_DIR": str(data)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(base + "/healthz")
    return proc, base


@pytest.fixture
def site(runner, app, tmp_path):
    units = grid(3, 4, district_of=lambda c: "A" if int(c) <= 10006 else "B")
    rows = numbered([case(RED, DAY, known=False, cluster="K") for _ in range(3)] + [case("10011", DAY)])
    run_scenario(runner, app, tmp_path, units, rows, DAY)
    store = Store(app.config["ZONES"].db_path)
    tokens = {role: auth.add_user(store, f"cb-{role}", role) for role in ("approver",)}
    return app.config["ZONES"].data_dir, store, tokens


def _in_force(store) -> dict:
    with store.connect(readonly=True) as con:
        t = inputs.declarations_of(con, store.current_boundary_version(), DAY)
    return dict(zip(t["unit"], t["decision"], strict=True))


def test_review_approve_documents_map_and_public_page(browser, site, tmp_path):
    data, store, tokens = site
    proc, base = _serve(data)
    try:
        ctx = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
        page = ctx.new_page()
        outside = []
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else (outside.append(r.request.url), r.abort()))
        page.goto(base + "/console")
        page.fill("input[name=token]", tokens["approver"])
        page.click("#signin button")
        page.wait_for_load_state()
        page.click("#review-link")
        page.wait_for_selector("#approve-form")
        assert page.locator(f"tr[data-code='{RED}']").count() == 1
        # the approver decides the red ward orange, with the reason, and signs
        page.select_option(f"select[name='level::{RED}']", "high_risk")
        page.fill(f"input[name='reason::{RED}']", "Đã khoanh vùng, truy vết xong")
        page.fill("input[name=number]", "88/QĐ-UBND")
        page.fill("input[name=signed]", "31/07/2021 10:00")
        page.fill("input[name=signer]", "Nguyễn Văn A")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "decision-review.png"), full_page=True)
        asked = []
        page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
        page.click("#approve")
        page.wait_for_selector("#message")
        assert "88/QĐ-UBND" in asked[0] and "88/QĐ-UBND" in page.inner_text("#message")
        assert _in_force(store)[RED] == "88/QĐ-UBND"
        with page.expect_download() as dl:
            page.click("#decisions a:text('DOCX')")
        doc = Document(io.BytesIO(dl.value.path().read_bytes()))
        text = "\n".join(p.text for p in doc.paragraphs) + "\n".join(c.text for t in doc.tables for r in t.rows for c in r.cells)
        assert "Số: 88/QĐ-UBND" in text and "ngày 31 tháng 7 năm 2021" in text and "Xã Ô 10002" in text
        assert "Đã khoanh vùng" in text and "Thực hiện 5K" in text
        with page.expect_download() as dl:
            page.click("#decisions a:text('PDF')")
        from pypdf import PdfReader
        flat = "".join("".join(p.extract_text() for p in PdfReader(io.BytesIO(dl.value.path().read_bytes())).pages).split())
        assert "88/QĐ-UBND" in flat and "XãÔ10002" in flat
        # the decision's first page as printed (the README's picture: the PDF's page is this HTML)
        from geo.domain.rulesets import load_rulesets
        from geo.serve import decision
        with store.connect(readonly=True) as con:
            made = con.execute("SELECT id FROM decisions WHERE number = '88/QĐ-UBND'").fetchone()[0]
        sheet = tmp_path / "qd.html"
        sheet.write_text(decision.html(decision.content(store, made, load_rulesets()["qd2686"], decision.template())),
                         encoding="utf-8")
        look = ctx.new_page()
        look.set_viewport_size({"width": 794, "height": 1123})
        look.goto(sheet.as_uri())
        look.screenshot(path=str(SHOTS / "decision-document.png"))
        look.close()
                # the map: the levels in force by default, the computed proposal behind a switch
        page.goto(base + f"/map?date={DAY}")
        page.wait_for_selector("body[data-zones-ready='1'][data-zones-drawn='1']")
        i = page.evaluate(f"zonesApi.state.index.units.commune.code.indexOf('{RED}')")
        assert page.evaluate(f"[zonesApi.state.view, zonesApi.levelOf('commune', {i})]") == ["in_force", "very_high_risk"]
        assert page.is_visible("#zones-view")
        assert page.evaluate("document.querySelector('.zones-count[data-level=very_high_risk]').textContent") == "0"
        page.check("#zones-proposal")
        assert page.evaluate("document.querySelector('.zones-count[data-level=very_high_risk]').textContent") == "1"
        ctx.close()
        # the citizens' page: the approved level and decision, nothing else
        pub = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        p = pub.new_page()
        p.goto(base + "/tra-cuu")
        p.wait_for_selector("body[data-zones-ready='1'][data-zones-drawn='1']")
        p.fill("#zones-search", "o 10002")
        p.wait_for_selector(".zones-hit")
        p.click(".zones-hit >> nth=0")
        p.wait_for_selector("#zones-panel:not([hidden])")
        panel = p.inner_text("#zones-panel")
        assert "Vùng nguy cơ cao (cam)" in panel and "88/QĐ-UBND" in panel and "31/07/2021" in panel
        for absent in ("Ca cộng đồng", "Lý do", "Đề xuất", "rất cao", "Dân số"):      # no cases, reasons or proposal
            assert absent not in panel, absent
        p.screenshot(path=str(SHOTS / "public-lookup.png"))
        weight = sum(len(urllib.request.urlopen(urllib.request.Request(base + u, headers={"Accept-Encoding": "gzip"}),
                                                 timeout=30).read())
                     for u in ("/tra-cuu", "/tra-cuu/levels.json"))
        assert weight < 150_000
        pub.close()
        assert outside == []
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def _signed_in_session(base: str, token: str):
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(urllib.request.Request(base + "/console/signin", data=urllib.parse.urlencode({"token": token}).encode(),
                                       headers={"Origin": base}), timeout=30)
    page = opener.open(base + f"/console/proposal?date={DAY}", timeout=30).read().decode()
    return opener, page


def test_killing_the_server_during_an_approval_leaves_all_or_nothing(runner, app, tmp_path):
    big = grid(12, 12, district_of=lambda c: "A" if int(c) <= 10072 else "B")
    rows = numbered([case(f"{10001 + k}", DAY, known=False, cluster=f"K{k}") for k in range(0, 144, 3) for _ in range(3)])
    run_scenario(runner, app, tmp_path, big, rows, DAY)
    data = app.config["ZONES"].data_dir
    token = auth.add_user(Store(app.config["ZONES"].db_path), "cb-ap", "approver")
    clean = tmp_path / "before.sqlite"
    shutil.copy(data / "zones.sqlite", clean)
    rng = random.Random(20210731)
    outcomes = []
    full = None
    for k in range(8):
        shutil.copy(clean, data / "zones.sqlite")
        for extra in ("zones.sqlite-wal", "zones.sqlite-shm"):
            (data / extra).unlink(missing_ok=True)
        proc, base = _serve(data)
        opener, page = _signed_in_session(base, token)
        form = {"csrf": re.search(r'name="csrf" value="([^"]+)"', page).group(1),
                "run": re.search(r'name="run" value="([^"]+)"', page).group(1), "province": "1",
                "number": f"{100 + k}/QĐ-UBND", "signed": "31/07/2021 10:00", "signer": "Nguyễn Văn A"}
        request = urllib.request.Request(base + "/console/decisions", data=urllib.parse.urlencode(form).encode(),
                                         headers={"Origin": base})
        t0 = time.monotonic()
        if full is None:                        # the first, whole: how long an approval takes
            opener.open(request, timeout=60)
            full = time.monotonic() - t0
        else:
            threading.Thread(target=_quietly, args=(opener, request), daemon=True).start()
            time.sleep(rng.uniform(0, full * 1.2))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        store = Store(data / "zones.sqlite")
        with store.connect() as con:            # a writer's connection: the journal rolled back as after a crash
            decided = con.execute("SELECT n_units FROM decisions WHERE number = ?", (form["number"],)).fetchone()
            declared = con.execute("SELECT COUNT(*) FROM declarations WHERE decision = ?", (form["number"],)).fetchone()[0]
        assert declared == (decided[0] if decided else 0), (k, decided, declared)
        outcomes.append("all" if decided else "none")
    assert outcomes[0] == "all" and "none" in outcomes[1:], outcomes


def _quietly(opener, request) -> None:
    try:
        opener.open(request, timeout=60)
    except Exception:  # noqa: BLE001 - the server is killed under it: any answer, or none
        pass



