"""Delivering the outbox over SMTP: after commit, with retries, each message marked once.

A Celery task sent when a transaction that queued mail commits delivers the
bound setting's due messages, one transaction per message: the row is locked
(``SKIP LOCKED``, so two workers never send the same message), handed to the
SMTP server, and marked with the outcome:

- **sent**: the server took it. A bounce recorded earlier on that address is cleared.
- **bounced**: the server refused the recipient for good (5xx). Recorded on the
  accounts using that address (``users.email_bounced_at``) for the manager.
- **failed** at once: an address with a non-ASCII local part ("kím@...") when the
  server does not offer SMTPUTF8: it cannot be written any other way, so no later try
  would pass. (A non-ASCII *domain* goes in its ASCII ``xn--`` form to such a server.)
- a **temporary** failure (4xx, connection refused, a timeout, our server or
  sender refused) is tried again after a growing delay (``MAIL_RETRY_SECONDS``,
  doubled each time, at most an hour); after ``MAIL_MAX_ATTEMPTS`` tries the
  message is **failed** and listed under the manager's "Needs attention".

Bodies are dropped as soon as a message is sent, bounced or failed. The worker
schedules its own next try; the ``email-delivery`` job delivers whatever is due
in every setting, in case a task was lost (broker down, worker killed).
Delivery is at least once: a worker killed after the server took a message but
before the commit sends it again on the next try.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import idna
from celery import shared_task
from flask import current_app
from sqlalchemy import func, select, update

from app import clock
from app.auth.models import BOUNCE_REASON_LENGTH, User
from app.config import Config
from app.extensions import db
from app.mail.models import SMTP_ANSWER_LENGTH, DeliveryStatus, OutboxMessage, email_delivered
from app.redis_store import get_redis
from tenants.binding import current_setting, tenant_context
from tenants.each_setting import EachSettingReport, run_each_setting

log = logging.getLogger(__name__)

LONGEST_RETRY_DELAY = timedelta(hours=1)

# Refusals that say our server, greeting or sender is wrong, not the recipient's address:
# worth another try (someone may fix the configuration), never a bounce.
_NOT_ABOUT_THE_RECIPIENT = (
    smtplib.SMTPSenderRefused,
    smtplib.SMTPConnectError,
    smtplib.SMTPHeloError,
    smtplib.SMTPAuthenticationError,
)


def send_over_smtp(message: EmailMessage) -> dict[str, tuple[int, bytes]]:
    """Hand one message to the SMTP server; returns the recipients it refused.

    The one place that talks to the server. Raises ``smtplib`` errors and ``OSError``
    (``ssl.SSLError`` among them): each is a failed try, retried later.

    ``SMTP_SECURITY`` says how the connection is protected: ``starttls`` (the
    submission port, 587) or ``tls`` (implicit TLS, 465); ``none`` only for the
    development mail catcher or a relay on this machine (``app.config`` refuses it for
    another machine in production). The server's certificate must be valid for
    ``SMTP_HOST`` by the system's CAs or ``SMTP_CA_FILE``, or the connection ends
    before the password is sent; a server that offers no STARTTLS when it is asked
    for gets nothing (no falling back to clear text). Then, with ``SMTP_USERNAME``,
    we log in.
    """
    config = current_app.config["LJ"]
    if config.SMTP_SECURITY == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            config.SMTP_HOST, config.SMTP_PORT, timeout=10, context=_tls_context(config)
        )
    else:
        smtp = smtplib.SMTP(config.SMTP_HOST, config.SMTP_PORT, timeout=10)
    try:
        if config.SMTP_SECURITY == "starttls":
            smtp.starttls(context=_tls_context(config))
        if config.SMTP_USERNAME:
            smtp.login(config.SMTP_USERNAME, config.SMTP_PASSWORD)
        smtp.ehlo_or_helo_if_needed()
        if not smtp.has_extn("smtputf8"):
            _address_in_ascii(message)
        return smtp.send_message(message)
    finally:
        _say_goodbye(smtp)


def _say_goodbye(smtp: smtplib.SMTP) -> None:
    """End the SMTP session whatever the server answers to QUIT, or if it does not.

    Not ``with smtp:``, whose exit raises on any answer but 221: once the server has
    taken the message, that answer (or a timeout waiting for it) would count as a
    failed try, and the message would be sent again (4xx) or recorded as bounced (5xx).
    """
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _tls_context(config: Config) -> ssl.SSLContext:
    """What checks the server's certificate: the system's CAs or ``SMTP_CA_FILE``. Made
    only for a protected connection: reading the CAs takes about 50 ms a message here."""
    return ssl.create_default_context(cafile=config.SMTP_CA_FILE)


class NeedsSmtpUtf8(smtplib.SMTPException):
    """The recipient's address cannot be written in ASCII and the server takes nothing
    else: no later try can pass."""


def ascii_address(address: str) -> str:
    """``address`` as a server without SMTPUTF8 takes it: its domain in IDNA's ASCII
    (``xn--``) form. ``NeedsSmtpUtf8`` if its local part (or its domain) cannot be."""
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        raise NeedsSmtpUtf8(
            f"The mail server does not offer SMTPUTF8, which {address} needs: "
            "its part before the @ is not ASCII."
        )
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError as error:
        raise NeedsSmtpUtf8(
            f"The mail server does not offer SMTPUTF8, and {address}'s domain has no "
            f"ASCII form: {error}."
        ) from error


def _address_in_ascii(message: EmailMessage) -> None:
    """Readdress ``message`` (its To, which smtplib also takes as the envelope's
    recipient) for a server without SMTPUTF8."""
    to = str(message["To"])
    if not to.isascii():
        message.replace_header("To", ascii_address(to))


@dataclass(frozen=True)
class Attempt:
    """What one try of one message came to: sent, bounced, or a temporary failure."""

    outcome: DeliveryStatus | None  # None: temporary, try again later
    answer: str = ""


def _text(answer: bytes | str) -> str:
    return answer.decode(errors="replace") if isinstance(answer, bytes) else answer


def _refusal(code: int, answer: bytes | str) -> Attempt:
    """5xx: the server will never take this message; 4xx (greylisting, a full
    mailbox for now) may pass on a later try."""
    outcome = DeliveryStatus.BOUNCED if 500 <= code < 600 else None
    return Attempt(outcome, f"{code} {_text(answer)}")


def _set_subject(email: EmailMessage, subject: str) -> None:
    """The Subject; one that is not ASCII goes as RFC 2047 encoded words folded by the
    older ``Header``: Python 3.11's own folding of a long one loses the space between two
    of its encoded words ("Crèche Étoile 星星" arrived as "Crèche Étoile星星")."""
    if subject.isascii():
        email["Subject"] = subject
    else:
        email.set_raw("Subject", Header(subject, "utf-8", header_name="Subject").encode())


def _sender() -> Address:
    """The From: the bound setting by way of the service ("Sunnyside Nursery via Learning
    Journals" <MAIL_FROM's address>), so the reader's list of mail says which nursery
    wrote. As an ``Address``, the name is quoted or RFC 2047 encoded as it needs."""
    service, address = parseaddr(current_app.config["LJ"].MAIL_FROM)
    setting = current_setting().name
    return Address(
        display_name=f"{setting} via {service}" if service else setting, addr_spec=address
    )


def _email_of(message: OutboxMessage) -> EmailMessage:
    email = EmailMessage()
    email["From"] = _sender()
    email["To"] = message.to_address
    _set_subject(email, message.subject)
    email["Message-ID"] = message.message_id
    # When it was written, the same on every try; mail without a Date is shown undated
    # or as spam by some readers.
    email["Date"] = format_datetime(message.queued_at)
    # An automatic message: out-of-office replies are not sent back to it (RFC 3834).
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.body_text or "")
    email.add_alternative(message.body_html or "", subtype="html")
    return email


def try_to_send(message: OutboxMessage) -> Attempt:
    """One try at handing ``message`` to the SMTP server; never raises for an SMTP failure."""
    try:
        refused = send_over_smtp(_email_of(message))
    except NeedsSmtpUtf8 as error:
        return Attempt(DeliveryStatus.FAILED, str(error))
    except smtplib.SMTPRecipientsRefused as error:
        refused = error.recipients
    except smtplib.SMTPResponseException as error:
        if isinstance(error, _NOT_ABOUT_THE_RECIPIENT):
            return Attempt(None, f"{error.smtp_code} {_text(error.smtp_error)}")
        return _refusal(error.smtp_code, error.smtp_error)
    except (OSError, smtplib.SMTPException) as error:
        return Attempt(None, str(error) or type(error).__name__)
    if refused:
        code, answer = next(iter(refused.values()))
        return _refusal(code, answer)
    return Attempt(DeliveryStatus.SENT)


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed try: doubling, at most an hour."""
    first = timedelta(seconds=current_app.config["LJ"].MAIL_RETRY_SECONDS)
    return min(first * 2 ** (attempts - 1), LONGEST_RETRY_DELAY)


def _record_on_accounts(message: OutboxMessage, attempt: Attempt) -> None:
    """Mark a bounced address, or clear a delivered one, on the accounts using it.

    In a savepoint: if this fails, the message's own outcome must still be
    saved, or it would be sent again.
    """
    same_address = User.email == message.to_address
    try:
        with db.session.begin_nested():
            if attempt.outcome is DeliveryStatus.BOUNCED:
                db.session.execute(
                    update(User)
                    .where(same_address)
                    .values(
                        email_bounced_at=clock.now(),
                        email_bounce_reason=attempt.answer[:BOUNCE_REASON_LENGTH],
                    )
                )
            else:
                db.session.execute(
                    update(User)
                    .where(same_address, User.email_bounced_at.is_not(None))
                    .values(email_bounced_at=None, email_bounce_reason=None)
                )
    except Exception:
        log.exception("could not record delivery to %s", message.to_address)


def _finish(message: OutboxMessage, status: DeliveryStatus, answer: str) -> None:
    message.status = status
    message.finished_at = clock.now()
    message.next_attempt_at = None
    message.body_text = message.body_html = None  # nothing keeps the links any longer
    message.last_error = answer[:SMTP_ANSWER_LENGTH] or None


def _apply(message: OutboxMessage, attempt: Attempt) -> None:
    message.attempts += 1
    if attempt.outcome is DeliveryStatus.SENT:
        _finish(message, DeliveryStatus.SENT, "")
        _record_on_accounts(message, attempt)
        email_delivered.send(message)
    elif attempt.outcome is DeliveryStatus.BOUNCED:
        log.warning("the SMTP server refused mail to %s: %s", message.to_address, attempt.answer)
        _finish(message, DeliveryStatus.BOUNCED, attempt.answer)
        _record_on_accounts(message, attempt)
    elif (
        attempt.outcome is DeliveryStatus.FAILED
        or message.attempts >= current_app.config["LJ"].MAIL_MAX_ATTEMPTS
    ):
        log.error(
            "gave up on mail %d to %s after %d tries: %s",
            message.id,
            message.to_address,
            message.attempts,
            attempt.answer,
        )
        _finish(message, DeliveryStatus.FAILED, attempt.answer)
    else:
        log.warning(
            "mail %d to %s not sent (try %d), will try again: %s",
            message.id,
            message.to_address,
            message.attempts,
            attempt.answer,
        )
        message.last_error = attempt.answer[:SMTP_ANSWER_LENGTH]
        message.next_attempt_at = clock.now() + retry_delay(message.attempts)


def _next_due_message() -> OutboxMessage | None:
    return db.session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.next_attempt_at <= clock.now())
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def deliver_due_messages() -> dict[str, int]:
    """Try every due message of the bound setting once; commits per message.

    Returns how many were sent, bounced, failed and deferred (to be tried again).
    """
    counts = {"sent": 0, "bounced": 0, "failed": 0, "deferred": 0}
    tried: set[int] = set()
    while (message := _next_due_message()) is not None and message.id not in tried:
        tried.add(message.id)
        _apply(message, try_to_send(message))
        counts[message.status.value if message.next_attempt_at is None else "deferred"] += 1
        db.session.commit()
    db.session.commit()
    return counts


