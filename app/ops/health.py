"""Readiness: can this deployment serve people right now, and if not, what is missing.

Each check answers for one part the service needs (PostgreSQL, Redis, schemas at
the code's revision, a worker and beat running, a verified backup younger than
26 hours). A
check's ``detail`` is shown to anyone, so it never names a setting or a person;
``private`` adds what only the operator's machines may see.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text

from app.backups.operations import newest_verified_backup_age
from app.extensions import db
from app.redis_store import get_redis
from tenants.migrating import schemas_behind
from workers.presence import PRESENCE_SECONDS, Role, seen_recently

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str = "ok"
    private: str = ""


def _database() -> CheckResult:
    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return CheckResult(True)


def _redis() -> CheckResult:
    get_redis().ping()
    return CheckResult(True)


def _migrations() -> CheckResult:
    behind = schemas_behind(db.engine)
    if not behind:
        return CheckResult(True)
    return CheckResult(
        False,
        f"{len(behind)} schema(s) not at the code's revision: run tenants migrate",
        private=", ".join(behind),
    )


def _presence(role: Role) -> Callable[[], CheckResult]:
    def check() -> CheckResult:
        if seen_recently(role):
            return CheckResult(True)
        return CheckResult(False, f"no {role} seen in the last {PRESENCE_SECONDS} s")

    return check


BACKUP_MAX_AGE = timedelta(hours=26)
"""The nightly backup plus two hours' grace: older means last night's did not happen."""


def _backup() -> CheckResult:
    age = newest_verified_backup_age()
    if age is None:
        return CheckResult(False, "no verified backup")
    if age > BACKUP_MAX_AGE:
        hours = age // timedelta(hours=1)
        return CheckResult(False, f"newest verified backup is {hours} hours old")
    return CheckResult(True)


CHECKS: dict[str, Callable[[], CheckResult]] = {
    "database": _database,
    "redis": _redis,
    "migrations": _migrations,
    "worker": _presence("worker"),
    "beat": _presence("beat"),
    "backup": _backup,
}


def _run(name: str, check: Callable[[], CheckResult]) -> CheckResult:
    try:
        return check()
    except Exception as error:
        # A part that cannot even be asked is not ready; the reason is for the operator.
        log.warning("readiness check %s failed: %s", name, type(error).__name__)
        return CheckResult(False, "unreachable", private=f"{type(error).__name__}: {error}")


def readiness() -> dict[str, CheckResult]:
    """Every check's result, by name (all run, so one answer tells everything missing)."""
    return {name: _run(name, check) for name, check in CHECKS.items()}
