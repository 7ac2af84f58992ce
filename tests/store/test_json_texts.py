"""The JSON texts of list columns (reasons, neighbours) a table stores are json.dumps's to the character, whatever
the names hold: quotes, backslashes, control characters, line separators, Vietnamese, numbers, nested values."""
from __future__ import annotations

import json
import random

import pytest

from geo.store import formats

TRICKY = ['Xã "Ô" (10001)', "a\\b", "tab\there", "line\nbreak", "\x01\x1f", "\u2028\u2029", "Phường Đa Kao",
          "😷", "", " ", "</script>"]


@pytest.mark.parametrize("value", [[], ["O1"], TRICKY, [1, 2.5], {"a": [1]}, ["x", 1], [None], [["nested"]],
                                   "text", None, 3])
def test_each_value_is_written_as_json_dumps_writes_it(value):
    assert formats._json_texts([value]) == [json.dumps(value, ensure_ascii=False)]


def test_many_lists_in_their_order_each_as_json_dumps_writes_it():
    rng = random.Random(7)
    values = [rng.sample(TRICKY, k=rng.randint(0, 4)) for _ in range(500)]
    assert formats._json_texts(values) == [json.dumps(v, ensure_ascii=False) for v in values]
