"""A child's journal page is kept whole, its header included (``app.site_frame``): what
the header shows must still be this session's and this setting's, now.

Each test shows the page first, so that it is kept, then changes one thing the header
reads and shows it again.
"""

from __future__ import annotations

from sqlalchemy import update

from app.extensions import db
from tenants.models import Setting
from tenants.registry import forget_cached
from tests.helpers.clients import CSRF_FIELD
from tests.helpers.journal import observe, signed_in


def _journal(client, child_id: int) -> str:
    response = client.get(f"/journal/children/{child_id}")
    assert response.status_code == 200
    return response.text


def _token(page: str) -> str:
    return CSRF_FIELD.search(page)[1]


def test_each_session_of_one_parent_gets_its_own_csrf_token(app, family):
    observe(app, family, [family.child_a_id], "Ada built a den.")
    at_home, at_work = signed_in(app, family, "parent_a"), signed_in(app, family, "parent_a")
    for client in (at_home, at_work):  # each session's first form makes its token
        _journal(client, family.child_a_id)
    home_token = _token(_journal(at_home, family.child_a_id))  # kept now

    work_page = _journal(at_work, family.child_a_id)  # the same journal, viewer and path
    assert _token(work_page) != home_token
    # The forms on each session's page work for that session: its token is its own.
    for client, page in ((at_work, work_page), (at_home, _journal(at_home, family.child_a_id))):
        stay = client.post("/session/keep-alive", data={"csrf_token": _token(page)})
        assert stay.status_code == 303


def test_a_message_to_flash_shows_once_on_a_kept_page(app, family):
    parent = signed_in(app, family, "parent_a")
    _journal(parent, family.child_a_id)
    _journal(parent, family.child_a_id)  # kept now

    with parent.session_transaction(base_url=parent.base_url) as session:
        session["_flashes"] = [("success", "Your comment is saved.")]
    assert "Your comment is saved." in _journal(parent, family.child_a_id)
    assert "Your comment is saved." not in _journal(parent, family.child_a_id)


def test_a_renamed_setting_shows_on_a_kept_page(app, family):
    parent = signed_in(app, family, "parent_a")
    assert "Rainbow Room Nursery" not in _journal(parent, family.child_a_id)
    _journal(parent, family.child_a_id)  # kept now

    with app.app_context():
        renamed = update(Setting).where(Setting.slug == family.slug)
        db.session.execute(renamed.values(name="Rainbow Room Nursery"))
        db.session.commit()
        forget_cached()
    assert "Rainbow Room Nursery" in _journal(parent, family.child_a_id)
