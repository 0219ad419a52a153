"""Secrets and tokens: the one place that hashes, checks and judges them.

- ``secrets``: peppered bcrypt hashes of passwords and PINs, and checking them.
- ``policy``: which passwords and PINs we accept, in words a parent understands.
- ``tokens``: one-time link tokens and the digests we store instead of them.
"""
