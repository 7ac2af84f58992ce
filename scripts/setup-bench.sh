#!/usr/bin/env bash
# Extra Debian packages for benchmarks/bench_tiles.py: a static web server (nginx) to compare our
# tile serving against, and a load generator (wrk). Not needed to run the service or the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  echo "apt: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# nginx-light starts a system service on install: the benchmark runs its own instance
$SUDO systemctl disable --now nginx >/dev/null 2>&1 || $SUDO service nginx stop >/dev/null 2>&1 || true
echo "bench set-up done"
# tipg (OGC API Features and tiles straight from PostGIS) for benchmarks/bench_ogc.py, in its own
# virtualenv: its FastAPI/pydantic stack stays out of the service's
if [ ! -x .venv-bench/bin/uvicorn ]; then
  python3 -m venv .venv-bench
fi
.venv-bench/bin/pip install -q tipg==1.6.1 uvicorn==0.54.0
echo "tipg set-up done"
