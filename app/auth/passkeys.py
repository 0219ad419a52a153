"""Passkeys (WebAuthn) as a second factor, with the ``webauthn`` library.

The relying party is the setting's own host (``sunnyside.example.org``), never the
base domain: a browser offers a passkey only on the host it was made for, and we
check the host in every signed response, so a passkey made at one setting is
useless at another. Credentials are looked up among the person's own passkeys in
the setting's schema, which cannot see another setting's.

Each ceremony's challenge lives in the session and is used once. The browser's
part is ``static/passkeys.js``, which posts the signed response in an ordinary
form, so the pages that follow are ordinary pages.
"""

from __future__ import annotations

import json
from typing import Any

import webauthn
from flask import request, session
from sqlalchemy import select
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from app import clock
from app.auth.factors import has_second_factor, passkeys_of
from app.auth.models import Passkey, User
from app.auth.second_factor import (
    after_removal,
    check_may_try,
    new_recovery_codes,
    notify,
    refuse_passkey,
    used,
)
from app.extensions import db
from app.validation import InvalidInput
from tenants.binding import current_setting

CHALLENGE_KEY = "webauthn_challenge"
CHALLENGE_SECONDS = 300
NAME_LENGTH = 60
# What reading a browser's answer raises when it is not a well-formed one: JSON nested too
# deep to parse is a RecursionError, which is no ValueError (a form field holds 20,000 characters).
UNREADABLE = (WebAuthnException, ValueError, KeyError, TypeError, RecursionError)


class PasskeyRefused(InvalidInput):
    """A registration the browser sent that does not verify (nothing was counted)."""


def _rp_id() -> str:
    """This setting's host, without a port: the only place its passkeys work."""
    return request.host.partition(":")[0].lower()


def _origin() -> str:
    return f"{request.scheme}://{request.host}"


def _remember_challenge(challenge: bytes, purpose: str) -> None:
    session[CHALLENGE_KEY] = {
        "challenge": bytes_to_base64url(challenge),
        "purpose": purpose,
        "at": clock.now().timestamp(),
    }


def _take_challenge(purpose: str) -> bytes | None:
    """The challenge of this session's ceremony for ``purpose``, once; None if none or stale."""
    saved = session.pop(CHALLENGE_KEY, None)
    if not saved or saved["purpose"] != purpose:
        return None
    if clock.now().timestamp() - saved["at"] > CHALLENGE_SECONDS:
        return None
    return base64url_to_bytes(saved["challenge"])


def _descriptors(user: User) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=p.credential_id) for p in passkeys_of(user)]


def _user_handle(user: User) -> bytes:
    # Stable per person and setting, and names nobody: the id of the account row.
    return f"{current_setting().id}:{user.id}".encode()


# ---------------------------------------------------------------- registering


def registration_options(user: User) -> str:
    """The options ``navigator.credentials.create`` needs, as JSON."""
    options = webauthn.generate_registration_options(
        rp_id=_rp_id(),
        rp_name=current_setting().name,
        user_id=_user_handle(user),
        user_name=user.email,
        user_display_name=user.full_name,
        exclude_credentials=_descriptors(user),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    _remember_challenge(options.challenge, "register")
    return webauthn.options_to_json(options)


def _clean_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name or len(name) > NAME_LENGTH:
        raise InvalidInput(f"Give the passkey a name of 1 to {NAME_LENGTH} characters.")
    return name


def register(user: User, credential: str, name: str) -> list[str] | None:
    """Keep a new passkey of ``user``; returns new recovery codes if it is their first factor."""
    clean = _clean_name(name)
    challenge = _take_challenge("register")
    if challenge is None:
        raise PasskeyRefused("That took too long. Please try adding the passkey again.")
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=_rp_id(),
            expected_origin=_origin(),
        )
    except UNREADABLE as error:
        raise PasskeyRefused(
            "Your browser's answer could not be checked. Please try again."
        ) from error
    taken = db.session.scalar(
        select(Passkey.id).where(Passkey.credential_id == verified.credential_id)
    )
    if taken is not None:
        raise PasskeyRefused("That passkey is already registered.")
    first = not has_second_factor(user)
    db.session.add(
        Passkey(
            user_id=user.id,
            name=clean,
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            created_at=clock.now(),
        )
    )
    db.session.flush()
    notify(user, "added", factor="passkey", name=clean)
    return new_recovery_codes(user) if first else None


def _passkey_of(user: User, passkey_id: int) -> Passkey | None:
    return db.session.scalar(
        select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user.id)
    )


def rename(user: User, passkey_id: int, name: str) -> Passkey | None:
    """Give one of ``user``'s passkeys a new name; None if they have none with that id."""
    passkey = _passkey_of(user, passkey_id)
    if passkey is not None:
        passkey.name = _clean_name(name)
        db.session.flush()
    return passkey


def remove(user: User, passkey_id: int) -> Passkey | None:
    """Remove one of ``user``'s passkeys; None if they have none with that id."""
    passkey = _passkey_of(user, passkey_id)
    if passkey is None:
        return None
    db.session.delete(passkey)
    db.session.flush()
    notify(user, "removed", factor="passkey", name=passkey.name)
    after_removal(user)
    return passkey


# ---------------------------------------------------------------- signing in


def sign_in_options(user: User) -> str:
    """The options ``navigator.credentials.get`` needs, offering only ``user``'s passkeys."""
    options = webauthn.generate_authentication_options(
        rp_id=_rp_id(),
        allow_credentials=_descriptors(user),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    _remember_challenge(options.challenge, "sign_in")
    return webauthn.options_to_json(options)


def _credential_id(credential: str) -> bytes | None:
    try:
        parsed: Any = json.loads(credential)
        return base64url_to_bytes(parsed["rawId"])
    except UNREADABLE:
        return None


def verify_sign_in(user: User, credential: str) -> str:
    """Check a passkey's signed answer at sign-in; a refusal counts toward the lockout
    (``SecondFactorRefused``)."""
    check_may_try(user)
    challenge = _take_challenge("sign_in")
    credential_id = _credential_id(credential)
    passkey = next((p for p in passkeys_of(user) if p.credential_id == credential_id), None)
    if challenge is None or passkey is None:
        refuse_passkey(user)
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=_rp_id(),
            expected_origin=_origin(),
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
        )
    except UNREADABLE:
        refuse_passkey(user)
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = clock.now()
    used(user, "passkey", name=passkey.name)
    return "passkey"
