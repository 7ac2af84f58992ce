"""Settings read from the environment (all optional)."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

# The committee works on Vietnam's calendar day, whatever the server's clock zone.
TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
# A reclassify waits this long for another one to finish before giving up (seconds).
DEFAULT_LOCK_TIMEOUT_S = 600.0
# Uploads over HTTP: a national commune shapefile zipped is ~60 MB, a year's line list far less.
DEFAULT_MAX_UPLOAD_MB = 100.0
# A console session lasts a working day and a night: an operator signs in each morning, a forgotten
# browser is signed out by the next one.
DEFAULT_SESSION_HOURS = 12.0
READ_ACCESS = ("open", "token")
# Provinces report every day; three silent days is a broken feed, not a quiet weekend.
DEFAULT_STALE_DAYS = 3
# Picture tiles: a province's overview at every zoom to 14 is ~100 MB; a crawler is stopped at this.
DEFAULT_TILE_CACHE_MB = 512.0
# RULES.md §6, last item: no national regime is known after QĐ 218. For days from DEFAULT_RULESET_FROM the
# operator's default ruleset decides (unless a run names another): QĐ 2686, the service's own, until the
# operator names theirs. The date: WHO ended the COVID-19 emergency of international concern on 5/5/2023.
DEFAULT_RULESET = "qd2686"
DEFAULT_RULESET_FROM = dt.date(2023, 5, 5)
# A tile renders in 10-50 ms: 20 a second per process leaves the rest of the processor to everyone else.
DEFAULT_TILE_RENDER_RATE = 20.0


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    lock_timeout_s: float
    lang: str
    ruleset_dir: Path | None = None   # operators' own ruleset files, beside the shipped ones
    basemap_url: str | None = None    # an intranet XYZ tile server under the levels ({z}/{x}/{y}); none by default
    basemap_attribution: str = ""
    read_access: str = "open"         # "open": anyone on the network reads; "token": readers need a token too
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB
    session_hours: float = DEFAULT_SESSION_HOURS    # how long a console sign-in lasts
    quality_gate: bool = True         # hold a run whose inputs look wrong (geo/publish/quality.py)
    database_url: str | None = None   # postgresql://... : the PostgreSQL/PostGIS store instead of zones.sqlite
    stale_days: int = DEFAULT_STALE_DAYS
    home: str | None = None           # where the map opens: province code(s) "56,46" or a box "lon,lat,lon,lat"
    tile_cache_mb: float = DEFAULT_TILE_CACHE_MB     # picture tiles kept at most (least recently used go first)
    tile_render_rate: float = DEFAULT_TILE_RENDER_RATE   # picture tiles rendered per second per process at most
    public_url: str | None = None     # the address clients use (links in OGC answers); else the request's own host
    default_ruleset: str | None = DEFAULT_RULESET     # decides days from default_ruleset_from ("" : the rulesets' dates)
    default_ruleset_from: dt.date = DEFAULT_RULESET_FROM
    decision_template: Path | None = None   # a province's wording of the decision (geo/serve/templates/decision.yaml)
    public_lookup: bool = True        # /tra-cuu, the citizens' page: open to anyone even when reading needs a token

    @property
    def db_path(self):
        """Where the store is: the SQLite file, or the PostgreSQL URL (geo/store/database.py picks the backend)."""
        return self.database_url or self.data_dir / "zones.sqlite"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def rejects_dir(self) -> Path:
        return self.data_dir / "rejects"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def cache_dir(self) -> Path:
        """Files derived from published runs on first use (e.g. GeoJSON of a backfilled day)."""
        return self.data_dir / "cache"

    @property
    def verdicts_path(self) -> Path:
        """Which ruleset files' worked examples passed under this code (rules/examples.py's Verdicts)."""
        return self.cache_dir / "rulesets-checked.json"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "reclassify.lock"


def from_env(overrides: dict | None = None) -> Settings:
    o = overrides or {}
    data_dir = Path(o.get("ZONES_DATA_DIR") or os.environ.get("ZONES_DATA_DIR") or "data")
    return Settings(
        data_dir=data_dir.resolve(),
        lock_timeout_s=float(o.get("ZONES_LOCK_TIMEOUT") or os.environ.get("ZONES_LOCK_TIMEOUT") or DEFAULT_LOCK_TIMEOUT_S),
        lang=(o.get("ZONES_LANG") or os.environ.get("ZONES_LANG") or "vi"),
        ruleset_dir=_path(o.get("ZONES_RULESETS") or os.environ.get("ZONES_RULESETS")),
        basemap_url=o.get("ZONES_BASEMAP_URL") or os.environ.get("ZONES_BASEMAP_URL") or None,
        basemap_attribution=o.get("ZONES_BASEMAP_ATTRIBUTION") or os.environ.get("ZONES_BASEMAP_ATTRIBUTION") or "",
        read_access=_one_of("ZONES_READ_ACCESS", o.get("ZONES_READ_ACCESS") or os.environ.get("ZONES_READ_ACCESS") or "open",
                            READ_ACCESS),
        quality_gate=_one_of("ZONES_QUALITY_GATE", o.get("ZONES_QUALITY_GATE") or os.environ.get("ZONES_QUALITY_GATE") or "on",
                             ("on", "off")) == "on",
        database_url=o.get("ZONES_DATABASE_URL") or os.environ.get("ZONES_DATABASE_URL") or None,
        stale_days=int(o.get("ZONES_STALE_DAYS") or os.environ.get("ZONES_STALE_DAYS") or DEFAULT_STALE_DAYS),
        home=o.get("ZONES_HOME") or os.environ.get("ZONES_HOME") or None,
        tile_cache_mb=float(o.get("ZONES_TILE_CACHE_MB") or os.environ.get("ZONES_TILE_CACHE_MB") or DEFAULT_TILE_CACHE_MB),
        tile_render_rate=float(o.get("ZONES_TILE_RENDER_RATE") or os.environ.get("ZONES_TILE_RENDER_RATE")
                               or DEFAULT_TILE_RENDER_RATE),
        public_url=(o.get("ZONES_PUBLIC_URL") or os.environ.get("ZONES_PUBLIC_URL") or "").rstrip("/") or None,
        max_upload_mb=float(o.get("ZONES_MAX_UPLOAD_MB") or os.environ.get("ZONES_MAX_UPLOAD_MB") or DEFAULT_MAX_UPLOAD_MB),
        session_hours=float(o.get("ZONES_SESSION_HOURS") or os.environ.get("ZONES_SESSION_HOURS") or DEFAULT_SESSION_HOURS),
        default_ruleset=_setting(o, "ZONES_DEFAULT_RULESET", DEFAULT_RULESET) or None,
        default_ruleset_from=_date(_setting(o, "ZONES_DEFAULT_RULESET_FROM", DEFAULT_RULESET_FROM.isoformat()),
                                   "ZONES_DEFAULT_RULESET_FROM"),
        decision_template=_path(o.get("ZONES_DECISION_TEMPLATE") or os.environ.get("ZONES_DECISION_TEMPLATE")),
        public_lookup=_one_of("ZONES_PUBLIC_LOOKUP", o.get("ZONES_PUBLIC_LOOKUP") or os.environ.get("ZONES_PUBLIC_LOOKUP")
                              or "open", ("open", "off")) == "open",
    )


def _setting(o: dict, name: str, default: str) -> str:
    """An override, else the environment, else `default`; an empty value given on purpose stays empty."""
    if name in o:
        return str(o[name] or "")
    return os.environ.get(name, default)


def _date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise SystemExit(f"{name}={value!r}: expected a date YYYY-MM-DD") from None


def _one_of(name: str, value: str, allowed) -> str:
    if value not in allowed:
        raise SystemExit(f"{name}={value!r}: expected one of {', '.join(allowed)}")
    return value


def _path(value) -> Path | None:
    return Path(value).resolve() if value else None


def today() -> dt.date:
    return dt.datetime.now(TIMEZONE).date()


def parse_instant(value: str) -> str:
    """An as-of time as UTC ISO text; a time without zone is Vietnam time. Raises ValueError."""
    t = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=TIMEZONE)
    return t.astimezone(dt.UTC).isoformat(timespec="microseconds")


def metrics_dir(data_dir) -> str | None:
    """Where gunicorn's workers keep their counters: memory (/dev/shm), never the data disk (memory-mapped
    files on a full disk kill the process that writes them). None when there is no such place."""
    tag = hashlib.sha1(str(Path(data_dir).resolve()).encode()).hexdigest()[:10]
    for base in (Path("/dev/shm"), Path(tempfile.gettempdir())):
        folder = base / f"zones-metrics-{os.getuid()}-{tag}"
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            probe = folder / ".probe"
            probe.write_bytes(b"0")
            probe.unlink()
            return str(folder)
        except OSError:
            continue
    return None
