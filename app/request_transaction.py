"""One database transaction per request: committed once, at its end, or rolled back whole.

Views and operations change data and flush; none of them commits. When the request
has its response, ``_commit_or_roll_back`` decides, in this one place:

- a response that is not an error (status below 400: a page, a redirect, a download)
  commits everything the request wrote;
- an error response rolls everything back: a form shown again with its errors (400,
  422), an ``abort(4xx)``, and an exception (a 500; with no response at all, the
  teardown that ends the session rolls back instead).

What follows a change happens only once its commit has succeeded, and never after a
rollback; each kind hooks SQLAlchemy's ``after_commit`` and rollback events, so it
works the same for a request, a CLI command and a job:

- email: ``app.mail.queue_email`` writes to the outbox in the transaction, and the
  delivery task is sent at commit (``workers.after_commit.send_task_after_commit``);
- files: ``app.storage.deletions`` queues deletions in the transaction and drains the
  queue after the commit; files an upload wrote are removed again on rollback
  (``app.journal.storage``);
- in-process work, such as dropping the settings snapshot: ``call_after_commit``.

A commit that fails (the database gone, a constraint only the database checks, the
erasure ledger not writable) is rolled back, and the person gets an error page instead
of the view's response: 409 for a clash with a concurrent change, 503 when part of the
service is down, 500 for anything else. One failure is in doubt: the connection lost
after COMMIT was sent (PostgreSQL restarting) may have lost the answer, not the
change. That page says so (503, ``IN_DOUBT``) instead of "nothing was kept", so no
one is told a change was dropped that in fact stands. The session keeps none of the request's
changes either (no half sign-in, no "Saved" message for what was not saved).

A view that answers a refusal with its form again, beside data the refused operation
had changed, runs the operation in ``undone_if_refused()``: the request's writes are
rolled back at once, so the page shows the data as it was. (Not a savepoint: SQLAlchemy
fires its commit and rollback events for savepoints too, and the after-commit work
above would run, or be dropped, at the savepoint's end.)

The one exception: a request that must keep its writes although it answers 4xx (a
wrong current password counted towards the lockout, shown again on the form with its
error) says so with ``commit_despite_refusal()``, beside the reason. A 5xx never
commits. Jobs and CLI commands commit themselves, per batch or per setting
(``tenants.each_setting.run_each_setting``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask, current_app, g, has_request_context, session
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import OperationalError as DBAPIOperationalError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from app import outages
from app.errors import render_error
from app.extensions import db

log = logging.getLogger(__name__)

_KEEP_DESPITE_REFUSAL = "lj_commit_despite_refusal"  # on g
_COMMITTING = "lj_committing"  # on g: the request's commit has begun
_COMMIT_SENT = "lj_commit_sent"  # on g: its COMMIT went to the database
_CALLBACKS_KEY = "lj_calls_after_commit"  # session.info

CLASHED = (
    "This could not be saved: something it depends on was changed at the same time. "
    "Nothing was changed; please try again."
)
NOT_SAVED = (
    "Your change could not be saved, and nothing of it was kept. Please try again in a minute."
)
IN_DOUBT = (
    "The database stopped answering just as your change was being saved, so we cannot tell "
    "whether it was kept. Please look for it in a minute before trying again, so that it is "
    "not added twice."
)


def commit_despite_refusal() -> None:
    """Keep this request's writes although it answers with a 4xx (never a 5xx).

    Only for a refusal that is itself the outcome to record, e.g. a counted wrong
    password whose form is shown again; say why beside the call.
    """
    g.setdefault(_KEEP_DESPITE_REFUSAL, True)


@contextmanager
def undone_if_refused() -> Iterator[None]:
    """If the block raises, roll the request's transaction back at once (the objects it
    changed are read again), then let the exception go on. For a view that shows the
    refused form again beside data the block had changed: the request keeps nothing
    either way, and its page must not show what was not saved."""
    try:
        yield
    except Exception:
        db.session.rollback()
        raise


def _commits(response: Response) -> bool:
    if response.status_code < 400:
        return True
    return response.status_code < 500 and g.get(_KEEP_DESPITE_REFUSAL, False)


def _commit_or_roll_back(response: Response) -> Response:
    session = _session_to_end()
    if session is None:
        return response
    if not _commits(response):
        session.rollback()
        return response
    g.setdefault(_COMMITTING, True)
    try:
        session.commit()
    except Exception as error:  # every failure gets the same clean ending
        session.rollback()
        _drop_session_changes()
        response.close()  # never sent: its on-close steps (a temporary file's removal) run now
        return _failed_commit_page(error, commit_sent=g.get(_COMMIT_SENT, False))
    return response


def _session_to_end() -> Session | None:
    """The request's session, or None when it left nothing to commit or roll back.

    None when the request made no session, or one that began no transaction (no
    statement ran, no object was added: each of those begins one) and holds nothing
    for a commit to do (work queued for after a commit, in ``Session.info``). Ending
    such a session would only make and end an empty transaction: about 70 Python
    calls on every page that reads nothing from the database.
    """
    if not db.session.registry.has():
        return None
    session = db.session()
    return session if session.in_transaction() or session.info else None


@event.listens_for(Engine, "commit")
def _note_commit_sent(_connection: Connection) -> None:
    """Mark the moment the request's COMMIT goes to the database: a connection lost after
    it leaves the outcome unknown, one lost before it kept nothing."""
    if has_request_context() and g.get(_COMMITTING, False):
        g.setdefault(_COMMIT_SENT, True)


def _drop_session_changes() -> None:
    drop = getattr(session, "drop_changes", None)  # a RedisSession; not a null session
    if drop is not None:
        drop()


def _failed_commit_page(error: Exception, *, commit_sent: bool) -> Response:
    if isinstance(error, IntegrityError):
        log.warning("commit refused by the database: %s", error.orig)
        page = render_error(409, CLASHED)
    elif isinstance(error, DBAPIOperationalError | OSError):
        log.warning("commit failed: %s", error)
        if isinstance(error, DBAPIOperationalError):
            outages.postgresql().failed(error)
        in_doubt = commit_sent and isinstance(error, DBAPIOperationalError)
        page = render_error(503, IN_DOUBT if in_doubt else NOT_SAVED)
    else:
        log.exception("commit failed", exc_info=error)
        page = render_error(500)
    return current_app.make_response(page)


def call_after_commit(callback: Callable[[], None]) -> None:
    """Call ``callback`` once the current transaction has committed; never if it rolls back.

    For work in this process that must not see the change before others can (e.g.
    ``tenants.registry.forget_cached``). A callback that fails is logged: the change
    it follows is already committed.
    """
    callbacks: list[Callable[[], None]] = db.session().info.setdefault(_CALLBACKS_KEY, [])
    if callback not in callbacks:
        callbacks.append(callback)


@event.listens_for(Session, "after_commit")
def _call_pending_callbacks(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint's end (SQLAlchemy fires after_commit for it too)
    for callback in session.info.pop(_CALLBACKS_KEY, []):
        try:
            callback()
        except Exception:
            log.exception("after-commit call %r failed", callback)


@event.listens_for(Session, "after_rollback")
def _drop_pending_callbacks(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint rolled back: the outer transaction's callbacks still stand
    session.info.pop(_CALLBACKS_KEY, None)


def install_request_transaction(app: Flask) -> None:
    """Commit or roll back each request's transaction as its first after-request step.

    Call it after every other ``after_request`` registration: Flask runs them last
    registered first, and logging, metrics and headers must see the final response
    (an error page when the commit failed).
    """
    app.after_request(_commit_or_roll_back)
