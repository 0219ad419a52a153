"""Subject-access export: every row that mentions the person, their photos, JSON and PDF."""

from __future__ import annotations

import io
import json
import re
import subprocess
import zipfile

from sqlalchemy import delete, select, text

from app.auth.models import AuditEntry
from app.extensions import db
from app.journal.models import GroupNamePolicy
from app.people.models import Child, ParentLink
from tests.helpers.clients import post_form
from tests.helpers.journal import (
    B_NAMES,
    comment_from_each_family,
    correct,
    observe,
    photo_bytes,
    set_group_names,
    signed_in,
)
from tests.helpers.people import inside
from tests.helpers.retention import id_columns_referring_to


def _export(app, family, kind: str, person_id: int) -> zipfile.ZipFile:
    manager = signed_in(app, family, "manager")
    answered = post_form(manager, f"/retention/subject-access/{kind}/{person_id}")
    assert answered.status_code == 200, answered.text
    assert answered.headers["Content-Disposition"].startswith("attachment")
    return zipfile.ZipFile(io.BytesIO(answered.data))


def _direct(app, slug: str, target: str, person_id: int) -> dict[str, list[dict]]:
    """Every row of every table naming the person by id, found with plain SQL."""
    found: dict[str, list[dict]] = {}
    with inside(app, slug):
        for table, column in id_columns_referring_to(app, slug, target):
            rows = db.session.execute(
                text(f'SELECT * FROM "{table}" WHERE "{column}" = :id'), {"id": person_id}
            ).mappings()
            found.setdefault(table, []).extend(dict(row) for row in rows)
    return found


def _pdf_words(export: zipfile.ZipFile) -> str:
    """The export's PDF as pdftotext reads it, its white space made single spaces."""
    pdf = subprocess.run(
        ["pdftotext", "-", "-"],
        input=export.read("subject-access.pdf"),
        capture_output=True,
        check=True,
    ).stdout.decode()
    return " ".join(pdf.split())


def _keys(row: dict) -> tuple:
    return tuple(sorted((k, str(v)) for k, v in row.items() if k.endswith("id")))


def _assert_holds(tables: dict[str, list[dict]], held: dict[str, list[dict]]) -> None:
    """Every row found directly is in the export, by its ids."""
    for table, rows in held.items():
        exported = {_keys(row) for row in tables.get(table, [])}
        assert {_keys(row) for row in rows} <= exported, table


def _journal(app, family) -> int:
    observation = observe(
        app,
        family,
        [family.child_a_id, family.child_b_id],
        "Ada and Barty dug a tunnel.",
        photos=[(photo_bytes(), "The tunnel", [family.child_a_id])],
    )
    signed_in(app, family, "parent_a").get(f"/journal/children/{family.child_a_id}")
    return observation


def test_a_childs_export_holds_every_row_that_mentions_them(app, family):
    observation = _journal(app, family)
    held = _direct(app, family.slug, "children", family.child_a_id)  # before the export's audit
    export = _export(app, family, "child", family.child_a_id)
    document = json.loads(export.read("subject-access.json"))
    tables = document["tables"]

    _assert_holds(tables, held)
    assert [row["id"] for row in tables["observations"]] == [observation]
    assert "journal_access_log" in tables and "audit_log" in tables
    [photo] = tables["observation_photos"]
    assert export.namelist().count(f"photos/{photo['file_name']}") == 1

    words = _pdf_words(export)  # the group-name policy is "hidden" by default
    assert "last_name: Okafor" in words and "Ada and a friend dug a tunnel." in words


def test_a_parents_export_holds_their_rows_without_their_secrets(app, family):
    _journal(app, family)
    held = _direct(app, family.slug, "users", family.parent_a_id)  # before the export's audit
    export = _export(app, family, "parent", family.parent_a_id)
    tables = json.loads(export.read("subject-access.json"))["tables"]
    _assert_holds(tables, held)
    [user] = tables["users"]
    assert user["email"] == family.email("parent-a")
    assert user["password_hash"].startswith("(held, not shown")
    assert "$2b$" not in json.dumps(tables)


