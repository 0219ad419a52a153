"""The outbox: every email the service sends, in the setting's schema, until it is delivered."""

from __future__ import annotations

import enum
from datetime import datetime

from blinker import Namespace
from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tenants.schema import TenantModel, text_enum

SMTP_ANSWER_LENGTH = 200  # the SMTP server's answer (or our error), cut to this length


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its first try, or for a retry
    SENT = "sent"  # the SMTP server took it
    BOUNCED = "bounced"  # the SMTP server refused the recipient for good (5xx)
    FAILED = "failed"  # still refused (4xx) or unreachable after every retry, or unsendable
    # at once (an address that needs SMTPUTF8 the server does not offer)


class OutboxMessage(TenantModel):
    """One email, written in the transaction of the change it is about.

    The bodies are kept only until the message is sent, bounced or has failed:
    they hold one-time links, and a delivered message has no further use for
    them. The rest (to whom, what, when, the outcome) stays as the record the
    manager's "Needs attention" list and the sweep's "told" read.
    """

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    template: Mapped[str] = mapped_column(String(60))
    # The account the message is for, when there is one.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    message_id: Mapped[str] = mapped_column(String(250))  # the same on every try
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[DeliveryStatus] = mapped_column(text_enum(DeliveryStatus, "delivery_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When the next try is due; None once the message is sent, bounced or failed.
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(SMTP_ANSWER_LENGTH))


_signals = Namespace()

email_delivered = _signals.signal("email-delivered")
"""Sent with the ``OutboxMessage`` the SMTP server has just taken, inside the
delivery's transaction: a feature records what the delivery means to it (the
sweep: the parent has been told) atomically with the message being marked sent."""
