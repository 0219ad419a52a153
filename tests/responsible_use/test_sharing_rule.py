"""Parents see the setting's sharing rule beside photos and downloads; the manager words it."""

from __future__ import annotations

import re
from html import unescape

from app.auth.models import User
from app.extensions import db
from app.people.links import link_parent
from app.people.models import Child
from tests.helpers.journal import observe, photo_bytes, signed_in
from tests.helpers.people import inside
from tests.responsible_use.test_email_check import save_rules

DEFAULT_RULE = "Please don't share photos of other children online."


def _pages_with_photos(app, family) -> tuple[str, str]:
    observation_id = observe(
        app,
        family,
        [family.child_a_id, family.child_b_id],
        "Ada and Barty built a den.",
        photos=[(photo_bytes(), "The den", None)],
    )
    child = family.child_a_id
    return f"/journal/children/{child}", f"/journal/children/{child}/observations/{observation_id}"


def test_parents_see_the_sharing_rule_beside_photos_and_the_download(app, family):
    journal_page, observation_page = _pages_with_photos(app, family)
    parent = signed_in(app, family, "parent_a")
    journal = unescape(parent.get(journal_page).text)
    assert DEFAULT_RULE in journal
    rule_at, download_at = journal.index(DEFAULT_RULE), journal.index("Download the whole journal")
    assert 0 < rule_at - download_at < 400, "beside the download link"
    observation = unescape(parent.get(observation_page).text)
    photos_at = observation.index('id="photos-heading"')
    assert photos_at < observation.index(DEFAULT_RULE) < observation.index("</section>", photos_at)

    staff = signed_in(app, family, "staff")
    assert DEFAULT_RULE not in unescape(staff.get(journal_page).text)


def test_the_manager_words_the_rule(app, family):
    journal_page, observation_page = _pages_with_photos(app, family)
    manager = signed_in(app, family, "manager")
    saved = save_rules(manager, "Photos stay in the family: no Facebook, no WhatsApp groups.", "12")
    assert saved.status_code == 303
    parent = signed_in(app, family, "parent_a")
    for path in (journal_page, observation_page):
        page = unescape(parent.get(path).text)
        assert "no Facebook, no WhatsApp groups." in page and DEFAULT_RULE not in page


def test_a_downloaded_photo_keeps_the_name_rule(app, family):
    _journal, observation_page = _pages_with_photos(app, family)
    parent = signed_in(app, family, "parent_a")
    page = parent.get(observation_page).text
    [thumb_path] = set(re.findall(r"/journal/children/\d+/photos/\d+/thumb", page))
    photo_path = thumb_path.replace("/thumb", "/full")
    full = parent.get(photo_path)
    assert full.status_code == 200
    disposition = full.headers["Content-Disposition"]
    assert "filename=" in disposition
    for name in ("Barty", "Bartholomew", "Quince"):
        assert name.lower() not in disposition.lower()
    # A thumbnail saved from the page carries the photo's name, not the address's last part.
    thumb = parent.get(photo_path.replace("/full", "/thumb"))
    assert thumb.status_code == 200
    assert thumb.headers["Content-Disposition"] == disposition


def test_siblings_linked_to_one_parent_see_the_rule_on_each_journal(app, family):
    with inside(app, family.slug):
        parent_a = db.session.get_one(User, family.parent_a_id)
        manager = db.session.get_one(User, family.manager_id)
        link_parent(parent_a, db.session.get_one(Child, family.child_b_id), "Mother", by=manager)
        db.session.commit()
    parent = signed_in(app, family, "parent_a")
    for child in (family.child_a_id, family.child_b_id):
        assert DEFAULT_RULE in unescape(parent.get(f"/journal/children/{child}").text)
