"""Sending a Celery task once the database transaction has committed, never before.

A task sent inside a transaction could run before the commit and find nothing
to do (or run for a change that is then rolled back). So work that follows a
change, such as delivering its email or deleting its files, is sent from
SQLAlchemy's ``after_commit`` event, and dropped on rollback.

Sending needs the broker (Redis). If it is down the task is lost, but nothing
else is: the rows the task would have handled are in the database, and a
scheduled job handles them on its next run. So a failed send is logged, never
raised into the request that has already committed.
"""

from __future__ import annotations

import logging

from celery import Task
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_PENDING_KEY = "lj_tasks_after_commit"


def send_task_after_commit(session: Session, task: Task, *args: object) -> None:
    """Send ``task.delay(*args)`` when ``session``'s transaction commits (once per arguments)."""
    pending: dict[tuple[str, tuple[object, ...]], Task] = session.info.setdefault(_PENDING_KEY, {})
    pending[(task.name, args)] = task


@event.listens_for(Session, "after_commit")
def _send_pending_tasks(session: Session) -> None:
    pending: dict[tuple[str, tuple[object, ...]], Task] = session.info.pop(_PENDING_KEY, {})
    for (name, args), task in pending.items():
        try:
            task.delay(*args)
        except Exception:
            log.warning("could not send task %s%r; the scheduled job will do its work", name, args)


@event.listens_for(Session, "after_rollback")
def _drop_pending_tasks(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
