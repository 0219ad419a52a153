"""A child's journal page keeps each observation's card once made (``viewing.Cards``), and
the page's whole body (``app.journal.journal_page``): what a family reads must still
change the moment the observation, the journal, the children's names or consent, the
policies or the viewer change, and no viewer may be handed a card or a page made for
another.

Each test shows the page first, so that its cards and body are kept, then changes one
thing and shows it again.
"""

from __future__ import annotations

from html import unescape

from sqlalchemy import update

from app.auth.models import User
from app.extensions import db
from app.journal.models import GroupNamePolicy
from app.people.links import link_parent, unlink_parent
from app.people.models import Child
from tests.helpers.clients import post_form
from tests.helpers.journal import observe, photo_bytes, set_group_names, signed_in
from tests.helpers.people import TODAY, inside
from tests.helpers.retention import archive
from tests.responsible_use.test_email_check import save_rules


def _journal(client, child_id: int) -> str:
    response = client.get(f"/journal/children/{child_id}")
    assert response.status_code == 200
    return response.text


def test_a_correction_shows_on_the_journal_page_at_once(app, family):
    observation_id = observe(app, family, [family.child_a_id], "Ada climed the frame.")
    parent = signed_in(app, family, "parent_a")
    assert "Ada climed the frame." in _journal(parent, family.child_a_id)

    staff = signed_in(app, family, "staff")
    correction = {
        "observed_on": TODAY.isoformat(),
        "child_ids": [str(family.child_a_id)],
        "text": "Ada climbed the frame.",
        "areas": ["cl"],
        "caption": "",
    }
    edited = post_form(staff, f"/journal/observations/{observation_id}/edit", correction)
    assert edited.status_code == 303, edited.text

    page = _journal(parent, family.child_a_id)
    assert "Ada climbed the frame." in page and "climed" not in page
    assert '<span class="edited">edited</span>' in page


def test_a_withdrawn_observation_leaves_the_journal_page_at_once(app, family):
    observation_id = observe(app, family, [family.child_a_id], "Ada sang a song.")
    parent = signed_in(app, family, "parent_a")
    assert "Ada sang a song." in _journal(parent, family.child_a_id)

    staff = signed_in(app, family, "staff")
    withdrawn = post_form(staff, f"/journal/observations/{observation_id}/withdraw")
    assert withdrawn.status_code == 303, withdrawn.text

    assert "Ada sang a song." not in _journal(parent, family.child_a_id)


def test_a_name_given_to_a_child_later_is_masked_in_a_card_shown_before(app, family):
    observe(app, family, [family.child_a_id], "Ada played with Bobby in the sand.")
    parent = signed_in(app, family, "parent_a")
    assert "Ada played with Bobby in the sand." in _journal(parent, family.child_a_id)

    with inside(app, family.slug):  # Barty is to be known as Bobby
        db.session.execute(
            update(Child).where(Child.id == family.child_b_id).values(preferred_name="Bobby")
        )
        db.session.commit()

    page = _journal(parent, family.child_a_id)
    assert "Ada played with a friend in the sand." in page and "Bobby" not in page


def test_a_purged_childs_name_leaves_the_cards_of_their_friends(app, family):
    set_group_names(app, family.slug, GroupNamePolicy.SHOWN)
    both = [family.child_a_id, family.child_b_id]
    observe(app, family, both, "Barty and Ada Okafor built a den.")
    parent_b = signed_in(app, family, "parent_b")
    assert "Barty and Ada Okafor built a den." in _journal(parent_b, family.child_b_id)

    archive(app, family, family.child_a_id)
    manager = signed_in(app, family, "manager")
    purge = f"/retention/archive/child/{family.child_a_id}/purge"
    assert post_form(manager, purge, {"confirm_name": "Ada Okafor"}).status_code == 303

    page = _journal(parent_b, family.child_b_id)
    assert "built a den" in page and "Ada" not in page and "Okafor" not in page