def test_the_export_is_audited_and_only_for_managers(app, family):
    _export(app, family, "child", family.child_b_id)
    with inside(app, family.slug):
        [entry] = db.session.scalars(
            select(AuditEntry).where(AuditEntry.event == "export.subject_access")
        ).all()
        assert entry.actor_id == family.manager_id and entry.detail["record"] == "child"
    staff = signed_in(app, family, "staff")
    refused = post_form(staff, f"/retention/subject-access/child/{family.child_a_id}")
    assert refused.status_code == 403
    manager = signed_in(app, family, "manager")
    wrong = post_form(manager, f"/retention/subject-access/parent/{family.staff_id}")
    assert wrong.status_code == 404


def test_the_pdf_reads_a_parent_named_in_bengali_as_written(app, family):
    """Scripts that must be shaped (conjuncts, vowel signs before their consonant) are drawn
    in an embedded face and read back in the order written."""
    from app.auth.models import User

    with inside(app, family.slug):
        db.session.get_one(User, family.parent_a_id).full_name = "প্রিয়া চৌধুরী"
        db.session.commit()
    export = _export(app, family, "parent", family.parent_a_id)
    words = _pdf_words(export)
    assert "প্রিয়া চৌধুরী" in words
    fonts = subprocess.run(
        ["pdffonts", "-"], input=export.read("subject-access.pdf"), capture_output=True
    ).stdout.decode()
    assert re.search(r"\+NotoSansBengali-Regular +TrueType +\S+ +yes yes yes", fonts), fonts


def test_the_export_says_whom_it_is_about_by_name_and_when_it_was_made(app, family):
    """The PDF opens with the person's name and what they are to the setting, and the moment
    it was made as people read times (not 'staff 2' and an ISO timestamp)."""
    for kind, person_id, name, what in (
        ("staff", family.staff_id, "Sam Staff", "member of staff"),
        ("parent", family.parent_a_id, "Pat Okafor", "parent or carer"),
        ("child", family.child_a_id, "Ada Okafor", "child"),
    ):
        export = _export(app, family, kind, person_id)
        words = _pdf_words(export)
        assert words.startswith(f"Everything Sunnyside Nursery holds about {name} "), words[:200]
        assert re.search(
            rf"{name}, {what} \(record {person_id}\), as held on \d{{1,2}} "
            r"[A-Z][a-z]{2} 20\d\d \d\d:\d\d GMT",
            words,
        ), words[:300]
        document = json.loads(export.read("subject-access.json"))
        assert document["person"] == name and document["person_id"] == person_id


def test_the_export_file_is_named_with_the_person_not_their_id(app, family):
    manager = signed_in(app, family, "manager")
    answered = post_form(manager, f"/retention/subject-access/child/{family.child_a_id}")
    disposition = answered.headers["Content-Disposition"]
    assert re.search(r"filename=subject-access_ada-okafor_20\d\d-\d\d-\d\d\.zip$", disposition)
    with inside(app, family.slug):
        db.session.get_one(Child, family.child_a_id).first_name = "美玲"
        db.session.commit()
    answered = post_form(manager, f"/retention/subject-access/child/{family.child_a_id}")
    # Reduced to ASCII as the photos' names are: a name in another script is left out.
    disposition = answered.headers["Content-Disposition"]
    assert re.search(r"filename=subject-access_okafor_20\d\d-\d\d-\d\d\.zip$", disposition)


def test_the_pdf_reads_names_and_text_in_any_european_script_as_written(app, family):
    written = "Łucja Dvořák zbudowała wieżę z Şükrü; Καλημέρα, Привет."
    observe(app, family, [family.child_a_id], written)
    with inside(app, family.slug):
        from app.people.models import Child

        db.session.get_one(Child, family.child_a_id).last_name = "Dvořák"
        db.session.commit()
    words = _pdf_words(_export(app, family, "child", family.child_a_id))
    assert "last_name: Dvořák" in words and written in words


