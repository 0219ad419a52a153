"""Test clients of one host, and what a person does with a form: CSRF tokens, signing in,
accepting the usage policy; accounts made directly for a test.
"""

from __future__ import annotations

import itertools
import re
import uuid

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.auth.models import AccountStatus, Role, User
from app.extensions import db
from app.responsible_use.operations import accept_policy, current_policy_version
from app.security.secrets import hash_password, hash_pin
from tenants.binding import tenant_context


class HostClient(FlaskClient):
    """A test client that sends every request to one host."""

    base_url = "http://localhost"

    def open(self, *args, **kwargs):
        kwargs.setdefault("base_url", self.base_url)
        return super().open(*args, **kwargs)

    @property
    def host(self) -> str:
        return self.base_url.split("://", 1)[1]

    def session_cookie(self) -> str | None:
        cookie = self.get_cookie("lj_session", domain=self.host)
        return cookie.value if cookie else None

    def use_session_cookie(self, value: str) -> None:
        self.set_cookie("lj_session", value, domain=self.host)


def client_for(app: Flask, slug: str | None) -> HostClient:
    """A test client whose requests go to a setting's subdomain (or the bare domain)."""
    host = "localhost" if slug is None else f"{slug}.localhost"
    app.test_client_class = HostClient
    client = app.test_client()
    client.base_url = f"http://{host}"
    # Each client is its own device: per-IP rate limits are not shared between tests.
    number = next(_client_numbers)
    client.environ_base["REMOTE_ADDR"] = (
        f"127.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"
    )
    return client


_client_numbers = itertools.count(257)


CSRF_FIELD = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


GOOD_PASSWORD = "correct horse battery staple"


GOOD_PIN = "402917"


def csrf_token(client: HostClient, path: str = "/login") -> str:
    """The CSRF token of this client's session, read from a page's form."""
    page = client.get(path)
    match = CSRF_FIELD.search(page.text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def make_user(
    slug: str,
    *,
    role: str = "manager",
    email: str | None = None,
    full_name: str = "Sam Person",
    password: str = GOOD_PASSWORD,
    pin: str = GOOD_PIN,
    accepted_policy: bool = True,
) -> str:
    """An active account in the setting ``slug``; returns its email.

    Unless ``accepted_policy`` is False, the person has accepted the setting's usage
    policy, as everyone must before reaching any page but that policy.
    """
    from tenants.binding import tenant_context

    email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.org"
    with tenant_context(slug):
        user = User(
            email=email,
            full_name=full_name,
            role=Role(role),
            status=AccountStatus.ACTIVE,
            password_hash=hash_password(password),
            pin_hash=hash_pin(pin),
        )
        db.session.add(user)
        db.session.flush()
        if accepted_policy:
            accept_policy(user, current_policy_version())
        db.session.commit()
    return email


def user_id_of(app: Flask, slug: str, email: str) -> int:

    from app.auth.models import User

    with app.app_context(), tenant_context(slug):
        return db.session.scalar(select(User.id).where(User.email == email))


def sign_in(client: HostClient, email: str, password: str = GOOD_PASSWORD, pin: str = GOOD_PIN):
    """Post the sign-in form as a person would; returns the response."""
    token = csrf_token(client)
    return client.post(
        "/login", data={"email": email, "password": password, "pin": pin, "csrf_token": token}
    )


POLICY_VERSION_FIELD = re.compile(r'name="version" type="hidden" value="(\d+)"')


def accept_usage_policy(client: HostClient, path: str = "/usage-policy"):
    """Read and accept the setting's usage policy, as everyone must before any other page."""
    page = client.get(path)
    version = POLICY_VERSION_FIELD.search(page.text)
    assert version, f"no policy to accept on {path}"
    return client.post(
        path, data={"version": version.group(1), "csrf_token": csrf_token(client, path)}
    )


def is_signed_out(response) -> bool:
    return response.status_code in (302, 303) and "/login" in response.headers["Location"]


def post_form(client: HostClient, path: str, data: dict | None = None, **kwargs):
    """POST as the page's own form would, with this session's CSRF token."""
    return client.post(
        path, data={**(data or {}), "csrf_token": csrf_token(client, "/login")}, **kwargs
    )
