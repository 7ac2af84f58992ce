"""Files uploaded over HTTP: size limits, type by content (never by name), safe zip and XML.

An upload is written into a private temporary folder outside the data folder (never under data/:
it may hold personal columns the import drops), as the sender's file name made safe (a zipped
shapefile is unpacked there, member names reduced to safe base names), handed to the same import
function as the command line, and deleted when the import ends, whatever its outcome
(`discard`). Refused before anything is parsed:
- more bytes than the limit (Flask answers 413 before reading the body);
- a type the import does not take, judged from the first bytes;
- a zip with path traversal, links, too many members, or too much uncompressed data or too high a
  compression ratio (zip bombs); an XLSX is a zip and is checked the same way;
- XML (KML) with a DTD or entities (billion laughs, external entities), checked with defusedxml.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
import time
import zipfile
from pathlib import Path, PurePosixPath

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from geo.base.errors import InputError, UnsupportedError

# What each import takes.
KINDS = {
    "units": ("geojson", "gpkg", "kml", "shp.zip"),
    "lockdowns": ("geojson", "gpkg", "kml", "shp.zip"),
    "cases": ("csv", "xlsx"),
    "flags": ("csv", "xlsx"),
    "indicators": ("csv", "xlsx"),
    "declarations": ("csv", "xlsx"),
    "crosswalk": ("csv", "xlsx"),      # sent beside a units file (field "crosswalk")
}
# Zip limits: a national commune shapefile is ~150 MB unpacked at a ratio under 5; an XLSX of a
# year's line list ~30 MB at ~10. Far above both, far below what would fill the disk.
ZIP_MAX_MEMBERS = 200
ZIP_MAX_TOTAL = 1 << 30          # 1 GiB unpacked
ZIP_MAX_RATIO = 200
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
SNIFF_BYTES = 4096
# Uploads wait for their import in folders named so, in the system's temporary folder.
TEMP_PREFIX = "zones-upload-"
# A folder of an upload untouched this long belongs to a process that died mid-import (killed, out of memory):
# swept at start-up and before each upload, so a file with names and phones never outlives its import for long.
STALE_UPLOAD_S = 600


def sweep(older_than_s: float = STALE_UPLOAD_S, base: Path | None = None) -> int:
    """Delete the upload folders nothing has written to for `older_than_s` seconds. -> how many."""
    base = Path(base or tempfile.gettempdir())
    now, gone = time.time(), 0
    for folder in base.glob(TEMP_PREFIX + "*"):
        try:
            newest = max([folder.stat().st_mtime, *(p.stat().st_mtime for p in folder.rglob("*"))])
        except OSError:
            continue
        if now - newest > older_than_s:
            shutil.rmtree(folder, ignore_errors=True)
            gone += 1
    return gone


def sniff(head: bytes) -> str:
    """The type of a file from its first bytes: gpkg, zip, json, xml, text or binary."""
    if head.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    body = body.lstrip(b" \t\r\n")
    if body[:1] in (b"{", b"["):
        return "json"
    if body[:1] == b"<":
        return "xml"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "text"                     # UTF-16 with a BOM: the importer decodes it
    if not head or b"\x00" in head:
        return "binary"
    return "text"


def check_zip(path: Path, label: str) -> list[zipfile.ZipInfo]:
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise InputError("upload_bad", name=label, detail=f"zip: {exc}") from None
    with zf:
        infos = zf.infolist()
    if len(infos) > ZIP_MAX_MEMBERS:
        raise InputError("upload_bad", name=label, detail=f"zip has {len(infos)} members (at most {ZIP_MAX_MEMBERS})")
    total = 0
    for info in infos:
        name = PurePosixPath(info.filename.replace("\\", "/"))
        if name.is_absolute() or ".." in name.parts or info.filename.startswith(("/", "\\")) or ":" in name.parts[0]:
            raise InputError("upload_bad", name=label, detail=f"zip member outside the archive: {info.filename!r}")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise InputError("upload_bad", name=label, detail=f"zip member is a link: {info.filename!r}")
        total += info.file_size
        if info.compress_size and info.file_size / info.compress_size > ZIP_MAX_RATIO:
            raise InputError("upload_bad", name=label, detail=f"zip member {info.filename!r} expands "
                             f"{info.file_size // max(info.compress_size, 1)}x (zip bomb?)")
    if total > ZIP_MAX_TOTAL:
        raise InputError("upload_bad", name=label, detail=f"zip expands to {total} bytes (at most {ZIP_MAX_TOTAL})")
    return infos


def check_xml(path: Path, label: str) -> None:
    try:
        DET.parse(str(path), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise InputError("upload_bad", name=label, detail=f"XML with DTD or entities refused ({type(exc).__name__})") from None
    except Exception as exc:        # ParseError and friends: not well-formed
        raise InputError("upload_bad", name=label, detail=f"XML not well-formed: {exc}") from None


def classify(path: Path, label: str) -> str:
    """The upload type: csv, xlsx, geojson, gpkg, kml or shp.zip (checked as far as is safe)."""
    with open(path, "rb") as fh:
        kind = sniff(fh.read(SNIFF_BYTES))
    if kind == "zip":
        names = [i.filename for i in check_zip(path, label)]
        if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
            return "xlsx"
        if any(n.lower().endswith(".shp") for n in names):
            return "shp.zip"
        raise InputError("upload_bad", name=label, detail="a zip that is neither XLSX nor a shapefile")
    if kind == "xml":
        check_xml(path, label)
        return "kml"
    if kind == "json":
        return "geojson"
    if kind == "gpkg":
        return "gpkg"
    if kind == "text":
        return "csv"
    raise UnsupportedError("upload_type", name=label, kind="binary", allowed="csv, xlsx, geojson, gpkg, kml, zip")


def receive(stream, label: str, import_kind: str, folder: Path | None = None) -> tuple[Path, str, str]:
    """Save an upload in a new private temporary folder (or `folder`), check it, and return (path to
    import, type, sha256). The caller discards the folder (discard(path)) when the import is done."""
    sweep()
    made = folder is None
    folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".incoming-{os.getpid()}-{os.urandom(4).hex()}"
    h = hashlib.sha256()
    ok = False
    try:
        with open(tmp, "wb") as out:
            for block in iter(lambda: stream.read(1 << 20), b""):
                h.update(block)
                out.write(block)
        if tmp.stat().st_size == 0:
            raise InputError("upload_bad", name=label, detail="empty file")
        kind = classify(tmp, label)
        if kind not in KINDS[import_kind]:
            raise UnsupportedError("upload_type", name=label, kind=kind, allowed=", ".join(KINDS[import_kind]))
        digest = h.hexdigest()
        # <folder>/<sha256>/<the sender's file name made safe>.<type found>: errors name the sender's file
        stem = re.sub(r"[^\w\-]+", "_", PurePosixPath(label.replace("\\", "/")).stem, flags=re.UNICODE)[:80].strip("_.")
        target_dir = folder / digest
        target_dir.mkdir(exist_ok=True)
        if kind == "shp.zip":
            _unpack_shapefile(tmp, target_dir, label, stem or "layer")
            ok = True
            return target_dir / f"{stem or 'layer'}.shp", kind, digest
        target = target_dir / f"{stem or 'upload'}.{kind}"
        os.replace(tmp, target)
        ok = True
        return target, kind, digest
    finally:
        tmp.unlink(missing_ok=True)
        if made and not ok:              # refused: nothing of it stays, not even an empty folder
            shutil.rmtree(folder, ignore_errors=True)


def discard(path: Path | None) -> None:
    """Delete an upload's temporary folder (the import is over; nothing of the file is kept)."""
    if path is None:
        return
    for parent in Path(path).parents:
        if parent.name.startswith(TEMP_PREFIX):
            shutil.rmtree(parent, ignore_errors=True)
            return


def _unpack_shapefile(path: Path, target: Path, label: str, stem: str) -> None:
    with zipfile.ZipFile(path) as zf:
        wanted = [i for i in zf.infolist() if not i.is_dir() and Path(i.filename).suffix.lower() in SHAPEFILE_PARTS]
        stems = {Path(i.filename).stem for i in wanted if i.filename.lower().endswith(".shp")}
        if len(stems) != 1:
            raise InputError("upload_bad", name=label, detail=f"a shapefile zip holds one layer; found {len(stems)}")
        for info in wanted:
            safe = stem + Path(info.filename).suffix.lower()       # never the member's own path
            written = 0
            with zf.open(info) as src, open(target / safe, "wb") as dst:
                for block in iter(lambda: src.read(1 << 20), b""):
                    written += len(block)
                    if written > ZIP_MAX_TOTAL:        # sizes in the header can lie
                        raise InputError("upload_bad", name=label, detail="zip member larger than declared")
                    dst.write(block)
