"""Email: written to the setting's outbox with the change, delivered by a worker after commit.

- ``queue_email(to, subject, template, user_id=..., **context)`` (``app.mail.outbox``)
  renders ``mail/<template>.txt`` and ``.html`` and adds the message to the
  outbox *in the current transaction*: a rolled-back change sends nothing, a
  committed one cannot lose its email. The web request never talks to SMTP.
- ``app.mail.delivery`` sends due messages over SMTP (a Celery task sent at
  commit, and the ``email-delivery`` job), retries temporary failures with
  backoff, and marks each message sent, bounced or failed.
- ``app.mail.models``: the ``OutboxMessage`` table and the ``email_delivered`` signal.
"""

from app.mail.outbox import queue_email

__all__ = ["queue_email"]
