"""Mail to internationalised addresses: as they are where the SMTP server offers SMTPUTF8;
to the domain's ASCII (``xn--``) form where it does not. A non-ASCII local part cannot be
written in ASCII at all: with no SMTPUTF8 it fails at once, recorded, never retried.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from app import clock
from app.auth.models import Role
from app.auth.operations import invite_user
from app.devservers import free_port
from app.extensions import db
from app.mail.delivery import deliver_due_messages
from app.mail.models import DeliveryStatus, OutboxMessage
from tests.fixtures.smtp import Inbox
from tests.helpers.people import inside, signed_in


def _server(app, monkeypatch, *, smtputf8: bool) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=smtputf8)
    controller.start()
    monkeypatch.setattr(app.config["LJ"], "SMTP_PORT", controller.port)
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def with_smtputf8(app, monkeypatch) -> Iterator[Inbox]:
    yield from _server(app, monkeypatch, smtputf8=True)


@pytest.fixture
def without_smtputf8(app, monkeypatch) -> Iterator[Inbox]:
    yield from _server(app, monkeypatch, smtputf8=False)


def _invite(app, slug: str, address: str) -> OutboxMessage:
    """Invite ``address``: the invitation is delivered at commit; its outbox row after."""
    with inside(app, slug):
        invite_user("Kim Lind", address, Role.PARENT, None)
        db.session.commit()
    with inside(app, slug):
        message = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.to_address == address)
        ).one()
        db.session.expunge(message)
        return message


def _addressed_to(inbox: Inbox) -> list[str]:
    return [str(message["To"]) for message in inbox.messages]


def test_a_server_with_smtputf8_gets_the_address_as_it_is(app, nursery, with_smtputf8):
    address = "kim@bücher.example"
    message = _invite(app, nursery.slug, address)
    assert message.status is DeliveryStatus.SENT, message.last_error
    assert _addressed_to(with_smtputf8) == [address]


def test_a_server_without_smtputf8_gets_the_domains_ascii_form(app, nursery, without_smtputf8):
    message = _invite(app, nursery.slug, "kim@bücher.example")
    assert message.status is DeliveryStatus.SENT, message.last_error
    assert _addressed_to(without_smtputf8) == ["kim@xn--bcher-kva.example"]


def test_a_non_ascii_local_part_with_no_smtputf8_fails_once_recorded(
    app, nursery, without_smtputf8
):
    address = "kím@bücher.example"
    message = _invite(app, nursery.slug, address)
    assert (message.status, message.attempts) == (DeliveryStatus.FAILED, 1)
    assert message.next_attempt_at is None and message.body_text is None
    assert "SMTPUTF8" in message.last_error and address in message.last_error
    clock.advance(timedelta(days=1))
    with inside(app, nursery.slug):
        assert deliver_due_messages() == {"sent": 0, "bounced": 0, "failed": 0, "deferred": 0}
    assert without_smtputf8.messages == []
    page = signed_in(app, nursery, "manager").get("/").text
    assert f"To {address}" in page and "not delivered after 1 try (" in page


def test_the_same_local_part_goes_through_a_server_with_smtputf8(app, nursery, with_smtputf8):
    message = _invite(app, nursery.slug, "kím@bücher.example")
    assert message.status is DeliveryStatus.SENT, message.last_error
    assert _addressed_to(with_smtputf8) == ["kím@bücher.example"]
