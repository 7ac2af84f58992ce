"""Stage 1: read what offices send (boundaries, cases, lockdowns, flags, indicators, declared levels), validate, place cases, store."""
