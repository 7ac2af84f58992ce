"""The tables of the store, as SQLite creates them (geo/store/pg.py translates the few differences
for PostgreSQL). Created if missing each time a writer connects."""
from geo.store.connection import Connection

SCHEMA = """
CREATE TABLE IF NOT EXISTS boundary_versions (
  name TEXT PRIMARY KEY, imported_at TEXT NOT NULL, source TEXT, source_sha256 TEXT,
  source_crs TEXT, n_communes INTEGER, report TEXT, is_current INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS units (
  boundary_version TEXT NOT NULL, unit TEXT NOT NULL, code TEXT NOT NULL, name TEXT,
  district_code TEXT, district_name TEXT, province_code TEXT, province_name TEXT,
  population REAL, geom BLOB NOT NULL, geojson TEXT, display TEXT,
  PRIMARY KEY (boundary_version, unit, code));
CREATE TABLE IF NOT EXISTS adjacency (
  boundary_version TEXT NOT NULL, method TEXT NOT NULL, a TEXT NOT NULL, b TEXT NOT NULL,
  shared_m REAL, PRIMARY KEY (boundary_version, method, a, b));
CREATE TABLE IF NOT EXISTS imports (
  id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, path TEXT, sha256 TEXT,
  imported_at TEXT NOT NULL, accepted INTEGER, rejected INTEGER, changed INTEGER, rejects_path TEXT);
CREATE TABLE IF NOT EXISTS cases (
  case_key TEXT PRIMARY KEY, kind TEXT NOT NULL, case_id TEXT, report_date TEXT, sample_date TEXT,
  result_date TEXT, count INTEGER NOT NULL, community INTEGER, source_known INTEGER,
  source_setting TEXT, cluster_id TEXT, lon REAL, lat REAL, commune_code TEXT, located_by TEXT,
  age REAL, sex TEXT, row_hash TEXT NOT NULL, import_id INTEGER);
CREATE INDEX IF NOT EXISTS cases_report_date ON cases(report_date);
CREATE TABLE IF NOT EXISTS lockdowns (
  lockdown_key TEXT PRIMARY KEY, decision_no TEXT NOT NULL, issuer TEXT, name TEXT,
  start_date TEXT NOT NULL, end_date TEXT, lifted_date TEXT, geom BLOB NOT NULL,
  row_hash TEXT NOT NULL, import_id INTEGER);
CREATE TABLE IF NOT EXISTS lockdown_history (
  decision_no TEXT NOT NULL, issuer TEXT, name TEXT, start_date TEXT, end_date TEXT, lifted_date TEXT,
  geom BLOB NOT NULL, row_hash TEXT NOT NULL, replaced_at TEXT NOT NULL, replaced_by TEXT);
CREATE TABLE IF NOT EXISTS flags (
  code TEXT NOT NULL, date TEXT NOT NULL, flag TEXT NOT NULL, value INTEGER NOT NULL,
  author TEXT, end_date TEXT, row_hash TEXT NOT NULL, import_id INTEGER, recorded_at TEXT,
  PRIMARY KEY (code, date, flag));
CREATE TABLE IF NOT EXISTS indicators (
  code TEXT NOT NULL, date TEXT NOT NULL, name TEXT NOT NULL, value REAL NOT NULL, row_hash TEXT NOT NULL,
  PRIMARY KEY (code, date, name));
CREATE TABLE IF NOT EXISTS declarations (
  unit TEXT NOT NULL, level TEXT NOT NULL, valid_from TEXT NOT NULL, valid_until TEXT, decision TEXT NOT NULL,
  by TEXT NOT NULL, reason TEXT, recorded_at TEXT NOT NULL, row_hash TEXT NOT NULL,
  PRIMARY KEY (unit, valid_from, decision));
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, date TEXT NOT NULL, created_at TEXT NOT NULL, ruleset TEXT NOT NULL,
  ruleset_sha256 TEXT, boundary_version TEXT NOT NULL, manifest TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS published (date TEXT PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(run_id));
CREATE TABLE IF NOT EXISTS publications (
  date TEXT NOT NULL, run_id TEXT NOT NULL REFERENCES runs(run_id), published_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS publications_date ON publications(date, published_at);
CREATE TABLE IF NOT EXISTS crosswalk (
  from_version TEXT NOT NULL, to_version TEXT NOT NULL, old_code TEXT NOT NULL, new_code TEXT NOT NULL,
  weight REAL NOT NULL DEFAULT 1, PRIMARY KEY (from_version, to_version, old_code, new_code));
CREATE TABLE IF NOT EXISTS users (
  name TEXT PRIMARY KEY, role TEXT NOT NULL, token_sha256 TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL,
  revoked_at TEXT);
CREATE TABLE IF NOT EXISTS column_maps (
  layout TEXT PRIMARY KEY, kind TEXT NOT NULL, mapping TEXT NOT NULL, saved_by TEXT, saved_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  sid_sha256 TEXT PRIMARY KEY, user_name TEXT NOT NULL, csrf TEXT NOT NULL, created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, who TEXT NOT NULL, role TEXT, via TEXT NOT NULL,
  action TEXT NOT NULL, target TEXT, file_sha256 TEXT, file_name TEXT, remote TEXT, outcome TEXT NOT NULL,
  detail TEXT);
CREATE TABLE IF NOT EXISTS holds (
  run_id TEXT PRIMARY KEY, date TEXT NOT NULL, held_at TEXT NOT NULL, reasons TEXT NOT NULL, ruleset TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'held', decided_by TEXT, decided_at TEXT, decision_reason TEXT);
CREATE TABLE IF NOT EXISTS pending_cases (
  case_key TEXT PRIMARY KEY, review_key TEXT NOT NULL, kind TEXT NOT NULL, case_id TEXT, report_date TEXT,
  sample_date TEXT, result_date TEXT, count INTEGER NOT NULL, community INTEGER, source_known INTEGER,
  source_setting TEXT, cluster_id TEXT, lon REAL, lat REAL, commune_code TEXT, located_by TEXT,
  age REAL, sex TEXT, row_hash TEXT NOT NULL, code_version TEXT, import_id INTEGER);
CREATE INDEX IF NOT EXISTS pending_cases_review ON pending_cases(review_key);
CREATE TABLE IF NOT EXISTS placement_reviews (
  review_key TEXT PRIMARY KEY, boundary_version TEXT NOT NULL, province_name TEXT, district_name TEXT,
  commune_name TEXT, reason TEXT, candidates TEXT NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open', code TEXT, decided_by TEXT, decided_at TEXT);
CREATE TABLE IF NOT EXISTS decisions (
  id TEXT PRIMARY KEY, number TEXT NOT NULL, signed_at TEXT NOT NULL, effective_at TEXT NOT NULL,
  signer TEXT NOT NULL, signer_title TEXT, recipients TEXT, province_code TEXT, province_name TEXT,
  run_id TEXT NOT NULL, run_date TEXT NOT NULL, boundary_version TEXT NOT NULL, ruleset TEXT NOT NULL,
  approved_by TEXT NOT NULL, approved_at TEXT NOT NULL, n_units INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS decision_units (
  decision_id TEXT NOT NULL, code TEXT NOT NULL, kind TEXT NOT NULL, name TEXT, district_name TEXT,
  computed_level TEXT NOT NULL, level TEXT NOT NULL, previous_level TEXT, reason TEXT,
  PRIMARY KEY (decision_id, code));
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, target TEXT NOT NULL, who TEXT NOT NULL, status TEXT NOT NULL,
  stage TEXT, stages_done INTEGER NOT NULL DEFAULT 0, stages_total INTEGER NOT NULL, result TEXT,
  started_at TEXT NOT NULL, updated_at TEXT NOT NULL, finished_at TEXT);
"""

