"""Writing an email to the outbox, in the transaction of the change it is about."""

from __future__ import annotations

from datetime import timedelta
from email.utils import make_msgid

from flask import render_template
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.mail.delivery import deliver_email_task
from app.mail.models import DeliveryStatus, OutboxMessage
from tenants.binding import current_setting
from workers.after_commit import send_task_after_commit


def queue_email(
    to: str, subject: str, template: str, *, user_id: int | None = None, **context: object
) -> OutboxMessage:
    """Render ``mail/<template>.txt`` and ``.html`` and add the message to the bound setting's
    outbox; flushes, never commits.

    The message goes out after the transaction commits (a delivery task is sent
    then); if it rolls back, the message is gone with it. ``user_id`` names the
    account the message is for, so a permanent refusal can be recorded on it.
    Returns the outbox row, whose status tells what became of the message.
    """
    message = OutboxMessage(
        to_address=to.strip().lower(),
        subject=subject,
        template=template,
        user_id=user_id,
        message_id=make_msgid(domain="learning-journals"),
        body_text=render_template(f"mail/{template}.txt", **context),
        body_html=render_template(f"mail/{template}.html", **context),
        status=DeliveryStatus.PENDING,
        attempts=0,
        queued_at=clock.now(),
        next_attempt_at=clock.now(),
    )
    session = db.session()
    session.add(message)
    session.flush()
    send_task_after_commit(session, deliver_email_task, current_setting().slug)
    return message


FAILED_SHOWN_FOR = timedelta(days=30)


def failed_messages() -> list[OutboxMessage]:
    """The bound setting's messages that could not be delivered after every retry, newest
    first, from the last 30 days (refusals for good are listed on the accounts instead)."""
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == DeliveryStatus.FAILED,
                OutboxMessage.finished_at >= clock.now() - FAILED_SHOWN_FOR,
            )
            .order_by(OutboxMessage.finished_at.desc(), OutboxMessage.id.desc())
        )
    )
