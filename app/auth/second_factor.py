"""The rules of second factors: enrolling, using and removing them, recovery codes,
a manager's reset, and the setting's policy of who must have one.

Operations flush and never commit. Each enrolment, use and removal is audited and
emailed to the person (the email says what happened, never a secret or a code).
Wrong codes count toward the same cooldown and lock as wrong passwords.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import ColumnElement, and_, delete, select, update

from app import clock
from app.auth import audit, totp
from app.auth.factors import confirmed_totp_of, has_second_factor, with_second_factor
from app.auth.models import AccountStatus, Passkey, RecoveryCode, Role, TotpAuthenticator, User
from app.auth.operations import (
    count_failure,
    email_setting_message,
    may_sign_in,
    refusal_reason,
)
from app.auth.pending import ENROL, VERIFY
from app.auth.sessions import end_all_sessions_of
from app.extensions import db
from app.ops.metrics import SIGN_IN_FAILURES
from app.security.sealing import seal, unseal
from app.security.secrets import recovery_code_digest, recovery_code_digests
from app.validation import InvalidInput
from tenants.binding import current_setting
from tenants.models import Setting

RECOVERY_CODES = 10
# No 0/o, 1/l/i: the codes are read off paper and typed by hand.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 10  # about 50 random bits


class SecondFactorRefused(InvalidInput):
    """A wrong or reused code, or a refused passkey. The failure is counted: commit it.

    ``stop`` says the account may not try any more now (cooling down or locked):
    the pending sign-in ends.
    """

    def __init__(self, message: str, *, stop: bool = False) -> None:
        super().__init__(message)
        self.stop = stop


# ---------------------------------------------------------------- telling the person


FACTOR_NAMES = {
    "totp": "an authenticator app",
    "passkey": "a passkey",
    "recovery_code": "a recovery code",
}


def notify(user: User, event: str, *, by: User | None = None, **detail: str | int | bool) -> None:
    """Audit ``event`` on ``user``'s second factors and email them about it."""
    audit.record(f"second_factor.{event}", actor=by or user, subject=user, **detail)
    email_setting_message(
        user.email,
        "Your sign-in security at {setting} has changed"
        if event != "used"
        else "You signed in to {setting} with your second factor",
        "second_factor",
        user,
        event=event,
        factor=FACTOR_NAMES.get(str(detail.get("factor", "")), "a second factor"),
        name=detail.get("name"),
        by_manager=by is not None and by.id != user.id,
        at=clock.now(),
        path="/account/second-factor",
    )


# ---------------------------------------------------------------- authenticator app


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str  # shown on the page for typing in by hand; never logged or emailed
    uri: str  # the otpauth:// address: a link for the app on this same phone
    qr_code: str  # a data: URI of the QR code of ``uri``


def _belongs_to(user: User) -> str:
    return f"totp:{user.id}"


def _secret_of(authenticator: TotpAuthenticator) -> str:
    return unseal(authenticator.sealed_secret, f"totp:{authenticator.user_id}")


def start_totp_enrolment(user: User) -> None:
    """A fresh secret waiting for its first code (replaces any unconfirmed one)."""
    db.session.execute(
        delete(TotpAuthenticator).where(
            TotpAuthenticator.user_id == user.id, TotpAuthenticator.confirmed_at.is_(None)
        )
    )
    if confirmed_totp_of(user) is not None:
        raise InvalidInput("You already have an authenticator app. Remove it to set up another.")
    db.session.add(
        TotpAuthenticator(
            user_id=user.id,
            sealed_secret=seal(totp.new_secret(), _belongs_to(user)),
            created_at=clock.now(),
        )
    )
    db.session.flush()


def _unconfirmed_totp_of(user: User) -> TotpAuthenticator | None:
    return db.session.scalar(
        select(TotpAuthenticator).where(
            TotpAuthenticator.user_id == user.id, TotpAuthenticator.confirmed_at.is_(None)
        )
    )


def totp_enrolment(user: User) -> TotpEnrolment | None:
    """What the person scans or types to add this setting to their app, while unconfirmed."""
    authenticator = _unconfirmed_totp_of(user)
    if authenticator is None:
        return None
    secret = _secret_of(authenticator)
    setting = current_setting()
    uri = totp.enrolment_uri(secret, user.email, f"{setting.name} ({setting.slug})")
    return TotpEnrolment(secret=secret, uri=uri, qr_code=totp.qr_code_data_uri(uri))


def confirm_totp(user: User, code: str) -> list[str] | None:
    """Confirm enrolment with a first code from the app.

    Returns new recovery codes when this is the person's first second factor
    (to be shown once), else None.
    """
    authenticator = _unconfirmed_totp_of(user)
    if authenticator is None:
        raise InvalidInput("Start again: set up your authenticator app first.")
    step = totp.matching_step(_secret_of(authenticator), code, after=None)
    if step is None:
        raise InvalidInput("That code is not right. Check the time on your phone and try again.")
    first = not has_second_factor(user)
    authenticator.confirmed_at = clock.now()
    authenticator.last_used_step = step
    db.session.flush()
    notify(user, "added", factor="totp")
    return new_recovery_codes(user) if first else None


