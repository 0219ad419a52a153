"""The account emails as their reader gets them, from the real SMTP server: a setting named
in accents, Chinese and Arabic, in Sydney (20:00 there when the test's clock says 09:00 UTC).

Each message has a subject naming the setting (RFC 2047 encoded, spaces kept),
a readable text part and an HTML part with the same links, every link on the setting's own
subdomain of ``PUBLIC_URL``, no password or PIN, and times in the setting's zone. A
one-time link's email says until when it works, and the link works until exactly then.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parseaddr
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from app import clock
from app.auth.models import AccountStatus, Passkey, Role, User
from app.auth.operations import invite_user, request_reset
from app.extensions import db, limiter
from tenants.models import Setting
from tenants.registry import forget_cached
from tests.fixtures.smtp import Inbox, html_of, text_of
from tests.helpers.clients import GOOD_PASSWORD, GOOD_PIN, client_for, make_user, post_form, sign_in
from tests.helpers.people import email_of, inside, signed_in

SETTING_NAME = "Crèche Étoile 星星 نجمة"
PARENT_NAME = "Zoë Lì 李 نور"
SYDNEY_EVENING = "1 Dec 2026 20:00 AEDT"  # the frozen clock's 09:00 UTC
LINK = re.compile(r"https?://[^\s\"'<>]+")
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def sydney(app, make_setting, frozen_clock) -> tuple[str, str]:
    """A setting in Sydney with a Unicode name, and the email of a parent there."""
    slug = make_setting(name=SETTING_NAME).slug
    with app.app_context():
        db.session.execute(
            update(Setting).where(Setting.slug == slug).values(time_zone="Australia/Sydney")
        )
        db.session.commit()
        forget_cached()
        email = make_user(slug, role="parent", full_name=PARENT_NAME, email="zoe@example.org")
    return slug, email


def read(app, message: EmailMessage, slug: str) -> tuple[str, str, list[str]]:
    """The text part, the HTML part and the links of ``message``, after checking what every
    email of the setting must be."""
    text, html = text_of(message), html_of(message)
    assert SETTING_NAME in str(message["Subject"]) + text
    assert "Hello Zoë," in text or "Dear " + PARENT_NAME in text
    for secret in (GOOD_PASSWORD, GOOD_PIN):
        assert secret not in text + html + str(message["Subject"])
    links = LINK.findall(text)
    assert sorted(set(LINK.findall(html))) == sorted(set(links)), "both parts link the same"
    scheme, domain = app.config["LJ"].PUBLIC_URL.split("://")
    for link in links:
        parts = urlsplit(link)
        assert (parts.scheme, parts.netloc) == (scheme, f"{slug}.{domain}"), link
    return text, html, links


def path_of(link: str) -> str:
    return urlsplit(link).path


def one_message_to(inbox: Inbox, address: str) -> EmailMessage:
    [message] = inbox.to(address)
    return message


def works_until(app, slug: str, link: str, moment: datetime) -> None:
    """The one-time link opens a minute before ``moment``, and is expired at it."""
    client = client_for(app, slug)
    clock.move_to(moment - timedelta(minutes=1))
    assert client.get(path_of(link)).status_code == 200
    clock.move_to(moment)
    assert client.get(path_of(link)).status_code == 410


def test_an_invitation_says_until_when_its_link_works_in_the_settings_own_time(
    app, sydney, mail_outbox
):
    slug, _ = sydney
    with inside(app, slug):
        invite_user(PARENT_NAME, "zoe.invited@example.org", Role.PARENT, None)
        db.session.commit()
    message = one_message_to(mail_outbox, "zoe.invited@example.org")

    assert message["Subject"] == f"Your invitation to {SETTING_NAME}'s learning journals"
    assert message["Date"].datetime == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert message["Auto-Submitted"] == "auto-generated", "no out-of-office replies to it"
    text, html, [link] = read(app, message, slug)
    assert "/activate/" in link
    # 72 hours: 09:00 UTC on the 4th is 20:00 in Sydney.
    assert "until 4 Dec 2026 20:00 AEDT" in text and "until 4 Dec 2026 20:00 AEDT" in html
    works_until(app, slug, link, datetime(2026, 12, 4, 9, 0, tzinfo=UTC))


def test_a_reset_email_says_until_when_its_link_works_in_the_settings_own_time(
    app, sydney, mail_outbox
):
    slug, email = sydney
    with inside(app, slug):
        request_reset(email)
        db.session.commit()
    message = one_message_to(mail_outbox, email)

    assert message["Subject"] == f"Choose a new password and PIN for {SETTING_NAME}"
    text, _, [link] = read(app, message, slug)
    assert "/password/reset/" in link
    assert "until 1 Dec 2026 21:00 AEDT" in text, text
    works_until(app, slug, link, datetime(2026, 12, 1, 10, 0, tzinfo=UTC))


def test_an_email_change_asks_the_new_address_to_confirm_by_a_stated_time_and_tells_the_old(
    app, sydney, mail_outbox
):
    slug, email = sydney
    client = client_for(app, slug)
    assert sign_in(client, email).status_code == 303
    new_address = "zoe.new@bücher.example"
    asked = post_form(
        client, "/account/email", {"new_email": new_address, "current_password": GOOD_PASSWORD}
    )
    assert asked.status_code == 303, asked.text

    confirm = one_message_to(mail_outbox, new_address)  # an internationalised domain
    assert confirm["Subject"] == f"Confirm your new email address for {SETTING_NAME}"
    text, _, [link] = read(app, confirm, slug)
    assert "/account/email/confirm/" in link
    assert "until 1 Dec 2026 21:00 AEDT" in text, text

    notice = one_message_to(mail_outbox, email)
    assert notice["Subject"] == f"A change of email address was requested at {SETTING_NAME}"
    _, _, links = read(app, notice, slug)
    assert links == [], "the old address gets no link that changes anything"
    works_until(app, slug, link, datetime(2026, 12, 1, 10, 0, tzinfo=UTC))


def test_a_sign_in_from_a_new_browser_is_told_in_the_settings_own_time(app, sydney, mail_outbox):
    slug, email = sydney
    for agent in (FIREFOX, SAFARI):
        device = client_for(app, slug)
        device.environ_base["HTTP_USER_AGENT"] = agent
        assert sign_in(device, email).status_code == 303
    message = one_message_to(mail_outbox, email)

    assert message["Subject"] == f"A new sign-in to your account at {SETTING_NAME}"
    text, html, [link] = read(app, message, slug)
    assert SYDNEY_EVENING in text and SYDNEY_EVENING in html, text
    assert "UTC" not in text
    assert client_for(app, slug).get(path_of(link)).status_code in (302, 303), "sign in first"


def test_a_locked_account_is_told_with_the_way_out_and_no_link_that_unlocks(
    app, sydney, mail_outbox
):
    slug, email = sydney
    client = client_for(app, slug)
    for _ in range(2):  # five wrong, a cool-down, five more
        with app.app_context():
            limiter.reset()  # minutes pass between attempts (the rate limit runs on Redis's clock)
        for _ in range(5):
            sign_in(client, email, pin="999999")
        clock.advance(timedelta(minutes=16))
    message = one_message_to(mail_outbox, email)

    assert message["Subject"] == f"Your account at {SETTING_NAME} is locked"
    _, _, [link] = read(app, message, slug)
    assert path_of(link) == "/password/forgot"
    assert client_for(app, slug).get(path_of(link)).status_code == 200


def test_a_passkey_name_reaches_the_html_part_as_text_never_as_markup(app, sydney, mail_outbox):
    """Someone in a borrowed session names a passkey as a link: the warning email the
    owner gets must not carry that link, live, from the setting's own address."""
    slug, email = sydney
    client = client_for(app, slug)
    assert sign_in(client, email).status_code == 303
    bait = '<a href="//evil.example">Secure it here</a>'
    with inside(app, slug):
        user_id = db.session.scalar(select(User.id).where(User.email == email))
        for number, name in enumerate((bait, "Laptop")):
            db.session.add(
                Passkey(
                    user_id=user_id,
                    name=name,
                    credential_id=f"credential-{number}".encode(),
                    public_key=b"not used here",
                    created_at=clock.now(),
                )
            )
        db.session.commit()
        passkey_id = db.session.scalar(select(Passkey.id).where(Passkey.name == bait))

    removed = post_form(
        client, f"/account/passkeys/{passkey_id}/remove", {"current_password": GOOD_PASSWORD}
    )
    assert removed.status_code == 303, removed.text
    message = one_message_to(mail_outbox, email)

    text, html, [link] = read(app, message, slug)
    assert f"(“{bait}”) was removed" in text, "the text part shows the name as it was typed"
    assert "&lt;a href=" in html and '<a href="//evil' not in html
    assert path_of(link) == "/account/second-factor"


