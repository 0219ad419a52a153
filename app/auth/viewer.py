"""The person signed in, as the pages read them: a few columns, not an ORM ``User``.

Every signed-in request loads its person (flask-login's user loader, ``app.auth.access``),
and most pages only ask who they are and what their role allows. Building a 17-column
``User`` in the identity map for that was a fifth of a child's journal page's CPU, so the
loader reads the columns pages and the access policy use into a ``Viewer``. A page that
changes the account, or hands the person to an operation, asks for the ``User`` itself
(``signed_in_account()``): the same row, read in the same transaction.

A ``Viewer`` holds no secret (no password or PIN hash, no lockout counters): what decides
whether someone may be signed in is asked of the row when it is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from sqlalchemy import bindparam, select

from app.auth.models import AccountStatus, Role, User, first_name_of
from app.extensions import db


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is signed in: what the access policy, the steps after sign-in and templates read."""

    id: int
    email: str
    full_name: str
    role: Role
    accepted_policy_version: int
    activated_at: datetime | None
    email_confirmed_at: datetime | None
    created_at: datetime

    # flask-login asks these of whoever is signed in. Only active accounts are loaded.
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def first_name(self) -> str:
        return first_name_of(self.full_name)


# Whom a read or an access rule is for: a page's signed-in ``Viewer``, or the ``User`` an
# operation, a job or the request that signed the person in holds. Both have ``id`` and
# ``role``, all the access policy and the scopes ask of them.
Reader: TypeAlias = User | Viewer

# Built once: the loader runs on every signed-in request, and building a statement costs
# more Python than running this one.
_ACTIVE_VIEWER = select(
    User.id,
    User.email,
    User.full_name,
    User.role,
    User.accepted_policy_version,
    User.activated_at,
    User.email_confirmed_at,
    User.created_at,
).where(User.id == bindparam("user_id"), User.status == AccountStatus.ACTIVE)


def active_viewer(user_id: int) -> Viewer | None:
    """The active account ``user_id`` of the bound setting as a ``Viewer``, or None (no such
    person, or not active: invited or deactivated), read in the request's transaction."""
    # On the session's connection (its transaction, bound to the setting's schema): the
    # request's first statement has nothing to flush, and skipping the ORM's execution
    # path saves about 50 Python calls a request.
    row = db.session.connection().execute(_ACTIVE_VIEWER, {"user_id": user_id}).first()
    return None if row is None else Viewer(*row)
