"""The purge leaves nothing behind: rows, names, files, Redis keys; and it is recorded once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.auth.models import AuditEntry
from app.auth.operations import deactivate_user
from app.extensions import db
from app.journal import comments, observations, storage
from app.journal.masking import ChildName, find_mentions
from app.journal.models import Comment, Observation, Photo
from app.mail import queue_email
from app.mail.models import OutboxMessage
from app.people.children import create_child
from app.people.models import Child
from app.redis_store import get_redis
from app.retention import ledger
from app.retention.ledger import LedgerEntry, PurgeReason, RecordType
from app.retention.models import LegalHold
from app.retention.purge import purge_children
from app.storage.models import FileDeletion
from tests.helpers.clients import client_for, post_form, sign_in
from tests.helpers.journal import observe, photo_bytes, signed_in
from tests.helpers.people import PASSWORD, PIN, child_details, get_user, inside
from tests.helpers.retention import (
    archive,
    drain,
    ledger_entries,
    media_files,
    photo_files,
    rows_holding_id,
    text_holding,
)

A_NAMES = ["Ada", "Okafor"]


def _their_journal(app, family):
    """Child A alone with a photo; A and B together (a photo of each, one of both), each
    parent commenting in their own child's view; B alone (but naming A)."""
    alone = observe(
        app,
        family,
        [family.child_a_id],
        "Ada Okafor painted.",
        photos=[(photo_bytes(), "Ada at the easel", None)],
    )
    group = observe(
        app,
        family,
        [family.child_a_id, family.child_b_id],
        "Ada and Barty built a tower. @[Ada Okafor] said Ada's tower was taller!",
        next_steps="**Ad**a: count the blocks; Barty: name the colours.",
        photos=[
            (photo_bytes(), "Ada with the blocks", [family.child_a_id]),
            (photo_bytes(), "Barty and ADA laughing", [family.child_a_id, family.child_b_id]),
            (photo_bytes(), "Barty's tower", [family.child_b_id]),
        ],
    )
    b_only = observe(app, family, [family.child_b_id], "Barty climbed. Ada Okafor watched.")
    with inside(app, family.slug):
        observation = db.session.get_one(Observation, group)
        a, b = (db.session.get_one(Child, i) for i in (family.child_a_id, family.child_b_id))
        comments.add_comment(observation, a, "Ada loved it", by=get_user(family.parent_a_id))
        comments.add_comment(
            observation, b, "Barty told us about Ada!", by=get_user(family.parent_b_id)
        )
        db.session.commit()
        # A correction after publishing: the revision keeps both versions, names and all.
        observations.update_observation(
            observation,
            observations.ObservationDetails(
                observed_on=observation.observed_on,
                child_ids=(family.child_a_id, family.child_b_id),
                text=observation.text + " Ada Okafor laughed.",
                next_steps=observation.next_steps,
                areas=tuple(observation.areas),
            ),
            by=get_user(family.staff_id),
        )
        db.session.commit()
    return alone, group, b_only


def _emails_about_ada(app, family) -> None:
    """An email to Ada's parent, and one to the manager whose subject names Ada."""
    with inside(app, family.slug):
        for to, user_id in (
            (family.email("parent-a"), family.parent_a_id),
            (family.email("manager"), family.manager_id),
        ):
            queue_email(
                to,
                "Ada Okafor's learning journal is ready to download",
                "leaving_pack_ready",
                user_id=user_id,
                user=get_user(user_id),
                child_name="Ada Okafor",
                setting_name="Sunnyside",
                link="http://example.org/",
                expires_at=clock.now(),
            )
        db.session.commit()


def _purge_on_the_page(app, family, who_types: str = "Ada Okafor"):
    manager = signed_in(app, family, "manager")
    return manager, post_form(
        manager,
        f"/retention/archive/child/{family.child_a_id}/purge",
        {"confirm_name": who_types},
    )


