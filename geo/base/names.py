"""Match commune + district + province names to codes, ignoring diacritics, case and prefixes.

The province named is the one that announced the case (MoH announcements), which is not always the
commune's own, and the district named is sometimes wrong (a dashboard filled it in from another
province). The announcing province is evidence, so a row is placed, in this order:
- by the exact triple (province, district, commune); among several, the one with the tones written;
- in the announcing province, by the commune's name with its tones (a district created, renamed or
  enlarged since the boundary version: Thủ Đức city), or one tone away when the district named is not
  one of that province's (the source's district is then wrong: "Ba Đồn / Quảng Châu" from Bắc Giang is
  Bắc Giang's Quang Châu);
- outside the announcing province only when the announcing province has no commune of that name (not
  even one tone away) and the district + commune named are one commune nationally, or the commune's name
  alone is (the district named being wrong or renamed since).
Each step takes a unique match only; every placement names the rule that made it. A row none of these
places is *doubtful*: never guessed, it goes to a review list with its candidates (an operator picks,
and the choice is remembered for that announced triple). A placement outside the announcing province, or
one tone away, is placed and listed for review.
"""
from __future__ import annotations

import itertools
import re
import unicodedata
from collections import defaultdict
from typing import NamedTuple

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
EXACT, BY_DISTRICT, BY_PROVINCE, BY_PROVINCE_TONE = (
    "names", "names_district_commune", "names_province_commune", "names_province_commune_tone")
# Placed, but a person should look: outside the announcing province, or one tone away from the name written.
FOR_REVIEW = frozenset({BY_DISTRICT, BY_PROVINCE_TONE})
# An operator's choice for an announced triple that the rules above left doubtful (geo/ingest/reviews.py).
OPERATOR_CHOICE = "operator_choice"
# How many candidates a doubtful row lists at most.
MAX_CANDIDATES = 8
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


# The kind a prefix names, to tell "Thị trấn Yên Viên" from "Xã Yên Viên" of one district when both are written.
_KINDS = {"thành phố": "city", "tp": "city", "thị trấn": "town", "tt": "town", "thị xã": "townlet", "tx": "townlet",
          "đặc khu": "special", "phường": "ward", "p": "ward", "xã": "commune"}


def prefix_kind(name) -> str:
    """'Thị trấn Yên Viên' -> 'town', 'Xã Yên Viên' -> 'commune', 'Yên Viên' -> '' (none written)."""
    s = unicodedata.normalize("NFC", str(name or "")).strip().lower()
    m = _VI_PREFIX.match(s)
    return _KINDS.get(re.sub(r"[\s.]+$", "", m.group(0)).strip(), "") if m else ""


def tone_distance(a: str, b: str) -> int:
    """Syllables whose tone (or vowel mark) differ between two tone keys of the same letters: 'quang chau' and
    'quảng chau' are 1 apart. 0 when either was typed without diacritics (nothing to compare)."""
    if not a or not b:
        return 0
    x, y = a.split(" "), b.split(" ")
    if len(x) != len(y):
        return len(max(x, y, key=len))
    return sum(p != q for p, q in zip(x, y, strict=True))


class Placement(NamedTuple):
    """Where a row's names place it: a code and the rule, or none with the reason and the candidates a
    person would choose from (doubtful), or none with the closest names (unknown)."""
    code: str | None
    rule: str
    why: str
    candidates: tuple[str, ...] = ()
    doubtful: bool = False


def triple_key(commune, district, province) -> str:
    """An announced triple as written, ignoring case, prefixes and diacritics: what an operator's choice
    is remembered by."""
    return "|".join(normalise(x) for x in (province, district, commune))


def normalise(name: str) -> str:
    """'Phường 01' -> '1', 'TP. Nha Trang' -> 'nhatrang', 'Thừa Thiên - Huế' -> 'thuathienhue'."""
    return readings(name)[0]


