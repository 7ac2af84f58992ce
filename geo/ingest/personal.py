"""Personal data in operator files: found by header and by content, never written anywhere.

By header (Vietnamese or English, with or without diacritics): "Họ và tên", "Số CCCD/CMND", "Địa chỉ
thường trú", "SĐT liên hệ", "Ngày sinh", full_name, phone, address, national_id, email …
By content, in any column that is not one of our dates, numbers or codes: phone numbers
(0912 345 678, +84 912…), ID numbers (CMND: 9 digits, CCCD: 12), addresses (số 12, 12/3 Lê Lợi,
ngõ 5, "12 Trần Phú, phường …") and people's names (Nguyễn Văn An: three to five capitalised
words beginning with a Vietnamese family name).

A column found either way is dropped before anything is stored and is left out of the rejects file.
The identifiers the service needs (case_id, cluster_id) are kept only as keyed pseudonyms
(BLAKE2b keyed with a key of the data folder): re-importing a file still recognises its cases, and a
case id that is an ID number or a phone is never stored. Reasons and cells shown to operators are
scrubbed of anything that looks personal.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from geo.base.columns import normalise_header

# Headers (normalised: lower case, no diacritics, words joined by "_").
_HEADER_WORDS = frozenset({"cccd", "cmnd", "sdt", "sđt", "email", "phone", "mobile", "tel", "telephone", "address",
                           "passport", "fullname", "surname", "dob", "birthdate"})
_HEADER_PARTS = ("dien_thoai", "di_dong", "dia_chi", "ho_ten", "ho_va_ten", "ho_chieu", "dinh_danh", "ngay_sinh",
                 "nam_sinh", "thuong_tru", "tam_tru", "noi_o", "cho_o", "cu_tru", "so_nha", "full_name", "first_name",
                 "last_name", "patient_name", "home_", "id_card", "id_number", "national_id", "can_cuoc", "chung_minh",
                 "e_mail", "thu_dien_tu", "nguoi_lien_he", "lien_lac", "zalo", "facebook")
_HEADER_EXACT = frozenset({"name", "ten", "ho", "ten_benh_nhan", "ten_bn", "ten_nguoi_benh", "benh_nhan_ten",
                           "ho_ten_benh_nhan", "contact", "street"})

# Content patterns. RE2-compatible (pandas runs them on Arrow strings): no look-behind.
PHONE = r"(?:^|[^\d])(?:\+?84|0)[\s.\-]?[1-9](?:[\s.\-]?\d){7,9}(?:$|[^\d])"
ID_NUMBER = r"(?:^|[^\d])(?:\d{9}|\d{12})(?:$|[^\d])"
_UPPER = "A-ZÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬĐÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ"
_LOWER = "a-zàáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"
ADDRESS = (r"(?i)(?:^|[\s,])(?:số\s*(?:nhà\s*)?\d+|sn\s*\d+|\d+[a-z]?(?:/\d+[a-z]?)+\s+[" + _UPPER + r"]|ngõ\s*\d+|ngách\s*\d+|hẻm\s*\d+|kiệt\s*\d+"
           r"|đường\s+[" + _UPPER[2:] + _LOWER + r"]+|tổ\s*(?:dân\s*phố\s*)?\d+|khu\s*phố\s*\d+|kp\s*\d+|ấp\s+\d+"
           r"|thôn\s+\d+|xóm\s+\d+)"
           r"|^\d+[a-zA-Z]?\s+[" + _UPPER + r"][^,]*,")
_FAMILY = ("Nguyễn|Trần|Lê|Phạm|Hoàng|Huỳnh|Phan|Vũ|Võ|Đặng|Bùi|Đỗ|Hồ|Ngô|Dương|Lý|Đào|Đoàn|Vương|Trịnh|Trương|"
           "Lâm|Phùng|Mai|Tô|Hà|Tạ|Lương|Quách|Cao|Châu|Chu|Đinh|Đàm|Kiều|Lại|Lưu|Mạc|Nghiêm|Thái|Tôn|Từ|Khúc|"
           "Ninh|Phí|Thân|Triệu|Hứa|Diệp|Giang|Doãn|Âu|Văn|Nguyen|Tran|Le|Pham|Hoang|Huynh|Vu|Vo|Dang|Bui|Do|Ho|Ngo|"
           "Duong|Ly|Dao|Doan|Vuong|Trinh|Truong|Lam|Phung|Luong|Quach|Dinh|Dam|Kieu|Lai|Luu|Nghiem|Thai|Ton|Tu|Trieu")
PERSON = r"^\s*(?:" + _FAMILY + r")(?:\s+[" + _UPPER + r"][" + _LOWER + r"]*){2,4}\s*$"
PATTERNS = {"phone": PHONE, "id_number": ID_NUMBER, "address": ADDRESS, "person_name": PERSON}
# What replaces a personal value in a message or a rejected row.
MASK = "«…»"
KEY_FILE = "personal.key"


def personal_header(name: str) -> bool:
    h = normalise_header(name).replace("đ", "d")
    if h in _HEADER_EXACT:
        return True
    if any(w in _HEADER_WORDS for w in h.split("_")):
        return True
    return any(part in h for part in _HEADER_PARTS)


def looks_personal(values: pd.Series) -> str | None:
    """The kind of personal data found in a column (phone, id_number, address, person_name), or None."""
    s = values.astype("string[pyarrow]") if not isinstance(values.dtype, pd.StringDtype) else values
    s = s[s.str.len() > 0]
    if s.empty:
        return None
    for kind, pattern in PATTERNS.items():
        if s.str.contains(pattern, regex=True).fillna(False).any():
            return kind
    return None


def personal_cells(values: pd.Series) -> pd.Series:
    """True where a cell looks personal."""
    s = values.astype("string[pyarrow]") if not isinstance(values.dtype, pd.StringDtype) else values
    out = pd.Series(False, index=values.index)
    for pattern in PATTERNS.values():
        out |= s.str.contains(pattern, regex=True).fillna(False).to_numpy(dtype=bool)
    return out


_SCRUB = re.compile("|".join(f"(?:{p})" for p in (PHONE, ID_NUMBER)))


def scrub(text: str) -> str:
    """A message with phone and ID numbers masked (reasons quote the cells they are about); a message
    holding an address or a person's name is masked whole."""
    return _mask_numbers(str(text))