def remove_totp(user: User, *, by: User | None = None) -> None:
    authenticator = confirmed_totp_of(user)
    if authenticator is None:
        raise InvalidInput("You have no authenticator app to remove.")
    db.session.delete(authenticator)
    db.session.flush()
    notify(user, "removed", factor="totp", by=by)
    after_removal(user)


def after_removal(user: User) -> None:
    """With no factor left, recovery codes recover nothing: they go too."""
    if not has_second_factor(user):
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        db.session.flush()


# ---------------------------------------------------------------- recovery codes


def _new_recovery_code() -> str:
    half = RECOVERY_CODE_LENGTH // 2
    code = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
    return f"{code[:half]}-{code[half:]}"


def _normalised_recovery_code(code: str) -> str:
    plain = "".join(ch for ch in code.lower() if ch.isalnum())
    half = RECOVERY_CODE_LENGTH // 2
    return f"{plain[:half]}-{plain[half:]}"


def new_recovery_codes(user: User) -> list[str]:
    """Ten fresh single-use codes (the old ones stop working); only their digests are kept."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    db.session.add_all(
        RecoveryCode(
            user_id=user.id, code_digest=recovery_code_digest(code), created_at=clock.now()
        )
        for code in codes
    )
    db.session.flush()
    audit.record("second_factor.recovery_codes_made", actor=user, subject=user)
    return codes


def replace_recovery_codes(user: User) -> list[str]:
    if not has_second_factor(user):
        raise InvalidInput("Recovery codes come with a second factor: set one up first.")
    codes = new_recovery_codes(user)
    notify(user, "recovery_codes_replaced")
    return codes


def unused_recovery_codes(user: User) -> int:
    return len(
        db.session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )


def _use_recovery_code(user: User, code: str) -> bool:
    normalised = _normalised_recovery_code(code)
    used = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.used_at.is_(None),
            RecoveryCode.code_digest.in_(recovery_code_digests(normalised)),
        )
        .values(used_at=clock.now())
        .returning(RecoveryCode.id)
    ).first()
    return used is not None


# ---------------------------------------------------------------- at sign-in


def _refuse(user: User, factor: str) -> NoReturn:
    """Count a failed second factor toward the account's cooldown and lock, and say so."""
    count_failure(user)
    audit.record("second_factor.failed", subject=user, factor=factor)
    SIGN_IN_FAILURES.labels("second_factor").inc()
    if not may_sign_in(user):
        raise SecondFactorRefused(_stopped_message(user), stop=True)
    if factor == "passkey":
        raise SecondFactorRefused("That passkey was not accepted. Please try again.")
    raise SecondFactorRefused("That code is not right. Please try again.")


def _stopped_message(user: User) -> str:
    if user.locked_at is not None:
        return (
            "Too many wrong attempts: your account is locked. "
            'Use "Forgotten your password or PIN?" to unlock it.'
        )
    return "Too many wrong attempts. Please wait 15 minutes before trying again."


def check_may_try(user: User) -> None:
    """Refuse (without counting) an account that may not try now."""
    if not may_sign_in(user):
        audit.record("second_factor.refused", subject=user, reason=refusal_reason(user, False))
        raise SecondFactorRefused(_stopped_message(user), stop=True)


def verify_code(user: User, code: str) -> str:
    """Check a code from the authenticator app or a recovery code at sign-in; returns
    which it was. A TOTP code is accepted once, within one step of drift."""
    check_may_try(user)
    authenticator = db.session.scalar(
        select(TotpAuthenticator)
        .where(TotpAuthenticator.user_id == user.id, TotpAuthenticator.confirmed_at.is_not(None))
        .with_for_update()  # two requests with one code: the second waits, then sees it used
    )
    if authenticator is not None:
        step = totp.matching_step(
            _secret_of(authenticator), code, after=authenticator.last_used_step
        )
        if step is not None:
            authenticator.last_used_step = step
            used(user, "totp")
            return "totp"
    if _use_recovery_code(user, code):
        used(user, "recovery_code", left=unused_recovery_codes(user))
        return "recovery_code"
    _refuse(user, "code")


def used(user: User, factor: str, **detail: int | str) -> None:
    """A factor passed at sign-in (``app.auth.pending.complete`` then signs the person in)."""
    notify(user, "used", factor=factor, **detail)


def refuse_passkey(user: User) -> NoReturn:
    """A passkey assertion that did not verify counts like a wrong code."""
    _refuse(user, "passkey")


# ---------------------------------------------------------------- a manager's reset


