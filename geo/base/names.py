"""Match commune + district + province names to codes, ignoring diacritics, case and prefixes.

A name is matched exactly (province, district and commune) first. Announcements often name a
commune under another province (the one announcing it) or under a district created or renamed
after the boundary version; so when the exact triple is not found:
- by district and commune, where that pair is unique nationally (the province named is another);
- else, where the district named is a district of one other province only, by that province and
  the commune (the province named announced a case of its neighbour's district);
- else, where the district named is unknown in the version or is one of the province named (a
  district created, renamed or enlarged since), by the province named and the commune.
Each step takes a unique match only. Every such placement names the rule that made it; an
ambiguous name is never placed (its candidates are listed).
"""
from __future__ import annotations

import itertools
import re
import unicodedata
from collections import defaultdict

from rapidfuzz import process
from unidecode import unidecode

# Administrative prefixes as written, longest first so "thành phố" wins over "thành". Stripped on the
# Vietnamese form: after transliteration "Tịnh Biên" would lose "Tịnh" as if it were "Tỉnh", and
# "Phương Liễu" its "Phương" as if it were "Phường".
VI_PREFIXES = ("thành phố", "thị trấn", "thị xã", "đặc khu", "phường", "quận", "huyện", "tỉnh", "xã",
               "tp", "tx", "tt", "p", "q", "h")
# The same typed without diacritics, stripped only from names typed without any (where "tinh" may be
# "Tỉnh" or "Tịnh": both readings are tried).
ASCII_PREFIXES = ("thanh pho", "thi tran", "thi xa", "dac khu", "phuong", "quan", "huyen", "tinh", "xa",
                  "tp", "tx", "tt", "p", "q", "h")


def _prefix_re(prefixes) -> re.Pattern:
    return re.compile(r"^(?:" + "|".join(p.replace(" ", r"\s*") for p in prefixes) + r")(?:[\s.]+|(?=\d))")


_VI_PREFIX, _ASCII_PREFIX = _prefix_re(VI_PREFIXES), _prefix_re(ASCII_PREFIXES)
# How many close names to suggest for an unknown name.
N_SUGGESTIONS = 3
# Placement rules, as the import report names them.
EXACT, BY_DISTRICT, BY_DISTRICT_PROVINCE, BY_PROVINCE = (
    "names", "names_district_commune", "names_district_province", "names_province_commune")
# Placed on an earlier boundary version, then followed through the crosswalk (2021 names after 2025).
EARLIER_CODE, EARLIER_NAMES = "code_earlier_version", "names_earlier_version"


def _compact(s: str) -> str:
    s = re.sub(r"[^a-z0-9]", "", unidecode(s).lower())
    return (s.lstrip("0") or "0") if s.isdigit() else s


def readings(name) -> list[str]:
    """The normalised readings of a name: one, or two for a name typed without diacritics that
    begins like a prefix ("Tinh Bien": "bien" and "tinhbien")."""
    s = unicodedata.normalize("NFC", str(name or "")).strip().lower()      # Windows-1258 writes tones apart
    if not s.isascii():
        return [_compact(_VI_PREFIX.sub("", s, count=1))]
    stripped = _compact(_ASCII_PREFIX.sub("", s, count=1))
    whole = _compact(s)
    return [stripped] if stripped == whole else [stripped, whole]


# Vietnamese tone marks (combining): "Thành" and "Thạnh" differ only by one, and "Hoà"/"Hòa" place it apart.
TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")


def tone_key(name) -> str:
    """A Vietnamese name compared with its tones, wherever the mark is written: 'Xã Hoà Bình' and
    'Hòa Bình' are one key, 'Thành' and 'Thạnh' two. '' for a name typed without diacritics."""
    s = unicodedata.normalize("NFC", str(name or "")).strip().lower()
    if s.isascii():
        return ""
    out = []
    for syllable in re.split(r"[^\w]+", _VI_PREFIX.sub("", s, count=1)):
        d = unicodedata.normalize("NFD", syllable)
        base = unicodedata.normalize("NFC", "".join(ch for ch in d if ch not in TONES))
        out.append(base + "".join(ch for ch in d if ch in TONES))
    return " ".join(x for x in out if x)


def normalise(name: str) -> str:
    """'Phường 01' -> '1', 'TP. Nha Trang' -> 'nhatrang', 'Thừa Thiên - Huế' -> 'thuathienhue'."""
    return readings(name)[0]


class NameIndex:
    def __init__(self, codes, names, district_names, province_names):
        self.index: dict[tuple, list[str]] = defaultdict(list)
        self.by_district: dict[tuple, list[str]] = defaultdict(list)
        self.by_province: dict[tuple, list[str]] = defaultdict(list)
        self.district_provinces: dict[str, set[str]] = defaultdict(set)
        self.labels: dict[str, str] = {}
        self.tones: dict[str, str] = {}
        for code, n, d, p in zip(codes, names, district_names, province_names, strict=False):
            code = str(code)
            pk, dk, ck = normalise(p), normalise(d), normalise(n)
            self.index[(pk, dk, ck)].append(code)
            self.by_district[(dk, ck)].append(code)
            self.by_province[(pk, ck)].append(code)
            self.district_provinces[dk].add(pk)
            self.labels[code] = f"{n}, {d}, {p} ({code})"
            self.tones[code] = tone_key(n)
        self._choices = {key: " ".join(key) for key in self.index}

    def place(self, commune: str, district: str, province: str) -> tuple[str | None, str, str]:
        """-> (code, rule, '') or (None, '', reason listing candidates)."""
        keys = list(itertools.product(readings(province), readings(district), readings(commune)))
        tones = tone_key(commune)
        steps: list[tuple[str, list[tuple[dict, tuple]]]] = [
            (EXACT, [(self.index, k) for k in keys]), (BY_DISTRICT, [(self.by_district, k[1:]) for k in keys]),
            *self._by_province(keys)]
        for rule, lookups in steps:
            found = sorted({c for table, key in lookups for c in table.get(key, [])})
            if rule != EXACT and tones:       # away from the exact triple, a name written with its tones must match them
                found = [c for c in found if self.tones[c] in ("", tones)]
            if len(found) == 1:
                return found[0], rule, ""
            if found:
                return None, "", "ambiguous name; candidates: " + "; ".join(self.labels[c] for c in found)
        close = process.extract(" ".join(keys[0]), self._choices, limit=N_SUGGESTIONS)
        hints = "; ".join(self.labels[c] for _, _, k in close for c in self.index[k])
        return None, "", f"unknown commune {commune!r}, {district!r}, {province!r}" + (f"; closest: {hints}" if hints else "")

    def _by_province(self, keys) -> list[tuple[str, list[tuple[dict, tuple]]]]:
        """The province to look in when the district named does not hold the commune."""
        out: list[tuple[str, list[tuple[dict, tuple]]]] = []
        for p, d, c in keys:
            elsewhere = self.district_provinces.get(d, set())
            if len(elsewhere) == 1 and p not in elsewhere:
                only = min(elsewhere)
                out.append((BY_DISTRICT_PROVINCE, [(self.by_province, (only, c))]))
            elif not elsewhere or p in elsewhere:
                out.append((BY_PROVINCE, [(self.by_province, (p, c))]))
        return out
