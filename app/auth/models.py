"""People who sign in, their one-time links, and the audit trail of what they did."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, LargeBinary, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.labels import LabelledEnum
from tenants.schema import TenantModel, text_enum

BOUNCE_REASON_LENGTH = 200  # the SMTP server's answer, cut to this length
BROWSER_NAME_LENGTH = 120


class Role(LabelledEnum):
    MANAGER = "manager", "Manager"
    STAFF = "staff", "Member of staff"
    PARENT = "parent", "Parent or carer"


# Who works at the setting (their records follow the staff retention period and
# staff dates), as opposed to the families it serves.
STAFF_ROLES = (Role.MANAGER, Role.STAFF)


class AccountStatus(LabelledEnum):
    INVITED = "invited", "Invitation sent, not yet accepted"
    ACTIVE = "active", "Active"
    DEACTIVATED = "deactivated", "Deactivated"


class LinkPurpose(enum.StrEnum):
    ACTIVATION = "activation"
    RESET = "reset"
    EMAIL_CHANGE = "email_change"


class User(UserMixin, TenantModel):
    """A manager, member of staff or parent of one setting.

    Emails are stored normalised and lower-cased, so uniqueness is
    case-insensitive. Password and PIN are stored only as peppered bcrypt hashes.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(text_enum(Role, "user_role"))
    status: Mapped[AccountStatus] = mapped_column(
        text_enum(AccountStatus, "account_status"), default=AccountStatus.INVITED
    )
    password_hash: Mapped[str | None] = mapped_column(String(100))
    pin_hash: Mapped[str | None] = mapped_column(String(100))
    failed_signins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cooldown_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the SMTP server last refused mail to this address for good (``app.mail.delivery``), so
    # the manager sees it under "Needs attention". Cleared when the address is corrected
    # or a later message to it goes through.
    email_bounced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    email_bounce_reason: Mapped[str | None] = mapped_column(String(BOUNCE_REASON_LENGTH))
    # The newest version of the setting's usage policy this person accepted (0: none yet);
    # every acceptance is also kept in ``usage_policy_acceptances``.
    accepted_policy_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When the person last said their email address is right (or confirmed a new one);
    # activation counts, as the activation link reached them there.
    email_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def is_active(self) -> bool:  # flask-login: only active accounts may be signed in
        return self.status is AccountStatus.ACTIVE

    @property
    def first_name(self) -> str:
        return first_name_of(self.full_name)


class OneTimeLink(TenantModel):
    """An emailed link (activation, reset, email change), kept only as a hash of its token."""

    __tablename__ = "one_time_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[LinkPurpose] = mapped_column(text_enum(LinkPurpose, "link_purpose"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    new_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class KnownBrowser(TenantModel):
    """A browser (its family and system, e.g. "Firefox on Windows") a person has signed in
    with; a sign-in from one not listed here is emailed to them."""

    __tablename__ = "known_browsers"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    browser: Mapped[str] = mapped_column(String(BROWSER_NAME_LENGTH), primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEntry(TenantModel):
    """Who did what, when: sign-ins, failures, locks, resets, links and deactivations.

    ``detail`` never holds a secret, a token or a password attempt.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    event: Mapped[str] = mapped_column(String(60))
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    subject_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    ip: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[dict[str, object]] = mapped_column(JSONB)


class TotpAuthenticator(TenantModel):
    """A person's authenticator app: the shared TOTP secret, sealed (``app.security.sealing``).

    One per person. ``confirmed_at`` is None while enrolment waits for the first
    code; ``last_used_step`` is the 30-second time step of the last code accepted,
    so that code (and any earlier one) is never accepted again.
    """

    __tablename__ = "totp_authenticators"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    sealed_secret: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(TenantModel):
    """One of a person's single-use recovery codes, kept only as a peppered HMAC."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Passkey(TenantModel):
    """A WebAuthn credential a person registered on this setting's host (its relying party)."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    credential_id: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def first_name_of(full_name: str) -> str:
    """What greetings call a person: the first word of their full name."""
    return full_name.split(" ", 1)[0]
