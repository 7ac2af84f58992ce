"""Objects that live through a piece of work, set aside from Python's cycle collector while it runs.

Each full collection walks every object the collector tracks. A command starts with several hundred thousand of
them (the modules of pandas, geopandas, numpy, the app, the rulesets) and a day's evaluation adds its own; all of
them live until the work ends, yet the collections a day's thousands of new lists and strings set off walk them
again and again: about a tenth of the national day, and what made every other backfilled day slower. Setting them
aside (gc.freeze) only spares those walks: an object set aside is still freed when nothing refers to it, and one
left in a reference cycle is collected once the outermost block ends (gc.unfreeze). A process that forks
workers sets its objects aside first (the workers' collections then leave the parent's pages unwritten, shared)."""
from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# How a command runs in its own process: the `flask` console script, or `python -m flask`.
_FLASK_ENTRY = ("flask", os.path.join("flask", "__main__.py"))


@contextmanager
def set_aside() -> Iterator[None]:
    """The objects alive now are left out of cycle collections until the block ends. Blocks nest: only the
    outermost one gives them back (what an inner block set aside stays aside until then)."""
    outermost = gc.get_freeze_count() == 0
    gc.freeze()
    try:
        yield
    finally:
        if outermost:
            gc.unfreeze()


def end_command_process() -> None:
    """A command that succeeded in its own process (`flask --app server reclassify`, as cron runs it) ends the process
    here: its output flushed, the exit handlers run (database pools closed, temporary folders removed), then the
    process leaves without freeing its objects one by one: a quarter of a second after a national day, for memory the
    system takes back at once. Everything a command writes is closed before it returns. Anywhere else (a test's
    runner, a server's thread) this does nothing."""
    if threading.current_thread() is not threading.main_thread() or not sys.argv[0].endswith(_FLASK_ENTRY):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(0)
