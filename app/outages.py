"""Logging a backing service's outage once when it starts and once when it ends.

During an outage every request fails the same way; a traceback per request
(hundreds a minute) buries the one line an operator needs. So each process
logs the first failure, counts the rest, and logs once more, with the count
and the duration, when the service answers again.
"""

from __future__ import annotations

import logging
import time
from threading import Lock

from flask import Flask, current_app

log = logging.getLogger(__name__)


class Outage:
    """The state of one backing service (Redis, PostgreSQL) as this process sees it."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._lock = Lock()
        self._since: float | None = None
        self.failures = 0

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, error: BaseException) -> None:
        """A call to the service failed: the first one of an outage is logged."""
        with self._lock:
            self.failures += 1
            if self._since is None:
                self._since = time.monotonic()
                log.error("%s is unavailable: %s", self.service, error)

    def answered(self) -> None:
        """A call to the service succeeded: if it was down, log that it is back."""
        if self._since is None:  # the common case, without taking the lock
            return
        with self._lock:
            if self._since is None:
                return
            seconds = time.monotonic() - self._since
            log.warning(
                "%s is available again after %.1f s; %d failed calls meanwhile",
                self.service,
                seconds,
                self.failures,
            )
            self._since, self.failures = None, 0


_EXTENSION = "lj_outages"


def install_outage_logs(app: Flask) -> None:
    """Each app keeps its own (an app is a process's service; tests make several)."""
    app.extensions[_EXTENSION] = {"redis": Outage("Redis"), "postgresql": Outage("PostgreSQL")}


def redis() -> Outage:
    return current_app.extensions[_EXTENSION]["redis"]


def postgresql() -> Outage:
    return current_app.extensions[_EXTENSION]["postgresql"]
