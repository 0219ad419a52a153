"""Forms a password manager can fill: every field says what it is (``autocomplete``), the PIN
brings up a number pad, nothing blocks paste, and ``/.well-known/change-password`` leads to
the page where the password is changed."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.e2e.test_every_page_accessible import _pages
from tests.helpers.clients import client_for, csrf_token, make_user, sign_in
from tests.helpers.journal import EMAILS, observe, photo_bytes
from tests.helpers.people import PASSWORD, PIN

APP = Path(__file__).resolve().parents[2] / "app"
NOT_TYPED = {"hidden", "submit", "button", "checkbox", "radio", "file", "image", "reset"}
SECRET_VALUES = {"current-password", "new-password", "one-time-code"}


class _Fields(HTMLParser):
    """Every field of a page that a person types into or chooses from."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[dict[str, str | None]] = []
        self.paste_blockers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.paste_blockers += [name for name in found if name in {"onpaste", "oncopy"}]
        if tag in {"textarea", "select"} or (
            tag == "input" and (found.get("type") or "text") not in NOT_TYPED
        ):
            self.fields.append({"tag": tag, **found})


def _problems(html: str, where: str) -> list[str]:
    parser = _Fields()
    parser.feed(html)
    problems = [f"{where}: {name} blocks paste" for name in parser.paste_blockers]
    for field in parser.fields:
        name, kind, auto = field.get("name"), field.get("type"), field.get("autocomplete")
        label = f"{where}: <{field['tag']} name={name}>"
        if not auto:
            problems.append(f"{label} has no autocomplete")
        elif kind == "password" and "pin" in (name or ""):
            if field.get("inputmode") != "numeric":
                problems.append(f"{label}: a PIN needs inputmode=numeric")
        elif kind == "password" and auto not in SECRET_VALUES:
            problems.append(f"{label}: autocomplete={auto} on a password")
        if name in {"new_password", "password", "password_again"} and kind == "password":
            expected = "current-password" if where.startswith("/login") else "new-password"
            if auto != expected:
                problems.append(f"{label}: autocomplete={auto}, expected {expected}")
        if name == "current_password" and auto != "current-password":
            problems.append(f"{label}: autocomplete={auto}, expected current-password")
    return problems


def _signed_in(app, slug: str, who: str):
    client = client_for(app, slug)
    if who != "anonymous":
        assert (
            sign_in(client, f"{EMAILS[who]}@{slug}.example.org", PASSWORD, PIN).status_code == 303
        )
    return client


EXTRA_PAGES = {
    "anonymous": [],
    "manager": [],
    "staff": ["/account", "/journal/observations/new", "/account/email-check"],
    "parent_a": ["/account/email-check"],
}


@pytest.mark.parametrize("who", ["anonymous", "manager", "staff", "parent_a"])
def test_every_field_of_every_page_says_what_it_is(app, family, who):
    observation_id = observe(
        app, family, [family.child_a_id], "Ada planted beans.", photos=[(photo_bytes(), "", None)]
    )
    client = _signed_in(app, family.slug, who)
    problems, forms_seen = [], 0
    for path in _pages(family, observation_id)[who] + EXTRA_PAGES[who]:
        page = client.get(path)
        assert page.status_code < 500, path
        forms_seen += page.text.count("<form")
        problems += _problems(page.text, path)
    assert forms_seen > 0
    assert problems == []


def _activation_path(manager, mail_outbox, email: str) -> str:
    """Invite ``email`` and return the path of the emailed activation link."""
    manager.post(
        "/invitations",
        data={
            "full_name": "Ivy Invited",
            "email": email,
            "role": "staff",
            "csrf_token": csrf_token(manager, "/invitations"),
        },
    )
    text = mail_outbox.to(email)[-1].get_body(("plain",)).get_content()
    return re.search(r"/activate/[\w-]+", text).group(0)


def test_the_pages_reached_by_emailed_links_too(app, setting_with_manager, mail_outbox):
    setting, manager, manager_email = setting_with_manager
    activation = _activation_path(manager, mail_outbox, "ivy@example.org")
    visitor = client_for(app, setting.slug)
    visitor.post(
        "/password/forgot", data={"email": manager_email, "csrf_token": csrf_token(visitor)}
    )
    text = mail_outbox.to(manager_email)[-1].get_body(("plain",)).get_content()
    reset = re.search(r"/password/reset/[\w-]+", text).group(0)
    problems = []
    for path in ("/login", "/password/forgot", activation, reset):
        page = visitor.get(path)
        assert page.status_code == 200, path
        problems += _problems(page.text, path)
    assert problems == []
    login = visitor.get("/login").text
    assert re.search(r'<input[^>]*autocomplete="username"[^>]*name="email"', login)


def test_the_activation_page_says_why_a_unique_password_and_a_password_manager(
    app, setting_with_manager, mail_outbox
):
    setting, manager, _ = setting_with_manager
    path = _activation_path(manager, mail_outbox, "ivy2@example.org")
    page = client_for(app, setting.slug).get(path).text
    assert "password manager" in page
    assert "nowhere else" in page


def test_well_known_change_password_leads_to_the_account_page(app, make_setting):
    setting = make_setting()
    client = client_for(app, setting.slug)
    response = client.get("/.well-known/change-password")
    assert response.status_code in (302, 303) and response.headers["Location"] == "/account"
    with app.app_context():
        email = make_user(setting.slug)
    sign_in(client, email)
    assert "Change password or PIN" in client.get(response.headers["Location"]).text


def test_no_script_or_template_blocks_paste():
    sources = [*APP.rglob("*.html"), *APP.rglob("*.js")]
    assert len(sources) > 20
    for source in sources:
        text = source.read_text()
        assert not re.search(r"onpaste|oncopy|[\"']paste[\"']", text), source
