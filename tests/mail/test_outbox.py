"""Email goes through the outbox: written with the change, delivered after commit, never lost.

Tasks run in the test's process at commit here (``LJ_TASKS_IN_PROCESS``); the
same delivery through a real Celery worker is in tests/workers/test_mail_worker.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from app import clock
from app.auth.models import Role, User
from app.auth.operations import invite_user
from app.devservers import free_port
from app.extensions import db
from app.mail.delivery import deliver_due_messages
from app.mail.models import DeliveryStatus, OutboxMessage
from tests.fixtures.smtp import Inbox, text_of
from tests.helpers.clients import post_form
from tests.helpers.people import email_of, inside, signed_in


def _messages_to(app, slug: str, address: str) -> list[OutboxMessage]:
    with inside(app, slug):
        rows = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.to_address == address)
        ).all()
        db.session.expunge_all()
        return list(rows)


def _invite(app, slug: str, address: str) -> None:
    with inside(app, slug):
        invite_user("Kim Lind", address, Role.PARENT, None)
        db.session.commit()


def _deliver(app, slug: str) -> dict[str, int]:
    with inside(app, slug):
        return deliver_due_messages()


def test_an_invitation_rolled_back_sends_no_mail(app, make_setting, mail_outbox):
    setting = make_setting()
    with inside(app, setting.slug):
        invite_user("Rolled Back", "rolled@example.org", Role.PARENT, None)
        db.session.rollback()
        invite_user("Kept Person", "kept@example.org", Role.PARENT, None)
        assert mail_outbox.to("kept@example.org", timeout=0.2) == []  # not before COMMIT
        db.session.commit()
    [message] = mail_outbox.to("kept@example.org")
    assert mail_outbox.to("rolled@example.org", timeout=0.3) == []
    assert _messages_to(app, setting.slug, "rolled@example.org") == []
    assert {part.get_content_type() for part in message.iter_parts()} == {"text/plain", "text/html"}


def test_the_web_request_only_writes_the_outbox_and_a_worker_sends_it(
    app, nursery, mail_outbox, tasks_left_to_workers
):
    address = f"kim@{nursery.slug}.example.org"
    manager = signed_in(app, nursery, "manager")

    invited = post_form(
        manager,
        f"/people/children/{nursery.other_child_id}/parents",
        {"full_name": "Kim Lind", "email": address, "relationship": "Dad", "confirmed": "yes"}
        | {"shown_parent_id": "new"},
    )

    assert invited.status_code == 303
    assert mail_outbox.to(address, timeout=0.3) == []
    [queued] = _messages_to(app, nursery.slug, address)
    assert queued.status is DeliveryStatus.PENDING and "/activate/" in queued.body_text
    assert _deliver(app, nursery.slug)["sent"] == 1
    [message] = mail_outbox.to(address)
    assert "/activate/" in text_of(message)


def test_smtp_down_then_up_the_message_arrives_once(app, nursery, mail_outbox, smtp_down):
    address = f"kim@{nursery.slug}.example.org"
    _invite(app, nursery.slug, address)  # delivery is tried at commit: refused

    [waiting] = _messages_to(app, nursery.slug, address)
    assert waiting.status is DeliveryStatus.PENDING and waiting.attempts == 1
    assert "refused" in waiting.last_error.lower()
    assert waiting.next_attempt_at > clock.now()
    assert _deliver(app, nursery.slug)["deferred"] == 0, "tried again before its time"

    smtp_down()  # the server is back
    clock.advance(timedelta(minutes=1))
    assert _deliver(app, nursery.slug)["sent"] == 1
    clock.advance(timedelta(hours=2))
    assert _deliver(app, nursery.slug) == {"sent": 0, "bounced": 0, "failed": 0, "deferred": 0}

    assert len(mail_outbox.to(address)) == 1
    [sent] = _messages_to(app, nursery.slug, address)
    assert (sent.status, sent.attempts) == (DeliveryStatus.SENT, 2)
    assert sent.body_text is None and sent.body_html is None, "the link outlived its delivery"


def test_retries_back_off_and_a_message_never_taken_fails_and_is_shown_to_the_manager(
    app, nursery, mail_outbox, smtp_down
):
    address = f"kim@{nursery.slug}.example.org"
    _invite(app, nursery.slug, address)
    waits = []
    while (message := _messages_to(app, nursery.slug, address)[0]).next_attempt_at:
        waits.append(message.next_attempt_at - clock.now())
        clock.advance(waits[-1])
        _deliver(app, nursery.slug)

    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60)]
    assert (message.status, message.attempts) == (DeliveryStatus.FAILED, 8)
    assert message.body_text is None
    smtp_down()
    page = signed_in(app, nursery, "manager").get("/").text
    attention = re.search(r'<section aria-labelledby="attention-heading".*?</section>', page, re.S)
    assert "would not take, after every retry" in attention.group(0)
    assert address in attention.group(0) and "not delivered after 8 tries" in attention.group(0)
    assert mail_outbox.to(address, timeout=0.2) == []


def test_a_permanent_refusal_is_recorded_once_and_never_retried(app, nursery, mail_outbox):
    address = f"kim@{nursery.slug}.exmaple.org"
    mail_outbox.refuse(address)
    _invite(app, nursery.slug, address)
    clock.advance(timedelta(days=1))
    assert _deliver(app, nursery.slug)["bounced"] == 0

    [bounced] = _messages_to(app, nursery.slug, address)
    assert (bounced.status, bounced.attempts) == (DeliveryStatus.BOUNCED, 1)
    assert bounced.last_error == "550 No such user" and bounced.body_text is None
    with inside(app, nursery.slug):
        user = db.session.scalar(select(User).where(User.email == address))
        assert user.email_bounce_reason == "550 No such user"


def test_a_temporary_refusal_is_tried_again_and_goes_through(app, nursery, mail_outbox):
    address = f"kim@{nursery.slug}.example.org"
    mail_outbox.refuse(address, "450 Mailbox busy, try again later")
    _invite(app, nursery.slug, address)
    [busy] = _messages_to(app, nursery.slug, address)
    assert busy.status is DeliveryStatus.PENDING and busy.last_error.startswith("450")

    mail_outbox.refusals.clear()
    clock.advance(timedelta(minutes=1))
    assert _deliver(app, nursery.slug)["sent"] == 1
    assert len(mail_outbox.to(address)) == 1


def test_a_password_reset_goes_through_the_outbox_with_the_public_url(app, nursery, mail_outbox):
    anonymous = signed_in(app, nursery, "anonymous")
    address = email_of(nursery, "parent")
    assert post_form(anonymous, "/password/forgot", {"email": address}).status_code == 200
    [message] = mail_outbox.to(address)
    public_url = app.config["LJ"].PUBLIC_URL
    scheme, domain = public_url.split("://")
    assert f"{scheme}://{nursery.slug}.{domain}/password/reset/" in text_of(message)
    [row] = _messages_to(app, nursery.slug, address)
    assert row.status is DeliveryStatus.SENT


class AnswersQuitWith4xx(Inbox):
    """A server that takes the message, then answers QUIT as one shutting down may."""

    async def handle_QUIT(self, server, session, envelope) -> str:
        return "421 4.3.2 Service shutting down"


@pytest.fixture
def quit_answered_with_4xx(app, monkeypatch) -> Iterator[Inbox]:
    inbox = AnswersQuitWith4xx()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setattr(app.config["LJ"], "SMTP_PORT", controller.port)
    yield inbox
    controller.stop()


def test_a_message_the_server_took_is_sent_once_whatever_it_answers_to_quit(
    app, nursery, quit_answered_with_4xx
):
    address = f"kim@{nursery.slug}.example.org"
    _invite(app, nursery.slug, address)

    [sent] = _messages_to(app, nursery.slug, address)
    assert (sent.status, sent.attempts) == (DeliveryStatus.SENT, 1), sent.last_error
    clock.advance(timedelta(hours=2))
    assert _deliver(app, nursery.slug)["sent"] == 0
    assert len(quit_answered_with_4xx.to(address)) == 1
