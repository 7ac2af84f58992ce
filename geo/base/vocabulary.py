"""The service's vocabulary, in one place: the kinds of unit, the level ids, the export formats.
Modules, the CLI, the HTTP routes and the OpenAPI document read these; adding an export format
is one entry here plus its writer in geo/serve/export.py."""
from __future__ import annotations

from dataclasses import dataclass

from rules.levels import SCALE, UNITS, Level

__all__ = ["UNITS", "LEVEL_IDS", "EXPORT_FORMATS", "HTTP_EXPORT_FORMATS", "ExportFormat", "SOURCE_SETTINGS", "SEXES", "TRUE_WORDS", "FALSE_WORDS"]
# Level ids on the standard scale, lowest first, and the level of a unit that cannot be classified.
LEVEL_IDS = tuple(lv.value for lv in SCALE) + (Level.UNKNOWN.value,)


@dataclass(frozen=True)
class ExportFormat:
    name: str
    mime: str
    extension: str
    binary: bool          # cannot be written to standard output
    http: bool = True     # also served by /api/exports/{format} (html is a CLI-only offline page)


EXPORT_FORMATS = {f.name: f for f in (
    ExportFormat("geojson", "application/geo+json", "geojson", False),
    ExportFormat("geojsonseq", "application/geo+json-seq", "geojsons", False),    # RFC 8142
    ExportFormat("csv", "text/csv", "csv", False),
    ExportFormat("gpkg", "application/geopackage+sqlite3", "gpkg", True),
    ExportFormat("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx", True),
    ExportFormat("html", "text/html", "html", False, http=False),
)}
HTTP_EXPORT_FORMATS = tuple(name for name, f in EXPORT_FORMATS.items() if f.http)


# Where a case's source was (the `source_setting` of a case file): a closed list, never free text (a file's
# "Nơi lây" may name a person). A value is read by its words without diacritics: the id itself, or a phrase
# that begins with one of these; anything else is stored as "other" and counted in the import's notes.
SOURCE_SETTINGS: dict[str, tuple[str, ...]] = {
    "industrial_zone": ("industrial zone", "khu cong nghiep", "kcn", "nha may", "xuong", "cong ty", "factory"),
    "school": ("school", "truong"),
    "large_supermarket": ("large supermarket", "supermarket", "sieu thi", "trung tam thuong mai"),
    "hard_to_trace": ("hard to trace", "kho truy vet", "kho kiem soat"),
    "market": ("market", "cho"),
    "hospital": ("hospital", "benh vien", "co so y te", "phong kham"),
    "workplace": ("workplace", "co quan", "noi lam viec", "van phong"),
    "household": ("household", "gia dinh", "ho gia dinh", "trong nha"),
    "quarantine": ("quarantine", "khu cach ly", "cach ly"),
    "community": ("community", "cong dong"),
    "other": ("other", "khac"),
}
# A case's sex: a closed list ("nam", "nữ", "male", "F", ...); anything else is not a sex.
SEXES: dict[str, tuple[str, ...]] = {"male": ("male", "m", "nam"), "female": ("female", "f", "nu"), "other": ("other", "khac")}

# The words a yes/no cell may hold (Vietnamese with or without tones, English, 1/0, x).
TRUE_WORDS = frozenset({"true", "1", "yes", "y", "x", "co", "có", "t", "dung", "đúng", "1.0"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "khong", "không", "f", "sai", "0.0"})

# The map's colours: the ruleset's own (official), or a palette told apart with colour-blind eyes (ColorBrewer
# RdYlBu), chosen by ?palette= on PNG tiles and on the map page.
PALETTES: dict[str, dict[str, str] | None] = {"official": None,
            "cb": {"safe": "#4575b4", "risk": "#fee090", "high_risk": "#f46d43", "very_high_risk": "#a50026",
                   "unknown": "#bdbdbd"}}