def next_try_at() -> datetime | None:
    """When the bound setting's next deferred message is due, if any."""
    return db.session.scalar(select(func.min(OutboxMessage.next_attempt_at)))


@shared_task(name="mail.deliver", ignore_result=True)
def deliver_email_task(slug: str) -> None:
    """Deliver one setting's due mail; if some must wait, come back when it is due."""
    with tenant_context(slug):
        deliver_due_messages()
        due = next_try_at()
        db.session.commit()
    if due is not None:
        _come_back_at(slug, due)


def _come_back_at(slug: str, due: datetime) -> None:
    """Send this task again for ``due``, once per setting and time however many runs ask.

    A second early: Celery may start a task a little before its ETA, which
    would find nothing due yet.
    """
    if deliver_email_task.app.conf.task_always_eager:
        return  # run in the sending process (tests): it must not call itself at once
    key = f"lj:mail-retry:{slug}:{due.timestamp()}"
    wait = max(int((due - clock.now()).total_seconds()), 0)
    if get_redis().set(key, 1, nx=True, ex=wait + 3600):
        deliver_email_task.apply_async((slug,), eta=due + timedelta(seconds=1))


def deliver_every_setting() -> EachSettingReport:
    """The ``email-delivery`` job: deliver what is due in every active setting."""
    return run_each_setting(lambda setting: deliver_due_messages())
