"""The bench-only page that reads one row of the setting named by the host.

It goes through the normal request path: routing binds the setting, the ORM
transaction starts with ``SET LOCAL search_path``, and the row is read through
``db.session``, in the request's bound transaction. It needs no sign-in. The row is
read as the columns the page shows, as a real page's read model does (the page read a
whole ``User`` until 3 December 2026; ``/bench/one-row-user`` still does, to show what
building an ORM entity of 17 columns costs).
"""

from flask import Blueprint, g
from sqlalchemy import select

from app.auth.models import User
from app.extensions import db

bench = Blueprint("bench", __name__)


@bench.get("/bench/one-row")
def one_row() -> str:
    full_name = db.session.execute(select(User.full_name).order_by(User.id).limit(1)).scalar_one()
    return f"{g.setting.slug}: {full_name}"


@bench.get("/bench/one-row-user")
def one_row_user() -> str:
    user = db.session.scalars(select(User).order_by(User.id).limit(1)).one()
    return f"{g.setting.slug}: {user.full_name}"
