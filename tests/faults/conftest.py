"""The journal tests' family (a setting with staff, parents and children)."""
