"""Match commune + district + province names to codes, ignoring diacritics, case and prefixes."""
from __future__ import annotations

import re
from collections import defaultdict

from rapidfuzz import process
from unidecode import unidecode

# Administrative prefixes (after transliteration), longest first so "thanh pho" wins over "thanh".
PREFIXES = ("thanh pho", "thi tran", "thi xa", "phuong", "quan", "huyen", "tinh", "xa", "tp", "tx", "tt", "p", "q", "h")
_PREFIX_RE = re.compile(r"^(?:" + "|".join(p.replace(" ", r"\s*") for p in PREFIXES) + r")(?:[\s.]+|(?=\d))")
# How many close names to suggest for an unknown name.
N_SUGGESTIONS = 3


def normalise(name: str) -> str:
    """'Phường 01' -> '1', 'TP. Nha Trang' -> 'nhatrang', 'Thừa Thiên - Huế' -> 'thuathienhue'."""
    s = unidecode(str(name or "")).lower().strip()
    s = _PREFIX_RE.sub("", s, count=1)
    s = re.sub(r"[^a-z0-9]", "", s)
    return (s.lstrip("0") or "0") if s.isdigit() else s


class NameIndex:
    def __init__(self, codes, names, district_names, province_names):
        self.index: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        self.labels: dict[str, str] = {}
        for code, n, d, p in zip(codes, names, district_names, province_names, strict=False):
            self.index[(normalise(p), normalise(d), normalise(n))].append(str(code))
            self.labels[str(code)] = f"{n}, {d}, {p} ({code})"
        self._choices = {key: " ".join(key) for key in self.index}

    def match(self, commune: str, district: str, province: str) -> tuple[str | None, str]:
        """-> (code, '') or (None, reason listing candidates)."""
        key = (normalise(province), normalise(district), normalise(commune))
        found = self.index.get(key, [])
        if len(found) == 1:
            return found[0], ""
        if found:
            return None, "ambiguous name; candidates: " + "; ".join(self.labels[c] for c in found)
        close = process.extract(" ".join(key), self._choices, limit=N_SUGGESTIONS)
        hints = "; ".join(self.labels[c] for _, _, k in close for c in self.index[k])
        return None, f"unknown commune {commune!r}, {district!r}, {province!r}" + (f"; closest: {hints}" if hints else "")