def test_after_a_purge_no_table_holds_the_childs_id_or_names_and_no_file_or_key_is_left(
    app, family
):
    alone, group, b_only = _their_journal(app, family)
    a_files = photo_files(app, family.slug, alone)
    with inside(app, family.slug):
        group_photos = db.session.scalars(select(Photo).where(Photo.observation_id == group)).all()
        a_files |= {group_photos[0].file_name, group_photos[0].thumbnail_name}
        # A photo of both stays with B's observation: it does not show only A.
        b_files = {n for p in group_photos[1:] for n in (p.file_name, p.thumbnail_name)}
    signed_in(app, family, "parent_a")  # a session and rate-limit counters in Redis
    _emails_about_ada(app, family)
    archive(app, family, family.child_a_id)
    # The scans see them before the purge.
    assert rows_holding_id(app, family.slug, "children", family.child_a_id)
    assert len(text_holding(app, family.slug, [family.email("parent-a")])) == 2  # account, email
    assert any(
        found.startswith("observation_revisions.changes")
        for found in text_holding(app, family.slug, ["Okafor"])
    )

    _, answered = _purge_on_the_page(app, family)
    assert answered.status_code == 303  # the files went after the commit (task in process)

    assert rows_holding_id(app, family.slug, "children", family.child_a_id) == []
    assert rows_holding_id(app, family.slug, "users", family.parent_a_id) == []
    assert text_holding(app, family.slug, [*A_NAMES, family.email("parent-a")]) == []
    assert not a_files & media_files(app, family.slug)
    assert b_files <= media_files(app, family.slug)
    with app.app_context():
        store = get_redis()
        assert list(store.scan_iter(f"*{family.slug}:{family.parent_a_id}")) == []
        assert list(store.scan_iter(f"*{family.email('parent-a')}*")) == []

    with inside(app, family.slug):
        kept = db.session.get_one(Observation, group)
        assert kept.child_ids == {family.child_b_id}
        assert kept.text == (
            "A friend and Barty built a tower. A friend said a friend's tower was taller!"
            " A friend laughed."
        )
        # A name split by formatting is read as the reader reads it, and goes too.
        assert kept.next_steps == "A friend: count the blocks; Barty: name the colours."
        assert [p.caption for p in kept.photos] == ["Barty and a friend laughing", "Barty's tower"]
        assert db.session.get(Observation, alone) is None
        # Not tagged, but named: scrubbed too.
        assert db.session.get_one(Observation, b_only).text == "Barty climbed. A friend watched."
        bodies = db.session.scalars(select(Comment.body)).all()
        assert bodies == ["Barty told us about a friend!"]

    [entry] = ledger_entries(app, family.slug)
    assert entry.record_type is RecordType.CHILD and entry.reason is PurgeReason.MANAGER
    assert entry.rows["children"] == (family.child_a_id,)
    assert entry.rows["users"] == (family.parent_a_id,)
    assert alone in entry.rows["observations"]
    line = entry.to_json().lower()
    assert not any(word.lower() in line for word in [*A_NAMES, family.email("parent-a")])


def _keep_draft(client, text: str, child_ids: list[int]) -> None:
    """What the page sends just before an idle sign-out: the observation being written."""
    kept = post_form(
        client,
        "/journal/observations/unsaved?page=/journal/observations/new",
        {"text": text, "child_ids": [str(i) for i in child_ids], "observed_on": "2026-12-01"},
    )
    assert kept.status_code == 204


def _redis_values_naming(app, slug: str, words: list[str]) -> list[str]:
    """Keys of the setting's whose values hold one of the words."""
    with app.app_context():
        store = get_redis()
        found = []
        for key in store.scan_iter(match=f"*{slug}*", count=1000):
            if store.type(key) == b"string":
                value = (store.get(key) or b"").decode(errors="replace")
                found.extend(key.decode() for word in words if word in value)
        return found


def test_an_observation_being_written_about_a_purged_child_is_not_kept_for_its_author(app, family):
    """Signed out for inactivity while writing about Ada, a member of staff has what they
    typed kept in Redis for the next time they open the form; purging Ada forgets it,
    and forgets nothing written about another child."""
    staff = signed_in(app, family, "staff")
    _keep_draft(staff, "Ada Okafor built a tower.", [family.child_a_id])
    other = client_for(app, family.slug)
    sign_in(other, family.email("manager"), PASSWORD, PIN)
    ebo = _sibling_staying(app, family)
    _keep_draft(other, "Barty ran to the gate with Ebo Okafor.", [family.child_b_id, ebo])
    assert _redis_values_naming(app, family.slug, ["Ada Okafor"])
    archive(app, family, family.child_a_id)
    _purge_on_the_page(app, family)

    assert _redis_values_naming(app, family.slug, ["Ada"]) == []
    staff = signed_in(app, family, "staff")
    assert "Ada Okafor" not in staff.get("/journal/observations/new").text
    manager = signed_in(app, family, "manager")
    kept = manager.get("/journal/observations/new").text
    assert "Barty ran to the gate with Ebo Okafor." in kept  # her brother's surname is his


