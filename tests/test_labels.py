"""Pages name each stored state in a person's words ("Invitation sent, not yet accepted",
"Waiting to start"), never by its stored value ("invited", "queued")."""

from __future__ import annotations

import re
from pathlib import Path

from app.auth.models import AccountStatus, Role
from app.extensions import db
from app.people.links import link_parent
from tests.helpers.clients import post_form
from tests.helpers.journal import signed_in
from tests.helpers.people import add_user, get_child, get_user, inside

APP = Path(__file__).resolve().parents[1] / "app"
INVITED = "Invitation sent, not yet accepted"


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace("&#39;", "'")


def test_an_invited_parent_and_staff_member_read_as_invited_not_as_a_stored_word(app, family):
    with inside(app, family.slug):
        parent = add_user("Mo Invited", "mo@example.org", Role.PARENT, AccountStatus.INVITED)
        staff = add_user("Kit Invited", "kit@example.org", Role.STAFF, AccountStatus.INVITED)
        link_parent(parent, get_child(family.child_a_id), "Father", by=get_user(family.manager_id))
        db.session.commit()
        parent_id, staff_id = parent.id, staff.id
    manager = signed_in(app, family, "manager")

    for path in (
        "/invitations",
        "/people/parents",
        f"/people/parents/{parent_id}",
        f"/people/children/{family.child_a_id}",
        "/people/staff",
        f"/people/staff/{staff_id}",
    ):
        page = manager.get(path)
        assert page.status_code == 200, path
        said = _text(page.text)
        assert INVITED.lower() in said.lower(), path
        assert not re.search(
            r"\binvited\b", said.replace("Mo Invited", "").replace("Kit Invited", ""), re.I
        ), path
    said = _text(manager.get("/invitations").text)
    assert "Parent or carer" in said and "Member of staff" in said


def test_a_leaving_pack_waiting_for_its_worker_reads_waiting_to_start(
    app, family, tasks_left_to_workers
):
    parent = signed_in(app, family, "parent_a")
    path = f"/retention/children/{family.child_a_id}/leaving-pack"
    assert post_form(parent, path).status_code == 303

    said = _text(parent.get(path).text)
    assert "waiting to start" in said.lower()
    assert "queued" not in said


def test_no_template_shows_a_stored_value_as_it_is():
    """``{{ x.status.value }}`` or ``{{ x.role.value | capitalize }}`` on a page: the
    stored word, not the member's ``label``."""
    shown_raw = re.compile(r"\.value\s*(\}\}|\|\s*(capitalize|lower|upper|title)|~)")
    found = [
        f"{template.relative_to(APP)}:{number}"
        for template in APP.rglob("templates/**/*.*")
        for number, line in enumerate(template.read_text().splitlines(), 1)
        # a form's value="{{ role.value }}" is sent back, not read
        if shown_raw.search(re.sub(r'value="\{\{[^}]*\}\}"', "", line))
    ]
    assert found == []
