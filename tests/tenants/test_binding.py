"""The schema is bound inside each transaction, whichever way the transaction begins."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from psycopg.pq import Trace
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.auth.models import User
from app.extensions import db
from tenants.binding import tenant_context


def _transaction_state() -> tuple[str, str]:
    return (
        db.session.execute(text("SHOW search_path")).scalar_one(),
        db.session.execute(text("SHOW transaction_isolation")).scalar_one(),
    )


def test_a_plain_transaction_begins_bound_to_the_setting(app, make_setting):
    setting = make_setting()
    with app.app_context(), tenant_context(setting.slug):
        assert _transaction_state() == (setting.schema_name, "read committed")
        db.session.commit()
        # The next transaction begins bound again; the binding ended with the last one.
        assert _transaction_state() == (setting.schema_name, "read committed")


def test_a_transaction_with_an_isolation_level_keeps_it_and_is_bound(app, make_setting):
    setting = make_setting()
    with app.app_context(), tenant_context(setting.slug):
        db.session.connection(execution_options={"isolation_level": "SERIALIZABLE"})
        assert _transaction_state() == (setting.schema_name, "serializable")
    with app.app_context(), db.engine.connect() as connection:
        assert connection.execute(text("SHOW search_path")).scalar_one() != setting.schema_name


# --- the binding and the pooled connection's next user ---------------------------------------


@contextmanager
def server_answers(app: Flask) -> Iterator[list[str]]:
    """The server's "ready for the next query" messages to the app's pooled connection in
    the block: one for each time the app waited on a round trip."""
    answers: list[str] = []
    with app.app_context(), db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        connection.rollback()
    with tempfile.TemporaryFile("w+") as trace:
        raw.pgconn.trace(os.dup(trace.fileno()))
        raw.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)
        try:
            yield answers
        finally:
            raw.pgconn.untrace()
        trace.seek(0)
        answers.extend(line for line in trace if "\tReadyForQuery" in line)


def _first_names(slug: str) -> list[str]:
    with tenant_context(slug):
        names = db.session.scalars(select(User.full_name).order_by(User.id)).all()
        db.session.commit()
    return names


def _search_path_now() -> str:
    """The search path of a transaction of no setting on the app's pooled connection."""
    search_path = db.session.execute(text("SHOW search_path")).scalar_one()
    db.session.rollback()
    return search_path


def test_a_bound_transaction_of_one_statement_waits_on_the_server_three_times(
    one_connection_app, make_setting
):
    setting = make_setting()
    with one_connection_app.app_context(), tenant_context(setting.slug):
        with server_answers(one_connection_app) as answers:
            names = db.session.scalars(select(User.full_name)).all()
            db.session.commit()
        assert names == ["Mina Manager"]
    # BEGIN with the binding (one query), the SELECT, the COMMIT: the binding costs no
    # round trip of its own. (Sending the first two together, in a pipeline, cost more
    # CPU than the wait it saved: bench/README.md, "Fifth pass".)
    assert len(answers) == 3


def test_every_way_of_sending_a_first_statement_sends_the_binding_first(
    one_connection_app, make_setting
):
    a, b = make_setting(), make_setting()
    with one_connection_app.app_context():
        for first, second in ((a, b), (b, a)):
            with tenant_context(first.slug):  # parameters: SQLAlchemy's do_execute
                schema = db.session.execute(text("SELECT current_schema() WHERE :y"), {"y": True})
                assert schema.scalar_one() == first.schema_name
                db.session.commit()
            with tenant_context(second.slug):  # none: do_execute_no_params
                no_parameters = db.session.connection().execution_options(no_parameters=True)
                assert (
                    no_parameters.exec_driver_sql("SELECT current_schema()").scalar_one()
                    == second.schema_name
                )
                db.session.commit()
            with tenant_context(first.slug):  # many sets of parameters: do_executemany
                renamed = {"name": f"Renamed in {first.slug}"}
                db.session.connection().exec_driver_sql(
                    "UPDATE users SET full_name = %(name)s", [renamed, renamed]
                )
                db.session.commit()
        assert _first_names(a.slug) == [f"Renamed in {a.slug}"]
        assert _first_names(b.slug) == [f"Renamed in {b.slug}"]


@pytest.mark.parametrize(
    "failing_statement",
    [
        pytest.param(text("SELECT 1 / 0 FROM users"), id="refused by the server"),
        pytest.param(text("SELECT :value").bindparams(value=object()), id="never sent"),
    ],
)
def test_a_failed_first_statement_leaves_no_binding_for_the_connection_s_next_user(
    one_connection_app, make_setting, failing_statement
):
    setting = make_setting()
    with one_connection_app.app_context():
        with tenant_context(setting.slug):
            with pytest.raises(DBAPIError):
                db.session.execute(failing_statement)
            db.session.rollback()
        with db.engine.connect() as connection:  # the same pooled connection, no setting
            assert connection.exec_driver_sql("SHOW search_path").scalar() != setting.schema_name
        assert _search_path_now() != setting.schema_name


def test_a_transaction_that_sent_nothing_leaves_no_binding_for_the_next_user(
    one_connection_app, make_setting
):
    setting = make_setting()
    with one_connection_app.app_context():
        with tenant_context(setting.slug):
            db.session.connection()  # begun, bound, but no statement sent
            db.session.commit()
        with db.engine.connect() as connection:  # the same pooled connection, no Session
            assert connection.exec_driver_sql("SHOW search_path").scalar() != setting.schema_name
        assert _search_path_now() != setting.schema_name
