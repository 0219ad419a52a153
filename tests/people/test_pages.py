"""The people pages as managers, staff and parents use them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.auth.models import AccountStatus, AuditEntry, Role, User
from app.extensions import db
from app.people.models import Child, ParentLink, StaffMember
from tests.fixtures.smtp import text_of
from tests.helpers.clients import is_signed_out, post_form
from tests.helpers.people import (
    PASSWORD,
    PIN,
    TODAY,
    add_user,
    email_of,
    get_child,
    get_user,
    inside,
    links_of,
    signed_in,
)

GOOD_CHILD = {
    "first_name": "Maya",
    "last_name": "Kowalska",
    "preferred_name": "",
    "date_of_birth": "2024-02-29",
    "start_date": "2025-09-01",
    "room": "Rainbows",
    "key_person_id": "0",
    "leaving_date": "",
}


def _children_count(app, slug: str) -> int:
    with inside(app, slug):
        return db.session.scalar(select(func.count()).select_from(Child))


def _error_ids(page: str) -> list[str]:
    return re.findall(r'aria-describedby="([^"]*error[^"]*)"', page)


# ---------------------------------------------------------------- children


def test_manager_adds_a_child_who_then_appears_on_the_lists(app, nursery):
    manager = signed_in(app, nursery, "manager")
    response = post_form(manager, "/people/children/new", {**GOOD_CHILD, "photo_consent": "y"})
    assert response.status_code == 303
    page = manager.get(response.headers["Location"])
    assert "Maya Kowalska" in page.text and "Allowed" in page.text
    assert "Maya Kowalska" in manager.get("/people/children").text
    assert "Maya Kowalska" in signed_in(app, nursery, "staff").get("/people/children").text
    assert "Maya Kowalska" not in signed_in(app, nursery, "parent").get("/people/children").text


def test_real_names_are_stored_as_typed_and_shown_escaped(app, nursery):
    manager = signed_in(app, nursery, "manager")
    typed = {
        **GOOD_CHILD,
        "first_name": "  Zoë  ",
        "last_name": "O'Brien-Nguyễn",
        "room": "Bees & Ants",
    }
    response = post_form(manager, "/people/children/new", typed)
    assert response.status_code == 303
    page = manager.get(response.headers["Location"]).text
    assert "Zoë O&#39;Brien-Nguyễn" in page
    assert "Bees &amp; Ants" in page
    with inside(app, nursery.slug):
        stored = db.session.scalars(select(Child).where(Child.room == "Bees & Ants")).one()
        assert (stored.first_name, stored.last_name) == ("Zoë", "O'Brien-Nguyễn")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("first_name", "<script>alert(1)</script>", "may contain letters"),
        ("last_name", "x" * 100_000, "at most 60"),
        ("first_name", "", "First name is required"),
        ("room", "   ", "Room is required"),
        ("date_of_birth", "2025-02-30", "Not a valid date"),
        ("date_of_birth", "", "Date of birth is required"),
        ("date_of_birth", "0001-01-01", "between"),
        ("date_of_birth", (TODAY + timedelta(days=1)).isoformat(), "in the future"),
        ("leaving_date", "2025-08-01", "before the start date"),
        ("key_person_id", "not-a-number", "Invalid"),
        ("key_person_id", "999999", "Not a valid choice"),
        ("first_name", "Ada\u202e", "cannot be shown"),  # NUL: the input guard's 400
        ("first_name", "\u3164", "cannot be shown"),  # a Hangul filler: a blank "letter"
        ("last_name", "Okafor\u3164", "cannot be shown"),
    ],
)
def test_bad_child_input_is_a_form_error_and_nothing_is_saved(app, nursery, field, value, message):
    manager = signed_in(app, nursery, "manager")
    before = _children_count(app, nursery.slug)
    response = post_form(manager, "/people/children/new", {**GOOD_CHILD, field: value})
    assert response.status_code == 422
    assert message in response.text
    assert "<script>alert" not in response.text
    # The message is tied to its field for screen readers.
    assert any(ids.startswith(field) for ids in _error_ids(response.text)), _error_ids(
        response.text
    )
    assert _children_count(app, nursery.slug) == before


@pytest.mark.parametrize(
    ("first_name", "last_name"),
    [
        ("محمد\u200cحسین", "حسینی\u200cنیک"),  # Persian: a zero-width non-joiner inside words
        ("ശ്രീ\u200dകുമാർ", "മേനോൻ"),  # Malayalam: a zero-width joiner shapes the letters
        ("श्\u200dरेया", "शर्मा"),  # Devanagari: a half form
    ],
)
def test_names_that_need_a_zero_width_joiner_are_welcome(app, nursery, first_name, last_name):
    """A Persian keyboard types a zero-width non-joiner inside names, and Indic scripts
    need a zero-width joiner for some letter forms: part of the name, as typed."""
    manager = signed_in(app, nursery, "manager")
    response = post_form(
        manager,
        "/people/children/new",
        {**GOOD_CHILD, "first_name": first_name, "last_name": last_name},
    )
    assert response.status_code == 303, response.text
    with inside(app, nursery.slug):
        child = db.session.scalar(select(Child).where(Child.last_name == last_name))
        assert child is not None and child.first_name == first_name


@pytest.mark.parametrize("first_name", ["A\u200cda", "Ada\u200d", "\u200cAda", "Ada \u200d Bo"])
def test_a_joiner_that_only_hides_a_split_in_a_name_is_refused(app, nursery, first_name):
    """Between Latin letters, or beside no letter at all, a joiner joins nothing: it only
    makes two names look the same."""
    manager = signed_in(app, nursery, "manager")
    response = post_form(manager, "/people/children/new", {**GOOD_CHILD, "first_name": first_name})
    assert response.status_code == 422
    assert "cannot be shown" in response.text


def test_markup_typed_into_a_form_comes_back_escaped(app, nursery):
    manager = signed_in(app, nursery, "manager")
    response = post_form(
        manager, "/people/children/new", {**GOOD_CHILD, "last_name": '"><script>alert(1)</script>'}
    )
    assert response.status_code == 422
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in response.text


def test_a_form_without_its_csrf_token_is_refused(app, nursery):
    manager = signed_in(app, nursery, "manager")
    before = _children_count(app, nursery.slug)
    response = manager.post("/people/children/new", data=GOOD_CHILD)
    assert response.status_code == 400
    assert _children_count(app, nursery.slug) == before


def test_a_child_with_the_same_names_and_birthday_needs_confirming(app, nursery):
    manager = signed_in(app, nursery, "manager")
    twin = {**GOOD_CHILD, "first_name": "ada", "last_name": "OKAFOR", "date_of_birth": "2023-04-02"}
    before = _children_count(app, nursery.slug)
    warned = post_form(manager, "/people/children/new", twin)
    assert warned.status_code == 200
    assert "Is this the same child?" in warned.text and "Ada Okafor" in warned.text
    assert _children_count(app, nursery.slug) == before
    saved = post_form(manager, "/people/children/new", {**twin, "confirm_duplicate": "y"})
    assert saved.status_code == 303
    assert _children_count(app, nursery.slug) == before + 1


def test_manager_corrects_a_childs_details(app, nursery):
    manager = signed_in(app, nursery, "manager")
    form = manager.get(f"/people/children/{nursery.child_id}/edit")
    assert 'value="Ada"' in form.text and 'value="2023-04-02"' in form.text
    response = post_form(
        manager,
        f"/people/children/{nursery.child_id}/edit",
        {
            **GOOD_CHILD,
            "first_name": "Adaeze",
            "last_name": "Okafor",
            "date_of_birth": "2023-04-02",
        },
    )
    assert response.status_code == 303
    with inside(app, nursery.slug):
        assert get_child(nursery.child_id).first_name == "Adaeze"


def test_a_leaving_date_that_has_come_moves_the_child_to_the_archive(app, nursery):
    manager = signed_in(app, nursery, "manager")
    response = post_form(
        manager,
        f"/people/children/{nursery.other_child_id}/leaving",
        {"leaving_date": TODAY.isoformat()},
    )
    assert response.status_code == 303
    assert "has left and is now in the archive" in manager.get(response.headers["Location"]).text
    assert "Bo Lind" not in manager.get("/people/children").text
    assert "Bo Lind" in manager.get("/people/children/archive").text
    staff = signed_in(app, nursery, "staff")
    assert "Bo Lind" not in staff.get("/people/children").text
    assert staff.get(f"/people/children/{nursery.other_child_id}").status_code == 404


def test_a_leaving_date_before_the_start_is_refused(app, nursery):
    manager = signed_in(app, nursery, "manager")
    response = post_form(
        manager, f"/people/children/{nursery.child_id}/leaving", {"leaving_date": "2020-01-01"}
    )
    assert response.status_code == 422
    assert "cannot be before the start date" in response.text
    with inside(app, nursery.slug):
        assert get_child(nursery.child_id).leaving_date is None


def test_archive_now(app, nursery):
    manager = signed_in(app, nursery, "manager")
    assert post_form(manager, f"/people/children/{nursery.child_id}/archive").status_code == 303
    with inside(app, nursery.slug):
        child = get_child(nursery.child_id)
        assert child.is_archived and child.leaving_date == TODAY


# ---------------------------------------------------------------- linking parents


def test_linking_a_new_parent_shows_both_names_and_the_email_before_saving(
    app, nursery, mail_outbox
):
    manager = signed_in(app, nursery, "manager")
    details = {"full_name": "Kim  Lind", "email": "Kim.Lind@Example.org", "relationship": "Dad"}
    path = f"/people/children/{nursery.other_child_id}/parents"
    confirm = post_form(manager, path, details)
    assert confirm.status_code == 200
    row = re.search(r"<tbody>(.*?)</tbody>", confirm.text, re.S).group(1)
    for shown in ("Kim Lind", "kim.lind@example.org", "Dad", "Bo Lind"):
        assert shown in row
    with inside(app, nursery.slug):
        assert db.session.scalar(select(User).where(User.email == "kim.lind@example.org")) is None

    done = post_form(manager, path, {**details, "confirmed": "yes", "shown_parent_id": "new"})
    assert done.status_code == 303
    with inside(app, nursery.slug):
        kim = db.session.scalars(select(User).where(User.email == "kim.lind@example.org")).one()
        assert links_of(kim.id) == [nursery.other_child_id]
        entry = db.session.scalars(
            select(AuditEntry).where(
                AuditEntry.event == "parent.linked", AuditEntry.subject_id == kim.id
            )
        ).one()
        assert entry.actor_id == nursery.manager_id and entry.at.date() == TODAY
    [invitation] = mail_outbox.to("kim.lind@example.org")
    assert "/activate/" in text_of(invitation)


def test_an_email_already_used_by_a_parent_is_shown_for_confirmation(app, nursery):
    manager = signed_in(app, nursery, "manager")
    path = f"/people/children/{nursery.other_child_id}/parents"
    details = {
        "full_name": "Patricia P",
        "email": email_of(nursery, "parent"),
        "relationship": "Mum",
    }
    confirm = post_form(manager, path, details)
    assert confirm.status_code == 200
    assert "already belongs to <strong>Pat Parent</strong>" in confirm.text
    assert "Patricia P" in confirm.text  # what was typed, said not to be used
    done = post_form(
        manager, path, {**details, "confirmed": "yes", "shown_parent_id": str(nursery.parent_id)}
    )
    assert done.status_code == 303
    with inside(app, nursery.slug):
        assert sorted(links_of(nursery.parent_id)) == sorted(
            [nursery.child_id, nursery.other_child_id]
        )
        assert get_user(nursery.parent_id).full_name == "Pat Parent"


def test_a_confirmation_for_a_new_parent_does_not_link_someone_who_now_has_that_email(app, nursery):
    manager = signed_in(app, nursery, "manager")
    path = f"/people/children/{nursery.other_child_id}/parents"
    details = {
        "full_name": "Pat Parent",
        "email": email_of(nursery, "parent"),
        "relationship": "Mum",
    }
    again = post_form(manager, path, {**details, "confirmed": "yes", "shown_parent_id": "new"})
    assert again.status_code == 200 and "Check before linking" in again.text
    with inside(app, nursery.slug):
        assert links_of(nursery.parent_id) == [nursery.child_id]


@pytest.mark.parametrize(
    ("details", "message"),
    [
        ({"email": "sam@{slug}.example.org"}, "belongs to a member of staff"),
        ({"email": "not an email"}, "not valid"),
        ({"full_name": "<b>Kim</b>"}, "may contain letters"),
        ({"relationship": ""}, "Relationship is required"),
        ({"relationship": "y" * 100_000}, "at most 40"),
    ],
)
def test_bad_parent_details_are_refused(app, nursery, details, message):
    manager = signed_in(app, nursery, "manager")
    typed = {"full_name": "Kim Lind", "email": "kim@example.org", "relationship": "Dad"}
    typed.update({k: v.format(slug=nursery.slug) for k, v in details.items()})
    response = post_form(manager, f"/people/children/{nursery.other_child_id}/parents", typed)
    assert response.status_code == 422
    assert message in response.text
    with inside(app, nursery.slug):
        assert db.session.scalar(select(func.count()).select_from(ParentLink)) == 1


def test_linking_an_existing_parent_to_another_child_from_their_page(app, nursery):
    manager = signed_in(app, nursery, "manager")
    path = f"/people/parents/{nursery.parent_id}/children"
    step = {"child_id": str(nursery.other_child_id), "relationship": "Mum"}
    confirm = post_form(manager, path, step)
    assert confirm.status_code == 200
    assert "Pat Parent" in confirm.text and "Bo Lind" in confirm.text
    assert email_of(nursery, "parent") in confirm.text
    assert post_form(manager, path, {**step, "confirmed": "yes"}).status_code == 303
    with inside(app, nursery.slug):
        assert nursery.other_child_id in links_of(nursery.parent_id)


def test_unlinking_hides_the_child_from_the_parent_at_once(app, nursery):
    parent = signed_in(app, nursery, "parent")
    assert parent.get(f"/people/children/{nursery.child_id}").status_code == 200
    manager = signed_in(app, nursery, "manager")
    response = post_form(
        manager, f"/people/children/{nursery.child_id}/parents/{nursery.parent_id}/unlink"
    )
    assert response.status_code == 303
    assert parent.get(f"/people/children/{nursery.child_id}").status_code == 404
    assert "Ada Okafor" not in parent.get("/people/children").text
    with inside(app, nursery.slug):
        assert (
            db.session.scalars(select(AuditEntry).where(AuditEntry.event == "parent.unlinked"))
            .one()
            .actor_id
            == nursery.manager_id
        )


def test_a_parent_sees_their_child_but_not_other_parents_or_other_children(app, nursery):
    with inside(app, nursery.slug):
        from app.auth.models import Role
        from app.people import links
        from tests.helpers.people import add_user

        other_parent = add_user("Olu Other", "olu@example.org", Role.PARENT)
        links.link_parent(
            other_parent, get_child(nursery.child_id), "Father", by=get_user(nursery.manager_id)
        )
        db.session.commit()
    parent = signed_in(app, nursery, "parent")
    page = parent.get(f"/people/children/{nursery.child_id}")
    assert page.status_code == 200 and "Ada Okafor" in page.text
    assert "Olu Other" not in page.text and "olu@example.org" not in page.text
    listing = parent.get("/people/children").text
    assert "Ada Okafor" in listing and "Bo Lind" not in listing
    assert parent.get(f"/people/children/{nursery.other_child_id}").status_code == 404


# ---------------------------------------------------------------- staff and deactivation


def test_manager_adds_staff_with_dates(app, nursery, mail_outbox):
    manager = signed_in(app, nursery, "manager")
    response = post_form(
        manager,
        "/people/staff/new",
        {
            "full_name": "Nia Nursery",
            "email": "nia@example.org",
            "role": "staff",
            "start_date": "2026-12-07",
            "leaving_date": "",
        },
    )
    assert response.status_code == 303
    assert "Nia Nursery" in manager.get("/people/staff").text
    assert mail_outbox.to("nia@example.org")


NEW_STAFF = {
    "full_name": "Nia Nursery",
    "email": "nia@example.org",
    "role": "staff",
    "start_date": "2026-12-07",
    "leaving_date": "",
}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "manager@{slug}.example.org", "already uses that email"),
        ("role", "parent", "Not a valid choice"),
        ("leaving_date", "2026-01-01", "before the start date"),
        ("full_name", "z" * 100_000, "at most 120"),
    ],
)
def test_bad_staff_input_is_refused(app, nursery, field, value, message):
    manager = signed_in(app, nursery, "manager")
    typed = {**NEW_STAFF, field: value.format(slug=nursery.slug)}
    response = post_form(manager, "/people/staff/new", typed)
    assert response.status_code == 422
    assert message in response.text
    with inside(app, nursery.slug):
        assert db.session.scalar(select(User).where(User.email == "nia@example.org")) is None


@pytest.mark.parametrize("leaving_date", ["2026-11-30", TODAY.isoformat()])
def test_new_staff_whose_leaving_date_has_come_are_refused_not_invited(
    app, nursery, mail_outbox, leaving_date
):
    """They could never sign in: an invitation would only reach someone who has left."""
    manager = signed_in(app, nursery, "manager")
    typed = {**NEW_STAFF, "start_date": "2020-01-06", "leaving_date": leaving_date}
    response = post_form(manager, "/people/staff/new", typed)
    assert response.status_code == 422
    assert "leaving date has already come" in response.text
    assert any(ids.startswith("leaving_date") for ids in _error_ids(response.text))
    assert not mail_outbox.to("nia@example.org", timeout=0.5)
    with inside(app, nursery.slug):
        assert db.session.scalar(select(User).where(User.email == "nia@example.org")) is None


def test_a_setting_is_never_left_without_a_manager_by_a_leaving_date(app, nursery):
    """Nobody could run the setting, nor bring a manager back: the operator has no command
    for it. Another active manager staying past that day must exist first."""
    manager = signed_in(app, nursery, "manager")
    own_dates = f"/people/staff/{nursery.manager_id}/dates"
    leaving = {"start_date": "", "leaving_date": "2026-12-03"}

    refused = post_form(manager, own_dates, leaving)
    assert refused.status_code == 422
    assert "the only manager" in refused.text
    assert any(ids.startswith("leaving_date") for ids in _error_ids(refused.text))
    with inside(app, nursery.slug):
        record = db.session.get(StaffMember, nursery.manager_id)
        assert record is None or record.leaving_date is None
        add_user("Mo Manager", "mo@example.org", Role.MANAGER, password=PASSWORD, pin=PIN)
        db.session.commit()
    assert post_form(manager, own_dates, leaving).status_code == 303


def test_a_leaving_date_that_has_come_ends_a_staff_members_session(app, nursery):
    staff = signed_in(app, nursery, "staff")
    assert staff.get("/people/children").status_code == 200
    manager = signed_in(app, nursery, "manager")
    response = post_form(
        manager,
        f"/people/staff/{nursery.staff_id}/dates",
        {"start_date": "2024-01-08", "leaving_date": TODAY.isoformat()},
    )
    assert response.status_code == 303
    assert is_signed_out(staff.get("/people/children"))
    assert is_signed_out(signed_in_attempt(app, nursery, "staff"))


def signed_in_attempt(app, nursery, who):
    from tests.helpers.clients import client_for, sign_in

    return sign_in(client_for(app, nursery.slug), email_of(nursery, who), PASSWORD, PIN)


def test_deactivate_now_signs_the_person_out_everywhere(app, nursery):
    parent = signed_in(app, nursery, "parent")
    manager = signed_in(app, nursery, "manager")
    assert post_form(manager, f"/people/{nursery.parent_id}/deactivate").status_code == 303
    assert is_signed_out(parent.get("/people/children"))
    assert is_signed_out(signed_in_attempt(app, nursery, "parent"))
    with inside(app, nursery.slug):
        assert get_user(nursery.parent_id).status is AccountStatus.DEACTIVATED


def test_a_manager_cannot_deactivate_themselves(app, nursery):
    manager = signed_in(app, nursery, "manager")
    response = post_form(manager, f"/people/{nursery.manager_id}/deactivate")
    assert response.status_code == 409
    assert manager.get("/people/").status_code == 200


def test_a_child_back_whose_parents_were_deactivated_needs_attention(app, nursery):
    """Their leaving date was cleared after their parent's access had ended: the child is
    on the lists again, and nobody can read their journal until a parent is brought back."""
    manager = signed_in(app, nursery, "manager")
    leaving = f"/people/children/{nursery.child_id}/leaving"
    assert post_form(manager, leaving, {"leaving_date": TODAY.isoformat()}).status_code == 303
    assert post_form(manager, f"/people/{nursery.parent_id}/deactivate").status_code == 303
    assert "Ada Okafor" not in manager.get("/people/").text

    assert post_form(manager, leaving, {"leaving_date": ""}).status_code == 303

    page = manager.get("/people/").text
    heading = page.index("Children with no linked parent or carer")
    assert "Ada Okafor" in page[heading:]


def test_needs_attention_is_on_the_managers_people_page(app, nursery):
    manager = signed_in(app, nursery, "manager")
    page = manager.get("/people/").text
    assert "Children with no linked parent or carer" in page and "Bo Lind" in page
