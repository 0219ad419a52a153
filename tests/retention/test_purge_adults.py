"""Purging a parent or a member of staff leaves nothing of them: no row holds their id, no
text their names or email, no Redis key is theirs; the texts that stay name them with a
neutral placeholder ("a parent", "a member of staff"), and a name a child still here
shares stays that child's."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app import clock
from app.auth.models import User
from app.auth.operations import deactivate_user
from app.extensions import db
from app.journal import comments, observations
from app.journal.models import Comment, Observation
from app.mail import queue_email
from app.mail.models import OutboxMessage
from app.people.models import Child
from app.redis_store import get_redis
from app.retention.ledger import RecordType
from app.retention.models import LegalHold
from tests.helpers.clients import post_form
from tests.helpers.journal import observe, photo_bytes, signed_in
from tests.helpers.people import get_user, inside
from tests.helpers.retention import archive, ledger_entries, rows_holding_id, text_holding
from workers.jobs import run_job_now

STAFF_NAME = "Sarah Jones"  # the family's member of staff, renamed: "Sam Staff" is a word


def _staff_named(app, family) -> None:
    with inside(app, family.slug):
        get_user(family.staff_id).full_name = STAFF_NAME
        db.session.commit()


def _mentioned_everywhere(app, family, name: str, *, by: int) -> int:
    """A published observation of Barty naming ``name`` in its text, next steps, a caption,
    a comment by the manager and a correction (a revision); a draft sent back with a review
    note naming them; an email and a legal hold (audited) naming them; and Barty's journal
    read by ``by`` (an access-log row). Returns the published observation."""
    first = name.split()[0]
    named = observe(
        app,
        family,
        [family.child_b_id],
        f"{name} (key person) read with Barty. Barty gave {first.upper()}'s book back.",
        next_steps=f"Plan a den with **{first}** and Barty.",
        photos=[(photo_bytes(), f"{first} and Barty at the sink", [family.child_b_id])],
    )
    draft = observe(app, family, [family.child_b_id], "Barty painted.", publish=False)
    with inside(app, family.slug):
        manager = get_user(family.manager_id)
        observation = db.session.get_one(Observation, named)
        barty = db.session.get_one(Child, family.child_b_id)
        comments.add_comment(observation, barty, f"Thanks {first}!", by=manager)
        observations.update_observation(
            observation,
            observations.ObservationDetails(
                observed_on=observation.observed_on,
                child_ids=(family.child_b_id,),
                text=observation.text + f" {name} laughed.",
                next_steps=observation.next_steps,
                areas=tuple(observation.areas),
            ),
            by=manager,
        )
        # As a manager's "send back" keeps its note (the draft is not up for review here).
        db.session.get_one(Observation, draft).review_note = f"Ask {name} first."
        queue_email(
            family.email("manager"),
            f"{name}'s learning journal is ready to download",
            "leaving_pack_ready",
            user=manager,
            child_name=name,
            setting_name="Sunnyside",
            link="http://example.org/",
            expires_at=clock.now(),
        )
        db.session.commit()
    manager = signed_in(app, family, "manager")
    archive(app, family, family.child_a_id)
    page = f"/retention/archive/child/{family.child_a_id}"
    assert post_form(manager, f"{page}/hold", {"reason": f"Claim from {name}"}).status_code == 303
    reader = signed_in(app, family, "staff" if by == family.staff_id else "parent_b")
    assert reader.get(f"/journal/children/{family.child_b_id}").status_code == 200
    return named


def _left(app, family, user_id: int) -> None:
    with inside(app, family.slug):
        deactivate_user(db.session.get_one(User, user_id), by=None, reason="left")
        db.session.commit()


def _purge_now(app, family, kind: str, person_id: int, name: str) -> None:
    """The archive page's "purge now", confirmed by typing their name."""
    manager = signed_in(app, family, "manager")
    page = f"/retention/archive/{kind}/{person_id}/purge"
    assert post_form(manager, page, {"confirm_name": name}).status_code == 303


def _nothing_of_them_left(app, family, user_id: int, email: str, words: list[str]) -> None:
    assert rows_holding_id(app, family.slug, "users", user_id) == []
    assert text_holding(app, family.slug, [*words, email]) == []
    with app.app_context():
        store = get_redis()
        assert list(store.scan_iter(f"*{family.slug}:{user_id}")) == []
        assert list(store.scan_iter(f"*{email}*")) == []
    [entry] = [e for e in ledger_entries(app, family.slug) if e.rows.get("users")]
    assert entry.rows["users"] == (user_id,)
    assert not any(word.lower() in entry.to_json().lower() for word in [*words, email])


