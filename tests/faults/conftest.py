"""The journal tests' family (a setting with staff, parents and children)."""

from tests.journal.conftest import family  # noqa: F401  (fixture)
from tests.people.conftest import frozen_clock  # noqa: F401  (fixture)
