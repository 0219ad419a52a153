"""Responsible use: the setting's acceptable-use policy, its sharing rule, emails kept current."""
