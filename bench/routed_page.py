"""The bench-only page that reads one row of the setting named by the host.

It goes through the normal request path: routing binds the setting, the ORM
transaction starts with ``SET LOCAL search_path``, and the row is read through
``db.session``, in the request's bound transaction. It needs no sign-in. The row is
read as the columns the page shows, as a real page's read model does (the page read a
whole ``User`` until 3 December 2026; ``/bench/one-row-user`` still does, to show what
building an ORM entity of 17 columns costs).

Three more variants, for ``bench/page_variants.py`` only, show what the ORM costs a
request (issue #16, point 2): the same statement built once instead of per request;
read through the session's connection (SQLAlchemy Core: no ORM result); and, measuring
only, through a Core connection of its own, bound and committed by the view, with no
``Session`` at all (the request then leaves its session nothing to end).
"""

from flask import Blueprint, g
from sqlalchemy import select

from app.auth.models import User
from app.extensions import db
from tenants.binding import begin_bound_to

bench = Blueprint("bench", __name__)


# Built once, for the variants; the page as served builds it per request, as views do.
_FIRST_NAME = select(User.full_name).order_by(User.id).limit(1)


@bench.get("/bench/one-row")
def one_row() -> str:
    full_name = db.session.execute(select(User.full_name).order_by(User.id).limit(1)).scalar_one()
    return f"{g.setting.slug}: {full_name}"


@bench.get("/bench/one-row-user")
def one_row_user() -> str:
    user = db.session.scalars(select(User).order_by(User.id).limit(1)).one()
    return f"{g.setting.slug}: {user.full_name}"


@bench.get("/bench/one-row-kept-statement")
def one_row_kept_statement() -> str:
    full_name = db.session.execute(_FIRST_NAME).scalar_one()
    return f"{g.setting.slug}: {full_name}"


@bench.get("/bench/one-row-core")
def one_row_core() -> str:
    full_name = db.session.connection().execute(_FIRST_NAME).scalar_one()
    return f"{g.setting.slug}: {full_name}"


@bench.get("/bench/one-row-no-session")
def one_row_no_session() -> str:
    """Measuring only: the view binds and commits a connection itself, which no real view
    may do (the request's transaction is the session's, bound by ``tenants.binding``)."""
    with db.engine.connect() as connection:
        begin_bound_to(connection, g.setting.schema_name)
        full_name = connection.execute(_FIRST_NAME).scalar_one()
        connection.commit()
    return f"{g.setting.slug}: {full_name}"
