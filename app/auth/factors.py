"""What second factors a person has: read-only questions the sign-in rules ask."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, or_, select

from app.auth.models import Passkey, TotpAuthenticator, User
from app.extensions import db


def confirmed_totp_of(user: User) -> TotpAuthenticator | None:
    return db.session.scalar(
        select(TotpAuthenticator).where(
            TotpAuthenticator.user_id == user.id, TotpAuthenticator.confirmed_at.is_not(None)
        )
    )


def passkeys_of(user: User) -> list[Passkey]:
    return list(
        db.session.scalars(
            select(Passkey)
            .where(Passkey.user_id == user.id)
            .order_by(Passkey.created_at, Passkey.id)
        )
    )


def with_second_factor() -> ColumnElement[bool]:
    """True for a ``User`` row with a confirmed authenticator app or a passkey."""
    return or_(
        exists().where(
            TotpAuthenticator.user_id == User.id, TotpAuthenticator.confirmed_at.is_not(None)
        ),
        exists().where(Passkey.user_id == User.id),
    )


def has_second_factor(user: User) -> bool:
    return (
        db.session.scalar(select(User.id).where(User.id == user.id, with_second_factor()))
        is not None
    )


def people_with_second_factor() -> set[int]:
    """The ids of everyone in the setting with a second factor (for the accounts page)."""
    return set(db.session.scalars(select(User.id).where(with_second_factor())))