def test_a_purged_member_of_staffs_observation_being_written_goes_with_them(app, family):
    staff = signed_in(app, family, "staff")
    _keep_draft(staff, "Barty ran to the gate.", [family.child_b_id])
    with inside(app, family.slug):
        deactivate_user(get_user(family.staff_id), by=None, reason="left")
        db.session.commit()
    manager = signed_in(app, family, "manager")
    purged = post_form(
        manager, f"/retention/archive/staff/{family.staff_id}/purge", {"confirm_name": "Sam Staff"}
    )
    assert purged.status_code == 303
    with app.app_context():
        assert list(get_redis().scan_iter(f"*:{family.slug}:{family.staff_id}:*")) == []
    assert _redis_values_naming(app, family.slug, ["Barty ran"]) == []


def test_reasons_typed_into_the_audit_log_no_longer_name_a_purged_child(app, family):
    """A manager's reason for deleting an observation, or for a hold on another family's
    parent, is kept in the audit log, which names the observation or the parent, not the
    child: a purge of the child replaces their name there too."""
    wrong = observe(app, family, [family.child_a_id], "Painted.")
    with inside(app, family.slug):
        deactivate_user(get_user(family.parent_b_id), by=None, reason="left")
        db.session.commit()
    manager = signed_in(app, family, "manager")
    deleted = post_form(
        manager,
        f"/journal/observations/{wrong}/delete",
        {"reason": "Put in Ada Okafor's journal by mistake"},
    )
    assert deleted.status_code == 303
    held = post_form(
        manager,
        f"/retention/archive/parent/{family.parent_b_id}/hold",
        {"reason": "Dispute with Ada's family about the trip"},
    )
    assert held.status_code == 303
    archive(app, family, family.child_a_id)
    _purge_on_the_page(app, family)

    assert text_holding(app, family.slug, A_NAMES) == []
    with inside(app, family.slug):
        reasons = db.session.scalars(
            select(AuditEntry.detail["reason"].astext).where(
                AuditEntry.event.in_(["observation.deleted", "retention.hold_placed"])
            )
        ).all()
    assert sorted(reasons) == [
        "Dispute with a child's family about the trip",
        "Put in a child's journal by mistake",
    ]


def test_a_purged_member_of_staffs_address_is_not_kept_in_what_they_did(app, family):
    """The entries of what a member of staff did to the journals stay after their purge,
    unsigned; the network address they did it from is theirs, and goes."""
    staff = signed_in(app, family, "staff")
    draft = {"observed_on": "2026-12-01", "child_ids": [str(family.child_b_id)]}
    draft |= {"text": "Barty fed the rabbit.", "action": "draft"}
    written = post_form(
        staff, "/journal/observations/new", draft, environ_base={"REMOTE_ADDR": "203.0.113.7"}
    )
    assert written.status_code == 303
    with inside(app, family.slug):
        assert db.session.scalars(select(AuditEntry.ip).where(AuditEntry.ip == "203.0.113.7")).all()
        deactivate_user(get_user(family.staff_id), by=None, reason="left")
        db.session.commit()
    manager = signed_in(app, family, "manager")
    post_form(
        manager, f"/retention/archive/staff/{family.staff_id}/purge", {"confirm_name": "Sam Staff"}
    )
    with inside(app, family.slug):
        [entry] = db.session.scalars(
            select(AuditEntry).where(AuditEntry.event == "observation.created")
        ).all()
        assert entry.actor_id is None and entry.ip is None
        assert entry.detail["observation_id"]


def _sibling_staying(app, family) -> int:
    """Ada's brother Ebo Okafor, still at the setting."""
    with inside(app, family.slug):
        ebo = create_child(
            child_details(first_name="Ebo", last_name="Okafor"), by=get_user(family.manager_id)
        )
        db.session.commit()
        return ebo.id