def test_a_childs_export_holds_the_edit_history_of_their_observations(app, family):
    observation = observe(app, family, [family.child_a_id], "Ada climed the frame.")
    staff = signed_in(app, family, "staff")
    corrected = correct(staff, observation, [family.child_a_id], "Ada climbed the frame.")
    assert corrected.status_code == 303, corrected.text
    export = _export(app, family, "child", family.child_a_id)
    [revision] = json.loads(export.read("subject-access.json"))["tables"]["observation_revisions"]
    assert revision["observation_id"] == observation
    assert "Ada climed the frame." in json.dumps(revision["changes"])
    assert "Ada climed the frame." in _pdf_words(export)


def test_a_childs_export_keeps_to_their_own_view_of_group_observations(app, family):
    """Under ``hidden`` no other child is named; only their family's comments, and only
    the photos their family may see (a friend without photo consent stays out)."""
    set_group_names(app, family.slug, GroupNamePolicy.HIDDEN)
    with inside(app, family.slug):
        db.session.get_one(Child, family.child_b_id).photo_consent = False
        db.session.commit()
    both = [family.child_a_id, family.child_b_id]
    observation = observe(
        app,
        family,
        both,
        "Ada and Barty Quince dug a tunnel.",
        next_steps="Ada: dig again with Bartholomew.",
        photos=[(photo_bytes(), "Ada digging", [family.child_a_id]), (photo_bytes(), "Both", both)],
    )
    comment_from_each_family(app, family, observation)

    export = _export(app, family, "child", family.child_a_id)
    tables = json.loads(export.read("subject-access.json"))["tables"]
    everything = json.dumps(tables, ensure_ascii=False) + _pdf_words(export)
    assert not [name for name in B_NAMES if name in everything]
    assert "Ada and a friend dug a tunnel." in everything
    assert [row["body"] for row in tables["observation_comments"]] == [
        "Ada talked about the den all evening."
    ]
    [photo] = tables["observation_photos"]
    assert photo["caption"] == "Ada digging"
    assert [name for name in export.namelist() if name.startswith("photos/")] == [
        f"photos/{photo['file_name']}"
    ]


def test_a_childs_export_holds_the_rows_that_name_them_where_they_are_not_tagged(
    app, family, mail_outbox
):
    """What a purge of the child scrubs or removes because it names them is held about
    them: another child's observation that names them, an email whose subject does.
    Shown as their own view shows it: no other child named."""
    naming = observe(app, family, [family.child_b_id], "Barty climbed. Ada Okafor watched.")
    not_naming = observe(app, family, [family.child_b_id], "Barty ran to the gate.")
    parent = signed_in(app, family, "parent_a")
    asked = post_form(parent, f"/retention/children/{family.child_a_id}/leaving-pack")
    assert asked.status_code == 303

    tables = json.loads(
        _export(app, family, "child", family.child_a_id).read("subject-access.json")
    )["tables"]

    observations = {row["id"]: row for row in tables["observations"]}
    assert naming in observations and not_naming not in observations
    assert "Ada Okafor watched." in observations[naming]["text"]
    assert not [name for name in B_NAMES if name in json.dumps(tables, ensure_ascii=False)]
    subjects = [row["subject"] for row in tables["outbox_messages"]]
    assert subjects == ["Ada's learning journal is ready to download"]


def _named(words: str, names: tuple[str, ...]) -> list[str]:
    return [name for name in names if re.search(rf"\b{name}\b", words)]


