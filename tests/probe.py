"""A test-only blueprint that reads and writes the current setting's ``users`` table.

It lets the tenancy tests prove isolation through the same routing and schema
binding every real page uses, independent of any one feature's pages; and the
transaction tests prove what a request keeps however its view ends
(``/_probe/transaction/<ending>``).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request
from sqlalchemy import func, select, text

from app import clock
from app.auth.models import Role, User
from app.extensions import db
from app.journal import storage
from app.mail import queue_email
from app.request_transaction import call_after_commit, commit_despite_refusal, undone_if_refused

probe = Blueprint("probe", __name__, url_prefix="/_probe")


@probe.get("/users")
def list_users() -> list[str]:
    return list(db.session.scalars(select(User.email).order_by(User.email)))


@probe.get("/users/<id:user_id>")
def show_user(user_id: int) -> str:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user.email


@probe.get("/search")
def search_users() -> list[str]:
    pattern = f"%{request.args.get('q', '')}%"
    return list(db.session.scalars(select(User.email).where(User.email.ilike(pattern))))


@probe.post("/users")
def add_user() -> dict[str, int]:
    user = User(email=request.form["email"], full_name="Probe Person", role=Role.STAFF)
    db.session.add(user)
    db.session.flush()
    return {"id": user.id}


@probe.post("/users/fail-midway")
def add_user_then_fail() -> str:
    db.session.add(User(email=request.form["email"], full_name="Half Written", role=Role.STAFF))
    db.session.flush()
    raise RuntimeError("failure injected after the row was written")


@probe.get("/where")
def where_am_i() -> dict[str, object]:
    schema = db.session.execute(text("SELECT current_schema()")).scalar_one()
    count = db.session.scalar(select(func.count()).select_from(User))
    # Enum-typed columns too: their result type must be the same in every schema.
    roles = sorted({role.value for role in db.session.scalars(select(User.role))})
    return {"schema": schema, "users": count, "roles": roles}


@probe.post("/transaction/<ending>")
def write_then_end(ending: str) -> tuple[str, int]:
    """Add a person, queue their invitation email and the deletion of the file
    ``form["file"]``, then end as ``ending`` says."""
    user = User(email=request.form["email"], full_name="Probe Person", role=Role.STAFF)
    db.session.add(user)
    db.session.flush()
    queue_email(
        user.email,
        "Probe",
        "activation",
        user=user,
        setting_name="Probe",
        link="-",
        expires_at=clock.now(),
    )
    storage.remove_after_commit(request.form["file"])
    if ending == "raises":
        raise RuntimeError("failure injected after the writes")
    if ending == "refused":
        return "form shown again", 422
    if ending == "counted-refusal":
        commit_despite_refusal()
        return "refused, and the refusal counted", 422
    if ending == "clashes":  # the same address again: refused by the database at commit
        db.session.add(User(email=user.email, full_name="Second Probe", role=Role.STAFF))
    return "done", 200


@probe.post("/transaction/after-commit-only")
def queue_work_after_commit() -> str:
    """Queue work for after the request's commit, and run no statement at all."""
    done: list[str] = current_app.extensions.setdefault("probe_after_commit", [])
    mark = request.form["mark"]
    call_after_commit(lambda: done.append(mark))
    return "queued"


@probe.post("/transaction/undone-if-refused")
def undone_then_look() -> tuple[dict[str, bool], int]:
    """Add a person inside ``undone_if_refused`` and refuse; then look for them, as the
    page that shows the refusal would."""
    email = request.form["email"]
    try:
        with undone_if_refused():
            db.session.add(User(email=email, full_name="Probe Person", role=Role.STAFF))
            db.session.flush()
            raise LookupError("refused after the write")
    except LookupError:
        seen = db.session.scalar(select(func.count()).where(User.email == email))
    return {"seen after the refusal": bool(seen)}, 422
