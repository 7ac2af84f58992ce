#!/usr/bin/env bash
# The main job on the embedded sample: import boundaries, cases, lockdowns and flags for
# Thừa Thiên Huế and Khánh Hòa, reclassify 31/7/2021, then serve the map.
set -euo pipefail
cd "$(dirname "$0")/.."
export ZONES_DATA_DIR=${ZONES_DATA_DIR:-data}
PORT=${PORT:-8000}
FLASK=".venv/bin/flask --app server"
$FLASK import-units data/sample/communes.geojson --boundary-version vn2009-hue-khanhhoa
$FLASK import-cases data/sample/cases.csv
$FLASK import-lockdowns data/sample/lockdowns.geojson
$FLASK import-flags data/sample/flags.csv
$FLASK reclassify --date 2021-07-31
echo
echo "Bản đồ / map: http://127.0.0.1:${PORT}/map?date=2021-07-31"
[ "${NO_SERVE:-0}" = "1" ] && exit 0
exec .venv/bin/gunicorn --workers 2 --bind "0.0.0.0:${PORT}" "server:create_app()"
