"""The manager's people page asks the database a fixed number of statements, however many
people and children it lists as needing attention: a query a reason or a row fails here."""

from __future__ import annotations

from datetime import timedelta

from app.auth.models import AccountStatus, Role
from app.auth.second_factor import save_factor_policy
from app.extensions import db
from app.people.children import create_child
from app.people.models import StaffMember
from tenants import registry
from tests.helpers.people import (
    TODAY,
    Nursery,
    add_user,
    child_details,
    get_user,
    inside,
    signed_in,
)
from tests.helpers.statements import statements_of

# The person signed in, the two policies (people, second factor), everyone listed for a
# reason, children without parents, parents of leavers, undelivered emails, records past
# retention.
PEOPLE_PAGE_STATEMENTS = 8


def _add_people_needing_attention(app, nursery: Nursery, number: int) -> None:
    """``number`` staff past leaving, invited parents, bounced addresses and children
    without parents (staff without the second factor the policy asks for, too)."""
    slug = nursery.slug
    with inside(app, slug):
        manager = get_user(nursery.manager_id)
        for n in range(number):
            leaver = add_user(f"Lee {n}", f"lee{n}@{slug}.example.org", Role.STAFF)
            db.session.add(StaffMember(user_id=leaver.id, leaving_date=TODAY - timedelta(days=n)))
            add_user(f"Ivy {n}", f"ivy{n}@{slug}.example.org", Role.PARENT, AccountStatus.INVITED)
            bounced = add_user(f"Bo {n}", f"bo{n}@{slug}.example.org", Role.PARENT)
            bounced.email_bounced_at = manager.created_at
            create_child(child_details(first_name=f"Orphan{n}"), by=manager)
        db.session.commit()


def test_the_people_page_costs_the_same_few_statements_however_many_need_attention(
    app, nursery, monkeypatch
):
    # The registry snapshot is read again every few seconds, not per page.
    monkeypatch.setattr(registry, "CACHE_SECONDS", float("inf"))
    with inside(app, nursery.slug):
        save_factor_policy("staff", 7, by=get_user(nursery.manager_id))
        db.session.commit()
    manager = signed_in(app, nursery, "manager")
    manager.get("/people/")  # the first page a worker shows reads what it caches

    with statements_of(app) as few:
        assert manager.get("/people/").status_code == 200
    _add_people_needing_attention(app, nursery, 6)
    with statements_of(app) as many:
        response = manager.get("/people/")

    assert response.status_code == 200
    for listed in ("Lee 5", "Ivy 5", "Bo 5", "Orphan5"):
        assert listed in response.text
    assert len(many) == len(few) <= PEOPLE_PAGE_STATEMENTS, "\n".join(many)
