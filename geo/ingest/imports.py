"""One entry to every import, for HTTP uploads (the command line calls the same functions)."""
from __future__ import annotations

from pathlib import Path

from geo.base import config
from geo.base.config import Settings
from geo.ingest.cases import import_cases
from geo.ingest.declared import declare_file
from geo.ingest.indicators import import_indicators
from geo.ingest.lockdowns import import_flags, import_lockdowns
from geo.ingest.tables import option_bool
from geo.ingest.units import import_units
from geo.store.database import Store


def run(kind: str, settings: Settings, path: Path, options: dict) -> dict:
    """Import `path` as `kind`; returns a JSON-able summary (accepted, rejected, reasons...)."""
    store, today = Store(settings.db_path), config.today()
    if kind == "units":
        r = import_units(store, path, options.get("boundary_version") or None, None, options.get("crs") or None,
                         settings.reports_dir, crosswalk_path=options.get("crosswalk_path"))
        if r.get("unchanged"):
            return {"accepted": 0, "rejected": 0, "boundary_version": r["version"], "unchanged": True}
        return {"accepted": r["n_communes"], "rejected": 0, "boundary_version": r["version"],
                "districts": r["n_districts"], "provinces": r["n_provinces"], "repaired": len(r["repaired"]),
                "previous_version": r["previous_version"], "crosswalk_rows": r["crosswalk_rows"]}
    rename = options.get("rename") or None
    if kind == "cases":
        r = import_cases(store, path, settings.rejects_dir, today, option_bool("community", options.get("community")),
                         option_bool("source_known", options.get("source_known")), rename=rename)
    elif kind == "lockdowns":
        r = import_lockdowns(store, path, settings.rejects_dir, today, options.get("crs") or None)
    elif kind == "flags":
        r = import_flags(store, path, settings.rejects_dir, today, rename)
    elif kind == "indicators":
        r = import_indicators(store, path, settings.rejects_dir, today, rename)
    else:
        r = declare_file(store, path, settings.rejects_dir, today, rename=rename)
    out = {k: v for k, v in r.items() if k != "rejects_path"}
    out["rejects_file"] = Path(r["rejects_path"]).name if r.get("rejects_path") else None
    return out

