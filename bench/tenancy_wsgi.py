"""The app of ``app.create_app()`` plus one bench-only page that reads one row of a setting.

The page goes through the normal request path: the host names the setting, routing
binds it, the ORM transaction starts with ``SET LOCAL search_path``, and the row is
read through ``db.session``. It needs no sign-in. ``bench/tenancy.py`` serves this
module with gunicorn, with the environment (database, Redis, secrets) already set.
"""

from flask import Blueprint, g
from sqlalchemy import select

from app import create_app
from app.auth.models import User
from app.extensions import db

bench = Blueprint("bench", __name__)


@bench.get("/bench/one-row")
def one_row() -> str:
    user = db.session.scalars(select(User).order_by(User.id).limit(1)).one()
    return f"{g.setting.slug}: {user.full_name}"


app = create_app()
app.register_blueprint(bench)
