"""The group-name policy, and photo consent, in everything one family can fetch.

Child A's parent fetches every page, photo, leaving pack and JSON document that touches an
observation shared with child B. With the policy ``hidden`` none of B's names is
anywhere: not in a body, a header or a file name. With ``shown`` they appear.
"""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import update

from app.auth.models import User
from app.extensions import db
from app.journal import comments, names
from app.journal.models import GroupNamePolicy, Observation
from app.journal.viewing import ChildView, NotInChildsView
from app.people.links import link_parent
from app.people.models import Child
from tests.helpers.clients import post_form
from tests.helpers.journal import (
    B_NAMES,
    comment_from_each_family,
    observation_row,
    observe,
    photo_bytes,
    set_group_names,
    signed_in,
    upload,
)
from tests.helpers.people import TODAY, inside
from tests.routes import app_routes

GROUP_TEXT = (
    "Ada and Barty built a den from crates. @Bartholomew carried the big ones, "
    "and Ada said Barty's plan was best. Mr Quince would be proud."
)
CAPTION = "Ada and Barty Quince inside the den"


def _shared_observation(app, family) -> int:
    both = [family.child_a_id, family.child_b_id]
    return observe(
        app,
        family,
        both,
        GROUP_TEXT,
        next_steps="Ada and Barty could build a bridge next.",
        photos=[(photo_bytes(), CAPTION, both)],
    )


def _everything_parent_a_can_fetch(app, family, observation_id: int) -> dict[str, object]:
    """Every response touching the shared observation, by path (photos found by following links)."""
    parent = signed_in(app, family, "parent_a")
    child = family.child_a_id
    paths = [
        "/",
        "/journal/",
        f"/journal/children/{child}",
        f"/journal/children/{child}?area=cl",
        f"/journal/children/{child}/observations/{observation_id}",
        f"/journal/children/{child}/observations/{observation_id}.json",
        f"/retention/children/{child}/leaving-pack",
    ]
    responses = {path: parent.get(path) for path in paths}
    photo_links = set()
    for response in responses.values():
        photo_links |= set(
            re.findall(r"/journal/children/\d+/photos/\d+/(?:full|thumb)", response.text)
        )
    assert len(photo_links) == 2, "the shared photo (full size and thumbnail) should be reachable"
    responses |= {link: parent.get(link) for link in sorted(photo_links)}
    pack = post_form(parent, f"/retention/children/{child}/leaving-pack").headers["Location"]
    responses[pack] = parent.get(pack)
    for name in ("journal.json", "journal.pdf", "journal.zip"):
        responses[f"{pack}/{name}"] = parent.get(f"{pack}/{name}")
    for path, response in responses.items():
        assert response.status_code == 200, (path, response.status_code)
    return responses


def _leaving_pack_json(responses):
    return next(response for path, response in responses.items() if path.endswith("journal.json"))


def _searchable(response) -> str:
    """Headers and body, also with entities decoded (twice: "&amp;#121;" is "y" to a page
    that decodes once more)."""
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
    text = headers + "\n" + response.get_data().decode("latin-1")
    return text + "\n" + html.unescape(html.unescape(text))


def _b_names_in(responses) -> list[str]:
    found = []
    for path, response in responses.items():
        text = _searchable(response).casefold()
        found += [f"{name} in {path}" for name in B_NAMES if name.casefold() in text]
    return found


def test_with_hidden_no_name_of_child_b_reaches_child_as_family(app, family):
    observation_id = _shared_observation(app, family)
    comment_from_each_family(app, family, observation_id)
    responses = _everything_parent_a_can_fetch(app, family, observation_id)

    assert _b_names_in(responses) == []
    page = responses[f"/journal/children/{family.child_a_id}/observations/{observation_id}"].text
    assert "Ada and a friend" in page  # the children, and the masked text
    assert "a friend&#39;s plan" in page or "a friend's plan" in page
    assert "Ada and a friend inside the den" in page  # caption and alt text
    assert "Ada talked about the den" in page and "loved it" not in page
    export = _leaving_pack_json(responses)
    assert export.headers["Content-Disposition"].startswith("attachment")
    (entry,) = export.get_json()["observations"]
    assert entry["children"] == "Ada and a friend"
    assert entry["photos"][0]["alt"] == "Ada and a friend inside the den"
    assert entry["photos"][0]["file"].endswith(".jpg")


def test_with_shown_child_bs_name_appears(app, family):
    set_group_names(app, family.slug, GroupNamePolicy.SHOWN)
    observation_id = _shared_observation(app, family)
    responses = _everything_parent_a_can_fetch(app, family, observation_id)
    page = responses[f"/journal/children/{family.child_a_id}/observations/{observation_id}"].text
    assert "Ada and Barty" in page and CAPTION in page
    data = json.loads(_leaving_pack_json(responses).text)
    assert data["observations"][0]["children"] == "Ada and Barty"
    assert any("Barty" in found for found in _b_names_in(responses))


def test_child_bs_family_sees_child_a_as_a_friend_too(app, family):
    observation_id = _shared_observation(app, family)
    parent_b = signed_in(app, family, "parent_b")
    page = parent_b.get(f"/journal/children/{family.child_b_id}/observations/{observation_id}").text
    assert "Barty and a friend" in page and "Ada" not in page and "Okafor" not in page


