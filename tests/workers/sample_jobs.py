"""Jobs that exist only for the tests, given to a real worker through ``LJ_EXTRA_JOBS``.

Each writes staff accounts into the setting named by ``LJ_TEST_SETTING``
through ``tenant_context``, the way a real job reaches a setting's schema.
"""

from __future__ import annotations

import os
import time
import uuid

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import select

from app.auth.models import Role, User
from app.extensions import db
from tenants.binding import tenant_context
from tenants.each_setting import EachSettingReport, run_each_setting
from tenants.models import Setting

SAMPLE_JOBS = ",".join(
    [
        "record-visit=tests.workers.sample_jobs:record_visit",
        "nightly-visit=tests.workers.sample_jobs:record_visit",
        "slow-visit=tests.workers.sample_jobs:record_visit_slowly",
        "stubborn-visit=tests.workers.sample_jobs:record_visit_past_soft_limit",
        "fill-batches=tests.workers.sample_jobs:fill_batches",
        "visit-each-setting=tests.workers.sample_jobs:visit_each_setting",
        "always-fails=tests.workers.sample_jobs:always_fails",
    ]
)
SLOW_SECONDS = 1.5
BATCHES = 10
BATCH_SIZE = 5
PAUSE_PER_ROW = 0.04


def _add_staff(email: str) -> None:
    db.session.add(User(email=email, full_name="Worker Visit", role=Role.STAFF))


def record_visit() -> str:
    with tenant_context(os.environ["LJ_TEST_SETTING"]):
        _add_staff(f"visit-{uuid.uuid4().hex[:8]}@worker.test")
        db.session.commit()
    return "1 visit recorded"


def record_visit_slowly() -> str:
    time.sleep(SLOW_SECONDS)
    return record_visit()


def record_visit_past_soft_limit() -> str:
    """A job that swallows its soft time limit and goes on: only the hard limit stops it."""
    try:
        time.sleep(SLOW_SECONDS)
    except SoftTimeLimitExceeded:
        time.sleep(SLOW_SECONDS)
    return record_visit()


def batch_email(batch: int, row: int) -> str:
    return f"batch{batch:02d}-row{row}@worker.test"


def fill_batches() -> str:
    """Write the batches not yet written, one transaction each, slowly (to be killed mid-batch).

    What is due comes from the database: a batch with any row is complete,
    because a batch is only ever committed whole.
    """
    with tenant_context(os.environ["LJ_TEST_SETTING"]):
        emails = db.session.scalars(select(User.email).where(User.email.like("batch%")))
        done = {int(email[5:7]) for email in emails}
        db.session.commit()
        due = [batch for batch in range(BATCHES) if batch not in done]
        for batch in due:
            for row in range(BATCH_SIZE):
                _add_staff(batch_email(batch, row))
                db.session.flush()
                time.sleep(PAUSE_PER_ROW)
            db.session.commit()
    return f"{len(due)} batches written"


def visit_each_setting() -> EachSettingReport:
    """A visit in every active setting; the setting named by ``LJ_TEST_BROKEN_SETTING`` fails."""

    def visit(setting: Setting) -> dict[str, int]:
        _add_staff(f"visit-{uuid.uuid4().hex[:8]}@worker.test")
        db.session.flush()
        if setting.slug == os.environ.get("LJ_TEST_BROKEN_SETTING"):
            raise RuntimeError("this setting is broken")
        return {"visits recorded": 1}

    return run_each_setting(visit)


def always_fails() -> str:
    raise RuntimeError("the job's own bug")
