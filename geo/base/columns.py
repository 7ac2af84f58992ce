"""Column names as str-Enums, with the aliases accepted on input (RULES.md section 8)."""
from __future__ import annotations

from enum import Enum

from unidecode import unidecode


class UnitCol(str, Enum):
    CODE = "code"
    NAME = "name"
    DISTRICT_CODE = "district_code"
    DISTRICT_NAME = "district_name"
    PROVINCE_CODE = "province_code"
    PROVINCE_NAME = "province_name"
    POPULATION = "population"


class CaseCol(str, Enum):
    CASE_ID = "case_id"
    REPORT_DATE = "report_date"
    SAMPLE_DATE = "sample_date"
    RESULT_DATE = "result_date"
    LON = "lon"
    LAT = "lat"
    COMMUNE_CODE = "commune_code"
    COMMUNE_NAME = "commune_name"
    DISTRICT_NAME = "district_name"
    PROVINCE_NAME = "province_name"
    COUNT = "count"
    COMMUNITY = "community"
    SOURCE_KNOWN = "source_known"
    SOURCE_SETTING = "source_setting"
    CLUSTER_ID = "cluster_id"
    AGE = "age"
    SEX = "sex"


class LockdownCol(str, Enum):
    DECISION_NO = "decision_no"
    ISSUER = "issuer"
    START_DATE = "start_date"
    END_DATE = "end_date"
    LIFTED_DATE = "lifted_date"
    NAME = "name"


class FlagCol(str, Enum):
    CODE = "code"
    DATE = "date"
    FLAG = "flag"
    VALUE = "value"
    AUTHOR = "author"
    END_DATE = "end_date"


class Unit(str, Enum):
    COMMUNE = "commune"
    DISTRICT = "district"
    PROVINCE = "province"


UNIT_ALIASES: dict[str, str] = {
    "ma_xa": "code", "maxa": "code", "commune_code": "code", "ma": "code",
    "ten_xa": "name", "tenxa": "name", "commune_name": "name", "ten": "name",
    "ma_huyen": "district_code", "mahuyen": "district_code",
    "ten_huyen": "district_name", "tenhuyen": "district_name",
    "ma_tinh": "province_code", "matinh": "province_code",
    "ten_tinh": "province_name", "tentinh": "province_name",
    "dan_so": "population", "danso": "population", "pop": "population",
    # Shapefile truncates field names to 10 characters
    "district_c": "district_code", "district_n": "district_name",
    "province_c": "province_code", "province_n": "province_name", "populatio": "population",
}

CASE_ALIASES: dict[str, str] = {
    "ma_ca": "case_id", "ma_benh_nhan": "case_id", "bn": "case_id", "id": "case_id",
    "ngay_bao_cao": "report_date", "ngay_cong_bo": "report_date", "date": "report_date",
    "ngay_lay_mau": "sample_date", "ngay_co_ket_qua": "result_date",
    "kinh_do": "lon", "longitude": "lon", "lng": "lon", "vi_do": "lat", "latitude": "lat",
    "ma_xa": "commune_code", "ten_xa": "commune_name", "ten_huyen": "district_name",
    "ten_tinh": "province_name", "commune": "commune_name", "district": "district_name",
    "province": "province_name", "so_ca": "count", "cases": "count",
    "cong_dong": "community", "ca_cong_dong": "community", "ro_nguon": "source_known", "ro_nguon_lay": "source_known",
    "noi_lay": "source_setting", "chum": "cluster_id", "ma_chum_ca": "cluster_id", "o_dich": "cluster_id", "tuoi": "age", "gioi_tinh": "sex",
}

LOCKDOWN_ALIASES: dict[str, str] = {
    "so_quyet_dinh": "decision_no", "so_qd": "decision_no", "decision": "decision_no",
    "co_quan": "issuer", "noi_ban_hanh": "issuer", "tu_ngay": "start_date", "start": "start_date",
    "den_ngay": "end_date", "end": "end_date", "ngay_go": "lifted_date", "lifted": "lifted_date",
    "ten": "name",
}

# The declarations importer's headers (geo/ingest/declared.py).
DECLARATION_ALIASES: dict[str, str] = {
    "code": "unit", "ma": "unit", "ma_don_vi": "unit", "muc": "level", "cap_do": "level", "tu_ngay": "from",
    "date": "from", "so_quyet_dinh": "decision", "nguoi_ghi": "by", "author": "by", "ly_do": "reason",
    "den_ngay": "until", "ten": "unit_name", "ten_don_vi": "unit_name", "name": "unit_name",
    "province_name": "unit_name", "province_name_2021": "unit_name", "ten_tinh": "unit_name", "level_unit": "unit_kind",
    "cap": "unit_kind", "loai_don_vi": "unit_kind", "assessment_published": "from"}

FLAG_ALIASES: dict[str, str] = {
    "ma_xa": "code", "ma_don_vi": "code", "ngay": "date", "co": "flag", "gia_tri": "value", "nguoi_dat": "author",
    "den_ngay": "end_date",
}

# Columns that identify a person: recognised so they are never stored or exported.
PERSONAL_COLUMNS = frozenset({
    "name", "full_name", "ho_ten", "hoten", "ten_benh_nhan", "address", "dia_chi", "diachi",
    "phone", "so_dien_thoai", "sdt", "dien_thoai", "cccd", "cmnd", "id_card", "email",
})

# Committee flags (RULES.md section 2): the one list. A flag F is imported by `import-flags` and read
# by rules as the input `flag_F` (1 where set on the day).
FLAG_NAMES = ("community_f1", "illegal_entry_risk", "large_quarantine_site")


def normalise_header(name: str) -> str:
    """Lower-case, trim and snake-case a header so 'Mã Xã ' and 'ma_xa' compare equal."""
    out = unidecode(str(name)).strip().lower()
    for ch in " -./":
        out = out.replace(ch, "_")
    while "__" in out:
        out = out.replace("__", "_")
    return out.strip("_")


def rename_columns(columns, aliases: dict[str, str], explicit: dict[str, str] | None = None) -> dict[str, str]:
    """Map original headers to canonical names. `explicit` is {canonical: original} (--column).
    A header that already is a canonical name keeps it: an alias never takes it away (a KML's
    TimeSpan `end` beside the file's own `end_date`)."""
    explicit = explicit or {}
    by_orig = {orig: canon for canon, orig in explicit.items()}
    canonical = set(aliases.values())
    exact: dict[str, str] = {}
    for col in columns:
        norm = normalise_header(col)
        if col not in by_orig and norm in canonical and norm not in explicit and norm not in exact.values():
            exact[col] = norm
    mapping: dict[str, str] = {}
    taken: set[str] = set(explicit) | set(exact.values())
    for col in columns:
        if col in by_orig:
            mapping[col] = by_orig[col]
            continue
        if col in exact:
            mapping[col] = exact[col]
            continue
        norm = normalise_header(col)
        canon = aliases.get(norm, norm)
        if canon in taken:
            canon = norm if norm not in taken else col
            while canon in taken:    # a header named like a mapped one (--column name=fullName beside `name`)
                canon += "_"
        mapping[col] = canon
        taken.add(canon)
    return mapping