def test_after_purging_a_member_of_staff_no_table_holds_their_id_names_or_email(app, family):
    _staff_named(app, family)
    named = _mentioned_everywhere(app, family, STAFF_NAME, by=family.staff_id)
    _left(app, family, family.staff_id)
    # The scans see them before the purge.
    before = rows_holding_id(app, family.slug, "users", family.staff_id)
    assert {"observations.author_id", "journal_access_log.viewer_id"} <= set(before)
    found = {place.split(":")[0] for place in text_holding(app, family.slug, ["Jones"])}
    assert {
        "observations.text",
        "observations.review_note",
        "observation_revisions.changes",
        "outbox_messages.subject",
        "legal_holds.reason",
        "audit_log.detail",
    } <= found

    _purge_now(app, family, "staff", family.staff_id, STAFF_NAME)

    _nothing_of_them_left(app, family, family.staff_id, family.email("staff"), ["Sarah", "Jones"])
    with inside(app, family.slug):
        kept = db.session.get_one(Observation, named)
        assert kept.text == (
            "A member of staff (key person) read with Barty. Barty gave a member of staff's"
            " book back. A member of staff laughed."
        )
        assert kept.next_steps == "Plan a den with **a member of staff** and Barty."
        assert kept.author_id is None  # it stays in Barty's journal, unsigned
        assert [p.caption for p in kept.photos] == ["A member of staff and Barty at the sink"]
        assert db.session.scalars(select(Comment.body)).all() == ["Thanks a member of staff!"]
        assert db.session.scalars(select(LegalHold.reason)).all() == [
            "Claim from a member of staff"
        ]
        notes = db.session.scalars(select(Observation.review_note)).all()
        assert "Ask a member of staff first." in notes
        subjects = db.session.scalars(select(OutboxMessage.subject)).all()
        assert not [subject for subject in subjects if "member of staff" in subject]


def test_after_purging_a_parent_their_names_go_and_the_name_their_child_shares_stays(app, family):
    """Robin Quince's child Barty is still here: "Robin" and "Robin Quince" go, "Quince"
    alone is Barty's as much as theirs, and stays."""
    named = _mentioned_everywhere(app, family, "Robin Quince", by=family.parent_b_id)
    _left(app, family, family.parent_b_id)

    _purge_now(app, family, "parent", family.parent_b_id, "Robin Quince")

    _nothing_of_them_left(app, family, family.parent_b_id, family.email("parent-b"), ["Robin"])
    with inside(app, family.slug):
        kept = db.session.get_one(Observation, named)
        assert kept.text == (
            "A parent (key person) read with Barty. Barty gave a parent's book back."
            " A parent laughed."
        )
        assert db.session.get_one(Child, family.child_b_id).last_name == "Quince"
        assert [p.caption for p in kept.photos] == ["A parent and Barty at the sink"]


def test_the_job_purges_a_parent_with_their_child_and_scrubs_the_parents_name(app, family):
    """The retention job takes Pat Okafor with Ada (linked to no other child): an
    observation of Barty naming Pat loses the name as it loses Ada's."""
    visit = observe(
        app, family, [family.child_b_id], "Pat Okafor came to stay and play; Pat and Ada waved."
    )
    archive(app, family, family.child_a_id)
    clock.advance(timedelta(days=4 * 366))
    with app.app_context():
        assert "children purged" in run_job_now("retention-purge")

    _nothing_of_them_left(
        app, family, family.parent_a_id, family.email("parent-a"), ["Pat", "Okafor", "Ada"]
    )
    with inside(app, family.slug):
        assert db.session.get_one(Observation, visit).text == (
            "A parent came to stay and play; a parent and a friend waved."
        )


def test_the_job_purges_a_member_of_staff_past_their_period_and_scrubs_their_name(app, family):
    _staff_named(app, family)
    named = observe(app, family, [family.child_b_id], "Barty and Sarah made a den.")
    _left(app, family, family.staff_id)
    clock.advance(timedelta(days=7 * 366))
    with app.app_context():
        assert "staff purged" in run_job_now("retention-purge")

    assert rows_holding_id(app, family.slug, "users", family.staff_id) == []
    assert text_holding(app, family.slug, ["Sarah", "Jones", family.email("staff")]) == []
    with inside(app, family.slug):
        assert db.session.get_one(Observation, named).text == (
            "Barty and a member of staff made a den."
        )
    assert [e.record_type for e in ledger_entries(app, family.slug) if e.rows.get("users")] == [
        RecordType.STAFF
    ]


def test_a_name_that_is_also_a_word_goes_as_a_word_too_and_other_mentions_stay(app, family):
    """As the masking does for children: the matcher cannot tell "will" from Will, and an
    awkward sentence is better than a name left. A mention of anyone else stays."""
    with inside(app, family.slug):
        get_user(family.staff_id).full_name = "Will Brown"
        db.session.commit()
    named = observe(
        app, family, [family.child_b_id], "Barty will paint with Will and @[Barty Quince]."
    )
    _left(app, family, family.staff_id)
    _purge_now(app, family, "staff", family.staff_id, "Will Brown")

    with inside(app, family.slug):
        assert db.session.get_one(Observation, named).text == (
            "Barty a member of staff paint with a member of staff and @[Barty Quince]."
        )


def test_a_journal_on_legal_hold_keeps_a_purged_adults_name(app, family):
    """A hold keeps the child's journal whole until it is lifted (as the comments the
    adult wrote in it stay): the purge of a member of staff leaves their name there, and
    scrubs it everywhere else."""
    _staff_named(app, family)
    held = observe(app, family, [family.child_a_id], "Ada and Sarah made a den.")
    elsewhere = observe(app, family, [family.child_b_id], "Barty and Sarah made a den.")
    archive(app, family, family.child_a_id)
    _left(app, family, family.staff_id)
    manager = signed_in(app, family, "manager")
    post_form(manager, f"/retention/archive/child/{family.child_a_id}/hold", {"reason": "Claim"})
    _purge_now(app, family, "staff", family.staff_id, STAFF_NAME)

    with inside(app, family.slug):
        assert db.session.get_one(Observation, held).text == "Ada and Sarah made a den."
        assert db.session.get_one(Observation, elsewhere).text == (
            "Barty and a member of staff made a den."
        )
