"""Mail in production: STARTTLS or implicit TLS, a verified certificate, and a password.

The SMTP server is a real aiosmtpd server that, like a provider's submission port,
refuses to go on without TLS and a login. Its certificate comes from a CA made for
the test (trustme), which the app is told to trust through SMTP_CA_FILE.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from app.devservers import free_port
from app.mail.delivery import send_over_smtp
from tests.fixtures.smtp import Inbox, text_of
from tests.helpers.clients import client_for, csrf_token, make_user

# aiosmtpd cannot see that an implicit TLS socket is encrypted, and warns about AUTH.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

USERNAME = "lj-mailer"
PASSWORD = "a long submission password"


class TlsInbox(Inbox):
    """Remembers, for each message, whether it came over TLS and after a login."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions: list[tuple[bool, bool]] = []
        self.logins: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        self.sessions.append((encrypted, session.authenticated))
        return await super().handle_DATA(server, session, envelope)

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append(auth_data.login)
        good = (auth_data.login, auth_data.password) == (USERNAME.encode(), PASSWORD.encode())
        return AuthResult(success=good, handled=False)  # not handled: aiosmtpd answers 535


@pytest.fixture(scope="module")
def trusted_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def smtp_tls_server(trusted_ca: trustme.CA) -> Iterator[Callable[..., tuple[TlsInbox, int]]]:
    """Start an SMTP server: ``security`` "starttls" or "tls"; a certificate from ``ca``."""
    controllers: list[Controller] = []

    def start(security: str, ca: trustme.CA | None = None) -> tuple[TlsInbox, int]:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        (ca or trusted_ca).issue_cert("127.0.0.1").configure_cert(context)
        inbox = TlsInbox()
        # One mechanism: a refused login is answered once (smtplib would try the next).
        options = {
            "authenticator": inbox.authenticate,
            "auth_required": True,
            "auth_exclude_mechanism": ["LOGIN"],
        }
        if security == "tls":
            # Implicit TLS: the whole connection is encrypted before AUTH is offered.
            options.update(ssl_context=context, auth_require_tls=False)
        else:
            options.update(tls_context=context, require_starttls=True, auth_require_tls=True)
        controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **options)
        controller.start()
        controllers.append(controller)
        return inbox, controller.port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def ca_file(trusted_ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "smtp-ca.pem"
    trusted_ca.cert_pem.write_to_path(str(path))
    return str(path)


def message_to(address: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Learning Journals <no-reply@journals.example.org>"
    message["To"] = address
    message["Subject"] = "Over TLS"
    message.set_content("Sent over TLS after a login.")
    return message


def send(app, message: EmailMessage) -> dict:
    with app.app_context():
        return send_over_smtp(message)


def mailing_app(make_app, port: int, security: str, ca_file: str, password: str = PASSWORD):
    return make_app(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(port),
        SMTP_SECURITY=security,
        SMTP_USERNAME=USERNAME,
        SMTP_PASSWORD=password,
        SMTP_CA_FILE=ca_file,
    )


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_mail_goes_over_tls_after_a_login(make_app, smtp_tls_server, ca_file, security):
    inbox, port = smtp_tls_server(security)
    app = mailing_app(make_app, port, security, ca_file)
    assert send(app, message_to("parent@example.org")) == {}
    [received] = inbox.to("parent@example.org")
    assert received["Subject"] == "Over TLS"
    assert inbox.sessions == [(True, True)]


def test_a_wrong_password_is_refused(make_app, smtp_tls_server, ca_file):
    inbox, port = smtp_tls_server("starttls")
    app = mailing_app(make_app, port, "starttls", ca_file, password="not the password")
    with pytest.raises(smtplib.SMTPAuthenticationError):
        send(app, message_to("parent@example.org"))
    assert inbox.messages == []


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_a_certificate_we_cannot_verify_stops_before_the_password_is_sent(
    make_app, smtp_tls_server, ca_file, security
):
    inbox, port = smtp_tls_server(security, ca=trustme.CA())  # not the CA we trust
    app = mailing_app(make_app, port, security, ca_file)
    with pytest.raises(ssl.SSLCertVerificationError):
        send(app, message_to("parent@example.org"))
    assert inbox.logins == [] and inbox.messages == []


def test_a_server_without_starttls_gets_nothing_in_clear(make_app, smtp_server, ca_file):
    # The tests' plain SMTP server offers no STARTTLS: no falling back to clear text.
    app = mailing_app(make_app, int(os.environ["SMTP_PORT"]), "starttls", ca_file)
    with pytest.raises(smtplib.SMTPNotSupportedError):
        send(app, message_to("nobody-in-clear@example.org"))
    assert smtp_server.to("nobody-in-clear@example.org", timeout=0.2) == []


def test_a_reset_link_reaches_a_server_that_requires_tls_and_a_login(
    app, make_app, make_setting, smtp_tls_server, ca_file
):
    inbox, port = smtp_tls_server("starttls")
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role="staff")
    mailing = mailing_app(make_app, port, "starttls", ca_file)
    client = client_for(mailing, setting.slug)
    client.post("/password/forgot", data={"email": email, "csrf_token": csrf_token(client)})
    [message] = inbox.to(email)
    assert "/password/reset/" in text_of(message)
    assert inbox.sessions == [(True, True)]
