"""People of a test setting: a nursery with a manager, staff, parents and children; rows
made directly, and clients signed in as each of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from flask import Flask
from sqlalchemy import select

from app.auth.models import AccountStatus, Role, User
from app.extensions import db
from app.people.children import ChildDetails
from app.people.models import Child, ParentLink
from app.responsible_use.operations import accept_policy, current_policy_version
from app.security.secrets import hash_password, hash_pin
from tenants.binding import tenant_context
from tests.helpers.clients import HostClient, client_for, sign_in

# Tests run at a fixed moment so dates read plainly: 2026-12-01, 09:00 UTC.
TODAY = date(2026, 12, 1)


@contextmanager
def inside(app: Flask, slug: str) -> Iterator[None]:
    """Run the block as a job of setting ``slug`` would (commit what you keep)."""
    with app.app_context(), tenant_context(slug):
        yield


def child_details(**overrides: object) -> ChildDetails:
    values: dict[str, object] = {
        "first_name": "Ada",
        "last_name": "Okafor",
        "date_of_birth": date(2023, 4, 2),
        "start_date": date(2025, 9, 1),
        "room": "Rainbows",
    }
    values.update(overrides)
    return ChildDetails(**values)  # type: ignore[arg-type]


def add_user(
    full_name: str,
    email: str,
    role: Role,
    status: AccountStatus = AccountStatus.ACTIVE,
    *,
    password: str | None = None,
    pin: str | None = None,
) -> User:
    """An account inserted directly (the invitation flow is tested in tests/auth); an active
    one has accepted the setting's usage policy (the gate is tested in tests/responsible_use)."""
    user = User(
        full_name=full_name,
        email=email,
        role=role,
        status=status,
        password_hash=hash_password(password) if password else None,
        pin_hash=hash_pin(pin) if pin else None,
    )
    db.session.add(user)
    db.session.flush()
    if status is AccountStatus.ACTIVE:
        accept_policy(user, current_policy_version())
    return user


def manager_of_setting() -> User:
    return db.session.scalars(
        select(User).where(User.role == Role.MANAGER).order_by(User.id)
    ).first()


def activate_first_manager() -> User:
    """The setting's first manager, active with PASSWORD and PIN and the policy accepted."""
    manager = manager_of_setting()
    manager.status = AccountStatus.ACTIVE
    manager.password_hash, manager.pin_hash = hash_password(PASSWORD), hash_pin(PIN)
    accept_policy(manager, current_policy_version())
    return manager


@dataclass
class Nursery:
    """Ids of the people of one test setting."""

    slug: str
    manager_id: int
    staff_id: int
    parent_id: int
    child_id: int
    other_child_id: int


PASSWORD = "correct horse battery staple 42"


PIN = "274916"


def get_child(child_id: int) -> Child:
    return db.session.get_one(Child, child_id)


def get_user(user_id: int) -> User:
    return db.session.get_one(User, user_id)


def links_of(parent_id: int) -> list[int]:
    return list(
        db.session.scalars(select(ParentLink.child_id).where(ParentLink.parent_id == parent_id))
    )


def email_of(nursery: Nursery, who: str) -> str:
    """Emails made by the ``nursery`` fixture (the manager's comes from make_setting)."""
    return {
        "manager": f"manager@{nursery.slug}.example.org",
        "staff": f"sam@{nursery.slug}.example.org",
        "parent": f"pat@{nursery.slug}.example.org",
    }[who]


def signed_in(app: Flask, nursery: Nursery, who: str) -> HostClient:
    """A client of the nursery's setting, signed in as ``who`` (or anonymous)."""
    client = client_for(app, nursery.slug)
    if who != "anonymous":
        response = sign_in(client, email_of(nursery, who), PASSWORD, PIN)
        assert response.status_code == 303, response.text
        assert not response.headers["Location"].endswith("/login"), f"{who} could not sign in"
    return client


def add_child_with_id(child_id: int, first_name: str = "Far", last_name: str = "Away") -> Child:
    """A child row with a chosen id (e.g. the id of another setting's child), not yet committed."""
    details = child_details()
    child = Child(
        id=child_id,
        first_name=first_name,
        last_name=last_name,
        date_of_birth=details.date_of_birth,
        start_date=details.start_date,
        room="Elsewhere",
        photo_consent=False,
    )
    db.session.add(child)
    return child
