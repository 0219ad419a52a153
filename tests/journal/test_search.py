"""Finding things: staff search every observation they may see by words and filter by room,
key person, child, area and date; a family searches and filters its child's journal, and
finds only what its view shows (a name the group-name policy hides is not found)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import update

from app.extensions import db
from app.people.models import Child
from tests.helpers.journal import observe, signed_in
from tests.helpers.people import inside


def _results(page: str, texts: list[str]) -> set[str]:
    return {text for text in texts if text in page}


def test_staff_search_by_words_and_filter_by_room_key_person_child_area_and_date(app, family):
    with inside(app, family.slug):
        db.session.execute(update(Child).where(Child.id == family.child_b_id).values(room="Owls"))
        db.session.commit()
    texts = {
        "Ada splashed in the puddles.": ([family.child_a_id], ("pd",), date(2026, 11, 20)),
        "Ada counted ten conkers.": ([family.child_a_id], ("maths",), date(2026, 11, 28)),
        "Barty counted the ducks.": ([family.child_b_id], ("maths",), date(2026, 11, 29)),
        "Ada and Barty shared the puddle suits.": (
            [family.child_a_id, family.child_b_id],
            ("psed",),
            date(2026, 11, 30),
        ),
    }
    for text, (children, areas, observed_on) in texts.items():
        observe(app, family, children, text, areas=areas, observed_on=observed_on)
    staff = signed_in(app, family, "staff")
    everything = list(texts)

    def found(**query) -> set[str]:
        response = staff.get("/journal/", query_string=query)
        assert response.status_code == 200, response.text
        return _results(response.text, everything)

    assert found(q="PUDDLE") == {
        "Ada splashed in the puddles.",
        "Ada and Barty shared the puddle suits.",
    }
    assert found(q="counted", area="maths", child=family.child_b_id) == {"Barty counted the ducks."}
    assert found(room="Owls") == {
        "Barty counted the ducks.",
        "Ada and Barty shared the puddle suits.",
    }
    assert found(key_person=family.staff_id, date_to="2026-11-28") == {
        "Ada splashed in the puddles.",
        "Ada counted ten conkers.",
    }
    assert found(q="100%_") == set()  # LIKE's wildcards are only characters here
    assert staff.get("/journal/", query_string={"room": "Nowhere"}).status_code == 400


def test_a_parent_filters_and_searches_their_childs_journal(app, family):
    observe(app, family, [family.child_a_id], "Ada painted a rainbow.", areas=("ead",))
    observe(app, family, [family.child_a_id], "Ada painted the fence.", areas=("pd",))
    observe(app, family, [family.child_b_id], "Barty painted a rainbow.", areas=("ead",))
    parent = signed_in(app, family, "parent_a")
    journal = f"/journal/children/{family.child_a_id}"
    everything = ["Ada painted a rainbow.", "Ada painted the fence.", "Barty painted a rainbow."]
    page = parent.get(journal, query_string={"q": "rainbow"}).text
    assert _results(page, everything) == {"Ada painted a rainbow."}
    page = parent.get(journal, query_string={"q": "painted", "area": "pd"}).text
    assert _results(page, everything) == {"Ada painted the fence."}


def test_a_parent_cannot_find_a_hidden_name_by_searching_for_it(app, family):
    observe(
        app,
        family,
        [family.child_a_id, family.child_b_id],
        "Ada and Barty Quince built a den.",
    )
    parent = signed_in(app, family, "parent_a")
    journal = f"/journal/children/{family.child_a_id}"
    for hidden in ("Barty", "quince", "Bartholomew", "BARTY QUINCE"):
        page = parent.get(journal, query_string={"q": hidden}).text
        assert "built a den" not in page, hidden
        assert "No observation matches these filters." in page
    page = parent.get(journal, query_string={"q": "a friend"}).text
    assert "built a den" in page and "Barty" not in page  # what the family reads is found
