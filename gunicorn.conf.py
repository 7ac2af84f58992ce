"""gunicorn settings, read by gunicorn from the directory it starts in (the repository root).

The app is made once in the master and the workers are forked from it, with the modules a first
request needs already imported: a server that has just started answers its first visitors as fast
as later ones (benchmarks/bench_map.py), and the workers share that memory.

/metrics sums every worker's counters: prometheus_client's multiprocess mode, in a folder of the
data directory emptied when gunicorn starts (set before anything imports prometheus_client).
"""
import os
import shutil
from pathlib import Path

preload_app = True
_METRICS = Path(os.environ.get("ZONES_DATA_DIR") or "data").resolve() / "cache" / "prometheus"
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_METRICS))


def on_starting(server):
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    import folium  # noqa: F401
    import geo.lookup  # noqa: F401
    import geo.observe  # noqa: F401
    import geo.raster  # noqa: F401
    import geo.runfiles  # noqa: F401
    import geo.viewer  # noqa: F401


def child_exit(server, worker):
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)
