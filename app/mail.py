"""Outgoing email over SMTP, sent only once the database transaction has committed.

A view or operation calls ``send_after_commit``; the message waits on the
session and goes out after COMMIT, so nobody is emailed about a change that
was rolled back. Every message has a text and an HTML part.

We receive no mail, so a bounce is the SMTP server refusing a recipient for
good (a 5xx answer) while we send. It is recorded on the account using that
address in the bound setting, for the manager's "Needs attention" list.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from email.utils import getaddresses, make_msgid

from flask import current_app, render_template
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from app import clock
from app.auth.models import BOUNCE_REASON_LENGTH, User
from app.extensions import db
from tenants.binding import current_setting_or_none

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


# Refusals that say our server, greeting or sender is wrong, not the recipient's address.
_NOT_ABOUT_THE_RECIPIENT = (
    smtplib.SMTPSenderRefused,
    smtplib.SMTPConnectError,
    smtplib.SMTPHeloError,
    smtplib.SMTPAuthenticationError,
)
Refusals = dict[str, tuple[int, bytes | str]]  # address -> the server's code and answer


def deliver(message: EmailMessage) -> None:
    """Hand one message to the SMTP server; a failure is logged, never raised to the user.

    A recipient refused for good is recorded as a bounce on their account; a
    delivery that goes through clears an earlier bounce of that address.
    """
    config = current_app.config["LJ"]
    recipients = [address.lower() for _, address in getaddresses(message.get_all("To", []))]
    try:
        with smtplib.SMTP(config.SMTP_HOST, config.SMTP_PORT, timeout=10) as smtp:
            refused: Refusals = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        refused = error.recipients
    except smtplib.SMTPResponseException as error:
        if not _refuses_the_message(error):
            log.exception("could not send mail %r to the SMTP server", message["Subject"])
            return
        refused = dict.fromkeys(recipients, (error.smtp_code, error.smtp_error))
    except (OSError, smtplib.SMTPException):
        log.exception("could not send mail %r to the SMTP server", message["Subject"])
        return
    refused = {address.lower(): answer for address, answer in refused.items()}
    for address, (code, answer) in refused.items():
        log.warning("the SMTP server refused mail to %s: %s %s", address, code, _text(answer))
    bounced = {
        address: f"{code} {_text(answer)}"
        for address, (code, answer) in refused.items()
        if _is_permanent(code)
    }
    delivered = [address for address in recipients if address not in refused]
    _record_outcome(bounced, delivered)


def _is_permanent(code: int) -> bool:
    """5xx: the server will never take this message; 4xx (greylisting, a full
    mailbox for now) may pass on a later try, so it is not a bounce."""
    return 500 <= code < 600


def _text(answer: bytes | str) -> str:
    return answer.decode(errors="replace") if isinstance(answer, bytes) else answer


def _refuses_the_message(error: smtplib.SMTPResponseException) -> bool:
    return _is_permanent(error.smtp_code) and not isinstance(error, _NOT_ABOUT_THE_RECIPIENT)


def _record_outcome(bounced: dict[str, str], delivered: list[str]) -> None:
    """Mark bounced addresses and clear delivered ones on the bound setting's accounts.

    Delivery runs after the commit, outside the request's or job's transaction,
    so this is a short transaction of its own; its session is bound to the same
    setting's schema by ``tenants.binding`` like any other. A failure here is
    logged: the change that sent the mail is already saved and must stand.
    """
    if current_setting_or_none() is None:
        if bounced:
            log.warning("bounces not recorded (no setting bound): %s", ", ".join(bounced))
        return
    try:
        with Session(db.engine) as session, session.begin():
            for address, reason in bounced.items():
                session.execute(
                    update(User)
                    .where(User.email == address)
                    .values(
                        email_bounced_at=clock.now(),
                        email_bounce_reason=reason[:BOUNCE_REASON_LENGTH],
                    )
                )
            if delivered:
                session.execute(
                    update(User)
                    .where(User.email.in_(delivered), User.email_bounced_at.is_not(None))
                    .values(email_bounced_at=None, email_bounce_reason=None)
                )
    except Exception:
        log.exception("could not record delivery to %s", ", ".join([*bounced, *delivered]))


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
