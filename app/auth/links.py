"""One-time links: activation, password/PIN reset and email change.

The token travels only in the emailed URL; the database keeps its SHA-256
digest. A link is bound to its setting (it is looked up in that setting's
schema only) and to one user, is single use, expires, and a newer link of
the same purpose voids the older ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from flask import current_app
from sqlalchemy import exists, select, update

from app import clock
from app.auth.models import LinkPurpose, OneTimeLink, User
from app.extensions import db
from app.security.tokens import new_link_token, token_digest


class LinkProblem(StrEnum):
    """Why a link cannot be used; each has its own page telling the person what to do."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"


class LinkRefused(Exception):
    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def _lifetime(purpose: LinkPurpose) -> timedelta:
    config = current_app.config["LJ"]
    seconds = (
        config.ACTIVATION_LINK_TTL if purpose is LinkPurpose.ACTIVATION else (config.RESET_LINK_TTL)
    )
    return timedelta(seconds=seconds)


def void_open_links(user: User, *purposes: LinkPurpose) -> None:
    """The user's unused links of these purposes (all, when none is named) expire now."""
    now = clock.now()
    query = update(OneTimeLink).where(
        OneTimeLink.user_id == user.id,
        OneTimeLink.used_at.is_(None),
        OneTimeLink.expires_at > now,
    )
    if purposes:
        query = query.where(OneTimeLink.purpose.in_(purposes))
    db.session.execute(query.values(expires_at=now))


@dataclass(frozen=True)
class IssuedLink:
    """A fresh link: the token for its URL, and the moment it stops working, which its
    email states (as a moment, not "in 1 hour": the email may be delivered late)."""

    token: str
    expires_at: datetime


def sent_a_moment_ago(user: User, purpose: LinkPurpose, *, new_email: str | None = None) -> bool:
    """Whether an open link of this purpose (to ``new_email``) was issued to the user
    within the window of a request sent twice (``clock.sent_twice_since``).

    A second tap of a button that emails a link is answered by the first tap's email: a
    fresh link would void the one the person is about to open, and mail them twice. Not
    when mail to the account's address bounced: the first email never arrived. The
    user's row is locked first, so two taps arriving together are answered in turn.
    """
    bounced = db.session.scalar(
        select(User.email_bounced_at).where(User.id == user.id).with_for_update()
    )
    if bounced is not None:
        return False
    now = clock.now()
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    OneTimeLink.user_id == user.id,
                    OneTimeLink.purpose == purpose,
                    OneTimeLink.new_email.is_not_distinct_from(new_email),
                    OneTimeLink.used_at.is_(None),
                    OneTimeLink.expires_at > now,
                    OneTimeLink.created_at >= clock.sent_twice_since(),
                )
            )
        )
    )


def issue_link(user: User, purpose: LinkPurpose, *, new_email: str | None = None) -> IssuedLink:
    """Void the user's open links of this purpose and issue a fresh one."""
    now = clock.now()
    void_open_links(user, purpose)
    token, digest = new_link_token()
    link = OneTimeLink(
        user_id=user.id,
        purpose=purpose,
        token_hash=digest,
        new_email=new_email,
        created_at=now,
        expires_at=now + _lifetime(purpose),
    )
    db.session.add(link)
    db.session.flush()
    return IssuedLink(token, link.expires_at)


def find_usable_link(token: str, purpose: LinkPurpose) -> OneTimeLink:
    """The open link for ``token``, or ``LinkRefused`` saying why it cannot be used."""
    link = db.session.scalar(
        select(OneTimeLink)
        .where(OneTimeLink.token_hash == token_digest(token), OneTimeLink.purpose == purpose)
        .with_for_update()
    )
    if link is None:
        raise LinkRefused(LinkProblem.UNKNOWN)
    if link.used_at is not None:
        raise LinkRefused(LinkProblem.USED)
    if link.expires_at <= clock.now():
        raise LinkRefused(LinkProblem.EXPIRED)
    return link


def use_link(link: OneTimeLink) -> None:
    link.used_at = clock.now()
    db.session.flush()
