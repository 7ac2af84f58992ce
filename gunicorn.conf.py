"""gunicorn settings, read by gunicorn from the directory it starts in (the repository root).

The app is made once in the master and the workers are forked from it, with the modules a first
request needs already imported: a server that has just started answers its first visitors as fast
as later ones (benchmarks/bench_map.py), and the workers share that memory.
"""
preload_app = True


def on_starting(server):
    import folium  # noqa: F401
    import geo.lookup  # noqa: F401
    import geo.raster  # noqa: F401
    import geo.runfiles  # noqa: F401
    import geo.viewer  # noqa: F401