# A run's row as record_run() writes it (the run's id last: the key a provisional row is completed by).
RUN_COLUMNS = ("date", "created_at", "ruleset", "ruleset_sha256", "boundary_version", "manifest", "run_id")

# Columns added to tables after stores existed: made on a writer's first connection (SQLite) or once per
# process (PostgreSQL), so a store made by an earlier version keeps working.
ADDED_COLUMNS = (
    ("boundary_versions", "valid_from", "TEXT"),     # the first day a boundary version is in force (codes read as its)
    ("cases", "code_version", "TEXT"),               # the boundary version a case's commune code belongs to
    ("declarations", "boundary_version", "TEXT"),    # a declaration is of the version its unit codes are of
)
# A declaration stored before it said its version: of the version current when the column was added.
FILL_DECLARATIONS = ("UPDATE declarations SET boundary_version = (SELECT name FROM boundary_versions WHERE is_current = 1) "
                     "WHERE boundary_version IS NULL")


def add_missing_columns(con: Connection) -> None:
    """SQLite: the ADDED_COLUMNS a store made by an earlier version lacks."""
    for table, column, kind in ADDED_COLUMNS:
        have = {row[1] for row in con.execute(f"PRAGMA table_info({table})").fetchall()}
        if column not in have:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            if table == "declarations":
                con.execute(FILL_DECLARATIONS)
                con.commit()            # the UPDATE opened a transaction: the caller's own begins after it


def added_columns_pg() -> str:
    return ";\n".join([*(f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {c} {k}" for t, c, k in ADDED_COLUMNS),
                       FILL_DECLARATIONS]) + ";"
