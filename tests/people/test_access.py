"""Every people route, for every role, with own, other and foreign ids: who may do what.

Managers may do everything in their setting; staff see active children only;
parents see only their linked children; anonymous visitors are sent to sign in.
A wrong role is a 403; an id that is not theirs to see (another family's child,
a child who left, a child of another setting) is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.auth.models import Role, User
from app.extensions import db
from app.people import children
from app.people.models import Child
from tests.helpers.access import route_cells, wrong_cells
from tests.helpers.clients import post_form
from tests.helpers.people import add_child_with_id, child_details, get_user, inside, signed_in

FOREIGN_ID = 4242  # exists only in the other setting
MANAGER, STAFF, PARENT = "manager", "staff", "parent"
EVERYONE = {MANAGER, STAFF, PARENT}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # with {child}, {parent}, {staff} or {user} placeholders
    roles: set[str]


ROUTES: dict[str, Route] = {
    "people.overview": Route("GET", "/people/", {MANAGER}),
    "people.save_policies": Route("POST", "/people/policies", {MANAGER}),
    "people.children": Route("GET", "/people/children", EVERYONE),
    "people.archive": Route("GET", "/people/children/archive", {MANAGER}),
    "people.new_child": Route("GET", "/people/children/new", {MANAGER}),
    "people.create_child": Route("POST", "/people/children/new", {MANAGER}),
    "people.child": Route("GET", "/people/children/{child}", EVERYONE),
    "people.edit_child": Route("GET", "/people/children/{child}/edit", {MANAGER}),
    "people.update_child": Route("POST", "/people/children/{child}/edit", {MANAGER}),
    "people.set_leaving_date": Route("POST", "/people/children/{child}/leaving", {MANAGER}),
    "people.confirm_archive_child": Route("GET", "/people/children/{child}/archive", {MANAGER}),
    "people.archive_child": Route("POST", "/people/children/{child}/archive", {MANAGER}),
    "people.add_parent_to_child": Route("POST", "/people/children/{child}/parents", {MANAGER}),
    "people.confirm_unlink_parent": Route(
        "GET", "/people/children/{child}/parents/{parent}/unlink", {MANAGER}
    ),
    "people.unlink_parent": Route(
        "POST", "/people/children/{child}/parents/{parent}/unlink", {MANAGER}
    ),
    "people.parents": Route("GET", "/people/parents", {MANAGER}),
    "people.parent": Route("GET", "/people/parents/{parent}", {MANAGER}),
    "people.link_child_to_parent": Route("POST", "/people/parents/{parent}/children", {MANAGER}),
    "people.staff": Route("GET", "/people/staff", {MANAGER}),
    "people.new_staff": Route("GET", "/people/staff/new", {MANAGER}),
    "people.create_staff": Route("POST", "/people/staff/new", {MANAGER}),
    "people.staff_member": Route("GET", "/people/staff/{staff}", {MANAGER}),
    "people.set_staff_dates": Route("POST", "/people/staff/{staff}/dates", {MANAGER}),
    "people.confirm_deactivate": Route("GET", "/people/{user}/deactivate", {MANAGER}),
    "people.deactivate": Route("POST", "/people/{user}/deactivate", {MANAGER}),
    "people.confirm_reactivate": Route("GET", "/people/{user}/reactivate", {MANAGER}),
    "people.reactivate": Route("POST", "/people/{user}/reactivate", {MANAGER}),
}
ACCOUNT_CHANGES = ("people.deactivate", "people.reactivate")

# Whose ids a request names: the signed-in parent's own child, another child of
# the same setting, a child who has left, and ids that exist only in another setting.
TARGETS = ("own", "other", "left", "foreign")


def test_the_table_lists_every_people_route(app):
    registered = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("people.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert registered == {(name, route.method) for name, route in ROUTES.items()}


@pytest.fixture
def ids(app, nursery, make_setting) -> dict[str, dict[str, int]]:
    """Ids to put in each placeholder, for each target."""
    with inside(app, nursery.slug):
        manager = get_user(nursery.manager_id)
        left = children.create_child(child_details(first_name="Lia", last_name="Left"), by=manager)
        children.archive_child(left, by=manager)
        db.session.commit()
        left_id = left.id
        assert db.session.get(Child, FOREIGN_ID) is None
        assert db.session.get(User, FOREIGN_ID) is None
    elsewhere = make_setting()
    with inside(app, elsewhere.slug):
        db.session.add(User(id=FOREIGN_ID, email="x@example.org", full_name="X", role=Role.PARENT))
        db.session.flush()
        add_child_with_id(FOREIGN_ID)
        db.session.commit()
    people_ids = {
        "parent": nursery.parent_id,
        "staff": nursery.staff_id,
        "user": nursery.staff_id,
    }
    return {
        "own": {"child": nursery.child_id, **people_ids},
        "other": {"child": nursery.other_child_id, **people_ids},
        "left": {"child": left_id, **people_ids},
        "foreign": {
            "child": FOREIGN_ID,
            "parent": FOREIGN_ID,
            "staff": FOREIGN_ID,
            "user": FOREIGN_ID,
        },
    }


def _expected(name: str, route: Route, role: str, target: str) -> str:
    if role == "anonymous":
        return "sign in"
    if role not in route.roles:
        return "403"
    has_ids = "{" in route.path
    if has_ids and target == "foreign":
        return "404"
    if name == "people.child" and role == STAFF and target == "left":
        return "404"
    if name == "people.child" and role == PARENT and target != "own":
        return "404"
    return "allowed"


@pytest.mark.parametrize("role", [MANAGER, STAFF, PARENT, "anonymous"])
def test_every_route_for_every_role_and_id(app, nursery, ids, role):
    # The manager's own staff member is deactivated by one of these requests:
    # ask the destructive ones last.
    order = sorted(ROUTES.items(), key=lambda item: item[0] in ACCOUNT_CHANGES)
    cells = route_cells(
        order,
        ids,
        lambda route: TARGETS if "{" in route.path else ("own",),
        lambda name, route, target: _expected(name, route, role, target),
    )
    wrong = wrong_cells(signed_in(app, nursery, role), cells)
    assert not wrong, "\n".join(wrong)


HOSTILE_VALUES = [
    "x" * 100_000,
    "\x00",
    "'; DROP TABLE children; --",
    "<script>alert(1)</script>",
    "9" * 40,
    "-1",
    "",
]
FIELDS = [
    "first_name",
    "last_name",
    "preferred_name",
    "date_of_birth",
    "start_date",
    "room",
    "key_person_id",
    "photo_consent",
    "leaving_date",
    "confirm_duplicate",
    "full_name",
    "email",
    "role",
    "relationship",
    "confirmed",
    "shown_parent_id",
    "child_id",
    "parent_grace_days",
    "retention_years_after_leaving",
]


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=range(len(HOSTILE_VALUES)))
def test_hostile_input_to_every_form_is_never_a_server_error(app, nursery, ids, value):
    manager = signed_in(app, nursery, MANAGER)
    # Deactivating someone is not a form with fields; leave it out so the others run as manager.
    forms = [r for n, r in ROUTES.items() if r.method == "POST" and n not in ACCOUNT_CHANGES]
    for route in forms:
        path = route.path.format(**ids["other"])
        response = post_form(manager, path, dict.fromkeys(FIELDS, value))
        assert response.status_code < 500, (path, response.status_code)
    with inside(app, nursery.slug):
        assert db.session.get(Child, nursery.other_child_id).first_name == "Bo"


def test_invalid_utf8_in_a_form_is_a_form_error(app, nursery):
    manager = signed_in(app, nursery, MANAGER)
    from tests.helpers.clients import csrf_token

    body = b"first_name=%FF%FE&last_name=Lind&csrf_token=" + csrf_token(manager).encode()
    response = manager.post(
        "/people/children/new", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert 400 <= response.status_code < 500
