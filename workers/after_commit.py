"""Sending Celery tasks: once the database transaction has committed, never before.

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
from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_PENDING_KEY = "lj_tasks_after_commit"


def send_task_after_commit(session: Session, task: Task, *args: object) -> None:
    """Send ``task.delay(*args)`` when ``session``'s transaction commits (once per arguments)."""
    pending: set[tuple[str, tuple[object, ...]]] = session.info.setdefault(_PENDING_KEY, set())
    pending.add((task.name, args))


@event.listens_for(Session, "after_commit")
def _send_pending_tasks(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint's end: nothing is committed yet
    pending: set[tuple[str, tuple[object, ...]]] = session.info.pop(_PENDING_KEY, set())
    if not pending:
        return
    for name, args in pending:
        try:
            _send(name, args)
        except Exception:
            log.warning("could not send task %s%r; the scheduled job will do its work", name, args)


def _send(name: str, args: tuple[object, ...]) -> None:
    # Through this Flask app's own Celery app: a shared task would otherwise go
    # through whichever Celery app was made last (and run in that app's context).
    current_app.extensions["celery"].tasks[name].delay(*args)


def send_task(task: Task, *args: object) -> None:
    """Send ``task.delay(*args)`` now, through the current app's Celery app (for work
    that follows no change of the caller's, e.g. a reset request looked up by a worker)."""
    _send(task.name, args)


@event.listens_for(Session, "after_rollback")
def _drop_pending_tasks(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint rolled back: the outer transaction's tasks still stand
    session.info.pop(_PENDING_KEY, None)