class NameIndex:
    def __init__(self, codes, names, district_names, province_names):
        self.index: dict[tuple, list[str]] = defaultdict(list)
        self.by_district: dict[tuple, list[str]] = defaultdict(list)
        self.by_province: dict[tuple, list[str]] = defaultdict(list)
        self.by_name: dict[str, list[str]] = defaultdict(list)
        self.district_provinces: dict[str, set[str]] = defaultdict(set)
        self.province_of: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self.tones: dict[str, str] = {}
        self.kinds: dict[str, str] = {}
        for code, n, d, p in zip(codes, names, district_names, province_names, strict=False):
            code = str(code)
            pk, dk, ck = normalise(p), normalise(d), normalise(n)
            self.index[(pk, dk, ck)].append(code)
            self.by_district[(dk, ck)].append(code)
            self.by_province[(pk, ck)].append(code)
            self.by_name[ck].append(code)
            self.district_provinces[dk].add(pk)
            self.province_of[code] = pk
            self.labels[code] = f"{n}, {d}, {p} ({code})"
            self.tones[code] = tone_key(n)
            self.kinds[code] = prefix_kind(n)
        self._choices = {key: " ".join(key) for key in self.index}

    def _same_tones(self, found, tones: str) -> list[str]:
        """The codes whose name is written with these tones (all of them for a name typed without any)."""
        return sorted(c for c in found if not tones or self.tones[c] in ("", tones))

    def place(self, commune: str, district: str, province: str) -> Placement:
        keys = list(itertools.product(readings(province), readings(district), readings(commune)))
        tones = tone_key(commune)
        provinces = {p for p, _, _ in keys}
        # 1. the exact triple; among several ("Long Thành" and "Long Thạnh" of one district) the tones decide, and
        # the kind when it is written ("Thị trấn Phố Lu" and "Xã Phố Lu" of one district)
        found = sorted({c for k in keys for c in self.index.get(k, [])})
        if len(found) > 1:
            found = self._same_tones(found, tones) or found
        kind = prefix_kind(commune)
        if len(found) > 1 and kind:
            found = [c for c in found if self.kinds[c] == kind] or found
        if len(found) == 1:
            return Placement(found[0], EXACT, "")
        if found:
            return self._doubtful(found, "ambiguous name")
        # 2. the announcing province has a commune of that name: it wins over a district of another province
        in_province = sorted({c for p, _, ck in keys for c in self.by_province.get((p, ck), [])})
        same = self._same_tones(in_province, tones)
        if len(same) == 1:
            return Placement(same[0], BY_PROVINCE, "")
        if same:
            return self._doubtful(same, "ambiguous name in the announcing province")
        own_district = any(p in self.district_provinces.get(d, set()) for p, d, _ in keys)
        close = [c for c in in_province if tone_distance(self.tones[c], tones) <= 1]
        if close and not own_district:           # the district named is another province's: the source's error
            if len(close) == 1:
                return Placement(close[0], BY_PROVINCE_TONE, "")
            return self._doubtful(close, "ambiguous name in the announcing province")
        # 3. outside the announcing province, which has no commune of that name: the district + commune named are
        # one commune nationally, or the commune's name is (the district named may be wrong or renamed since)
        pair = self._same_tones({c for _, d, ck in keys for c in self.by_district.get((d, ck), [])}, tones)
        pair = [c for c in pair if self.province_of[c] not in provinces]
        named = self._same_tones({c for _, _, ck in keys for c in self.by_name.get(ck, [])}, tones)
        if not close and (len(pair) == 1 or (not pair and len(named) == 1)):
            return Placement((pair or named)[0], BY_DISTRICT, "")
        if pair or close or named:
            return self._doubtful(close + pair or named, "not placed with certainty")
        near = process.extract(" ".join(keys[0]), self._choices, limit=N_SUGGESTIONS)
        codes = tuple(c for _, _, k in near for c in self.index[k])
        hints = "; ".join(self.labels[c] for c in codes)
        return Placement(None, "", f"unknown commune {commune!r}, {district!r}, {province!r}"
                         + (f"; closest: {hints}" if hints else ""), codes)

    def _doubtful(self, codes, what: str) -> Placement:
        codes = tuple(sorted(dict.fromkeys(codes))[:MAX_CANDIDATES])
        return Placement(None, "", f"{what}; candidates: " + "; ".join(self.labels[c] for c in codes), codes, True)