def test_staff_see_every_name_on_their_own_pages(app, family):
    observation_id = _shared_observation(app, family)
    staff = signed_in(app, family, "staff")
    page = staff.get(f"/journal/observations/{observation_id}").text
    assert "Ada Okafor and Bartholomew Quince" in page and "Barty" in page


def test_a_child_named_in_the_text_but_not_tagged_is_hidden_too(app, family):
    observation_id = observe(app, family, [family.child_a_id], "Ada played with Barty today.")
    parent = signed_in(app, family, "parent_a")
    page = parent.get(f"/journal/children/{family.child_a_id}/observations/{observation_id}").text
    assert "Ada played with a friend today." in page


def test_siblings_keep_their_names_for_their_own_parent(app, family):
    with inside(app, family.slug):
        parent_a = db.session.get_one(User, family.parent_a_id)
        manager = db.session.get_one(User, family.manager_id)
        link_parent(parent_a, db.session.get_one(Child, family.child_b_id), "Mother", by=manager)
        db.session.commit()
    observation_id = _shared_observation(app, family)
    parent = signed_in(app, family, "parent_a")
    page = parent.get(f"/journal/children/{family.child_a_id}/observations/{observation_id}").text
    assert "Ada and Barty" in page


# ---------------------------------------------------------------- photo consent


def _consent(app, family, child_id: int, consent: bool) -> None:
    with inside(app, family.slug):
        db.session.execute(update(Child).where(Child.id == child_id).values(photo_consent=consent))
        db.session.commit()


@pytest.mark.parametrize("policy", [GroupNamePolicy.HIDDEN, GroupNamePolicy.SHOWN])
def test_a_photo_showing_a_child_without_consent_never_reaches_another_family(app, family, policy):
    set_group_names(app, family.slug, policy)
    _consent(app, family, family.child_a_id, True)
    _consent(app, family, family.child_b_id, False)
    both = [family.child_a_id, family.child_b_id]
    observation_id = observe(
        app,
        family,
        both,
        "Ada and Barty painted.",
        photos=[
            (photo_bytes(), "Both painting", both),
            (photo_bytes(), "Ada's painting", [family.child_a_id]),
        ],
    )
    with inside(app, family.slug):
        both_photo, ada_photo = (
            p.id for p in db.session.get_one(Observation, observation_id).photos
        )

    parent_a = signed_in(app, family, "parent_a")
    page = parent_a.get(f"/journal/children/{family.child_a_id}/observations/{observation_id}").text
    assert f"/photos/{ada_photo}/thumb" in page and f"/photos/{both_photo}/" not in page
    base = f"/journal/children/{family.child_a_id}/photos"
    assert parent_a.get(f"{base}/{both_photo}/full").status_code == 404
    assert parent_a.get(f"{base}/{ada_photo}/full").status_code == 200
    pack = post_form(parent_a, f"/retention/children/{family.child_a_id}/leaving-pack")
    export = parent_a.get(f"{pack.headers['Location']}/journal.json").get_json()
    assert [p["caption"] for p in export["observations"][0]["photos"]] == ["Ada's painting"]

    # B's own family sees every photo of B (A's parents consented to photos of A).
    parent_b = signed_in(app, family, "parent_b")
    page = parent_b.get(f"/journal/children/{family.child_b_id}/observations/{observation_id}").text
    assert f"/photos/{both_photo}/thumb" in page


