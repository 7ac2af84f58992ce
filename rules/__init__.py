"""Pure rule layer: levels, rulesets (data files) and the engine. Never imports geo/ or flask."""
