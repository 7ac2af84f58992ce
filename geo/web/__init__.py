"""The web layer: Flask blueprints over geo.serve. The only part of geo that imports Flask; server.py puts
the blueprints together in the app factory."""
