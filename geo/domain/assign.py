"""Assign points to communes: validate -> one STRtree bulk query -> assemble.

A point on a shared edge or corner (or inside an overlap of a poor layer) intersects several
communes; it goes to the one with the lowest code (RULES.md section 2). A point that
intersects none is reported with the nearest commune and its distance.
"""
from __future__ import annotations

import numpy as np
import shapely

# Metres per degree of latitude; enough for an "about N m away" hint in a reject reason.
M_PER_DEG = 111_320.0


def code_rank(codes) -> np.ndarray:
    """Rank of each code in ascending order, numerically when codes are digits ('9' < '10')."""
    keys = [(0, int(c), "") if str(c).isdigit() else (1, 0, str(c)) for c in codes]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys))
    return rank


class Assigner:
    def __init__(self, geoms, codes):
        self.geoms = np.asarray(geoms)
        self.codes = np.asarray(codes, dtype=object)
        self.rank = code_rank(self.codes)
        self.tree = shapely.STRtree(self.geoms)

    def assign_points(self, points: np.ndarray) -> np.ndarray:
        """Index of the commune of each point, -1 where none."""
        pi, gi = self.tree.query(points, predicate="intersects")
        out = np.full(len(points), -1, dtype=np.int64)
        if len(pi) == 0:
            return out
        order = np.lexsort((self.rank[gi], pi))
        pi, gi = pi[order], gi[order]
        first = np.ones(len(pi), dtype=bool)
        first[1:] = pi[1:] != pi[:-1]
        out[pi[first]] = gi[first]
        return out

    def assign(self, lon, lat) -> np.ndarray:
        return self.assign_points(shapely.points(np.asarray(lon, float), np.asarray(lat, float)))

    def nearest(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """(index of the nearest commune, approximate distance in metres) for each point."""
        pts = shapely.points(np.asarray(lon, float), np.asarray(lat, float))
        (pi, gi), dist = self.tree.query_nearest(pts, return_distance=True, all_matches=False)
        idx = np.full(len(pts), -1)
        d = np.full(len(pts), np.nan)
        idx[pi], d[pi] = gi, dist * M_PER_DEG
        return idx, d
