"""Geo layer: I/O, CRS, joins, adjacency, metrics, tiles, maps, publishing."""