def reset_second_factors(user: User, *, by: User) -> None:
    """For a lost phone or key: remove every factor and recovery code of ``user`` and end
    all their sessions. Audited and emailed to them. Not for the manager's own account:
    there a factor is removed on the account page, which asks for the password."""
    if user.id == by.id:
        raise InvalidInput(
            "Your own second factors are changed on your account page, with your password."
        )
    if not has_second_factor(user):
        raise InvalidInput(f"{user.full_name} has no second factor to reset.")
    for table in (TotpAuthenticator, Passkey, RecoveryCode):
        db.session.execute(delete(table).where(table.user_id == user.id))
    db.session.flush()
    end_all_sessions_of(current_setting().slug, user.id)
    notify(user, "reset", by=by)


# ---------------------------------------------------------------- the setting's policy


REQUIRED_FOR = {
    "nobody": (),
    "managers": (Role.MANAGER,),
    "staff": (Role.MANAGER, Role.STAFF),
    "everyone": (Role.MANAGER, Role.STAFF, Role.PARENT),
}
GRACE_DAYS_LIMITS = (0, 90)


@dataclass(frozen=True)
class FactorPolicy:
    """Who must have a second factor, and the days they have to enrol one."""

    required_for: str
    grace_days: int
    # When the policy began to cover each role it covers: a person's grace period runs
    # from there (or from their activation, if later).
    covered_since: Mapping[Role, datetime] = field(default_factory=dict)

    def covers(self, user: User) -> bool:
        return user.role in REQUIRED_FOR[self.required_for]

    def enrol_by(self, user: User) -> datetime | None:
        """When ``user`` must have a factor by, if the policy covers them."""
        since = self.covered_since.get(user.role) if self.covers(user) else None
        if since is None:
            return None
        start = max(since, user.activated_at or since)
        return start + timedelta(days=self.grace_days)


def factor_policy() -> FactorPolicy:
    required_for, grace_days, since_by_role = db.session.execute(
        select(
            Setting.second_factor_required_for,
            Setting.second_factor_grace_days,
            Setting.second_factor_since_by_role,
        ).where(Setting.id == current_setting().id)
    ).one()
    covered_since = {Role(role): datetime.fromisoformat(at) for role, at in since_by_role.items()}
    return FactorPolicy(required_for, grace_days, covered_since)


def save_factor_policy(required_for: str, grace_days: int, *, by: User) -> None:
    if required_for not in REQUIRED_FOR:
        raise InvalidInput("Choose who must use a second factor.")
    low, high = GRACE_DAYS_LIMITS
    if not low <= grace_days <= high:
        raise InvalidInput(f"The grace period must be between {low} and {high} days.")
    # Each role keeps the date the policy began to cover it: widening the policy starts
    # the grace period only for the roles it adds, so people already covered (whose
    # grace period may be over) get no fresh one; roles it stops covering are forgotten.
    kept = factor_policy().covered_since
    now = clock.now()
    since_by_role = {
        role.value: kept.get(role, now).isoformat() for role in REQUIRED_FOR[required_for]
    }
    db.session.execute(
        update(Setting)
        .where(Setting.id == current_setting().id)
        .values(
            second_factor_required_for=required_for,
            second_factor_grace_days=grace_days,
            second_factor_since_by_role=since_by_role,
        )
    )
    audit.record(
        "second_factor.policy_changed", actor=by, required_for=required_for, grace_days=grace_days
    )
    db.session.flush()


def step_after_password_and_pin(user: User) -> str | None:
    """What ``user``, whose password and PIN were right, must do before being signed in:
    give their second factor, enrol one (the policy's grace period is over), or nothing."""
    if has_second_factor(user):
        audit.record("second_factor.asked", subject=user)
        return VERIFY
    if must_enrol_now(user):
        audit.record("second_factor.enrolment_required", subject=user)
        return ENROL
    return None


def must_enrol_now(user: User) -> bool:
    """Whether the policy sends ``user`` to enrolment at this sign-in."""
    deadline = factor_policy().enrol_by(user)
    return deadline is not None and deadline <= clock.now() and not has_second_factor(user)


def enrolment_ahead(user: User) -> datetime | None:
    """When the policy will hold ``user`` (who has no second factor) at enrolment, while
    that is still to come; None if it never will or already does."""
    deadline = factor_policy().enrol_by(user)
    return deadline if deadline is not None and deadline > clock.now() else None


def lacking_required_factor(policy: FactorPolicy) -> ColumnElement[bool] | None:
    """The condition on a ``User`` row of an active person the policy covers who has no
    second factor; None while the policy covers nobody."""
    roles = REQUIRED_FOR[policy.required_for]
    if not roles:
        return None
    return and_(User.status == AccountStatus.ACTIVE, User.role.in_(roles), ~with_second_factor())


def enrolment_deadlines(
    policy: FactorPolicy, people: Iterable[User]
) -> list[tuple[User, datetime, bool]]:
    """Each of ``people`` (found by ``lacking_required_factor``) with their deadline to
    enrol, and whether it has passed."""
    now = clock.now()
    return [
        (user, deadline, deadline <= now)
        for user in people
        if (deadline := policy.enrol_by(user)) is not None
    ]
