"""Stage 4: what is served from published runs only: OGC API, exports, tiles, the committee's page, the morning report, lookups."""