def test_links_follow_an_https_public_url(app, sydney, mail_outbox, monkeypatch):
    slug, email = sydney
    monkeypatch.setattr(app.config["LJ"], "PUBLIC_URL", "https://journals.example.org")
    with inside(app, slug):
        request_reset(email)
        db.session.commit()
    _, _, [link] = read(app, one_message_to(mail_outbox, email), slug)
    assert link.startswith(f"https://{slug}.journals.example.org/password/reset/")


def test_a_long_unicode_setting_name_arrives_whole_in_the_subject(app, make_setting, mail_outbox):
    """Folded over several encoded words, the name kept every space, and no more."""
    name = "Garderie Les Petits Loups de Montréal Saint-Éloi 星星 幼稚园 روضة الأطفال"
    make_setting(name=name, manager_email="mina@example.org")  # its manager is invited
    message = one_message_to(mail_outbox, "mina@example.org")

    assert message["Subject"] == f"Your invitation to {name}'s learning journals"


def test_a_deactivated_account_is_not_emailed_about_a_managers_reset_of_its_factors(
    app, nursery, mail_outbox
):
    """Access has ended: "you can set up a new one once you have signed in" is untrue."""
    with inside(app, nursery.slug):
        staff = db.session.get_one(User, nursery.staff_id)
        staff.status = AccountStatus.DEACTIVATED
        db.session.add(
            Passkey(
                user_id=staff.id,
                name="Old phone",
                credential_id=b"credential-old-phone",
                public_key=b"not used here",
                created_at=clock.now(),
            )
        )
        db.session.commit()
    manager = signed_in(app, nursery, "manager")

    reset = post_form(manager, f"/accounts/{nursery.staff_id}/second-factor/reset")

    assert reset.status_code == 303, reset.text
    with inside(app, nursery.slug):
        left = select(Passkey.id).where(Passkey.user_id == nursery.staff_id)
        assert db.session.scalar(left) is None, "the factors are removed all the same"
    assert mail_outbox.to(email_of(nursery, "staff"), timeout=0.5) == []


