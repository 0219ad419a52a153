"""A real Celery worker delivers the outbox: SMTP down, then up, and the message arrives once."""

from __future__ import annotations

from aiosmtpd.controller import Controller
from sqlalchemy import select

from app.auth.models import Role
from app.auth.operations import invite_user
from app.extensions import db
from app.mail.models import DeliveryStatus, OutboxMessage
from tenants.binding import tenant_context
from tests.fixtures.smtp import Inbox, closed_port, text_of
from tests.helpers.workers import wait_until


def _outbox_row(app, slug: str, address: str) -> OutboxMessage | None:
    with app.app_context(), tenant_context(slug):
        row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.to_address == address))
        db.session.expunge_all()
        return row


def test_smtp_down_then_up_a_worker_delivers_the_message_once(app, make_setting, start_worker):
    slug = make_setting().slug
    smtp_port = closed_port()
    # Nothing answers on its SMTP port yet; it tries again after 1 s, 2 s, 4 s...
    worker = start_worker(slug, SMTP_PORT=str(smtp_port), MAIL_RETRY_SECONDS="1")
    worker.wait_ready()
    address = f"kim@{slug}.example.org"

    with app.app_context(), tenant_context(slug):
        invite_user("Kim Lind", address, Role.PARENT, None)
        db.session.commit()

    def refused_once() -> bool:
        row = _outbox_row(app, slug, address)
        return row is not None and row.attempts >= 1

    wait_until(refused_once, 20, "the worker's first try to be refused")
    row = _outbox_row(app, slug, address)
    assert row.status is DeliveryStatus.PENDING and "refused" in row.last_error.lower()

    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    server.start()  # the mail server is back
    try:
        wait_until(lambda: inbox.to(address, 0), 30, "the worker to try again and deliver")
        wait_until(
            lambda: _outbox_row(app, slug, address).status is DeliveryStatus.SENT,
            10,
            "the message to be marked sent",
        )
    finally:
        server.stop()
    [message] = inbox.to(address)
    assert message["To"] == address and "/activate/" in text_of(message)
    assert _outbox_row(app, slug, address).body_text is None


def test_a_password_reset_asked_on_the_web_is_emailed_by_a_worker(
    app, make_setting, start_worker, mail_outbox
):
    from tests.helpers.clients import client_for, csrf_token, make_user

    slug = make_setting().slug
    with app.app_context():
        email = make_user(slug, role="parent")
    worker = start_worker(slug)
    worker.wait_ready()
    visitor = client_for(app, slug)

    answer = visitor.post(
        "/password/forgot",
        data={"email": email, "csrf_token": csrf_token(visitor, "/password/forgot")},
    )

    assert answer.status_code == 200
    [message] = mail_outbox.to(email, timeout=30)
    assert f"{slug}." in text_of(message) and "/password/reset/" in text_of(message)
    worker.wait_for_log("auth.request_reset")
