"""The people tests' nursery, and tasks left to the broker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.people.conftest import frozen_clock, nursery  # noqa: F401  (fixtures)


@pytest.fixture
def tasks_left_to_workers(app: Flask) -> Iterator[None]:
    """Tasks go to the broker, as in production, where no worker of this test takes them."""
    celery = app.extensions["celery"]
    celery.conf.task_always_eager = False
    try:
        yield
    finally:
        celery.conf.task_always_eager = True
        celery.control.purge()
