"""The connection to the SMTP server, as configured: TLS, a verified certificate, a login.

``SMTP_SECURITY`` says how the connection is protected: ``starttls`` (upgraded on
the submission port, 587) or ``tls`` (implicit TLS, 465); ``none`` only for the
development mail catcher or a relay on this machine (``app.config`` refuses it
for another machine in production). The server's certificate is checked against
the system's CAs, or ``SMTP_CA_FILE``, and must name ``SMTP_HOST``: a certificate
that cannot be verified ends the connection before the password is sent. A server
that does not offer STARTTLS when it is asked for gets nothing (no falling back
to clear text). Then, with ``SMTP_USERNAME``, we log in.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from app.config import Config

TIMEOUT_SECONDS = 10


@contextmanager
def smtp_connection(config: Config) -> Iterator[smtplib.SMTP]:
    """An open, protected and logged-in connection; closed when the block ends.

    Raises ``smtplib`` errors and ``OSError`` (``ssl.SSLError`` among them).
    """
    context = ssl.create_default_context(cafile=config.SMTP_CA_FILE)
    if config.SMTP_SECURITY == "tls":
        connection: smtplib.SMTP = smtplib.SMTP_SSL(
            config.SMTP_HOST, config.SMTP_PORT, timeout=TIMEOUT_SECONDS, context=context
        )
    else:
        connection = smtplib.SMTP(config.SMTP_HOST, config.SMTP_PORT, timeout=TIMEOUT_SECONDS)
    with connection:
        if config.SMTP_SECURITY == "starttls":
            connection.starttls(context=context)
        if config.SMTP_USERNAME:
            connection.login(config.SMTP_USERNAME, config.SMTP_PASSWORD)
        yield connection