def test_a_sibling_named_where_he_is_not_tagged_keeps_the_surname_he_shares(app, family):
    ebo = _sibling_staying(app, family)
    named = observe(app, family, [family.child_b_id], "Barty and Ebo Okafor played. Ada watched.")
    tagged = observe(
        app, family, [family.child_a_id, family.child_b_id], "Ada Okafor and Barty built a den."
    )
    archive(app, family, family.child_a_id)
    _purge_on_the_page(app, family)
    with inside(app, family.slug):
        assert db.session.get_one(Observation, named).text == (
            "Barty and Ebo Okafor played. A friend watched."
        )
        assert db.session.get_one(Observation, tagged).text == "A friend and Barty built a den."
    assert ebo


@pytest.mark.parametrize(
    ("staying", "text", "scrubbed"),
    [
        # a namesake whose name is hers without its accent, or who has her surname as a
        # part of his: where the text names him, his name stays
        (
            ("Zoe", "Martin"),
            "Zoe Martin and Barty played. Ada Okafor watched.",
            "Zoe Martin and Barty played. A friend watched.",
        ),
        (
            ("Kofi", "Okafor-Mensah"),
            "Kofi Okafor-Mensah and Barty played with Ada.",
            "Kofi Okafor-Mensah and Barty played with a friend.",
        ),
    ],
)
def test_a_namesake_staying_keeps_a_name_shared_in_another_form(
    app, family, staying, text, scrubbed
):
    with inside(app, family.slug):
        db.session.get_one(Child, family.child_a_id).first_name = "Zoë"
        create_child(
            child_details(first_name=staying[0], last_name=staying[1]),
            by=get_user(family.manager_id),
        )
        db.session.commit()
    named = observe(app, family, [family.child_b_id], text.replace("Ada", "Zoë"))
    archive(app, family, family.child_a_id)
    _purge_on_the_page(app, family, who_types="Zoë Okafor")
    with inside(app, family.slug):
        assert db.session.get_one(Observation, named).text == scrubbed


def test_a_sibling_staying_keeps_his_name_in_typed_reasons_and_sent_emails(app, family):
    """The purge of Ada replaces her names where they stay, not her brother's: "Ebo
    Okafor" is not Ada's surname where he is meant, and an email about him is his."""
    ebo = _sibling_staying(app, family)
    with inside(app, family.slug):
        deactivate_user(get_user(family.parent_b_id), by=None, reason="left")
        queue_email(
            family.email("manager"),
            "Ebo Okafor's learning journal is ready to download",
            "leaving_pack_ready",
            user_id=family.manager_id,
            user=get_user(family.manager_id),
            child_name="Ebo Okafor",
            setting_name="Sunnyside",
            link="http://example.org/",
            expires_at=clock.now(),
        )
        db.session.commit()
    manager = signed_in(app, family, "manager")
    held = post_form(
        manager,
        f"/retention/archive/parent/{family.parent_b_id}/hold",
        {"reason": "Dispute with Ebo Okafor's and Ada's family"},
    )
    assert held.status_code == 303
    archive(app, family, family.child_a_id)
    _purge_on_the_page(app, family)
    with inside(app, family.slug):
        assert db.session.scalars(select(LegalHold.reason)).all() == [
            "Dispute with Ebo Okafor's and a child's family"
        ]
        subjects = db.session.scalars(select(OutboxMessage.subject)).all()
    assert "Ebo Okafor's learning journal is ready to download" in subjects
    assert ebo


def test_the_purge_is_audited_without_personal_data(app, family):
    archive(app, family, family.child_a_id)
    _purge_on_the_page(app, family)
    with inside(app, family.slug):
        [entry] = db.session.scalars(
            select(AuditEntry).where(AuditEntry.event == "retention.purged")
        ).all()
        assert entry.actor_id == family.manager_id
        assert entry.detail["record"] == "child" and entry.detail["people"] == 1
        assert entry.detail["ledger_entry"] == ledger_entries(app, family.slug)[0].id
        assert not {"child_id", "email", "name"} & set(entry.detail)
    # The parent's account went with the child: the log says so, in words.
    said = signed_in(app, family, "manager").get("/retention/audit?action=retention.purged")
    assert "People: 1" in said.text and "Parents&#39; accounts with them: 1" in said.text


