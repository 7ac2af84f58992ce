"""The shared domain: what every stage above the store may use. Units and their versions (the crosswalk graph,
what is in force on a day), where a point falls (the assigner), who borders whom (adjacency), the indicator
vocabulary and how a parent's figure comes from its children's, declared levels as published, the review list,
the rulesets with the inputs the service gives them, and the audit log. Nothing here reads a user's file
(that is geo/ingest) or evaluates a day (geo/evaluate)."""
