"""Every journal route, for every role, with own, other, left, mismatched and foreign ids.

Managers may open every journal of their setting; staff the journals of active
children; a parent only their own child's. A wrong role is a 403; anything the person
may not see is a 404 (another family's child, observation or photo, a child who left,
a photo asked for under a child it does not belong to, ids of another setting).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.extensions import db
from app.journal.models import Comment, Observation
from app.people import children
from app.people.models import Child
from tests.helpers.access import route_cells, wrong_cells
from tests.helpers.clients import post_form
from tests.helpers.journal import observe, photo_bytes, signed_in
from tests.helpers.people import add_child_with_id, child_details, get_user, inside

FOREIGN_ID = 4242  # exists only in another setting
MANAGER, STAFF, PARENT = "manager", "staff", "parent_a"
EVERYONE = {MANAGER, STAFF, PARENT}
STAFF_ROLES = {MANAGER, STAFF}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # with {child}, {observation}, {photo} or {comment} placeholders
    roles: set[str]
    child_centred: bool = False  # the parent may use it for their own child
    own_comment: bool = False  # only the comment's author (here, the member of staff)


COMMENT = "/journal/children/{child}/observations/{observation}/comments/{comment}"


ROUTES: dict[str, Route] = {
    "journal.index": Route("GET", "/journal/", EVERYONE),
    "journal.review_queue": Route("GET", "/journal/review", STAFF_ROLES),
    "journal.new_observation": Route("GET", "/journal/observations/new", STAFF_ROLES),
    "journal.create_observation": Route("POST", "/journal/observations/new", STAFF_ROLES),
    "journal.keep_unsaved": Route(
        "POST", "/journal/observations/unsaved?page=/journal/observations/new", STAFF_ROLES
    ),
    "journal.observation": Route("GET", "/journal/observations/{observation}", STAFF_ROLES),
    "journal.edit_observation": Route(
        "GET", "/journal/observations/{observation}/edit", STAFF_ROLES
    ),
    "journal.update_observation": Route(
        "POST", "/journal/observations/{observation}/edit", STAFF_ROLES
    ),
    "journal.confirm_delete_observation": Route(
        "GET", "/journal/observations/{observation}/delete", STAFF_ROLES
    ),
    "journal.delete_observation": Route(
        "POST", "/journal/observations/{observation}/delete", STAFF_ROLES
    ),
    "journal.withdraw_observation": Route(
        "POST", "/journal/observations/{observation}/withdraw", STAFF_ROLES
    ),
    "journal.set_people_in_photo": Route(
        "POST", "/journal/observations/{observation}/photos/{photo}/people", STAFF_ROLES
    ),
    "journal.add_photo": Route("POST", "/journal/observations/{observation}/photos", STAFF_ROLES),
    "journal.remove_photo": Route(
        "POST", "/journal/observations/{observation}/photos/{photo}/remove", STAFF_ROLES
    ),
    "journal.photo": Route("GET", "/journal/photos/{photo}/full", STAFF_ROLES),
    "journal.photo_page": Route("GET", "/journal/photos/{photo}", STAFF_ROLES),
    "journal.publish_observation": Route(
        "POST", "/journal/observations/{observation}/publish", STAFF_ROLES
    ),
    "journal.approve_observation": Route(
        "POST", "/journal/observations/{observation}/approve", STAFF_ROLES
    ),
    "journal.send_back_observation": Route(
        "POST", "/journal/observations/{observation}/send-back", STAFF_ROLES
    ),
    "journal.hide_comment": Route("POST", "/journal/comments/{comment}/hide", STAFF_ROLES),
    "journal.child_journal": Route("GET", "/journal/children/{child}", EVERYONE, True),
    "journal.child_observation": Route(
        "GET", "/journal/children/{child}/observations/{observation}", EVERYONE, True
    ),
    "journal.child_observation_json": Route(
        "GET", "/journal/children/{child}/observations/{observation}.json", EVERYONE, True
    ),
    "journal.add_comment": Route(
        "POST", "/journal/children/{child}/observations/{observation}/comments", EVERYONE, True
    ),
    "journal.edit_comment": Route("GET", f"{COMMENT}/edit", EVERYONE, True, own_comment=True),
    "journal.update_comment": Route("POST", f"{COMMENT}/edit", EVERYONE, True, own_comment=True),
    "journal.delete_comment": Route("POST", f"{COMMENT}/delete", EVERYONE, True, own_comment=True),
    "journal.child_photo": Route(
        "GET", "/journal/children/{child}/photos/{photo}/thumb", EVERYONE, True
    ),
    "journal.child_photo_page": Route(
        "GET", "/journal/children/{child}/photos/{photo}", EVERYONE, True
    ),
    "journal.new_home_observation": Route(
        "GET", "/journal/children/{child}/home-observations/new", {PARENT}, True
    ),
    "journal.create_home_observation": Route(
        "POST", "/journal/children/{child}/home-observations/new", {PARENT}, True
    ),
    "journal.email_choice": Route("GET", "/journal/emails", {PARENT}),
    "journal.save_email_choice": Route("POST", "/journal/emails", {PARENT}),
    "journal.access_log": Route("GET", "/journal/children/{child}/access-log", {MANAGER}, True),
    "journal.policies": Route("GET", "/journal/policies", {MANAGER}),
    "journal.save_policies": Route("POST", "/journal/policies", {MANAGER}),
}

# own: parent A's child and an observation about them; other: child B's; left: a child
# who has left; mismatch: child A with child B's observation and photo; foreign: ids
# that exist only in another setting.
TARGETS = ("own", "other", "left", "mismatch", "foreign")


def test_the_table_lists_every_journal_route(app):
    registered = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("journal.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert registered == {(name, route.method) for name, route in ROUTES.items()}


def _published_with_photo_and_comment(app, family, child_id: int, text: str) -> dict[str, int]:
    observation_id = observe(
        app, family, [child_id], text, photos=[(photo_bytes(64, 48), "", None)]
    )
    with inside(app, family.slug):
        observation = db.session.get_one(Observation, observation_id)
        comment = Comment(
            observation_id=observation_id,
            child_id=child_id,
            author_id=family.staff_id,
            body="Lovely.",
            created_at=observation.created_at,
        )
        db.session.add(comment)
        db.session.commit()
        return {
            "child": child_id,
            "observation": observation_id,
            "photo": observation.photos[0].id,
            "comment": comment.id,
        }


@pytest.fixture
def ids(app, family, make_setting) -> dict[str, dict[str, int]]:
    own = _published_with_photo_and_comment(app, family, family.child_a_id, "Ada sang.")
    other = _published_with_photo_and_comment(app, family, family.child_b_id, "Barty hopped.")
    with inside(app, family.slug):
        manager = get_user(family.manager_id)
        left = children.create_child(child_details(first_name="Lia", last_name="Left"), by=manager)
        db.session.commit()
        left_id = left.id
    gone = _published_with_photo_and_comment(app, family, left_id, "Lia waved.")
    with inside(app, family.slug):
        children.archive_child(db.session.get_one(Child, left_id), by=get_user(family.manager_id))
        db.session.commit()
        assert db.session.get(Observation, FOREIGN_ID) is None
    elsewhere = make_setting()
    with inside(app, elsewhere.slug):
        add_child_with_id(FOREIGN_ID)
        db.session.commit()
    return {
        "own": own,
        "other": other,
        "left": gone,
        "mismatch": {**other, "child": family.child_a_id},
        "foreign": dict.fromkeys(("child", "observation", "photo", "comment"), FOREIGN_ID),
    }


def _expected(name: str, route: Route, role: str, target: str) -> str:
    if role == "anonymous":
        return "sign in"
    if role not in route.roles:
        return "403"
    if "{" not in route.path:
        return "allowed"
    if target == "foreign":
        return "404"
    names_observation = "{observation}" in route.path or "{photo}" in route.path
    if route.child_centred:
        if target == "mismatch" and names_observation:
            return "404"
        if role == PARENT and target != "own" and target != "mismatch":
            return "404"
    if role == STAFF and target == "left":
        return "404"
    if route.own_comment and role != STAFF:
        return "404"
    return "allowed"


def _targets(route: Route) -> tuple[str, ...]:
    if "{" not in route.path:
        return ("own",)
    # A child paired with another child's observation only means something on a
    # child-centred route; elsewhere it is "other" again (already removed, if deleted).
    return TARGETS if route.child_centred else tuple(t for t in TARGETS if t != "mismatch")


# Ask the routes that change things last, and the ones that delete after the others.
LAST = (
    "journal.update_comment",
    "journal.hide_comment",
    "journal.delete_comment",
    "journal.withdraw_observation",
    "journal.remove_photo",
    "journal.delete_observation",
)


@pytest.mark.parametrize("role", [MANAGER, STAFF, PARENT, "anonymous"])
def test_every_route_for_every_role_and_id(app, family, ids, role):
    order = sorted(
        ROUTES.items(), key=lambda item: LAST.index(item[0]) + 1 if item[0] in LAST else 0
    )
    cells = route_cells(
        order, ids, _targets, lambda name, route, target: _expected(name, route, role, target)
    )
    wrong = wrong_cells(signed_in(app, family, role), cells)
    assert not wrong, "\n".join(wrong)


def test_a_parent_cannot_reach_another_childs_observation_or_photo_by_url(app, family, ids):
    parent = signed_in(app, family, PARENT)
    other, own_child = ids["other"], family.child_a_id
    for path in (
        f"/journal/children/{other['child']}",
        f"/journal/children/{other['child']}/observations/{other['observation']}",
        f"/journal/children/{own_child}/observations/{other['observation']}",
        f"/journal/children/{own_child}/observations/{other['observation']}.json",
        f"/journal/children/{other['child']}/photos/{other['photo']}/full",
        f"/journal/children/{own_child}/photos/{other['photo']}/full",
        f"/retention/children/{other['child']}/leaving-pack",
    ):
        assert parent.get(path).status_code == 404, path
    own = ids["own"]
    assert (
        parent.get(f"/journal/children/{own_child}/photos/{own['photo']}/full").status_code == 200
    )


def test_a_parent_does_not_see_drafts_by_url(app, family):
    draft_id = observe(app, family, [family.child_a_id], "Not yet.", publish=False)
    parent = signed_in(app, family, PARENT)
    path = f"/journal/children/{family.child_a_id}/observations/{draft_id}"
    assert parent.get(path).status_code == 404


def test_staff_do_not_see_other_staffs_drafts(app, family):
    with inside(app, family.slug):
        from app.journal import observations
        from app.journal.models import ObservationStatus

        draft = observations.create_observation(
            observations.ObservationDetails(
                observed_on=child_details().start_date,
                child_ids=(family.child_a_id,),
                text="The manager's draft.",
            ),
            by=get_user(family.manager_id),
        )
        db.session.commit()
        draft_id = draft.id
        assert draft.status is ObservationStatus.DRAFT
    staff = signed_in(app, family, STAFF)
    assert staff.get(f"/journal/observations/{draft_id}").status_code == 404
    assert "The manager&#39;s draft." not in staff.get("/journal/").text
    manager = signed_in(app, family, MANAGER)
    assert manager.get(f"/journal/observations/{draft_id}").status_code == 200


HOSTILE_VALUES = ["x" * 100_000, "\x00", "'; DROP TABLE observations; --", "<script>", "-1", ""]
FIELDS = [
    "observed_on",
    "child_ids",
    "text",
    "next_steps",
    "areas",
    "characteristics",
    "age_band",
    "caption",
    "in_photo",
    "confirmed",
    "note",
    "body",
    "group_names",
    "mode",
    "blocked_phrases",
    "no_surnames",
    "no_other_children_names",
    "photo_limit",
]


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=range(len(HOSTILE_VALUES)))
def test_hostile_input_to_every_form_is_never_a_server_error(app, family, ids, value):
    draft_id = observe(app, family, [family.child_a_id], "A draft.", publish=False)
    for role in (MANAGER, PARENT):
        client = signed_in(app, family, role)
        for name, route in ROUTES.items():
            if route.method != "POST" or role not in route.roles or name in LAST:
                continue
            path = route.path.format(**{**ids["own"], "observation": draft_id})
            response = post_form(client, path, dict.fromkeys(FIELDS, value))
            assert response.status_code < 500, (path, response.status_code)
        for page in (f"/journal/children/{family.child_a_id}", "/journal/"):
            for query in ("area", "date_from", "date_to", "page", "child", "author", "status"):
                response = client.get(page, query_string={query: value[:2000]})
                assert response.status_code < 500, (page, query, response.status_code)
    with inside(app, family.slug):
        assert db.session.get(Observation, draft_id) is not None


def test_a_bad_page_number_is_a_4xx(app, family):
    parent = signed_in(app, family, PARENT)
    response = parent.get(f"/journal/children/{family.child_a_id}?page=0")
    assert response.status_code == 400
    assert "There is a problem" in response.text
