"""A setting leaves the service: `tenants export SLUG`, then `tenants delete SLUG`."""

from __future__ import annotations

import errno
import json
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from app import clock
from app.extensions import db
from app.retention import ledger, setting_exit
from tenants.models import Setting, SettingStatus
from tests.helpers.journal import observe, photo_bytes, signed_in
from tests.helpers.retention import ledger_entries, media_files


def _cli(app, *args: str, input: str | None = None):
    return app.test_cli_runner().invoke(args=["tenants", *args], input=input)


def test_export_holds_every_table_each_journal_and_every_photo(app, family, tmp_path):
    observe(
        app,
        family,
        [family.child_a_id],
        "Ada planted beans.",
        photos=[(photo_bytes(), "Beans", None)],
    )
    out = tmp_path / "export.zip"
    result = _cli(app, "export", family.slug, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "2 journals" in result.output

    archive = zipfile.ZipFile(out)
    names = set(archive.namelist())
    children = [json.loads(line) for line in archive.read("tables/children.jsonl").splitlines()]
    assert {child["first_name"] for child in children} == {"Ada", "Bartholomew"}
    users = archive.read("tables/users.jsonl").decode()
    assert "$2b$" not in users and family.email("parent-a") in users
    assert f"journals/{family.child_a_id}/journal.pdf" in names
    journal = json.loads(archive.read(f"journals/{family.child_a_id}/journal.json"))
    assert journal["observations"][0]["text"] == "Ada planted beans."
    assert {f"media/{name}" for name in media_files(app, family.slug)} <= names


def test_delete_needs_the_slug_typed_and_then_leaves_nothing(app, family):
    observe(app, family, [family.child_a_id], "Ada.", photos=[(photo_bytes(), "", None)])
    parent = signed_in(app, family, "parent_a")

    refused = _cli(app, "delete", family.slug, input="sunnyside\n")
    assert refused.exit_code != 0 and "nothing was deleted" in refused.output
    assert parent.get("/").status_code == 200

    result = _cli(app, "delete", family.slug, input=f"{family.slug}\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        schema = db.session.scalar(
            text("SELECT count(*) FROM information_schema.schemata WHERE schema_name = :s"),
            {"s": f"setting_{family.slug.replace('-', '_')}"},
        )
        row = db.session.scalar(select(Setting).where(Setting.slug == family.slug))
        assert schema == 0 and row.status is SettingStatus.DELETED
    assert media_files(app, family.slug) == set()
    assert parent.get("/").status_code == 404
    [entry] = ledger_entries(app, family.slug)
    assert entry.record_type is ledger.RecordType.SETTING
    with app.app_context(), pytest.raises(ledger.SettingLeftService):
        ledger.replay(family.slug, clock.now() - timedelta(days=1))
    assert _cli(app, "resume", family.slug).exit_code != 0
    assert _cli(app, "export", family.slug).exit_code != 0


def test_an_export_that_cannot_be_written_says_why(app, family, tmp_path):
    missing_folder = tmp_path / "no-such-folder" / "export.zip"
    result = _cli(app, "export", family.slug, "--out", str(missing_folder))
    assert result.exit_code == 1 and not isinstance(result.exception, OSError)
    assert f"Could not write {missing_folder}: No such file or directory" in result.output


def test_an_export_that_fails_half_way_leaves_no_file_to_mistake_for_it(
    app, family, tmp_path, monkeypatch
):
    def disk_full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(setting_exit, "write_journal", disk_full)
    out = tmp_path / "export.zip"
    result = _cli(app, "export", family.slug, "--out", str(out))
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert not out.exists()


def test_delete_asks_nothing_of_a_slug_no_setting_has_and_says_when_it_was_gone(app, family):
    unknown = _cli(app, "delete", "no-such-setting", input="no-such-setting\n")
    assert unknown.exit_code == 1
    assert (
        "Type the slug" not in unknown.output and "No setting 'no-such-setting'" in unknown.output
    )

    typed_with_spaces = _cli(app, "delete", family.slug, input=f"  {family.slug} \n")
    assert typed_with_spaces.exit_code == 0, typed_with_spaces.output

    again = _cli(app, "delete", family.slug, "--confirm", family.slug)
    assert again.exit_code == 0
    assert f"'{family.slug}' was already deleted" in again.output
    assert len(ledger_entries(app, family.slug)) == 1


def test_the_settings_audit_log_shows_the_operator_exported_everything(app, family, tmp_path):
    result = _cli(app, "export", family.slug, "--out", str(tmp_path / "export.zip"))
    assert result.exit_code == 0, result.output
    manager = signed_in(app, family, "manager")
    log = manager.get("/retention/audit?action=export.setting")
    assert log.status_code == 200 and "Journals: 2" in log.text


def test_an_export_never_overwrites_a_file_unless_forced(app, family, tmp_path):
    out = tmp_path / "export.zip"
    out.write_bytes(b"last week's export")
    refused = _cli(app, "export", family.slug, "--out", str(out))
    assert refused.exit_code == 1 and not isinstance(refused.exception, OSError)
    assert f"{out} already exists" in refused.output and "--force" in refused.output
    assert out.read_bytes() == b"last week's export"
    assert sorted(tmp_path.iterdir()) == [out]

    forced = _cli(app, "export", family.slug, "--out", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert "tables/children.jsonl" in zipfile.ZipFile(out).namelist()
    assert sorted(tmp_path.iterdir()) == [out]  # nothing left beside it


def test_an_export_is_written_beside_its_file_and_renamed_only_when_whole(
    app, family, tmp_path, monkeypatch
):
    """While it is written, and after it fails, FILE holds what it held before."""
    out = tmp_path / "export.zip"
    out.write_bytes(b"last week's export")
    seen_while_writing: list[bytes] = []

    def disk_full(*args: object) -> None:
        seen_while_writing.append(out.read_bytes())
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(setting_exit, "write_journal", disk_full)
    result = _cli(app, "export", family.slug, "--out", str(out), "--force")
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert seen_while_writing == [b"last week's export"]
    assert out.read_bytes() == b"last week's export"
    assert sorted(tmp_path.iterdir()) == [out]  # the partial file is gone


def _one_revision_behind(schema_name: str) -> None:
    """The schema as it was before the newest setting revision: the code is newer."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    from tenants import migrating
    from tenants.binding import bind_schema

    newest = migrating._script_directory().get_revision(migrating.setting_head_revision())
    with db.engine.begin() as connection:
        bind_schema(connection, schema_name)
        context = MigrationContext.configure(connection)
        with Operations.context(context):
            newest.module.downgrade()
        connection.execute(
            text(f'UPDATE "{schema_name}".alembic_version SET version_num = :v'),
            {"v": newest.down_revision},
        )


def test_an_export_of_a_schema_behind_the_code_says_to_migrate_it_first(
    app, make_setting, tmp_path
):
    """The models would read columns the schema does not have yet (a traceback): the
    operator is told to run the migration first, as the deploy guide says."""
    behind = make_setting()
    with app.app_context():
        _one_revision_behind(behind.schema_name)
    out = tmp_path / "export.zip"
    result = _cli(app, "export", behind.slug, "--out", str(out))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "flask --app wsgi tenants migrate" in result.output
    assert "nothing was exported" in result.output and not out.exists()
    assert list(tmp_path.iterdir()) == []

    migrated = app.test_cli_runner().invoke(args=["tenants", "migrate"])
    assert migrated.exit_code == 0, migrated.output
    assert _cli(app, "export", behind.slug, "--out", str(out)).exit_code == 0
    assert zipfile.is_zipfile(out)