def _mask_numbers(text: str) -> str:
    def repl(m: re.Match) -> str:
        s = m.group(0)
        lead = s[0] if s and not (s[0].isdigit() or s[0] == "+") else ""
        tail = s[-1] if s and not s[-1].isdigit() else ""
        return f"{lead}{MASK}{tail}"
    out = _SCRUB.sub(repl, text)
    if re.search(PERSON, out) or re.search(ADDRESS, out):
        return MASK
    return out


def key(folder: Path) -> bytes:
    """The data folder's pseudonym key (made once, readable by the service's user only)."""
    path = Path(folder) / KEY_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = os.urandom(32).hex()
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(fresh)
    try:
        os.link(tmp, path)          # never replace a key another process has just made
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return bytes.fromhex(path.read_text().strip())


def hex64(values: np.ndarray) -> np.ndarray:
    """64-bit integers as 16 hex characters each (bytes), in C: `"%016x" % v` for a million values
    without a million Python calls."""
    return np.frombuffer(np.asarray(values).astype(">u8").tobytes().hex().encode(), dtype="S16")


def pseudonyms(values: pd.Series, secret: bytes) -> pd.Series:
    """Keyed pseudonyms of identifiers: SipHash-2-4 (a keyed pseudo-random function, run by pandas in C)
    under the data folder's key, 64 bits (a collision among ten million ids: about one chance in
    400,000). Empty and missing values stay missing."""
    arr = values.to_numpy(dtype=object, na_value="") if isinstance(values.dtype, pd.StringDtype) \
        else values.astype(object).where(values.notna(), "").map(str).to_numpy(dtype=object)
    missing = arr == ""
    hashed = pd.util.hash_array(arr, hash_key=secret[:8].hex(), categorize=False)
    out = np.char.add(b"p:", hex64(hashed)).astype(str).astype(object)
    out[missing] = None
    return pd.Series(out, index=values.index, dtype=object)
