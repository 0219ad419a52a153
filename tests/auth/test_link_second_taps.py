"""A second tap of a button that emails a one-time link ("Send me a reset link", "Re-send
invitation", "Change email") sends nothing new: the first tap's email holds the link that
works, and a second email would void it (a person opens the first to arrive). The page
says the link was sent. After the window of a request sent twice, a new tap sends anew."""

from __future__ import annotations

import re
from datetime import timedelta

from app import clock
from tests.fixtures.smtp import text_of
from tests.helpers.clients import GOOD_PASSWORD, client_for, csrf_token, post_form, sign_in

LINK_PATH = re.compile(r"https?://[^/\s]+(/[\w/-]+)")


def _link_of(message) -> str:
    return LINK_PATH.search(text_of(message)).group(1)


def test_a_second_tap_of_send_me_a_reset_link_sends_nothing_new(app, member, mail_outbox):
    setting, email = member
    client = client_for(app, setting.slug)
    for _ in range(2):
        sent = client.post(
            "/password/forgot", data={"email": email, "csrf_token": csrf_token(client)}
        )
        assert sent.status_code == 200 and "sent" in sent.text

    [message] = mail_outbox.to(email)
    assert client.get(_link_of(message)).status_code == 200, "the first link still works"

    clock.advance(timedelta(minutes=3))
    client.post("/password/forgot", data={"email": email, "csrf_token": csrf_token(client)})
    assert len(mail_outbox.to(email)) == 2


def _invite(manager, email: str) -> int:
    made = post_form(
        manager, "/invitations", {"full_name": "Kim Lee", "email": email, "role": "parent"}
    )
    assert made.status_code == 303, made.text
    page = manager.get("/invitations").text
    return int(re.search(r"/invitations/(\d+)/resend", page).group(1))


def _said(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.text).split()).replace("&#39;", "'")


def test_a_second_tap_of_resend_invitation_sends_nothing_new(
    app, setting_with_manager, mail_outbox
):
    setting, manager, _ = setting_with_manager
    user_id = _invite(manager, "kim@example.org")
    clock.advance(timedelta(minutes=3))
    first = post_form(manager, f"/invitations/{user_id}/resend")
    second = post_form(manager, f"/invitations/{user_id}/resend")

    assert (first.status_code, second.status_code) == (303, 303)
    invitation, resent = mail_outbox.to("kim@example.org")
    told = _said(manager.get(second.headers["Location"]))
    assert "The invitation was sent to kim@example.org a moment ago" in told
    assert client_for(app, setting.slug).get(_link_of(resent)).status_code == 200
    assert client_for(app, setting.slug).get(_link_of(invitation)).status_code == 410


def test_a_second_tap_of_change_email_sends_nothing_new(app, member, mail_outbox):
    setting, email = member
    client = client_for(app, setting.slug)
    assert sign_in(client, email).status_code == 303
    asked = {"new_email": "new.address@example.org", "current_password": GOOD_PASSWORD}
    taps = [post_form(client, "/account/email", asked) for _ in range(2)]

    assert [tap.status_code for tap in taps] == [303, 303]
    [confirm] = mail_outbox.to("new.address@example.org")
    assert len(mail_outbox.to(email)) == 1, "one notice to the old address"
    told = _said(client.get(taps[1].headers["Location"]))
    assert "We sent a link to new.address@example.org a moment ago" in told
    assert client.get(_link_of(confirm)).status_code == 200, "the first link still works"

    other = post_form(client, "/account/email", {**asked, "new_email": "other@example.org"})
    assert other.status_code == 303 and len(mail_outbox.to("other@example.org")) == 1
