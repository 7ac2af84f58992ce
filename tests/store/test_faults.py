"""Faults of the machine made for real: the data folder on a full disk (a small tmpfs), a read-only
data folder (a read-only bind mount), a damaged store, a published run's folder deleted. Reads of
published runs go on; writes fail with one clear message naming the cause; nothing stored changes;
nothing is half-written. (Mounting needs root: these tests skip with the reason otherwise.)"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import ROOT, case, free_port, grid, invoke, numbered, run_scenario, wait_until_serving, write_cases

DAY = "2021-07-31"
VENV_BIN = Path(sys.executable).parent
READS = (f"/map?date={DAY}", "/api/zones.geojson?date=2021-07-30", "/api/zones/10001?date=2021-07-30",
         f"/api/zones.geojson?date={DAY}", f"/report?date={DAY}", "/api/exports/csv?date=2021-07-30",
         f"/api/hotspots?date={DAY}", "/api/zones/10001/history", "/tiles/runs/RUN/commune/12/3268/1868.png")


def _can_mount() -> str | None:
    if os.geteuid() != 0:
        return "mounting a tmpfs or a read-only bind needs root"
    probe = Path("/tmp") / f"zones-mount-probe-{os.getpid()}"
    probe.mkdir(exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)], capture_output=True)
        if done.returncode != 0:
            return f"cannot mount here: {done.stderr.decode().strip()}"
        subprocess.run(["umount", str(probe)], check=True)
        return None
    finally:
        probe.rmdir()


WHY = _can_mount()
needs_mount = pytest.mark.skipif(WHY is not None, reason=WHY or "")


@pytest.fixture
def published(runner, app, tmp_path):
    """A week: 25-30 July backfilled (levels runs), the 31st in full; its data folder."""
    run_scenario(runner, app, tmp_path, grid(2, 3), numbered([case("10002", "2021-07-29", setting="school")]), "2021-07-24")
    assert invoke(runner, "backfill", "--from", "2021-07-25", "--to", DAY).exit_code == 0
    return app.config["ZONES"].data_dir


def _counts(db: Path) -> dict:
    con = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    try:
        return {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("cases", "runs", "imports", "units")}
    finally:
        con.close()


@contextmanager
def _full_disk(data: Path, tmp_path: Path):
    """The data folder copied onto a tmpfs just big enough, then filled to the last byte."""
    used = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    mnt = tmp_path / "full"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={used + (4 << 20)}", "tmpfs", str(mnt)], check=True)
    try:
        shutil.copytree(data, mnt / "data")
        for name, block in (("filler", 1 << 16), ("filler2", 512), ("filler3", 1)):      # to the last byte
            fd = os.open(mnt / name, os.O_WRONLY | os.O_CREAT)
            try:
                while os.write(fd, b"\0" * block):
                    pass
            except OSError:
                pass
            finally:
                os.close(fd)
        yield mnt / "data"
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@contextmanager
def _read_only(data: Path, tmp_path: Path):
    ro = tmp_path / "ro"
    ro.mkdir()
    subprocess.run(["mount", "--bind", str(data), str(ro)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(ro)], check=True)
        yield ro
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=False)


@contextmanager
def _gunicorn(data: Path):
    port = free_port()
    proc = subprocess.Popen([str(VENV_BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}",
                             "server:create_app()"], cwd=ROOT, env={**os.environ, "ZONES_DATA_DIR": str(data)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(base + "/healthz")
    try:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        yield base
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def _get(url: str, data: bytes | None = None, headers=None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers or {}), timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read()


def _reads_work(base: str, run_id: str) -> None:
    for path in READS:
        status, body = _get(base + path.replace("RUN", run_id))
        assert status in (200, 204), (path, status, body[:300])


def _run_id(data: Path) -> str:
    return next(p.name for p in (data / "runs").glob(f"{DAY}_*"))


def _upload(base: str, token: str) -> tuple[int, bytes]:
    boundary = "zonesboundary"
    csv = f"case_id,report_date,commune_code,community,source_known\nF1,{DAY},10001,1,1\n"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"ca.csv\"\r\n"
            f"Content-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n").encode()
    return _get(base + "/api/imports/cases", body, {"Content-Type": f"multipart/form-data; boundary={boundary}",
                                                    "Authorization": f"Bearer {token}"})


def _token(runner) -> str:
    out = invoke(runner, "users", "add", "op", "--role", "operator").output.strip()
    return out.rsplit(": ", 1)[1]


@needs_mount
def test_a_full_data_disk(published, runner, tmp_path):
    token = _token(runner)
    with _full_disk(published, tmp_path) as data:
        before = _counts(data / "zones.sqlite")
        with _gunicorn(data) as base:
            _reads_work(base, _run_id(data))
            status, body = _get(base + "/metrics")
            assert status == 200 and b"zones_http_requests_total" in body      # metrics live in memory, not on the disk
            status, body = _upload(base, token)
            assert status == 503 and "đầy" in body.decode(), body
        from server import create_app
        app = create_app({"ZONES_DATA_DIR": str(data), "ZONES_QUALITY_GATE": "off"})
        cli = app.test_cli_runner()
        write_cases([case("10001", DAY, case_id="F2")], tmp_path / "more.csv")
        for args in (["import-cases", tmp_path / "more.csv"], ["reclassify", "--date", DAY]):
            res = cli.invoke(args=[str(a) for a in args])
            assert res.exit_code == 2 and "đầy" in res.output and "Traceback" not in res.output, res.output
        assert _counts(data / "zones.sqlite") == before                   # nothing stored changed
        assert not list((data / "runs").glob(".staging-*"))               # nothing half-written left behind


@needs_mount
def test_a_read_only_data_folder(published, runner, tmp_path):
    token = _token(runner)
    with _read_only(published, tmp_path) as data:
        before = _counts(data / "zones.sqlite")
        with _gunicorn(data) as base:                                    # it starts, and it serves
            _reads_work(base, _run_id(data))
            status, body = _upload(base, token)
            assert status == 503 and "chỉ cho đọc" in body.decode(), body
        from server import create_app
        res = create_app({"ZONES_DATA_DIR": str(data)}).test_cli_runner().invoke(
            args=["import-cases", str(tmp_path / "cases.csv")])
        assert res.exit_code == 2 and "chỉ cho đọc" in res.output, res.output
        assert _counts(data / "zones.sqlite") == before


def test_a_damaged_store_answers_clearly(published, client, runner):
    db = published / "zones.sqlite"
    for side in (db.with_name("zones.sqlite-wal"), db.with_name("zones.sqlite-shm")):
        side.unlink(missing_ok=True)
    with open(db, "r+b") as fh:
        fh.write(b"this is not a database any more" * 4)
    for path in ("/api/runs", f"/api/zones.geojson?date={DAY}", "/ogc/collections", f"/map?date={DAY}",
                 "/api/zones/10001", f"/api/zones/10001?date={DAY}", f"/api/hotspots?date={DAY}"):
        r = client.get(path, headers={"Accept": "application/json"})
        assert r.status_code == 503 and r.get_json()["error"] == "store_damaged", (path, r.status_code, r.data[:200])
        assert "sao lưu" in r.get_json()["message"]
    assert client.get("/healthz").status_code == 503
    res = runner.invoke(args=["reclassify", "--date", DAY])
    assert res.exit_code == 2 and "bị hỏng" in res.output and "Traceback" not in res.output, res.output


def test_a_deleted_run_folder_is_named(published, client):
    run_id = _run_id(published)
    shutil.rmtree(published / "runs" / run_id)
    for path in ("/api/zones/10001", f"/api/zones.geojson?date={DAY}", f"/report?date={DAY}&format=xlsx"):
        r = client.get(path)
        assert r.status_code == 503 and r.get_json()["error"] == "run_files_missing", (path, r.status_code, r.data[:200])
        assert run_id in r.get_json()["message"]
    assert client.get("/api/zones/10001?date=2021-07-30").status_code == 200      # the other days still serve