def test_a_viewer_never_gets_the_card_made_for_another_viewer(app, family):
    # Ada's parent is Barty's parent too: in Ada's journal they see Barty's name, which
    # staff, reading Ada's journal as hers alone, must not.
    with inside(app, family.slug):
        manager = db.session.get_one(User, family.manager_id)
        barty = db.session.get_one(Child, family.child_b_id)
        link_parent(db.session.get_one(User, family.parent_a_id), barty, "Mother", by=manager)
        db.session.commit()
    observe(app, family, [family.child_a_id, family.child_b_id], "Ada and Barty built a den.")
    parent = signed_in(app, family, "parent_a")
    staff = signed_in(app, family, "staff")

    assert "Ada and Barty built a den." in _journal(parent, family.child_a_id)
    page = _journal(staff, family.child_a_id)
    assert "Ada and a friend built a den." in page and "Ada and Barty" not in page
    assert "Ada and Barty built a den." in _journal(parent, family.child_a_id)


def test_a_new_observation_shows_on_the_journal_page_at_once(app, family):
    observe(app, family, [family.child_a_id], "Ada painted a sun.")
    parent = signed_in(app, family, "parent_a")
    assert "Ada painted a sun." in _journal(parent, family.child_a_id)

    observe(app, family, [family.child_a_id], "Ada painted a moon.")

    page = _journal(parent, family.child_a_id)
    assert "Ada painted a moon." in page and "Ada painted a sun." in page


def test_a_changed_group_name_policy_shows_at_once(app, family):
    observe(app, family, [family.child_a_id, family.child_b_id], "Ada and Barty built a den.")
    parent = signed_in(app, family, "parent_a")
    assert "Ada and a friend built a den." in _journal(parent, family.child_a_id)

    set_group_names(app, family.slug, GroupNamePolicy.SHOWN)

    assert "Ada and Barty built a den." in _journal(parent, family.child_a_id)


def test_a_withdrawn_photo_consent_takes_the_photo_off_a_page_shown_before(app, family):
    both = [family.child_a_id, family.child_b_id]
    observe(app, family, both, "Ada and Barty painted.", photos=[(photo_bytes(), "", both)])
    parent = signed_in(app, family, "parent_a")
    assert 'class="photo-list"' in _journal(parent, family.child_a_id)

    with inside(app, family.slug):  # Barty's parents withdraw their consent to photos
        db.session.execute(
            update(Child).where(Child.id == family.child_b_id).values(photo_consent=False)
        )
        db.session.commit()

    page = _journal(parent, family.child_a_id)
    assert "Ada and a friend painted." in page and 'class="photo-list"' not in page


def test_a_reworded_sharing_rule_shows_at_once(app, family):
    observe(app, family, [family.child_a_id], "Ada painted a sun.")
    parent = signed_in(app, family, "parent_a")
    assert "no WhatsApp groups" not in unescape(_journal(parent, family.child_a_id))

    manager = signed_in(app, family, "manager")
    rule = "Photos stay in the family: no Facebook, no WhatsApp groups."
    assert save_rules(manager, rule, "12").status_code == 303

    assert rule in unescape(_journal(parent, family.child_a_id))


def test_each_viewer_gets_the_links_of_their_own_role_on_a_page_shown_before(app, family):
    observe(app, family, [family.child_a_id], "Ada painted a sun.")
    parent = signed_in(app, family, "parent_a")
    staff = signed_in(app, family, "staff")

    assert "Share something from home" in _journal(parent, family.child_a_id)
    page = _journal(staff, family.child_a_id)
    assert "Write an observation" in page and "Share something from home" not in page
    page = _journal(parent, family.child_a_id)
    assert "Share something from home" in page and "Write an observation" not in page


def test_a_parent_unlinked_from_the_child_no_longer_opens_a_page_shown_before(app, family):
    observe(app, family, [family.child_a_id], "Ada painted a sun.")
    parent = signed_in(app, family, "parent_a")
    assert "Ada painted a sun." in _journal(parent, family.child_a_id)

    with inside(app, family.slug):
        manager = db.session.get_one(User, family.manager_id)
        ada = db.session.get_one(Child, family.child_a_id)
        unlink_parent(db.session.get_one(User, family.parent_a_id), ada, by=manager)
        db.session.commit()

    assert parent.get(f"/journal/children/{family.child_a_id}").status_code == 404
