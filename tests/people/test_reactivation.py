"""People can come back: a manager reactivates a deactivated parent or member of staff, who
chooses a new password and PIN from a fresh activation link; linking a deactivated parent or
inviting their address again offers that instead of a dead end. Actions that end access ask
first, on a page that says what will happen."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from sqlalchemy import select

from app.auth.models import AccountStatus, AuditEntry, User
from app.extensions import db
from app.people import accounts, staff
from app.people.models import Child
from tests.fixtures.smtp import text_of
from tests.helpers.clients import client_for, post_form, sign_in
from tests.helpers.people import PASSWORD, PIN, email_of, get_user, inside, links_of, signed_in

NEW_PASSWORD, NEW_PIN = "kites over the harbour wall", "385017"


def _deactivate(app, nursery, user_id: int) -> None:
    with inside(app, nursery.slug):
        accounts.deactivate_now(
            get_user(user_id), by=get_user(nursery.manager_id), reason="left last year"
        )
        db.session.commit()


def _status(app, nursery, user_id: int) -> AccountStatus:
    with inside(app, nursery.slug):
        return get_user(user_id).status


def _activate_from_email(app, nursery, mail_outbox, email: str) -> None:
    link = re.search(r"/activate/[\w-]+", text_of(mail_outbox.to(email)[-1])).group(0)
    client = client_for(app, nursery.slug)
    page = client.get(link)
    assert page.status_code == 200 and email in page.text  # the page says whose account
    form = {
        "password": NEW_PASSWORD,
        "password_again": NEW_PASSWORD,
        "pin": NEW_PIN,
        "pin_again": NEW_PIN,
    }
    assert post_form(client, link, form).status_code == 303
    assert f'value="{email}"' in client.get("/login").text  # sign-in has the email filled in


def test_a_manager_reactivates_a_parent_who_then_chooses_new_secrets(app, nursery, mail_outbox):
    _deactivate(app, nursery, nursery.parent_id)
    email = email_of(nursery, "parent")
    manager = signed_in(app, nursery, "manager")
    assert "Reactivate Pat Parent" in manager.get(f"/people/parents/{nursery.parent_id}").text
    confirm = manager.get(f"/people/{nursery.parent_id}/reactivate").text
    assert "new activation link" in confirm and email in confirm

    response = post_form(manager, f"/people/{nursery.parent_id}/reactivate")
    assert response.status_code == 303
    assert _status(app, nursery, nursery.parent_id) is AccountStatus.INVITED
    # The old password and PIN are gone: only the new link brings them in.
    refused = sign_in(client_for(app, nursery.slug), email, PASSWORD, PIN)
    assert refused.headers["Location"].endswith("/login")

    _activate_from_email(app, nursery, mail_outbox, email)
    parent = client_for(app, nursery.slug)
    assert sign_in(parent, email, NEW_PASSWORD, NEW_PIN).headers["Location"] == "/"
    assert "Ada" in parent.get("/journal/").text  # their linked child again
    with inside(app, nursery.slug):
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.event == "reactivated")
        ).one()
        assert (entry.actor_id, entry.subject_id) == (nursery.manager_id, nursery.parent_id)


def test_a_reactivated_member_of_staff_loses_a_leaving_date_that_has_passed(app, nursery):
    manager = signed_in(app, nursery, "manager")
    response = post_form(
        manager,
        f"/people/staff/{nursery.staff_id}/dates",
        {"start_date": "2024-01-08", "leaving_date": "2026-11-30"},
    )
    assert response.status_code == 303
    assert _status(app, nursery, nursery.staff_id) is AccountStatus.DEACTIVATED
    assert post_form(manager, f"/people/{nursery.staff_id}/reactivate").status_code == 303
    with inside(app, nursery.slug):
        record = staff.staff_dates(get_user(nursery.staff_id))
        assert record.leaving_date is None and record.start_date == date(2024, 1, 8)
        assert staff.staff_due_to_leave() == []  # the night's sweep leaves them be


def test_only_a_deactivated_account_is_reactivated(app, nursery):
    manager = signed_in(app, nursery, "manager")
    assert post_form(manager, f"/people/{nursery.parent_id}/reactivate").status_code == 409
    assert _status(app, nursery, nursery.parent_id) is AccountStatus.ACTIVE


def _link_deactivated(app, nursery, user_id: int, who: str, name: str) -> tuple[str, Callable]:
    """Link the deactivated account of ``who`` to Bo as the manager would: the email typed,
    the confirmation screen read; returns its text, and a function that confirms it."""
    _deactivate(app, nursery, user_id)
    manager = signed_in(app, nursery, "manager")
    details = {"full_name": name, "email": email_of(nursery, who), "relationship": "Carer"}
    path = f"/people/children/{nursery.other_child_id}/parents"
    screen = post_form(manager, path, details)
    assert screen.status_code == 200, screen.text
    shown = re.search(r'name="shown_parent_id" value="([^"]+)"', screen.text).group(1)
    confirmed = {**details, "confirmed": "yes", "shown_parent_id": shown}
    return screen.text, lambda: post_form(manager, path, confirmed)


def test_linking_a_deactivated_parent_offers_to_reactivate_them(app, nursery, mail_outbox):
    screen, confirm = _link_deactivated(app, nursery, nursery.parent_id, "parent", "Pat Parent")
    assert "account is deactivated" in screen
    assert "Yes, reactivate and link Pat Parent to Bo Lind" in screen

    done = confirm()
    assert done.status_code == 303
    with inside(app, nursery.slug):
        assert sorted(links_of(nursery.parent_id)) == sorted(
            [nursery.child_id, nursery.other_child_id]
        )
        assert get_user(nursery.parent_id).status is AccountStatus.INVITED
    assert mail_outbox.to(email_of(nursery, "parent")), "emailed a new activation link"


def test_linking_from_the_parents_page_reactivates_too(app, nursery):
    _deactivate(app, nursery, nursery.parent_id)
    manager = signed_in(app, nursery, "manager")
    path = f"/people/parents/{nursery.parent_id}/children"
    details = {"child_id": str(nursery.other_child_id), "relationship": "Mother"}
    screen = post_form(manager, path, details)
    assert "Yes, reactivate and link Pat Parent to Bo Lind" in screen.text
    assert post_form(manager, path, {**details, "confirmed": "yes"}).status_code == 303
    assert _status(app, nursery, nursery.parent_id) is AccountStatus.INVITED


def test_inviting_a_deactivated_address_again_offers_reactivation(app, nursery):
    _deactivate(app, nursery, nursery.staff_id)
    email = email_of(nursery, "staff")
    manager = signed_in(app, nursery, "manager")
    for path, form in (
        ("/invitations", {"full_name": "Sam Staff", "email": email, "role": "staff"}),
        ("/people/staff/new", {"full_name": "Sam Staff", "email": email, "role": "staff"}),
    ):
        page = post_form(manager, path, form)
        assert page.status_code == 200, path
        assert "already uses" not in page.text
        assert "Sam Staff used to have an account" in page.text
        assert f'href="/people/{nursery.staff_id}/reactivate"' in page.text
    with inside(app, nursery.slug):
        assert db.session.scalars(select(User).where(User.email == email)).one().id == (
            nursery.staff_id
        )


def test_the_invitation_form_preselects_no_role(app, nursery):
    manager = signed_in(app, nursery, "manager")
    page = manager.get("/invitations").text
    assert '<option selected value="">Choose a role</option>' in page
    refused = post_form(
        manager, "/invitations", {"full_name": "Nia New", "email": "nia@example.org", "role": ""}
    )
    assert refused.status_code == 422 and "Choose a role." in refused.text


# ---------------------------------------------------------------- asking before acting


def test_archive_unlink_and_deactivate_ask_first_and_say_what_will_happen(app, nursery):
    manager = signed_in(app, nursery, "manager")
    child_page = manager.get(f"/people/children/{nursery.child_id}").text
    for url in (
        f"/people/children/{nursery.child_id}/archive",
        f"/people/children/{nursery.child_id}/parents/{nursery.parent_id}/unlink",
    ):
        assert f'href="{url}"' in child_page  # a link to a page that asks, not a button that acts

    archive = manager.get(f"/people/children/{nursery.child_id}/archive").text
    assert "moves to the archive today" in archive and "Yes, Ada has left" in archive
    unlink = manager.get(f"/people/children/{nursery.child_id}/parents/{nursery.parent_id}/unlink")
    assert "will no longer see Ada" in unlink.text
    deactivate = manager.get(f"/people/{nursery.parent_id}/deactivate").text
    assert "signed out everywhere" in deactivate and "Yes, deactivate Pat Parent" in deactivate

    # Opening the pages changed nothing.
    with inside(app, nursery.slug):
        assert db.session.get_one(Child, nursery.child_id).archived_at is None
        assert links_of(nursery.parent_id) == [nursery.child_id]
        assert get_user(nursery.parent_id).status is AccountStatus.ACTIVE


# ---------------------------------------------------------------- another role


def _role_changes(app, nursery) -> list[dict]:
    with inside(app, nursery.slug):
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.event == "role_changed")
        ).all()
        return [entry.detail for entry in entries]


def test_a_former_parent_invited_as_staff_comes_back_as_staff(app, nursery, mail_outbox):
    """One account per email: the former parent's comes back with the new role, their links
    to children ended, and they choose new secrets from the activation link."""
    _deactivate(app, nursery, nursery.parent_id)
    email = email_of(nursery, "parent")
    manager = signed_in(app, nursery, "manager")
    offer = post_form(
        manager, "/people/staff/new", {"full_name": "Pat Parent", "email": email, "role": "staff"}
    )
    assert offer.status_code == 200 and "Pat Parent used to have an account" in offer.text
    confirm_path = f"/people/{nursery.parent_id}/reactivate?role=staff"
    assert f'href="{confirm_path}"' in offer.text.replace("&amp;", "&")
    confirm = manager.get(confirm_path).text
    assert "as staff" in confirm and "links to children end" in confirm

    done = post_form(manager, f"/people/{nursery.parent_id}/reactivate", {"role": "staff"})
    assert done.status_code == 303
    with inside(app, nursery.slug):
        person = get_user(nursery.parent_id)
        assert (person.role.value, person.status) == ("staff", AccountStatus.INVITED)
        assert links_of(nursery.parent_id) == []
    assert _role_changes(app, nursery) == [
        {"role": "staff", "former_role": "parent", "links_ended": 1}
    ]
    _activate_from_email(app, nursery, mail_outbox, email)
    client = client_for(app, nursery.slug)
    sign_in(client, email, NEW_PASSWORD, NEW_PIN)
    assert client.get("/journal/observations/new").status_code == 200  # staff's page


def test_a_former_member_of_staff_linked_as_a_parent_comes_back_as_a_parent(
    app, nursery, mail_outbox
):
    screen, confirm = _link_deactivated(app, nursery, nursery.staff_id, "staff", "Sam Staff")
    assert "comes back as a parent or carer" in screen
    assert confirm().status_code == 303
    with inside(app, nursery.slug):
        person = get_user(nursery.staff_id)
        assert (person.role.value, person.status) == ("parent", AccountStatus.INVITED)
        assert links_of(nursery.staff_id) == [nursery.other_child_id]
        # A parent is nobody's key person: the child they cared for is left to choose again.
        assert db.session.get_one(Child, nursery.child_id).key_person_id is None
    assert _role_changes(app, nursery) == [
        {"role": "parent", "former_role": "staff", "links_ended": 0}
    ]
    assert mail_outbox.to(email_of(nursery, "staff"))


def test_an_active_account_keeps_its_role(app, nursery):
    manager = signed_in(app, nursery, "manager")
    details = {"full_name": "Sam", "email": email_of(nursery, "staff"), "relationship": "Father"}
    refused = post_form(manager, f"/people/children/{nursery.other_child_id}/parents", details)
    assert refused.status_code == 422 and "belongs to a member of staff" in refused.text
    refused = post_form(manager, f"/people/{nursery.staff_id}/reactivate", {"role": "parent"})
    assert refused.status_code == 409
    assert _status(app, nursery, nursery.staff_id) is AccountStatus.ACTIVE
    assert _role_changes(app, nursery) == []