def test_a_wrong_name_purges_nothing(app, family):
    archive(app, family, family.child_a_id)
    _, answered = _purge_on_the_page(app, family, who_types="Ada")
    assert answered.status_code == 422
    assert "nothing was purged" in answered.text
    with inside(app, family.slug):
        assert db.session.get(Child, family.child_a_id) is not None
    assert ledger_entries(app, family.slug) == []


def test_only_archived_children_can_be_purged_from_the_archive(app, family):
    _, answered = _purge_on_the_page(app, family)
    assert answered.status_code == 404 and "nothing was done" in answered.text
    with inside(app, family.slug):
        assert db.session.get(Child, family.child_a_id) is not None


def test_files_are_deleted_by_the_next_drain_if_the_process_died_after_the_commit(app, family):
    alone, _, _ = _their_journal(app, family)
    files = photo_files(app, family.slug, alone)
    archive(app, family, family.child_a_id)
    with inside(app, family.slug):
        purge_children([family.child_a_id], by=None, reason=PurgeReason.RETENTION)
        # Killed right after COMMIT: the drain task is never sent.
        db.session().info.pop("lj_tasks_after_commit")
        db.session.commit()
    assert files <= media_files(app, family.slug)

    assert drain(app, family.slug) >= len(files)
    assert not files & media_files(app, family.slug)
    assert drain(app, family.slug) == 0  # a second drain deletes nothing, fails on nothing


def test_replay_after_a_restore_purges_the_child_again_and_scrubs_their_name(app, family):
    _, group, _ = _their_journal(app, family)
    archive(app, family, family.child_a_id)
    # The ledger says A was purged after the backup that the schema now holds.
    with inside(app, family.slug):
        ledger.append(
            LedgerEntry.of_current_setting(
                RecordType.CHILD,
                reason=PurgeReason.RETENTION,
                rows={"children": [family.child_a_id], "users": [family.parent_a_id]},
            )
        )
    with app.app_context():
        assert ledger.replay(family.slug, clock.now() - timedelta(days=1)) == 1

    assert rows_holding_id(app, family.slug, "children", family.child_a_id) == []
    assert text_holding(app, family.slug, A_NAMES) == []
    with inside(app, family.slug):
        assert db.session.get_one(Observation, group).child_ids == {family.child_b_id}
    assert len(ledger_entries(app, family.slug)) == 1  # replaying writes no new entry


def test_a_purge_whose_ledger_entry_cannot_be_written_is_a_503_and_purges_nothing(
    app, family, monkeypatch
):
    alone, _, _ = _their_journal(app, family)
    files = photo_files(app, family.slug, alone)
    archive(app, family, family.child_a_id)

    def disk_full(entry: LedgerEntry) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ledger, "append", disk_full)  # at commit, before the commit itself
    manager, refused = _purge_on_the_page(app, family)
    assert refused.status_code == 503
    assert "could not be saved, and nothing of it was kept" in refused.text
    monkeypatch.undo()
    assert ledger_entries(app, family.slug) == []
    with inside(app, family.slug):
        assert db.session.get(Child, family.child_a_id) is not None
    drain(app, family.slug)
    assert files <= media_files(app, family.slug)
    assert "Ada Okafor" in manager.get("/retention/archive").text  # and the page says so


def test_a_name_spelled_so_that_only_the_reader_sees_it_goes_too(app, family):
    """An observation that is not about the child but names them as only its rendered text
    shows (a character reference, a formatting tag, emphasis inside the word, full-width
    letters) is scrubbed like any other: the masking's matcher finds no mention left."""
    spellings = [
        "A&#100;a",
        "<b>Ad</b>a",
        "Ad*a",
        "\uff21\uff44\uff41",
        "Oka&amp;#102;or",
        "OKAFOR",
        "Ada\u02bcs",  # the modifier letter apostrophe: a letter to a regex, not to a reader
    ]
    named = observe(app, family, [family.child_b_id], f"Barty waved at {', '.join(spellings)}.")
    ada = ChildName(family.child_a_id, "Ada", "Okafor", None)
    with inside(app, family.slug):
        written = db.session.get_one(Observation, named).text
    assert len(find_mentions(written, targets=[ada], protected=[])) == len(spellings)
    archive(app, family, family.child_a_id)

    assert _purge_on_the_page(app, family)[1].status_code == 303

    with inside(app, family.slug):
        kept = db.session.get_one(Observation, named).text
    assert find_mentions(kept, targets=[ada], protected=[]) == [], kept


