"""Helpers the tests share: plain functions and classes, imported where used.

Fixtures live in ``tests/fixtures/`` and are registered for every test by the root
``conftest.py``; a ``conftest.py`` holds only fixtures of its own folder.
"""
