"""A manager's second tap of Unlink, Deactivate or Reactivate (a double tap on a tablet, a
page sent again after a slow answer) finds done what the first tap did: it says so, with
the page the first tap went to, not 409 "That didn't work" (read as the first tap having
failed). Someone who may not do it is still refused."""

from __future__ import annotations

from sqlalchemy import select

from app.auth.models import AccountStatus, AuditEntry
from app.extensions import db
from app.people import accounts
from tests.helpers.clients import post_form
from tests.helpers.people import get_user, inside, links_of, signed_in


def _tapped_twice(client, path: str):
    first, second = (post_form(client, path) for _ in range(2))
    assert (first.status_code, second.status_code) == (303, 303), second.text
    assert second.headers["Location"] == first.headers["Location"]
    return client.get(second.headers["Location"]).text


def _recorded(app, nursery, event: str) -> int:
    with inside(app, nursery.slug):
        return len(db.session.scalars(select(AuditEntry).where(AuditEntry.event == event)).all())


def test_unlink_tapped_twice_says_the_parent_is_no_longer_linked(app, nursery):
    manager = signed_in(app, nursery, "manager")
    unlink = f"/people/children/{nursery.child_id}/parents/{nursery.parent_id}/unlink"
    page = _tapped_twice(manager, unlink)
    assert "is already unlinked from" in page
    with inside(app, nursery.slug):
        assert nursery.child_id not in links_of(nursery.parent_id)
    assert _recorded(app, nursery, "parent.unlinked") == 1


def test_deactivate_tapped_twice_says_the_account_is_deactivated(app, nursery):
    manager = signed_in(app, nursery, "manager")
    page = _tapped_twice(manager, f"/people/{nursery.parent_id}/deactivate")
    assert "account is already deactivated" in page
    assert _recorded(app, nursery, "deactivated") == 1


def test_reactivate_tapped_twice_says_the_account_is_back(app, nursery, mail_outbox):
    with inside(app, nursery.slug):
        accounts.deactivate_now(
            get_user(nursery.parent_id), by=get_user(nursery.manager_id), reason="left"
        )
        db.session.commit()
    manager = signed_in(app, nursery, "manager")
    page = _tapped_twice(manager, f"/people/{nursery.parent_id}/reactivate")
    assert "account is already back" in page
    assert _recorded(app, nursery, "reactivated") == 1
    with inside(app, nursery.slug):
        assert get_user(nursery.parent_id).status is AccountStatus.INVITED


def test_a_manager_deactivating_themselves_twice_is_still_refused(app, nursery):
    manager = signed_in(app, nursery, "manager")
    for _ in range(2):
        assert post_form(manager, f"/people/{nursery.manager_id}/deactivate").status_code == 409


def test_a_second_managers_reactivate_of_an_account_already_back_is_refused(app, nursery):
    """Only the manager who brought the account back a moment ago is told it is back: an
    account that was never deactivated is still refused (409), as before."""
    manager = signed_in(app, nursery, "manager")
    assert post_form(manager, f"/people/{nursery.parent_id}/reactivate").status_code == 409
