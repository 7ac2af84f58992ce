"""set_aside(): what is alive when a block starts is left out of cycle collections until the outermost block ends,
and is then collected as any garbage (nothing is kept for good)."""
from __future__ import annotations

import gc
import weakref

from geo.base import collector


class _Node:
    def __init__(self) -> None:
        self.me = self          # a reference cycle: only the cycle collector frees it


def test_blocks_nest_and_the_outermost_gives_everything_back():
    assert gc.get_freeze_count() == 0
    with collector.set_aside():
        outer = gc.get_freeze_count()
        assert outer > 0
        with collector.set_aside():
            assert gc.get_freeze_count() >= outer
        assert gc.get_freeze_count() >= outer          # the inner block left them aside
    assert gc.get_freeze_count() == 0


def test_a_cycle_set_aside_is_collected_once_the_block_ends():
    node = _Node()
    alive = weakref.ref(node)
    with collector.set_aside():
        del node
        gc.collect()
        assert alive() is not None      # set aside: the collection did not walk it
    gc.collect()
    assert alive() is None


def test_an_object_set_aside_is_still_freed_when_nothing_refers_to_it():
    plain = _Plain()
    watch = weakref.ref(plain)
    with collector.set_aside():         # `plain` is alive here: set aside with the rest
        del plain
        assert watch() is None           # freed by its count, no collection needed


class _Plain:
    pass
