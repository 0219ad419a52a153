"""The rules of accounts: invitations, activation, sign-in, resets, email changes, deactivation.

Operations flush and never commit; the request (``app.request_transaction``), CLI
command or job that calls them commits once. Emails are written to the outbox in that
transaction and delivered by a worker after the commit (``app.mail``).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from app import clock
from app.auth import audit
from app.auth.links import (
    find_usable_link,
    issue_link,
    sent_a_moment_ago,
    use_link,
    void_open_links,
)
from app.auth.models import (
    BROWSER_NAME_LENGTH,
    AccountStatus,
    KnownBrowser,
    LinkPurpose,
    Role,
    User,
)
from app.auth.sessions import ACCESS_ENDED, end_all_sessions_of
from app.extensions import db
from app.mail import queue_email
from app.ops.metrics import SIGN_IN_FAILURES
from app.security.policy import password_problems, pin_problems
from app.security.secrets import (
    check_password,
    check_password_and_pin,
    check_pin,
    hash_password,
    hash_pin,
    password_needs_rehash,
    pin_needs_rehash,
)
from app.validation import InvalidInput, clean_email, clean_name, email_to_look_up
from tenants.binding import current_setting
from tenants.routing import setting_url

COOLDOWN_AFTER_FAILURES = 5
COOLDOWN = timedelta(minutes=15)
LOCK_AFTER_FAILURES = 10


class DeactivatedAccount(InvalidInput):
    """The email belongs to a deactivated account: offer to reactivate it instead."""

    def __init__(self, user: User) -> None:
        super().__init__(f"{user.email} belongs to {user.full_name}, whose account is deactivated.")
        self.user = user


class SecretsRefused(InvalidInput):
    """The chosen password or PIN breaks the policy; ``problems`` lists each reason."""

    def __init__(self, problems: dict[str, list[str]]) -> None:
        super().__init__("; ".join(p for found in problems.values() for p in found))
        self.problems = problems


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email_to_look_up(email)))


def _email_in_use(email: str, *, except_user: User | None = None) -> bool:
    query = select(func.count()).select_from(User).where(User.email == email)
    if except_user is not None:
        query = query.where(User.id != except_user.id)
    return bool(db.session.scalar(query))


def email_setting_message(
    to: str, subject: str, template: str, user: User, *, path: str | None = None, **extra: object
) -> None:
    """Email ``user`` (at ``to``) about this setting, with a link to ``path`` on its subdomain.

    Never to a deactivated account: its access has ended, and what happens to it (a
    manager removing its second factors) is no longer the person's to act on.
    A reactivated one is emailed its invitation once it is invited again.
    """
    if user.status is AccountStatus.DEACTIVATED:
        return
    setting = current_setting()
    link = setting_url(setting.slug, path) if path else None
    queue_email(
        to,
        subject.format(setting=setting.name),
        template,
        user_id=user.id,
        user=user,
        setting_name=setting.name,
        link=link,
        **extra,
    )


def _email_activation_link(user: User) -> None:
    link = issue_link(user, LinkPurpose.ACTIVATION)
    email_setting_message(
        user.email,
        "Your invitation to {setting}'s learning journals",
        "activation",
        user,
        path=f"/activate/{link.token}",
        expires_at=link.expires_at,
    )


def invite_user(full_name: str, email: str, role: Role, invited_by: User | None) -> User:
    """Create an invited account and email its one-time activation link."""
    user = User(
        full_name=clean_name(full_name),
        email=clean_email(email),
        role=role,
        status=AccountStatus.INVITED,
    )
    refuse_email_in_use(user.email)
    db.session.add(user)
    db.session.flush()
    send_invitation(user, by=invited_by)
    return user


def refuse_email_in_use(email: str) -> None:
    """``DeactivatedAccount`` if a deactivated account has the address (it can come back),
    ``InvalidInput`` if anyone else uses it."""
    existing = user_by_email(email)
    if existing is None:
        return
    if existing.status is AccountStatus.DEACTIVATED:
        raise DeactivatedAccount(existing)
    raise InvalidInput("Someone at this setting already uses that email address.")


def send_invitation(user: User, *, by: User | None) -> None:
    """Email an invited person their activation link (the first manager's comes from the CLI)."""
    _email_activation_link(user)
    audit.record("invited", actor=by, subject=user, role=user.role.value)


def resend_invitation(user: User, by: User | None) -> bool:
    """A fresh activation link; the previous one stops working. False, sending nothing,
    when the invitation went a moment ago (a second tap)."""
    _refuse_unless_invited(user, "This person has already activated their account.")
    if sent_a_moment_ago(user, LinkPurpose.ACTIVATION):
        return False
    _email_activation_link(user)
    audit.record("invitation_resent", actor=by, subject=user)
    return True


def _refuse_unless_invited(user: User, refusal: str) -> None:
    """``InvalidInput`` unless the account is still waiting to be activated; an invitation
    whose account was deactivated comes back only by reactivating it (which also ends any
    notice that their access ends)."""
    if user.status is AccountStatus.DEACTIVATED:
        raise InvalidInput(
            f"{user.full_name}'s account is deactivated: Reactivate it from their page "
            "to send them a new invitation."
        )
    if user.status is not AccountStatus.INVITED:
        raise InvalidInput(refusal)


def correct_invited_email(user: User, new_email: str, by: User) -> None:
    """Fix a misspelt address before activation and re-send the invitation there."""
    _refuse_unless_invited(
        user, "Only invitations can be corrected; the person can change their own email."
    )
    email = clean_email(new_email)
    if _email_in_use(email, except_user=user):
        raise InvalidInput("Someone at this setting already uses that email address.")
    user.email = email
    _forget_bounce(user)
    db.session.flush()
    _email_activation_link(user)
    # The audit log names people by id only, never by address: a purge that removes the
    # account must leave no email of theirs behind.
    audit.record("invitation_email_corrected", actor=by, subject=user)


def _forget_bounce(user: User) -> None:
    """A new address starts clean; if mail to it is refused too, delivery records it again."""
    user.email_bounced_at = None
    user.email_bounce_reason = None


def _check_secrets(user: User, password: str, pin: str) -> None:
    problems = {
        "password": password_problems(password, email=user.email, full_name=user.full_name),
        "pin": pin_problems(pin),
    }
    if any(problems.values()):
        raise SecretsRefused({k: v for k, v in problems.items() if v})


def _set_secrets(user: User, password: str, pin: str) -> None:
    _check_secrets(user, password, pin)
    user.password_hash = hash_password(password)
    user.pin_hash = hash_pin(pin)
    user.failed_signins = 0
    user.cooldown_until = None
    user.locked_at = None


def activate_account(token: str, password: str, pin: str) -> User:
    """Redeem an activation link: set password and PIN and make the account active."""
    link = find_usable_link(token, LinkPurpose.ACTIVATION)
    user = db.session.get_one(User, link.user_id)
    _set_secrets(user, password, pin)
    user.status = AccountStatus.ACTIVE
    user.activated_at = clock.now()
    use_link(link)
    audit.record("activated", subject=user)
    return user


def count_failure(user: User) -> None:
    """One more failed attempt at this account's secrets or second factor: 5 cool it down
    for 15 minutes, 10 lock it until a reset by email."""
    user.failed_signins += 1
    if user.failed_signins >= LOCK_AFTER_FAILURES and user.locked_at is None:
        user.locked_at = clock.now()
        audit.record("locked", subject=user, failures=user.failed_signins)
        # The sign-in page says nothing of a lock (it must not tell a guesser the account
        # exists): the owner learns it here, with the way out, and no link that unlocks.
        email_setting_message(
            user.email,
            "Your account at {setting} is locked",
            "account_locked",
            user,
            path="/password/forgot",
            failures=user.failed_signins,
        )
    elif user.failed_signins % COOLDOWN_AFTER_FAILURES == 0:
        user.cooldown_until = clock.now() + COOLDOWN
        audit.record("cooldown", subject=user, failures=user.failed_signins)


def may_sign_in(user: User) -> bool:
    """Whether the account may try to sign in now (active, not locked, not cooling down)."""
    if user.status is not AccountStatus.ACTIVE or user.locked_at is not None:
        return False
    return user.cooldown_until is None or user.cooldown_until <= clock.now()


def authenticate(email: str, password: str, pin: str) -> User | None:
    """The user whose email, password and PIN these are (not signed in yet), or None.

    Both secrets are always checked (against a dummy hash for unknown emails), at the
    same time, so every refusal costs about the same time and says nothing about why.
    """
    user = user_by_email(email) if len(email) <= 254 else None
    password_ok, pin_ok = check_password_and_pin(
        password, user.password_hash if user else None, pin, user.pin_hash if user else None
    )
    if user is None:
        _refuse("unknown_email")
        return None
    allowed = may_sign_in(user)
    if not (password_ok and pin_ok and allowed):
        if allowed:
            count_failure(user)
        _refuse(refusal_reason(user, allowed), user)
        return None
    _upgrade_hashes(user, password, pin)
    return user


def complete_sign_in(user: User, *, method: str) -> None:
    """Every step passed (``app.auth.second_factor.step_after_password_and_pin``):
    earlier failures are forgiven and the sign-in is audited.

    Not before: a person with a second factor still to give keeps their count of
    failures, or knowing password and PIN would buy endless guesses at the code.
    """
    user.failed_signins = 0
    user.cooldown_until = None
    audit.record("signed_in", subject=user, method=method)


class CurrentSecretsRefused(InvalidInput):
    """The signed-in person's current password or PIN, re-checked before a change, was
    wrong, or the account may not try now. The failure is counted: commit it."""

    def __init__(self, message: str, *, locked: bool = False) -> None:
        super().__init__(message)
        self.locked = locked  # the account is now locked and signed out everywhere


def recheck_current_secrets(user: User, password: str, pin: str | None, purpose: str) -> None:
    """Re-check a signed-in person's current password (and PIN) before ``purpose``.

    Failures count toward the same cooldown and lock as sign-in failures and are
    audited, so a borrowed session cannot be used to guess the password. A lock ends
    every session of the account.
    """
    if not may_sign_in(user):
        reason = refusal_reason(user, allowed=False)
        audit.record("recheck_refused", actor=user, subject=user, purpose=purpose, reason=reason)
        raise CurrentSecretsRefused(
            "Too many wrong attempts. Please wait 15 minutes before trying again."
        )
    password_ok = check_password(password, user.password_hash)
    if password_ok and (pin is None or check_pin(pin, user.pin_hash)):
        user.failed_signins = 0
        user.cooldown_until = None
        return
    count_failure(user)
    audit.record("recheck_failed", actor=user, subject=user, purpose=purpose)
    if user.locked_at is not None:
        end_all_sessions_of(current_setting().slug, user.id)
        raise CurrentSecretsRefused(
            "Too many wrong attempts: your account is locked. "
            'Use "Forgotten your password or PIN?" on the sign-in page to unlock it.',
            locked=True,
        )
    what = "password" if pin is None else "password or PIN"
    raise CurrentSecretsRefused(f"Your current {what} is not right.")


def _refuse(reason: str, user: User | None = None) -> None:
    """Audit a refused sign-in in the setting, and count it for the operator's metrics."""
    audit.record("signin_failed", subject=user, reason=reason)
    SIGN_IN_FAILURES.labels(reason).inc()


def remember_browser(user: User, browser: str, network: str) -> None:
    """Note the browser ``user`` just signed in with; email them if it is new to the account.

    The account's first browser is noted silently: it is the person's own first sign-in.
    Two sign-ins from one new browser at once note it, and email, once.
    """
    browser = browser[:BROWSER_NAME_LENGTH]
    added = db.session.execute(
        insert(KnownBrowser)
        .values(user_id=user.id, browser=browser, first_seen_at=clock.now())
        .on_conflict_do_nothing()
        .returning(KnownBrowser.browser)
    ).first()
    others = select(KnownBrowser).where(
        KnownBrowser.user_id == user.id, KnownBrowser.browser != browser
    )
    if added is None or not db.session.scalar(select(others.exists())):
        return
    email_setting_message(
        user.email,
        "A new sign-in to your account at {setting}",
        "new_browser",
        user,
        path="/account/devices",
        browser=browser,
        network=network,
        at=clock.now(),
    )
    audit.record("new_browser", subject=user, browser=browser)


def refusal_reason(user: User, allowed: bool) -> str:
    if allowed:
        return "wrong_credentials"
    if user.status is not AccountStatus.ACTIVE:
        return user.status.value
    return "locked" if user.locked_at is not None else "cooling_down"


def _upgrade_hashes(user: User, password: str, pin: str) -> None:
    """Re-hash at the configured cost when it has changed since the hash was made."""
    if user.password_hash and password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if user.pin_hash and pin_needs_rehash(user.pin_hash):
        user.pin_hash = hash_pin(pin)


def request_reset(email: str, *, ip: str | None = None) -> None:
    """Email a reset link when the address belongs to an active account; otherwise nothing.

    ``ip``: the address of the request that asked, for the audit log.
    """
    try:
        address = clean_email(email)
    except InvalidInput:
        return
    user = user_by_email(address)
    if user is None or user.status is not AccountStatus.ACTIVE:
        return
    if sent_a_moment_ago(user, LinkPurpose.RESET):
        return
    link = issue_link(user, LinkPurpose.RESET)
    email_setting_message(
        user.email,
        "Choose a new password and PIN for {setting}",
        "reset",
        user,
        path=f"/password/reset/{link.token}",
        expires_at=link.expires_at,
    )
    audit.record("reset_requested", subject=user, ip=ip)


def reset_secrets(token: str, password: str, pin: str) -> User:
    """Redeem a reset link: new password and PIN, lock lifted, every session ended."""
    link = find_usable_link(token, LinkPurpose.RESET)
    user = db.session.get_one(User, link.user_id)
    if user.status is not AccountStatus.ACTIVE:
        raise InvalidInput("This account is no longer active. Please contact your setting.")
    _set_secrets(user, password, pin)
    use_link(link)
    end_all_sessions_of(current_setting().slug, user.id)
    audit.record("reset_completed", subject=user)
    return user


def change_secrets(
    user: User, current_password: str, current_pin: str, new_password: str, new_pin: str
) -> None:
    """Change password and/or PIN (blank keeps the current one); ends every session."""
    recheck_current_secrets(user, current_password, current_pin, "secrets_change")
    problems: dict[str, list[str]] = {}
    if new_password:
        problems["password"] = password_problems(
            new_password, email=user.email, full_name=user.full_name
        )
    if new_pin:
        problems["pin"] = pin_problems(new_pin)
    if not (new_password or new_pin):
        raise InvalidInput("Enter a new password, a new PIN, or both.")
    if any(problems.values()):
        raise SecretsRefused({k: v for k, v in problems.items() if v})
    if new_password:
        user.password_hash = hash_password(new_password)
    if new_pin:
        user.pin_hash = hash_pin(new_pin)
    db.session.flush()
    end_all_sessions_of(current_setting().slug, user.id)
    audit.record(
        "secrets_changed", actor=user, subject=user, password=bool(new_password), pin=bool(new_pin)
    )


def request_email_change(user: User, new_email: str, current_password: str) -> bool:
    """Send a confirmation link to the new address and a notice to the old one. False,
    sending nothing, when they went a moment ago for this address (a second tap)."""
    recheck_current_secrets(user, current_password, None, "email_change")
    email = clean_email(new_email)
    if email == user.email:
        raise InvalidInput("That is already your email address.")
    if _email_in_use(email, except_user=user):
        raise InvalidInput("Someone at this setting already uses that email address.")
    if sent_a_moment_ago(user, LinkPurpose.EMAIL_CHANGE, new_email=email):
        return False
    link = issue_link(user, LinkPurpose.EMAIL_CHANGE, new_email=email)
    email_setting_message(
        email,
        "Confirm your new email address for {setting}",
        "email_change_confirm",
        user,
        path=f"/account/email/confirm/{link.token}",
        expires_at=link.expires_at,
    )
    email_setting_message(
        user.email,
        "A change of email address was requested at {setting}",
        "email_change_notice",
        user,
    )
    audit.record("email_change_requested", actor=user, subject=user)
    return True


def confirm_email_change(token: str) -> User:
    link = find_usable_link(token, LinkPurpose.EMAIL_CHANGE)
    user = db.session.get_one(User, link.user_id)
    assert link.new_email is not None
    if _email_in_use(link.new_email, except_user=user):
        raise InvalidInput("Someone at this setting already uses that email address.")
    user.email = link.new_email
    user.email_confirmed_at = clock.now()
    _forget_bounce(user)
    use_link(link)
    # Reset links went to the old address, which may no longer be the person's own.
    void_open_links(user, LinkPurpose.RESET)
    audit.record("email_changed", subject=user)
    return user


def reactivate_user(user: User, *, by: User) -> None:
    """Bring a deactivated account back: it is invited again, with a fresh activation link
    by email, and the person chooses a new password and PIN (the old ones are forgotten)."""
    if user.status is not AccountStatus.DEACTIVATED:
        raise InvalidInput(f"{user.full_name}'s account is not deactivated.")
    user.status = AccountStatus.INVITED
    user.deactivated_at = None
    user.password_hash = user.pin_hash = None
    user.failed_signins = 0
    user.cooldown_until = user.locked_at = None
    db.session.flush()
    _email_activation_link(user)
    audit.record("reactivated", actor=by, subject=user, role=user.role.value)


def deactivate_user(user: User, *, by: User | None, reason: str) -> None:
    """End an account now: no sign-in, open sessions refused on their next request."""
    if user.status is AccountStatus.DEACTIVATED:
        return
    user.status = AccountStatus.DEACTIVATED
    user.deactivated_at = clock.now()
    void_open_links(user)
    db.session.flush()
    end_all_sessions_of(current_setting().slug, user.id, reason=ACCESS_ENDED)
    audit.record("deactivated", actor=by, subject=user, reason=reason)
