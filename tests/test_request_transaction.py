"""One transaction per request: kept whole when the view ends well, nothing of it otherwise.

Each probe request adds a person, queues their email and the deletion of a file
(``tests.probe``), then ends one way or another; the tests look at all three outcomes.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.auth import pending
from app.auth.models import Role, User
from app.extensions import db
from app.mail.models import OutboxMessage
from app.request_transaction import IN_DOUBT, NOT_SAVED, call_after_commit
from tenants.binding import tenant_context
from tests.helpers.clients import client_for, make_user, sign_in


@pytest.fixture
def probe_request(app, make_setting, mail_outbox, tmp_path):
    """Post to ``/_probe/transaction/<ending>``; returns the response and what it left."""
    setting = make_setting()
    client = client_for(app, setting.slug)

    def post(ending: str):
        email = f"probe-{uuid.uuid4().hex[:8]}@example.org"
        photo = Path(app.config["LJ"].MEDIA_ROOT) / setting.slug / f"{uuid.uuid4().hex}.jpg"
        photo.parent.mkdir(parents=True, exist_ok=True)
        photo.write_bytes(b"photo")
        response = client.post(
            f"/_probe/transaction/{ending}", data={"email": email, "file": photo.name}
        )
        with app.app_context(), tenant_context(setting.slug):
            people = db.session.scalar(select(func.count()).where(User.email == email))
            queued = db.session.scalar(
                select(func.count()).where(OutboxMessage.to_address == email)
            )
        return response, {
            "person kept": people == 1,
            "email queued": queued == 1,
            "email sent": bool(mail_outbox.to(email, timeout=0.3)),
            "file deleted": not photo.exists(),
        }

    return post


NOTHING_KEPT = {
    "person kept": False,
    "email queued": False,
    "email sent": False,
    "file deleted": False,
}
EVERYTHING_KEPT = dict.fromkeys(NOTHING_KEPT, True)


@pytest.mark.parametrize(
    ("ending", "status", "kept"),
    [
        ("done", 200, EVERYTHING_KEPT),
        ("refused", 422, NOTHING_KEPT),  # a form shown again with its errors
        ("counted-refusal", 422, EVERYTHING_KEPT),  # the view said the refusal is the outcome
    ],
    ids=[
        "a view returning normally commits, then sends and deletes",
        "a 422 writes nothing",
        "a refusal the view keeps is committed",
    ],
)
def test_the_response_decides_what_the_request_keeps(probe_request, ending, status, kept):
    response, left = probe_request(ending)
    assert response.status_code == status
    assert left == kept


def test_a_view_that_raises_after_writing_leaves_nothing(app, probe_request, monkeypatch):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # as in production
    response, left = probe_request("raises")
    assert response.status_code == 500
    assert left == NOTHING_KEPT


def test_a_commit_the_database_refuses_is_a_clear_409_page_with_nothing_kept(probe_request):
    response, left = probe_request("clashes")
    assert response.status_code == 409
    assert "Nothing was changed; please try again." in response.text
    assert left == NOTHING_KEPT


def _connection_lost() -> OperationalError:
    lost = psycopg.OperationalError("server closed the connection unexpectedly")
    return OperationalError("COMMIT", None, lost)


def test_a_connection_lost_before_the_commit_is_sent_says_nothing_was_kept(probe_request):
    def lose_the_connection(_session) -> None:
        raise _connection_lost()

    event.listen(Session, "before_commit", lose_the_connection)
    try:
        response, left = probe_request("done")
    finally:
        event.remove(Session, "before_commit", lose_the_connection)
    assert response.status_code == 503
    assert NOT_SAVED in response.text
    assert left == NOTHING_KEPT


def test_a_connection_lost_after_the_commit_was_sent_says_the_change_may_stand(
    app, probe_request, monkeypatch
):
    """PostgreSQL committed, then went away before answering: the page must not say that
    nothing was kept (the person would add it again), only that we cannot tell."""
    with app.app_context():
        dialect = db.engine.dialect

    def commit_then_lose_the_answer(dbapi_connection) -> None:
        dbapi_connection.commit()
        raise _connection_lost().orig

    monkeypatch.setattr(dialect, "do_commit", commit_then_lose_the_answer)
    response, left = probe_request("done")
    monkeypatch.undo()
    assert response.status_code == 503
    assert IN_DOUBT in response.text
    assert NOT_SAVED not in response.text
    assert left["person kept"]  # what the page could not confirm does stand


def test_a_sign_in_whose_commit_fails_leaves_the_person_signed_out(app, make_setting, monkeypatch):
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role="staff")

    def clash_then_go_on(user: User, target: str) -> str:
        db.session.add(User(email=user.email, full_name="A Clash", role=Role.STAFF))
        return target  # the next query would flush it; the commit does

    monkeypatch.setattr(pending, "where_after_sign_in", clash_then_go_on)
    client = client_for(app, setting.slug)
    refused = sign_in(client, email)
    assert refused.status_code == 409
    assert client.get("/account").status_code == 302  # sent to sign in
    monkeypatch.undo()
    assert sign_in(client, email).status_code == 303
    assert client.get("/account").status_code == 200


def test_a_refused_attempt_is_undone_at_once_so_the_page_shows_the_data_as_it_was(
    app, make_setting
):
    client = client_for(app, make_setting().slug)
    response = client.post(
        "/_probe/transaction/undone-if-refused", data={"email": "undone@example.org"}
    )
    assert response.status_code == 422
    assert response.json == {"seen after the refusal": False}


def test_a_savepoint_neither_runs_nor_drops_the_outer_transactions_after_commit_work(
    app, make_setting
):
    """SQLAlchemy fires after_commit and after_rollback at a savepoint's end too: what
    follows the change must wait for the outer commit, and survive a savepoint undone."""
    setting = make_setting()
    called: list[str] = []
    with app.app_context(), tenant_context(setting.slug):
        call_after_commit(lambda: called.append("outer"))
        with db.session.begin_nested():
            call_after_commit(lambda: called.append("inner"))
        assert called == []  # the savepoint committed, the transaction did not
        with pytest.raises(ZeroDivisionError), db.session.begin_nested():
            raise ZeroDivisionError
        assert called == []
        db.session.commit()
    assert sorted(called) == ["inner", "outer"]


def test_work_queued_for_after_the_commit_runs_in_a_request_that_ran_no_statement(
    app, make_setting
):
    """A request that began no transaction is not committed (there is nothing to end),
    unless it queued work for after its commit: that work must still run."""
    client = client_for(app, make_setting().slug)
    response = client.post("/_probe/transaction/after-commit-only", data={"mark": "ran"})
    assert response.status_code == 200
    assert app.extensions["probe_after_commit"] == ["ran"]
