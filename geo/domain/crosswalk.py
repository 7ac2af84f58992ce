"""The crosswalk between boundary versions as the stages read it (communes merged, split or renumbered): old
codes followed forward to today's commune, the split ones, and the graph that finds what covers a code in
another version. Imported by `import-units --crosswalk` (geo/ingest/crosswalk.py)."""
from __future__ import annotations

from collections import defaultdict

import pandas as pd

from geo.store import boundaries


def clean_code(v) -> str:
    """A code as text (a spreadsheet's 101.0 is 101)."""
    s = str(v).strip()
    return s[:-2] if s.endswith(".0") and s[:-2].isdigit() else s


def forward(edges: pd.DataFrame, codes) -> dict[str, str]:
    """Codes of earlier versions -> their commune in the current version (a split: the part with
    the largest weight), following changes one after another (`edges`: boundaries.crosswalk_edges).
    Codes without a change are left out."""
    e = edges
    if e.empty:
        return {}
    best = (e.sort_values(["old_code", "weight", "new_code"], ascending=[True, False, True])
            .drop_duplicates("old_code").set_index("old_code")["new_code"].to_dict())
    out = {}
    for code in set(map(str, codes)):
        seen, c = set(), code
        while c in best and best[c] != c and c not in seen:
            seen.add(c)
            c = best[c]
        if c != code:
            out[code] = c
    return out


def split_codes(edges: pd.DataFrame) -> set[str]:
    """Old codes that went into more than one new commune."""
    if edges.empty:
        return set()
    n = edges.groupby("old_code")["new_code"].nunique()
    return set(n.index[n > 1])


class Graph:
    """The crosswalk as a graph, to find what covers a code in another version (built once per call)."""

    def __init__(self, store):
        self.store = store
        with store.connect(readonly=True) as con:
            e = boundaries.crosswalk_edges(con)
        self.nxt, self.prv = defaultdict(set), defaultdict(set)
        for o, n in zip(e["old_code"], e["new_code"], strict=False):
            self.nxt[o].add(n)
            self.prv[n].add(o)
        self._codes: dict[str, set[str]] = {}

    def codes(self, version: str) -> set[str]:
        if version not in self._codes:
            with self.store.connect(readonly=True) as con:
                self._codes[version] = boundaries.commune_codes(con, version)
        return self._codes[version]

    def equivalents(self, code: str, version: str, of_version: str | None = None) -> list[str]:
        """The communes of `version` covering what `code` covers: itself in its own version (`of_version`,
        when known), its predecessors (a new code of an older run), its successors (an old code of a
        newer run). A code kept by a commune that absorbed others (00004 Trúc Bạch -> 00004 Ba Đình in
        2025) is followed too, so it needs `of_version` to say which of the two it is."""
        if version == of_version:
            return [code]
        inside = self.codes(version)
        for graph in (self.prv, self.nxt):
            if not graph.get(code, set()) - {code}:
                continue
            found, frontier, seen = set(), {code}, set()
            while frontier:
                c = frontier.pop()
                seen.add(c)
                for d in graph.get(c, ()):
                    if d in inside:
                        found.add(d)
                    elif d not in seen:
                        frontier.add(d)
            if found:
                return sorted(found)
        return [code] if code in inside else []

    def lineage(self, code: str) -> set[str]:
        """`code`, its successors and its predecessors (not its siblings: the other parts of a split,
        or the other communes it was merged with, have their own history)."""
        out = {code}
        for graph in (self.nxt, self.prv):
            frontier = {code}
            while frontier:
                c = frontier.pop()
                new = graph.get(c, set()) - out
                out |= new
                frontier |= new
        return out
