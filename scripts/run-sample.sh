#!/usr/bin/env bash
# The main job on the embedded sample: import boundaries, cases, lockdowns and flags for
# Thừa Thiên Huế and Khánh Hòa, backfill 17-30/7/2021, reclassify 31/7/2021, write the morning
# report, then serve the map.
set -euo pipefail
cd "$(dirname "$0")/.."
export ZONES_DATA_DIR=${ZONES_DATA_DIR:-data}
PORT=${PORT:-8000}
FLASK=".venv/bin/flask --app server"
$FLASK import-units data/sample/communes.geojson --boundary-version vn2009-hue-khanhhoa
$FLASK import-cases data/sample/cases.csv
$FLASK import-lockdowns data/sample/lockdowns.geojson
$FLASK import-flags data/sample/flags.csv
# two weeks of history, then the morning's run and its report
$FLASK backfill --from 2021-07-17 --to 2021-07-30
$FLASK reclassify --date 2021-07-31
$FLASK report --date 2021-07-31 --format html --out "$ZONES_DATA_DIR/bao-cao-2021-07-31.html"
echo
echo "Bản đồ / map: http://127.0.0.1:${PORT}/map?date=2021-07-31"
echo "Báo cáo / report: http://127.0.0.1:${PORT}/report?date=2021-07-31"
[ "${NO_SERVE:-0}" = "1" ] && exit 0
exec .venv/bin/gunicorn --workers 2 --threads 8 --bind "0.0.0.0:${PORT}" "server:create_app()"
