"""The child's journal page asks the database a fixed number of statements, however many
observations, tags and photos its page shows: a query per row fails here."""

from __future__ import annotations

from app.paging import PAGE_SIZE
from tenants import registry
from tests.helpers.journal import observe, photo_bytes, signed_in
from tests.helpers.statements import statements_of

# The person signed in; the child with the parent's family, every child's name for the
# masking, the page with its tags, photos (with who is in them) and total, and the
# access-log row, in one (app.journal.journal_page). The sharing rule is kept a while.
JOURNAL_PAGE_STATEMENTS = 2


def test_a_full_journal_page_costs_the_same_few_statements_as_one_observation(
    app, family, monkeypatch
):
    # What is read again every few seconds, not per page (the registry snapshot, the
    # sharing rule), is not the page's.
    monkeypatch.setattr(registry, "CACHE_SECONDS", float("inf"))
    group = [family.child_a_id, family.child_b_id]
    in_photo = [family.child_a_id, family.child_b_id]
    observe(app, family, [family.child_a_id], "Ada painted a sun.")
    parent = signed_in(app, family, "parent_a")
    page = f"/journal/children/{family.child_a_id}"
    parent.get(page)  # the first page a worker shows reads what it caches

    with statements_of(app) as one_row:
        assert parent.get(page).status_code == 200

    for number in range(PAGE_SIZE + 5):
        photos = [(photo_bytes(64, 48), f"Photo {number}", in_photo)] if number % 3 == 0 else []
        observe(app, family, group, f"Ada and Barty built tower {number}.", photos=photos)
    with statements_of(app) as full_page:
        response = parent.get(page)
    assert response.status_code == 200 and "tower 24" in response.text

    assert len(full_page) == len(one_row) <= JOURNAL_PAGE_STATEMENTS, "\n".join(full_page)
