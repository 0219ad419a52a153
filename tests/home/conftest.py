"""The home tests use the journal's setting with two families."""

from tests.journal.conftest import family  # noqa: F401
from tests.people.conftest import frozen_clock  # noqa: F401
