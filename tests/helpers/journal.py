"""The journal's test setting: two families, staff and observations.

Child A (Ada Okafor) and child B (Bartholomew "Barty" Quince) each have a parent. Their
names are chosen so that a search of a whole response for B's names cannot match
anything else on the page.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from flask import Flask
from PIL import Image
from sqlalchemy import select, update

from app.auth.models import Role
from app.extensions import db
from app.journal import observations, publishing
from app.journal.media import process_upload
from app.journal.models import GroupNamePolicy, Observation, Photo
from app.journal.photos import add_photo
from app.people.children import create_child
from app.people.links import link_parent
from tenants.models import Setting
from tenants.registry import forget_cached
from tests.helpers.clients import HostClient, client_for, post_form, sign_in
from tests.helpers.people import (
    PASSWORD,
    PIN,
    TODAY,
    activate_first_manager,
    add_user,
    child_details,
    get_user,
    inside,
)
from tests.journal.images import encode, exif_with_gps, noise_photo

B_NAMES = ("Bartholomew", "Barty", "Quince")


@dataclass
class Journal:
    """Ids of the people of one test setting."""

    slug: str
    manager_id: int
    staff_id: int
    parent_a_id: int
    parent_b_id: int
    child_a_id: int
    child_b_id: int

    def email(self, who: str) -> str:
        return f"{who}@{self.slug}.example.org"


def make_family(app: Flask, slug: str) -> Journal:
    """The people of ``family`` in the setting ``slug`` (of ``app``)."""
    with inside(app, slug):
        manager = activate_first_manager()
        manager.email = f"manager@{slug}.example.org"
        staff = add_user(
            "Sam Staff", f"staff@{slug}.example.org", Role.STAFF, password=PASSWORD, pin=PIN
        )
        parent_a = add_user(
            "Pat Okafor", f"parent-a@{slug}.example.org", Role.PARENT, password=PASSWORD, pin=PIN
        )
        parent_b = add_user(
            "Robin Quince", f"parent-b@{slug}.example.org", Role.PARENT, password=PASSWORD, pin=PIN
        )
        child_a = create_child(child_details(key_person_id=staff.id), by=manager)
        child_b = create_child(
            child_details(
                first_name="Bartholomew",
                last_name="Quince",
                preferred_name="Barty",
                photo_consent=True,
            ),
            by=manager,
        )
        link_parent(parent_a, child_a, "Mother", by=manager)
        link_parent(parent_b, child_b, "Father", by=manager)
        db.session.commit()
        return Journal(slug, manager.id, staff.id, parent_a.id, parent_b.id, child_a.id, child_b.id)


EMAILS = {"manager": "manager", "staff": "staff", "parent_a": "parent-a", "parent_b": "parent-b"}


def signed_in(app: Flask, family: Journal, who: str) -> HostClient:
    client = client_for(app, family.slug)
    if who != "anonymous":
        response = sign_in(client, family.email(EMAILS[who]), PASSWORD, PIN)
        assert response.status_code == 303 and not response.headers["Location"].endswith(
            "/login"
        ), f"{who} could not sign in"
    return client


def sign_in_in_browser(page, live_server, family: Journal, who: str) -> None:
    """Sign ``who`` in through the real sign-in page of a browser ``page``."""
    page.goto(live_server.url(family.slug, "/login"))
    page.get_by_label("Email").fill(family.email(EMAILS[who]))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("PIN").fill(PIN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url(family.slug, "/"))


def photo_bytes(width: int = 640, height: int = 480, image_format: str = "JPEG") -> bytes:
    """A photo as a phone sends it: with EXIF and GPS."""
    return encode(noise_photo(width, height), image_format, exif=exif_with_gps())


def upload(data: bytes, name: str = "photo.jpg") -> tuple[io.BytesIO, str]:
    return io.BytesIO(data), name


def set_group_names(app: Flask, slug: str, policy: GroupNamePolicy) -> None:
    """Change the policy in the registry, as the operator's CLI would; this process's
    settings snapshot (which carries the policy) is dropped, as a manager's change drops it."""
    with app.app_context():
        db.session.execute(update(Setting).where(Setting.slug == slug).values(group_names=policy))
        db.session.commit()
        forget_cached()


def observe(
    app: Flask,
    family: Journal,
    child_ids: list[int],
    text: str,
    *,
    photos: list[tuple[bytes, str, list[int] | None]] = (),  # (photo, caption, who is in it)
    publish: bool = True,
    next_steps: str = "",
    areas: tuple[str, ...] = ("cl",),
    observed_on: date = TODAY,
) -> int:
    """An observation written by the member of staff (published unless ``publish=False``)."""
    with inside(app, family.slug):
        staff = get_user(family.staff_id)
        observation = observations.create_observation(
            observations.ObservationDetails(
                observed_on=observed_on,
                child_ids=tuple(child_ids),
                text=text,
                next_steps=next_steps,
                areas=areas,
            ),
            by=staff,
        )
        for data, caption, in_photo in photos:
            add_photo(
                observation,
                process_upload(data),
                caption=caption,
                in_photo=in_photo or (),
                by=staff,
            )
        if publish:
            outcome, _ = publishing.publish(observation, by=staff, confirmed=True)
            assert outcome is publishing.Published.PUBLISHED
        db.session.commit()
        return observation.id


def correct(client: HostClient, observation_id: int, child_ids: list[int], text: str):
    """Post an observation's edit form with a new text, as its author would."""
    return post_form(
        client,
        f"/journal/observations/{observation_id}/edit",
        {
            "observed_on": TODAY.isoformat(),
            "child_ids": [str(child_id) for child_id in child_ids],
            "text": text,
            "areas": ["cl"],
            "caption": "",
        },
    )


def comment_from_each_family(app: Flask, family: Journal, observation_id: int) -> None:
    """Parent A comments in child A's view of a group observation, parent B in B's."""
    for who, child_id, words in (
        ("parent_a", family.child_a_id, "Ada talked about the den all evening."),
        ("parent_b", family.child_b_id, "Barty Quince loved it!"),
    ):
        client = signed_in(app, family, who)
        path = f"/journal/children/{child_id}/observations/{observation_id}/comments"
        assert post_form(client, path, {"body": words}).status_code == 303


def observe_with_a_photo(app: Flask, family: Journal, text: str) -> tuple[int, int]:
    """A published observation of child A with one photo: its id, and the photo's."""
    observation_id = observe(
        app, family, [family.child_a_id], text, photos=[(photo_bytes(), "", None)]
    )
    with inside(app, family.slug):
        photo_id = db.session.scalars(
            select(Photo.id).where(Photo.observation_id == observation_id)
        ).one()
    return observation_id, photo_id


def observation_row(app: Flask, slug: str, observation_id: int) -> Observation:
    with inside(app, slug):
        observation = db.session.get_one(Observation, observation_id)
        db.session.expunge(observation)
        return observation


def read_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
