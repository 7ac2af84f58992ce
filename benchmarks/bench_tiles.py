"""Tile serving: our server against nginx serving the same tiles as static files, same run, same load.

    bash scripts/setup-bench.sh            # nginx-light and wrk from Debian
    .venv/bin/python benchmarks/bench_tiles.py [--shared ../shared/data] [--seconds 10]

The national day is published (national.py); every commune vector tile of zooms 8-10 is read out of
the run's MBTiles and written as a static z/x/y.mvt tree that a plain nginx serves. wrk drives 50
concurrent connections (bounded, loopback) over the same list of tiles against: our run-addressed
MVT URLs as deployed (deploy/nginx-zones.conf in front of gunicorn), gunicorn alone, plain nginx.
Each is measured as a browser asks (Accept-Encoding: gzip) and as a client that takes no compression.
Target: our requests per second as deployed >= 0.9x nginx's with gzip asked, as every browser asks (issue 28: a
run's tiles are gzipped once when published and nginx sends that copy). Without compression asked (a rare client:
nginx unpacks the tile for it) the rate is reported, not targeted. Writes the "tiles" section of RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gzip
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import national  # noqa: E402
from results import write_section  # noqa: E402

from geo.publish.tiles import gzipped  # noqa: E402

CONNECTIONS, THREADS = 50, 2
TARGET_GZIP_RATIO = 0.9
GZIP = "Accept-Encoding: gzip"
# One nginx instance (own pid, logs and temp folders under {tmp}) around a server block.
NGINX_CONF = """worker_processes 2;
{user}
pid {tmp}/{name}.pid;
error_log {tmp}/{name}-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  {server}
}}
"""
# Plain nginx serving the tiles as static files: what ours is compared with.
STATIC_SERVER = """types {{ application/vnd.mapbox-vector-tile mvt; }}
  server {{ listen 127.0.0.1:{port}; root {root}; etag on; }}"""
LUA = """paths = {{{paths}}}
i = 0
request = function()
  i = (i % #paths) + 1
  return wrk.format("GET", paths[i])
end
"""


def tiles_of(mbtiles: Path, zooms=(8, 9, 10)) -> list[tuple[int, int, int, bytes]]:
    con = sqlite3.connect(f"file:{mbtiles}?mode=ro", uri=True)
    rows = con.execute(f"SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles WHERE zoom_level IN "
                       f"({','.join('?' * len(zooms))})", zooms).fetchall()
    con.close()
    # a run's tiles are stored gzipped: the static tree holds them plain, as any tile server's files
    return [(z, x, (1 << z) - 1 - y, gzip.decompress(d) if gzipped(d) else bytes(d)) for z, x, y, d in rows]


def wrk(base: str, paths: list[str], seconds: int, tmp: Path, header: str | None = None) -> dict:
    script = tmp / "paths.lua"
    script.write_text(LUA.format(paths=",".join(f'"{p}"' for p in paths)), encoding="utf-8")
    asked = ["-H", header] if header else []
    out = subprocess.run(["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", *asked, "-s", str(script), base],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    def ms(label):
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)] if m else float("nan")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": ms("50"), "p99": ms("99"),
            "non2xx": int(errors.group(1)) if errors else 0, "socket_errors": socket_errors.group(1) if socket_errors else "",
            "requests": int(re.search(r"(\d+) requests in", out).group(1))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()) or not shutil.which("wrk"):
        sys.exit("needs nginx and wrk: bash scripts/setup-bench.sh")
    src = national.source(args.shared)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        os.chmod(tmp, 0o755)
        settings, _, run = national.publish_day(src, str(tmp_path / "data"))
        tiles = tiles_of(settings.runs_dir / run["run_id"] / "tiles" / "commune.mbtiles")
        static = tmp_path / "static"
        for z, x, y, data in tiles:
            (static / str(z) / str(x)).mkdir(parents=True, exist_ok=True)
            (static / str(z) / str(x) / f"{y}.mvt").write_bytes(data)
        rel = [f"{z}/{x}/{y}.mvt" for z, x, y, _ in tiles]
        ours_paths = [f"/tiles/runs/{run['run_id']}/commune/{p}" for p in rel]
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        user = "user root;" if os.geteuid() == 0 else ""
        with national.gunicorn(str(tmp_path / "data")) as base:
            ours = wrk(base, ours_paths, args.seconds, tmp_path, GZIP)
            # the deployment: deploy/nginx-zones.conf in front of the same gunicorn
            port = national.free_port()
            site = (ROOT / "deploy" / "nginx-zones.conf").read_text(encoding="utf-8").replace(
                "@LISTEN@", f"127.0.0.1:{port}").replace("@UPSTREAM@", base.split("//")[1]).replace(
                "@RUNS@", str(settings.runs_dir))
            (tmp_path / "site.conf").write_text(site, encoding="utf-8")
            (tmp_path / "front.conf").write_text(NGINX_CONF.format(tmp=tmp, name="front", user=user,
                                                                    server=f"include {tmp_path / 'site.conf'};"))
            subprocess.run([nginx, "-c", str(tmp_path / "front.conf"), "-p", tmp], check=True)
            try:
                time.sleep(0.5)
                front = wrk(f"http://127.0.0.1:{port}", ours_paths, args.seconds, tmp_path)
                front_gz = wrk(f"http://127.0.0.1:{port}", ours_paths, args.seconds, tmp_path, GZIP)
            finally:
                subprocess.run([nginx, "-c", str(tmp_path / "front.conf"), "-p", tmp, "-s", "stop"], check=False)
        time.sleep(0.5)
        port = national.free_port()
        (tmp_path / "nginx.conf").write_text(NGINX_CONF.format(
            tmp=tmp, name="static", user=user, server=STATIC_SERVER.format(port=port, root=static)), encoding="utf-8")
        subprocess.run([nginx, "-c", str(tmp_path / "nginx.conf"), "-p", tmp], check=True)
        try:
            time.sleep(0.5)
            theirs = wrk(f"http://127.0.0.1:{port}", ["/" + p for p in rel], args.seconds, tmp_path)
            theirs_gz = wrk(f"http://127.0.0.1:{port}", ["/" + p for p in rel], args.seconds, tmp_path, GZIP)
        finally:
            subprocess.run([nginx, "-c", str(tmp_path / "nginx.conf"), "-p", tmp, "-s", "stop"], check=False)
    ratio, gz_ratio = front["rps"] / theirs["rps"], front_gz["rps"] / theirs_gz["rps"]
    direct = ours["rps"] / theirs_gz["rps"]

    def row(name: str, r: dict) -> str:
        return (f"| {name} | {r['rps']:,.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['requests']:,} | {r['non2xx']} | "
                f"{r['socket_errors'] or '—'} |")
    lines = [
        "## Tile serving against a static web server", "",
        f"Written by `benchmarks/bench_tiles.py` on {dt.date.today().isoformat()}: {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores (shared by server and load generator). {len(tiles):,} commune "
        f"vector tiles (z8-10) of the national day; wrk, {CONNECTIONS} connections, {THREADS} threads, "
        f"{args.seconds} s each, cycling through the same tile list.", "",
        "| server | requests/s | p50 ms | p99 ms | requests | non-2xx | socket errors |", "|---|---:|---:|---:|---:|---:|---|",
        row("ours as deployed (`deploy/nginx-zones.conf` in front of gunicorn), gzip asked", front_gz),
        row("ours as deployed, no compression asked", front),
        row("ours, gunicorn alone (4 workers), gzip asked", ours),
        row("nginx 1.22 (Debian), the same tiles as static files, gzip asked (its default: no gzip)", theirs_gz),
        row("nginx, the same files, no compression asked", theirs), "",
        f"Deployed ratio with gzip asked {gz_ratio:.2f}; target >= {TARGET_GZIP_RATIO}: "
        f"**{'met' if gz_ratio >= TARGET_GZIP_RATIO else 'NOT met'}**. Without compression asked: {ratio:.2f} (nginx "
        f"unpacks each tile for such a client; browsers always ask for gzip). Gunicorn alone: {direct:.2f}.", "",
        "A run's vector tiles are gzipped once when published (tile-join) and kept as `z/x/y.mvt.gz` files: the nginx",
        "site we ship sends each as it is to a client that takes gzip (`gzip_static always`; `gunzip` unpacks it for one",
        "that does not), compressing nothing per request (immutable cache, ETag); anything that is not a file (empty",
        "tile, unknown run, a backfilled day) goes to the service, which sends the stored tile as it is too.",
        "Gunicorn alone answers each tile through Python (WSGI, run lookup kept per process, one SQLite read of the",
        "MBTiles).",
    ]
    write_section("tiles", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
