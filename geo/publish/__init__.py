"""Stage 3: write a run (GeoJSON, GeoPackage, tiles, levels tables), the data-quality gate, the daily job and the backfill."""
