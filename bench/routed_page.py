"""The bench-only page that reads one row of the setting named by the host.

It goes through the normal request path: routing binds the setting, the ORM
transaction starts with ``SET LOCAL search_path``, and the row is read through
``db.session``. It needs no sign-in. ``/bench/one-row-columns`` reads the same row
as plain columns (no ``User`` object), to show what loading an ORM entity costs.
"""

from flask import Blueprint, g
from sqlalchemy import select

from app.auth.models import User
from app.extensions import db

bench = Blueprint("bench", __name__)


@bench.get("/bench/one-row")
def one_row() -> str:
    user = db.session.scalars(select(User).order_by(User.id).limit(1)).one()
    return f"{g.setting.slug}: {user.full_name}"


@bench.get("/bench/one-row-columns")
def one_row_columns() -> str:
    full_name = db.session.execute(select(User.full_name).order_by(User.id).limit(1)).scalar_one()
    return f"{g.setting.slug}: {full_name}"