def sender_of(message: EmailMessage) -> tuple[str, str]:
    """The From header's name and address as a mail reader decodes them (RFC 2047: the
    folding between two encoded words is dropped; Python 3.11's own header parser puts a
    space there, inside a name, which no reader shows)."""
    raw = dict(message.raw_items())["From"]
    return parseaddr(str(make_header(decode_header(raw))))


def test_the_from_header_names_the_setting_in_a_long_unicode_name_whole(
    app, make_setting, mail_outbox
):
    """The reader's list of mail shows who wrote: the setting, by way of the service,
    encoded for the header (RFC 2047) and read back with every space kept."""
    name = "Garderie Les Petits Loups de Montréal Saint-Éloi 星星 幼稚园 روضة الأطفال"
    make_setting(name=name, manager_email="mina@example.org")
    message = one_message_to(mail_outbox, "mina@example.org")

    assert dict(message.raw_items())["From"].isascii(), "sent, it is encoded words"
    assert sender_of(message) == (f"{name} via Learning Journals", "no-reply@localhost")


def test_the_from_header_quotes_a_setting_name_with_punctuation(app, make_setting, mail_outbox):
    """A comma or an apostrophe in the name would otherwise split or break the address."""
    name = "St. Mary's Nursery, Rainbow Room"
    make_setting(name=name, manager_email="mina@example.org")
    message = one_message_to(mail_outbox, "mina@example.org")

    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (
        f"{name} via Learning Journals",
        "no-reply@localhost",
    )
    assert sender_of(message) == (f"{name} via Learning Journals", "no-reply@localhost")
