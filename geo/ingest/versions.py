"""A boundary version's identity: its name (safe in paths, headers and URLs) and a digest of what it
holds, so re-importing the same content is a no-op and changed content is never stored under a used name."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from unidecode import unidecode

from geo.base.columns import UnitCol
from geo.base.errors import InputError
from geo.store.database import Store

# A boundary version's name goes into paths, HTTP headers and URLs: plain characters only.
VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_version_name(name: str) -> str:
    if not isinstance(name, str) or not VERSION_NAME.match(name):
        raise InputError("bad_version_name", name=repr(name)[:80])
    return name


def default_version_name(path: Path) -> str:
    """The file's name made into a version name ("Xã 2021 (sửa).geojson" -> "Xa-2021-sua")."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", unidecode(Path(path).stem)).strip("-._")[:64] or "boundaries"


def content_digest(communes: gpd.GeoDataFrame) -> str:
    """What a boundary version holds, independent of file format and byte order: codes, names,
    parents, population and geometry (to 1e-7 degree), in code order."""
    df = communes.sort_values(UnitCol.CODE.value)
    h = hashlib.sha256()
    attrs = df[[c.value for c in UnitCol]].astype(str)
    h.update(pd.util.hash_pandas_object(attrs, index=False).to_numpy().tobytes())
    geoms = shapely.set_precision(df.geometry.to_numpy(), 1e-7)
    for w in shapely.to_wkb(shapely.normalize(geoms)):
        h.update(w)
    return h.hexdigest()


def existing_digest(store: Store, version: str) -> str | None:
    """The content digest of an existing version of that name (computed for one imported before digests)."""
    report = store.boundary_report(version)
    if report is None:
        return None
    if report.get("content_sha256"):
        return report["content_sha256"]
    return content_digest(store.load_units(version, "commune", texts=False)[[c.value for c in UnitCol] + ["geometry"]])
