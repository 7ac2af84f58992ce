"""Placing a case by names (geo/base/names.py): prefixes stripped on the Vietnamese form, tones
respected away from the exact triple, and the fallbacks real announcements need, each named."""
from __future__ import annotations

import pytest

from geo.base.names import BY_DISTRICT, BY_DISTRICT_PROVINCE, BY_PROVINCE, EXACT, NameIndex, normalise, readings

# A hand-made version: (code, commune, district, province).
UNITS = [
    ("1", "Xã Núi Voi", "Huyện Tịnh Biên", "An Giang"),
    ("2", "Xã Phương Liễu", "Huyện Quế Võ", "Bắc Ninh"),
    ("3", "Phường Bến Thành", "Quận 1", "Hồ Chí Minh"),
    ("4", "Phường Tăng Nhơn Phú A", "Quận 9", "Hồ Chí Minh"),
    ("5", "Phường Bình Chiểu", "Quận Thủ Đức", "Hồ Chí Minh"),
    ("6", "Xã Bình Thành", "Huyện Phụng Hiệp", "Hậu Giang"),
    ("7", "Xã Tân Vĩnh Hiệp", "Thị xã Tân Uyên", "Bình Dương"),
    ("8", "Thị trấn Cao Thượng", "Huyện Tân Yên", "Bắc Giang"),
    ("9", "Xã Cao Thượng", "Huyện Tân Yên", "Bắc Giang"),
    ("10", "Phường Bình An", "Quận 2", "Hồ Chí Minh"),
    ("11", "Phường Bình An", "Thị xã Dĩ An", "Bình Dương"),
    ("12", "Xã Hoà Bình", "Huyện Hữu Lũng", "Lạng Sơn"),
]


@pytest.fixture(scope="module")
def index():
    codes, names, districts, provinces = zip(*UNITS, strict=True)
    return NameIndex(codes, names, districts, provinces)


def test_prefixes_are_stripped_before_transliteration():
    assert normalise("Huyện Tịnh Biên") == "tinhbien" and normalise("Tỉnh An Giang") == "angiang"
    assert normalise("Xã Phương Liễu") == "phuonglieu" and normalise("Phường Liễu Giai") == "lieugiai"
    assert normalise("TP. Nha Trang") == "nhatrang" and normalise("Phường 01") == "1"
    assert readings("Tinh Bien") == ["bien", "tinhbien"]          # typed without diacritics: both readings


@pytest.mark.parametrize(("commune", "district", "province", "code", "rule"), [
    ("Núi Voi", "Tịnh Biên", "An Giang", "1", EXACT),                  # "Tịnh" is not "Tỉnh"
    ("Phương Liễu", "Quế Võ", "Bắc Ninh", "2", EXACT),                 # "Phương" is not "Phường"
    ("Nui Voi", "Tinh Bien", "An Giang", "1", EXACT),                  # no diacritics at all
    ("Xã Hòa Bình", "Hữu Lũng", "Lạng Sơn", "12", EXACT),              # the tone written on the other vowel
    ("Bến Thành", "Quận 1", "Bà Rịa - Vũng Tàu", "3", BY_DISTRICT),    # announced by another province
    ("Tăng Nhơn Phú A", "Thủ Đức", "TP. Hồ Chí Minh", "4", BY_PROVINCE),  # a district enlarged since (Thủ Đức city)
    ("Tân Vĩnh Hiệp", "Bắc Tân Uyên", "Bình Dương", "7", BY_PROVINCE),  # a district created since
    ("Bình An", "Thủ Đức", "Bình Dương", "10", BY_DISTRICT_PROVINCE),   # the district named is of another province
])
def test_placed_and_the_rule_that_placed_it(index, commune, district, province, code, rule):
    assert index.place(commune, district, province) == (code, rule, "")


def test_ambiguous_or_unknown_names_are_not_placed(index):
    code, rule, why = index.place("Cao Thượng", "Tân Yên", "Bắc Giang")      # a town and a commune of one name
    assert code is None and rule == "" and "ambiguous" in why and "(8)" in why and "(9)" in why
    # "Bình Thạnh" is not "Bình Thành": the tone is a different name, never a fallback match
    code, _, why = index.place("Bình Thạnh", "Long Mỹ", "Hậu Giang")
    assert code is None and why.startswith("unknown commune")
    assert index.place("Nowhere", "Nowhere", "Bắc Ninh")[0] is None
