"""Outgoing email over SMTP, sent only once the database transaction has committed.

A view or operation calls ``send_after_commit``; the message waits on the
session and goes out after COMMIT, so nobody is emailed about a change that
was rolled back. Every message has a text and an HTML part.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app, render_template
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db

log = logging.getLogger(__name__)
_PENDING_KEY = "lj_pending_mail"


def compose(to: str, subject: str, template: str, **context: object) -> EmailMessage:
    """Render ``mail/<template>.txt`` and ``.html`` into one message."""
    message = EmailMessage()
    message["From"] = current_app.config["LJ"].MAIL_FROM
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="learning-journals")
    message.set_content(render_template(f"mail/{template}.txt", **context))
    message.add_alternative(render_template(f"mail/{template}.html", **context), subtype="html")
    return message


def deliver(message: EmailMessage) -> None:
    """Hand one message to the SMTP server; a failure is logged, never raised to the user."""
    config = current_app.config["LJ"]
    try:
        with smtplib.SMTP(config.SMTP_HOST, config.SMTP_PORT, timeout=10) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException):
        log.exception("could not send mail %r to the SMTP server", message["Subject"])


def send_after_commit(to: str, subject: str, template: str, **context: object) -> None:
    """Queue a message to go out when the current transaction commits."""
    message = compose(to, subject, template, **context)
    db.session().info.setdefault(_PENDING_KEY, []).append(message)


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for message in session.info.pop(_PENDING_KEY, []):
        deliver(message)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