def test_staff_are_warned_when_a_child_without_consent_is_in_a_photo(app, family):
    staff = signed_in(app, family, "staff")
    form = staff.get("/journal/observations/new").text
    assert "Bartholomew Quince (no photo consent)" not in form
    _consent(app, family, family.child_b_id, False)
    form = staff.get("/journal/observations/new").text
    assert "Bartholomew Quince (no photo consent)" in form
    response = post_form(
        staff,
        "/journal/observations/new",
        {
            "observed_on": TODAY.isoformat(),
            "child_ids": [str(family.child_a_id), str(family.child_b_id)],
            "text": "Painting together.",
            "photo": upload(photo_bytes()),
            "in_photo": [str(family.child_a_id), str(family.child_b_id)],
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "No photo consent for Ada Okafor, Bartholomew Quince" in response.text


# ---------------------------------------------------------------- however the name is written

# How staff wrote child B's name, and how child A's family reads the sentence
# "Ada and ... built a den." in the JSON (the page shows the same words, formatted).
WRITTEN = {
    "_Barty_": "Ada and a friend built a den.",
    "__Barty__": "Ada and a friend built a den.",
    "**Bar**ty": "Ada and a friend built a den.",
    "Bar*ty*": "Ada and a friend built a den.",
    "***Barty Quince***": "Ada and a friend built a den.",
    "Bartys": "Ada and a friend's built a den.",
    "Bartholomews": "Ada and a friend's built a den.",
    "Quinces'": "Ada and a friend's built a den.",
    "Barty\u02bcs": "Ada and a friend's built a den.",
    "Bart&#121;": "Ada and a friend built a den.",
    "Bar&amp;#116;y": "Ada and a friend built a den.",
    "Bar\u200dty": "Ada and a friend built a den.",
    "\uff22\uff41\uff52\uff54\uff59": "Ada and a friend built a den.",
    "BARTY": "Ada and a friend built a den.",
    "Ba\u0301rty": "Ada and a friend built a den.",
}


def _reads(page: str) -> str:
    """The words of a page as its reader reads them: tags gone, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.mark.parametrize(("written", "read"), WRITTEN.items())
def test_with_hidden_no_way_of_writing_child_bs_name_reaches_child_as_family(
    app, family, written, read
):
    observation_id = observe(
        app, family, [family.child_a_id, family.child_b_id], f"Ada and {written} built a den."
    )
    parent = signed_in(app, family, "parent_a")
    path = f"/journal/children/{family.child_a_id}/observations/{observation_id}"

    page, document = parent.get(path), parent.get(f"{path}.json")

    assert read in " ".join(_reads(page.text).split())
    assert document.get_json()["text"] == read
    assert _b_names_in({path: page, f"{path}.json": document}) == []


@pytest.mark.parametrize("written", ["_Barty_", "**Bar**ty", "Bartys", "Bart&#121;"])
def test_the_author_is_warned_about_child_bs_name_however_it_is_written(app, family, written):
    manager = signed_in(app, family, "manager")
    policies = {"group_names": "hidden", "mode": "warn", "no_other_children_names": "y"}
    assert post_form(manager, "/journal/policies", policies).status_code == 303
    observation_id = observe(
        app, family, [family.child_a_id], f"Ada and {written} built a den.", publish=False
    )
    staff = signed_in(app, family, "staff")

    response = post_form(staff, f"/journal/observations/{observation_id}/publish")

    assert response.status_code == 200
    assert "names a child who is not tagged in this observation" in response.text
    marked = "".join(re.findall(r"<mark>(.*?)</mark>", response.text))
    assert html.unescape(marked).casefold().startswith(("barty", "bart&#121;"))
    assert observation_row(app, family.slug, observation_id).status.value == "draft"


# ---------------------------------------------------------------- a child's view by construction


def test_a_childs_view_offers_no_raw_text_to_a_template(app, family):
    observation_id = _shared_observation(app, family)
    comment_from_each_family(app, family, observation_id)
    with inside(app, family.slug):
        observation = db.session.get_one(Observation, observation_id)
        child_a = db.session.get_one(Child, family.child_a_id)
        view = ChildView(
            child=child_a,
            family=frozenset({child_a.id}),
            policy=GroupNamePolicy.HIDDEN,
            everyone=names.setting_children(),
        )
        item = view.show(
            observation, comments.comments_in_view(observation, child_a, with_hidden=False)
        )

        assert item.observation.observed_on == TODAY and item.observation.is_group
        assert "Barty" not in item.text.plain and "Barty" not in item.photos[0].caption
        for row, raw in [
            (item.observation, "text"),
            (item.observation, "next_steps"),
            (item.observation, "children"),
            (item.observation, "photos"),
            (item.photos[0].photo, "caption"),
            (item.comments[0].comment, "body"),
        ]:
            with pytest.raises(NotInChildsView):
                getattr(row, raw)


def test_no_get_route_gives_child_bs_name_to_child_as_family(app, family):
    """Every GET route of the app, walked from the URL map with the shared observation's
    ids filled in, as child A's parent: none answers with one of B's names."""
    observation_id = observe(
        app,
        family,
        [family.child_a_id, family.child_b_id],
        "Ada and **Bar**ty built a den; _Quince_'s crates were best.",
        next_steps="Ada and Bartys friends could build a bridge.",
        photos=[(photo_bytes(64, 48), "Ada and Bart&#121;", None)],
    )
    comment_from_each_family(app, family, observation_id)
    with inside(app, family.slug):
        shown = db.session.get_one(Observation, observation_id)
        staff_comment = comments.add_comment(
            shown,
            db.session.get_one(Child, family.child_a_id),
            "Barty helped Ada too.",
            by=db.session.get_one(User, family.staff_id),
        )
        db.session.commit()
        ids = {
            "child_id": str(family.child_a_id),
            "observation_id": str(observation_id),
            "photo_id": str(shown.photos[0].id),
            "comment_id": str(staff_comment.id),
            "parent_id": str(family.parent_a_id),
            "user_id": str(family.parent_a_id),
        }
    parent = signed_in(app, family, "parent_a")

    responses = {
        path: parent.get(path)
        for route in app_routes(app)
        if "GET" in route.methods
        for path in [route.path_with(ids)]
    }

    answered = {path for path, response in responses.items() if response.status_code == 200}
    child = family.child_a_id
    assert {
        f"/journal/children/{child}",
        f"/journal/children/{child}/observations/{observation_id}",
        f"/journal/children/{child}/observations/{observation_id}.json",
        f"/retention/children/{child}/leaving-pack",
        f"/journal/children/{child}/photos/{ids['photo_id']}/full",
    } <= answered
    assert _b_names_in(responses) == []
