"""The home tests use the journal's setting with two families."""
