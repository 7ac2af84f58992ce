"""gunicorn settings, read by gunicorn from the directory it starts in (the repository root).

The app is made once in the master (preload_app) and the workers are forked from it; every module
imports what it uses at its top, so the modules a first request needs are already imported: a server that has just started answers its first visitors as fast
as later ones (benchmarks/bench_map.py), and the workers share that memory.

/metrics sums every worker's counters: prometheus_client's multiprocess mode, in a folder in memory
(/dev/shm, never on the data disk: a full disk would kill the workers that write there), emptied when
gunicorn starts (set before anything imports prometheus_client). Without such a folder each worker
counts for itself. Nothing here writes to the data folder: the service starts on a read-only one.
"""
import os
from pathlib import Path

preload_app = True
# Keep-alive connections stay open this long between requests (seconds): longer than a client's pause
# between two requests of one page, so a connection is not closed just as the client reuses it.
keepalive = 30
_DATA = Path(os.environ.get("ZONES_DATA_DIR") or "data").resolve()


if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    from geo.base.config import metrics_dir  # (geo.base.config imports nothing that reads the variable)
    _found = metrics_dir(_DATA)
    if _found:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = _found


def on_starting(server):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        for p in Path(folder).glob("*.db"):
            p.unlink(missing_ok=True)


def when_ready(server):
    # the libraries only some pages use, imported lazily so that commands start without them, loaded once here in
    # the master (the app is preloaded) before the workers are forked: shared, and no first visitor waits for one
    from geo.web import libraries
    libraries.load()


def child_exit(server, worker):
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)
