"""Emails the mail server refuses: listed under "Needs attention" until the address is fixed.

We receive no mail, so a bounce is the test SMTP server (a real one, in-process)
refusing a recipient while we send; see ``Inbox.refuse`` in tests/fixtures/smtp.py.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, text

from app import clock
from app.auth.models import Role, User
from app.auth.second_factor import factor_policy
from app.extensions import db
from app.people import children, needs_attention
from tests.fixtures.smtp import text_of
from tests.helpers.clients import client_for, csrf_token, post_form
from tests.helpers.people import (
    PASSWORD,
    TODAY,
    add_user,
    email_of,
    get_child,
    get_user,
    inside,
    signed_in,
)

HEADING = "Emails that could not be delivered"


def _attention(page: str) -> str:
    """The "Needs attention" section of a page."""
    match = re.search(r'<section aria-labelledby="attention-heading".*?</section>', page, re.S)
    assert match, "no Needs attention section"
    return match.group(0)


def _invite_parent(manager, child_id: int, address: str):
    """Link a new parent to a child, which invites them (as confirmed on the second screen)."""
    details = {"full_name": "Kim Lind", "email": address, "relationship": "Dad"}
    return post_form(
        manager,
        f"/people/children/{child_id}/parents",
        {**details, "confirmed": "yes", "shown_parent_id": "new"},
    )


def _user_id(app, slug: str, address: str) -> int:
    with inside(app, slug):
        return db.session.scalar(select(User.id).where(User.email == address))


def test_an_invitation_the_server_refuses_is_listed_until_the_email_is_corrected(
    app, nursery, mail_outbox
):
    wrong, right = f"kim@{nursery.slug}.exmaple.org", f"kim@{nursery.slug}.example.org"
    mail_outbox.refuse(wrong)
    manager = signed_in(app, nursery, "manager")

    assert (
        _invite_parent(manager, nursery.other_child_id, wrong).status_code == 303
    )  # saved all the same
    assert mail_outbox.to(wrong, timeout=0.2) == []

    for path in ("/", "/people/"):
        listed = _attention(manager.get(path).text)
        assert HEADING in listed, path
        assert "Kim Lind" in listed and wrong in listed and "550 No such user" in listed
        assert TODAY.strftime("%-d %B %Y") in listed
        assert 'href="/invitations"' in listed

    kim_id = _user_id(app, nursery.slug, wrong)
    corrected = manager.post(
        f"/invitations/{kim_id}/email",
        data={"email": right, "csrf_token": csrf_token(manager, "/invitations")},
    )
    assert corrected.status_code == 303
    assert "/activate/" in text_of(mail_outbox.to(right)[-1])
    for path in ("/", "/people/"):
        assert HEADING not in _attention(manager.get(path).text), path


def test_a_corrected_address_that_is_refused_too_stays_listed(app, nursery, mail_outbox):
    first, second = f"kim@{nursery.slug}.exmaple.org", f"kim@{nursery.slug}.exampel.org"
    mail_outbox.refuse(first)
    mail_outbox.refuse(second, "550 5.1.1 Mailbox unavailable")
    manager = signed_in(app, nursery, "manager")
    _invite_parent(manager, nursery.other_child_id, first)
    kim_id = _user_id(app, nursery.slug, first)

    manager.post(
        f"/invitations/{kim_id}/email",
        data={"email": second, "csrf_token": csrf_token(manager, "/invitations")},
    )
    listed = _attention(manager.get("/").text)
    assert second in listed and "Mailbox unavailable" in listed
    assert first not in listed


def test_a_temporary_refusal_is_not_a_bounce(app, nursery, mail_outbox):
    busy = f"kim@{nursery.slug}.example.org"
    mail_outbox.refuse(busy, "450 Mailbox busy, try again later")
    manager = signed_in(app, nursery, "manager")
    assert _invite_parent(manager, nursery.other_child_id, busy).status_code == 303
    assert HEADING not in _attention(manager.get("/").text)


def test_a_later_delivery_to_the_same_address_clears_the_bounce(app, nursery, mail_outbox):
    address = f"kim@{nursery.slug}.example.org"
    mail_outbox.refuse(address)
    manager = signed_in(app, nursery, "manager")
    _invite_parent(manager, nursery.other_child_id, address)
    assert HEADING in _attention(manager.get("/").text)

    mail_outbox.refusals.clear()  # the family's mailbox works again
    kim_id = _user_id(app, nursery.slug, address)
    resent = manager.post(
        f"/invitations/{kim_id}/resend",
        data={"csrf_token": csrf_token(manager, "/invitations")},
    )
    assert resent.status_code == 303
    assert mail_outbox.to(address)
    assert HEADING not in _attention(manager.get("/").text)


def test_an_active_parent_whose_mail_bounces_is_linked_to_their_page_until_they_change_it(
    app, nursery, mail_outbox
):
    old, new = email_of(nursery, "parent"), f"pat.new@{nursery.slug}.example.org"
    parent = signed_in(app, nursery, "parent")
    mail_outbox.refuse(old)
    forgot = client_for(app, nursery.slug)
    forgot.post(
        "/password/forgot",
        data={"email": old, "csrf_token": csrf_token(forgot, "/password/forgot")},
    )
    manager = signed_in(app, nursery, "manager")
    listed = _attention(manager.get("/").text)
    assert "Pat Parent" in listed and old in listed
    assert f'href="/people/parents/{nursery.parent_id}"' in listed

    asked = parent.post(
        "/account/email",
        data={
            "new_email": new,
            "current_password": PASSWORD,
            "csrf_token": csrf_token(parent, "/account"),
        },
    )
    assert asked.status_code == 303
    confirm = re.search(r"/account/email/confirm/[\w-]+", text_of(mail_outbox.to(new)[-1]))
    done = parent.post(confirm.group(0), data={"csrf_token": csrf_token(parent, "/account")})
    assert done.status_code == 303
    assert HEADING not in _attention(manager.get("/").text)


def test_a_bounce_during_the_nightly_sweep_is_recorded_in_its_setting(
    app, nursery, make_setting, mail_outbox
):
    """The sweep runs outside any request: its setting is bound by tenant_context."""
    parent_address = email_of(nursery, "parent")
    mail_outbox.refuse(parent_address)
    bystander = make_setting()  # same address in another setting: not touched
    with inside(app, bystander.slug):
        add_user("Pat Elsewhere", parent_address, Role.PARENT)
        db.session.commit()
    with inside(app, nursery.slug):
        children.archive_child(get_child(nursery.child_id), by=get_user(nursery.manager_id))
        db.session.commit()
    clock.advance(timedelta(days=1))

    result = app.test_cli_runner().invoke(args=["jobs", "run", "deactivation-sweep"])
    assert result.exit_code == 0, result.output

    with inside(app, nursery.slug):
        [bounced] = needs_attention.needs_attention(factor_policy()).undeliverable_emails
        assert bounced.id == nursery.parent_id
        assert bounced.email_bounced_at == clock.now()
    with inside(app, bystander.slug):
        assert needs_attention.needs_attention(factor_policy()).undeliverable_emails == []


def test_a_failure_to_record_a_bounce_does_not_undo_the_invitation(
    app, nursery, mail_outbox, caplog
):
    wrong = f"kim@{nursery.slug}.exmaple.org"
    mail_outbox.refuse(wrong)
    with inside(app, nursery.slug):  # the database refuses to record any bounce here
        db.session.execute(
            text(
                "CREATE FUNCTION refuse_bounces() RETURNS trigger LANGUAGE plpgsql"
                " AS $$ BEGIN RAISE EXCEPTION 'no bounces here'; END $$"
            )
        )
        db.session.execute(
            text(
                "CREATE TRIGGER refuse_bounces BEFORE UPDATE ON users FOR EACH ROW"
                " WHEN (NEW.email_bounced_at IS NOT NULL) EXECUTE FUNCTION refuse_bounces()"
            )
        )
        db.session.commit()
    manager = signed_in(app, nursery, "manager")

    invited = _invite_parent(manager, nursery.other_child_id, wrong)

    assert invited.status_code == 303
    assert "Kim Lind" in manager.get(invited.headers["Location"]).text
    assert _user_id(app, nursery.slug, wrong) is not None
    assert "could not record delivery to " + wrong in caplog.text
    assert HEADING not in _attention(manager.get("/").text)


def test_a_deactivated_person_is_no_longer_listed(app, nursery, mail_outbox):
    address = f"kim@{nursery.slug}.exmaple.org"
    mail_outbox.refuse(address)
    manager = signed_in(app, nursery, "manager")
    _invite_parent(manager, nursery.other_child_id, address)
    assert address in _attention(manager.get("/").text)

    kim_id = _user_id(app, nursery.slug, address)
    assert post_form(manager, f"/people/{kim_id}/deactivate").status_code == 303
    assert HEADING not in _attention(manager.get("/").text)
