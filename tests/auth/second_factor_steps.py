"""What a person does with their second factor, as HTTP requests (shared by the tests)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pyotp
from sqlalchemy import select

from app import clock
from app.auth.models import AuditEntry
from app.extensions import db
from tenants.binding import tenant_context
from tests.helpers.clients import csrf_token

SECRET_KEY_SHOWN = re.compile(r'<code class="secret-key">([A-Z2-7]+)</code>')
RECOVERY_CODE_SHOWN = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")
# The start of a 30-second step, so moving by whole steps lands in known steps.
STEP_START = datetime(2026, 12, 2, 9, 0, 0, tzinfo=UTC)


def start_at_a_step_boundary() -> None:
    clock.move_to(STEP_START + timedelta(seconds=1))


def code_now(secret: str, steps: int = 0) -> str:
    """The code the person's app shows now (or ``steps`` steps away)."""
    return pyotp.TOTP(secret).at(clock.now() + timedelta(seconds=30 * steps))


def enrol_totp(client) -> tuple[str, list[str]]:
    """Set up an authenticator app from the account page; returns its secret and the
    recovery codes shown."""
    token = csrf_token(client, "/account/second-factor")
    started = client.post("/account/second-factor/totp", data={"csrf_token": token})
    assert started.status_code == 303, started.text
    page = client.get("/account/second-factor/totp")
    secret = SECRET_KEY_SHOWN.search(page.text).group(1)
    assert 'src="data:image/svg+xml' in page.text  # the QR code, made by us
    confirmed = client.post(
        "/account/second-factor/totp/confirm",
        data={"code": code_now(secret), "csrf_token": token},
    )
    assert confirmed.status_code == 200, confirmed.text
    return secret, [html.unescape(c) for c in RECOVERY_CODE_SHOWN.findall(confirmed.text)]


def give_code(client, code: str):
    """Answer the second-factor step with a code; returns the response."""
    token = csrf_token(client, "/login/second-factor")
    return client.post("/login/second-factor", data={"code": code, "csrf_token": token})


def sign_out(client) -> None:
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


def audit_events(app, slug: str) -> list[tuple[str, dict]]:
    with app.app_context(), tenant_context(slug):
        rows = db.session.execute(
            select(AuditEntry.event, AuditEntry.detail).order_by(AuditEntry.id)
        )
        return [(event, detail) for event, detail in rows]