@pytest.mark.parametrize("written", ["Ad\u0430", "\u041ekafor", "Ada\u02bcs"])
def test_a_name_with_a_look_alike_letter_is_scrubbed_where_it_is_the_only_mention(
    app, family, written
):
    """The scan in SQL reads a Cyrillic or Greek look-alike as its Latin letter, as the
    masking does: an observation naming the child only so is found, and scrubbed."""
    named = observe(app, family, [family.child_b_id], f"Barty waved at {written}.")
    ada = ChildName(family.child_a_id, "Ada", "Okafor", None)
    archive(app, family, family.child_a_id)

    assert _purge_on_the_page(app, family)[1].status_code == 303

    with inside(app, family.slug):
        kept = db.session.get_one(Observation, named).text
    assert find_mentions(kept, targets=[ada], protected=[]) == [], kept


def test_a_photo_name_that_could_leave_the_folder_stops_the_purge_and_queues_nothing(app, family):
    """The purge queues its photos' files from the rows themselves: a stored name that is
    not a plain file name (a row altered by hand) is refused as when it went through
    Python, and the whole purge rolls back."""
    alone, _, _ = _their_journal(app, family)
    archive(app, family, family.child_a_id)
    with inside(app, family.slug):
        photo = db.session.scalars(select(Photo).where(Photo.observation_id == alone)).one()
        photo.thumbnail_name = "../other-setting/photo.jpg"
        db.session.commit()
    with inside(app, family.slug):
        try:
            purge_children([family.child_a_id], by=None, reason=PurgeReason.RETENTION)
        except storage.MediaMissing as refused:
            assert "../other-setting/photo.jpg" in str(refused)
        else:
            raise AssertionError("the purge went on")
        db.session.rollback()
        assert db.session.get(Child, family.child_a_id) is not None
        assert not db.session.scalars(select(FileDeletion.path)).all()


def test_a_name_in_a_script_without_spaces_is_scrubbed_where_the_child_is_not_tagged(app, family):
    """Chinese, Japanese and Thai run words together: "美玲" is read inside "巴蒂和美玲搭积木"
    by the masking's matcher, though no split at spaces finds it as a word. An
    observation of another child naming them so loses the name as a tagged one would."""
    with inside(app, family.slug):
        child = db.session.get_one(Child, family.child_a_id)
        child.first_name, child.last_name, child.preferred_name = "美玲", "王", "สมใจ"
        db.session.commit()
    named = observe(
        app, family, [family.child_b_id], "巴蒂和美玲一起搭积木。น้องสมใจเล่นกับบาร์ตี้ 王さんも来た。"
    )
    a = ChildName(family.child_a_id, "美玲", "王", "สมใจ")
    for child_name in ("美玲 王", "Barty"):  # an email naming her goes; one about Barty stays
        with inside(app, family.slug):
            queue_email(
                family.email("manager"),
                f"给{child_name}的日志",
                "leaving_pack_ready",
                user=get_user(family.manager_id),
                child_name=child_name,
                setting_name="Sunnyside",
                link="http://example.org/",
                expires_at=clock.now(),
            )
            db.session.commit()
    archive(app, family, family.child_a_id)

    manager = signed_in(app, family, "manager")
    answered = post_form(
        manager, f"/retention/archive/child/{family.child_a_id}/purge", {"confirm_name": "美玲 王"}
    )
    assert answered.status_code == 303

    with inside(app, family.slug):
        kept = db.session.get_one(Observation, named).text
    assert find_mentions(kept, targets=[a], protected=[]) == [], kept
    assert not any(name in kept for name in ("美玲", "สมใจ", "王")), kept
    with inside(app, family.slug):
        subjects = db.session.scalars(select(OutboxMessage.subject)).all()
    assert "给Barty的日志" in subjects and not [s for s in subjects if "美玲" in s]