def test_a_staff_members_export_names_no_child(app, family):
    """Handed to the member of staff as a private person: the observations they wrote
    and edited, the children they are key person of, are held about them, every
    child's name replaced by the masking's placeholder (ids and rows stay)."""
    both = [family.child_a_id, family.child_b_id]
    observation = observe(
        app, family, both, "Ada Okafor and Barty dug a tunnel.", next_steps="Ada: again."
    )
    staff = signed_in(app, family, "staff")
    edited = correct(staff, observation, both, "Ada and Bartholomew Quince dug a tunnel.")
    assert edited.status_code == 303, edited.text
    held = _direct(app, family.slug, "users", family.staff_id)  # before the export's audit

    export = _export(app, family, "staff", family.staff_id)
    tables = json.loads(export.read("subject-access.json"))["tables"]
    _assert_holds(tables, held)
    assert observation in [row["id"] for row in tables["observations"]]
    assert family.child_a_id in [row["id"] for row in tables["children"]]
    assert tables["observation_revisions"]
    everything = json.dumps(tables, ensure_ascii=False) + _pdf_words(export)
    assert not _named(everything, ("Ada", "Okafor", *B_NAMES))
    assert "A friend and a friend dug a tunnel." in everything


def test_a_parents_export_names_their_child_and_masks_others_under_hidden(app, family):
    set_group_names(app, family.slug, GroupNamePolicy.HIDDEN)
    both = [family.child_a_id, family.child_b_id]
    observation = observe(app, family, both, "Ada and Barty Quince dug a tunnel.")
    parent = signed_in(app, family, "parent_a")
    path = f"/journal/children/{family.child_a_id}/observations/{observation}/comments"
    said = post_form(parent, path, {"body": "Ada told us Barty Quince dug best."})
    assert said.status_code == 303, said.text

    export = _export(app, family, "parent", family.parent_a_id)
    tables = json.loads(export.read("subject-access.json"))["tables"]
    [comment] = tables["observation_comments"]
    assert comment["body"] == "Ada told us a friend dug best."
    everything = json.dumps(tables, ensure_ascii=False) + _pdf_words(export)
    assert not _named(everything, B_NAMES)
    assert "Ada told us a friend dug best." in _pdf_words(export)


def test_a_parent_linked_to_no_child_any_more_has_no_child_named(app, family):
    """No journal is theirs to read, so no child is theirs: whatever the policy, their
    export names none (their comments stay, the names in them masked)."""
    set_group_names(app, family.slug, GroupNamePolicy.SHOWN)
    observation = observe(app, family, [family.child_a_id], "Ada dug a tunnel.")
    parent = signed_in(app, family, "parent_a")
    path = f"/journal/children/{family.child_a_id}/observations/{observation}/comments"
    assert post_form(parent, path, {"body": "Ada loved it."}).status_code == 303
    with inside(app, family.slug):
        db.session.execute(delete(ParentLink).where(ParentLink.parent_id == family.parent_a_id))
        db.session.commit()

    export = _export(app, family, "parent", family.parent_a_id)
    tables = json.loads(export.read("subject-access.json"))["tables"]
    assert [row["body"] for row in tables["observation_comments"]] == ["A friend loved it."]
    assert not _named(json.dumps(tables, ensure_ascii=False) + _pdf_words(export), ("Ada",))


def test_a_staff_members_export_lists_the_photos_they_added_without_the_pictures(app, family):
    """A photo keeps who uploaded it (an upload tapped twice is one photo): the row names
    them, so it is in their export, its caption masked; the picture is of children, whose
    own exports hold it as their view shows it, never an adult's."""
    observe(
        app,
        family,
        [family.child_a_id],
        "Ada dug a tunnel.",
        photos=[(photo_bytes(), "Ada in the tunnel", [family.child_a_id])],
    )
    held = _direct(app, family.slug, "users", family.staff_id)
    assert held["observation_photos"]

    export = _export(app, family, "staff", family.staff_id)
    tables = json.loads(export.read("subject-access.json"))["tables"]
    _assert_holds(tables, held)
    assert [name for name in export.namelist() if name.startswith("photos/")] == []
    assert not _named(json.dumps(tables["observation_photos"]), ("Ada",))
