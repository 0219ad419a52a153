"""Restoring one setting or the whole database; damaged backups refused; rotation."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url

from app import clock
from app.backups.making import libpq_url
from app.backups.postgres import pg_tool, server_major
from app.backups.store import DATABASE, MEDIA, Verification, backups, rotate
from app.extensions import db
from app.journal.models import Observation, Photo, PhotoState
from app.people.models import Child
from tenants.models import Setting
from tenants.spares import ready_spares
from tests.helpers.clients import client_for, post_form, sign_in
from tests.helpers.journal import observe, photo_bytes, signed_in, upload
from tests.helpers.migrations import downgrade_setting
from tests.helpers.people import PASSWORD, PIN, inside
from workers.queues import PHOTO_QUEUE


def schema_dump(service, schema: str) -> str:
    """A plain pg_dump of one schema, for comparing byte for byte."""
    url = libpq_url(service.database_url)
    with psycopg.connect(url) as connection:
        tool = pg_tool("pg_dump", server_major(connection))
    dump = subprocess.run(
        [str(tool), "-n", schema, "--no-owner", "-d", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return re.sub(r"^\\(un)?restrict .*$", "", dump, flags=re.MULTILINE)  # a random key per dump


def count(service, slug: str, model) -> int:
    from tenants.binding import tenant_context

    with service.app.app_context(), tenant_context(slug):
        return db.session.scalar(select(func.count()).select_from(model))


def registry_row(service, slug: str) -> Setting | None:
    with service.app.app_context():
        row = db.session.scalar(select(Setting).where(Setting.slug == slug))
        db.session.expunge_all()
        return row


def set_retention_years(service, slug: str, years: int) -> None:
    with service.app.app_context():
        db.session.execute(
            update(Setting).where(Setting.slug == slug).values(retention_years_after_leaving=years)
        )
        db.session.commit()


def signed_in_manager(service, slug: str):
    client = client_for(service.app, slug)
    assert sign_in(client, f"manager@{slug}.example.org", PASSWORD, PIN).status_code == 303
    assert client.get("/account").status_code == 200
    return client


def test_one_setting_comes_back_whole_after_its_schema_was_dropped(service):
    sunnyside = service.family("sunnyside")
    service.family("moonbeam", "Moonbeam Pre-school")
    set_retention_years(service, "sunnyside", 7)
    service.cli("backups", "run")
    backup = service.only_backup()
    moonbeam_before = schema_dump(service, "setting_moonbeam")
    session = signed_in_manager(service, "sunnyside")
    set_retention_years(service, "sunnyside", 9)
    with service.app.app_context(), db.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA setting_sunnyside CASCADE"))
    photos = sorted((service.media_root / "sunnyside").iterdir())
    for photo in photos:
        photo.unlink()

    result = service.cli(
        "backups", "restore", backup.name, "--setting", "sunnyside", input="sunnyside\n"
    )

    assert result.exit_code == 0, result.output
    assert "Restored setting sunnyside" in result.output
    assert count(service, "sunnyside", Child) == 2
    assert count(service, "sunnyside", Observation) == 1
    assert registry_row(service, "sunnyside").retention_years_after_leaving == 7
    assert sorted((service.media_root / "sunnyside").iterdir()) == photos
    assert session.get("/account").status_code == 302, "the setting's sessions were ended"
    assert signed_in_manager(service, sunnyside.slug)
    assert schema_dump(service, "setting_moonbeam") == moonbeam_before


def test_a_setting_restore_needs_its_slug_typed(service):
    service.family("sunnyside")
    service.cli("backups", "run")
    with service.app.app_context(), db.engine.begin() as connection:
        connection.execute(text("UPDATE setting_sunnyside.children SET room = 'Moved'"))

    refused = service.restore("--setting", "sunnyside", input="no\n")

    assert refused.exit_code != 0
    assert "not confirmed" in refused.output
    with service.app.app_context(), db.engine.connect() as connection:
        rooms = connection.execute(text("SELECT DISTINCT room FROM setting_sunnyside.children"))
        assert rooms.scalars().all() == ["Moved"]


def test_a_setting_the_backup_does_not_hold_is_refused_before_asking_to_confirm(service):
    service.family("sunnyside")
    service.cli("backups", "run")

    refused = service.restore("--setting", "nowhere")

    assert refused.exit_code == 1
    assert "has no setting 'nowhere'" in refused.output
    assert "Type the setting's slug" not in refused.output


def test_a_copy_under_a_slug_that_cannot_be_one_is_refused_with_the_slug_rule(service):
    service.family("sunnyside")
    service.cli("backups", "run")

    refused = service.restore("--setting", "sunnyside", "--as", "Bad_Slug")

    assert refused.exit_code == 1
    assert "A slug is 3 to 40 characters" in refused.output
    assert "Traceback" not in refused.output and refused.exc_info[0] is SystemExit
    assert registry_row(service, "bad-slug") is None


def test_a_suspended_setting_restored_in_place_stays_suspended(service):
    """Suspending is the operator's decision now, not data of the backup's night: the
    restore brings the rows back and leaves the setting as the operator left it."""
    service.family("sunnyside")
    service.cli("backups", "run")
    suspended = service.cli("tenants", "suspend", "sunnyside")
    assert suspended.exit_code == 0, suspended.output

    restored = service.restore("--setting", "sunnyside", "--confirm", "sunnyside")

    assert restored.exit_code == 0, restored.output
    assert registry_row(service, "sunnyside").status.value == "suspended"
    assert client_for(service.app, "sunnyside").get("/login").status_code == 404


def test_a_setting_restored_as_a_new_slug_sits_beside_the_live_one(service):
    service.family("sunnyside")
    service.cli("backups", "run")
    live_before = schema_dump(service, "setting_sunnyside")

    result = service.restore(
        "--setting",
        "sunnyside",
        "--as",
        "sunnyside-copy",
    )

    assert result.exit_code == 0, result.output
    copy = registry_row(service, "sunnyside-copy")
    assert copy.schema_name == "setting_sunnyside_copy"
    assert copy.status.value == "suspended"
    assert copy.name == "Sunnyside Nursery (restored copy)"
    assert schema_dump(service, "setting_sunnyside") == live_before
    with service.app.app_context(), db.engine.connect() as connection:
        children = connection.execute(text("SELECT count(*) FROM setting_sunnyside_copy.children"))
        assert children.scalar_one() == 2
    assert len(list((service.media_root / "sunnyside-copy").iterdir())) == 2
    assert len(list((service.media_root / "sunnyside").iterdir())) == 2


def test_a_copy_whose_schema_name_is_taken_is_refused_and_rolled_back(service):
    service.family("sunnyside")
    service.cli("backups", "run")
    with service.app.app_context(), db.engine.begin() as connection:
        connection.execute(text("CREATE SCHEMA setting_sunnyside_copy"))

    result = service.restore(
        "--setting",
        "sunnyside",
        "--as",
        "sunnyside-copy",
    )

    assert result.exit_code != 0
    assert "the restore was rolled back" in result.output and "already exists" in result.output
    assert registry_row(service, "sunnyside-copy") is None
    assert not (service.media_root / "sunnyside-copy").exists()


def _a_waiting_photo(service, family) -> Path:
    """A photo uploaded as staff and not yet processed (no worker takes its task): the
    path of its waiting upload."""
    observation_id = observe(service.app, family, [family.child_a_id], "Ada at the easel.")
    staff = signed_in(service.app, family, "staff")
    celery = service.app.extensions["celery"]
    celery.conf.task_always_eager = False  # its task goes to the broker, and is dropped there
    try:
        uploaded = post_form(
            staff,
            f"/journal/observations/{observation_id}/photos",
            {"photo": upload(photo_bytes(), "easel.jpg"), "caption": ""},
            content_type="multipart/form-data",
        )
    finally:
        celery.conf.task_always_eager = True
        celery.control.purge()
        redis.Redis.from_url(service.app.config["LJ"].REDIS_URL).delete(PHOTO_QUEUE)
    assert uploaded.status_code == 303
    (waiting,) = (service.media_root / ".waiting" / family.slug).iterdir()
    return waiting


def test_a_photo_waiting_at_the_backup_comes_back_waiting_with_its_upload(service):
    family = service.family("sunnyside")
    waiting = _a_waiting_photo(service, family)
    upload_bytes = waiting.read_bytes()
    service.cli("backups", "run")

    copied = service.restore("--setting", "sunnyside", "--as", "sunnyside-copy")
    assert copied.exit_code == 0, copied.output
    assert (service.media_root / ".waiting" / "sunnyside-copy" / waiting.name).read_bytes() == (
        upload_bytes
    )

    with service.app.app_context(), db.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA setting_sunnyside CASCADE"))
    shutil.rmtree(waiting.parent)
    restored = service.restore("--setting", "sunnyside", input="sunnyside\n")

    assert restored.exit_code == 0, restored.output
    assert waiting.read_bytes() == upload_bytes
    with inside(service.app, "sunnyside"):
        photo = db.session.scalars(select(Photo).where(Photo.file_name == waiting.name)).one()
        assert photo.state is PhotoState.WAITING
    # Its first reader makes it ready from the restored upload.
    manager = signed_in_manager(service, "sunnyside")
    full = manager.get(f"/journal/children/{family.child_a_id}/photos/{photo.id}/full")
    assert full.status_code == 200 and full.mimetype == "image/jpeg"


def test_the_whole_database_and_media_are_restored_after_a_typed_confirmation(service):
    service.family("sunnyside")
    service.cli("backups", "run")
    backup = service.only_backup()
    session = signed_in_manager(service, "sunnyside")
    service.family("latecomer", "Latecomer Nursery")
    with service.app.app_context(), db.engine.begin() as connection:
        connection.execute(text("UPDATE setting_sunnyside.children SET room = 'Moved'"))
    database = service.database_url.rsplit("/", 1)[-1]

    refused = service.cli("backups", "restore", backup.name, input="yes\n")
    assert refused.exit_code != 0 and "not confirmed" in refused.output

    result = service.cli("backups", "restore", backup.name, input=f"{database}\n")

    assert result.exit_code == 0, result.output
    assert registry_row(service, "latecomer") is None
    assert not (service.media_root / "latecomer").exists()
    with service.app.app_context(), db.engine.connect() as connection:
        rooms = connection.execute(text("SELECT DISTINCT room FROM setting_sunnyside.children"))
        assert rooms.scalars().all() == ["Rainbows"]
        names = connection.execute(
            text("SELECT count(*) FROM pg_namespace WHERE nspname = 'setting_latecomer'")
        )
        assert names.scalar_one() == 0
    assert len(list((service.media_root / "sunnyside").iterdir())) == 2
    assert session.get("/account").status_code == 302, "every session was ended"
    assert "kept as" in result.output
    # Spare schemas (tenants.spares) are left out of backups; their records came back,
    # and a provisioning after the restore takes none of them.
    with service.app.app_context(), db.engine.connect() as connection:
        spares = connection.execute(text("SELECT schema_name FROM public.spare_schemas"))
        assert spares.scalars().all(), "the backup was made with no spare ready"
        assert ready_spares(connection) == 0
    service.family("newcomer", "Newcomer Nursery")
    assert "Newcomer Nursery" in client_for(service.app, "newcomer").get("/").text


def _data_files(backup) -> list:
    """The files restores read rows from: the whole dump (whole restores, verify) and each
    setting's own rows (one-setting restores)."""
    return [backup.path / DATABASE, *sorted((backup.path / "settings").iterdir())]


def _damage(service, how: str) -> None:
    backup = service.only_backup()
    if how == "corrupt":
        for path in _data_files(backup):
            data = bytearray(path.read_bytes())
            data[len(data) // 2] ^= 0x01
            path.write_bytes(bytes(data))
    elif how == "truncated":
        path = backup.path / MEDIA
        path.write_bytes(path.read_bytes()[:-100])
    elif how == "another backup's":
        # As another backup's file would be: encrypted with the same key (here the same
        # plaintext again, under a new salt), so every chunk authenticates.
        from app.backups.crypto import EncryptingWriter, decrypted_chunks

        key = service.app.config["LJ"].BACKUP_KEY
        for path in _data_files(backup):
            plaintext = b"".join(decrypted_chunks(path, key))
            path.unlink()
            writer = EncryptingWriter(path, key)
            writer.write(plaintext)
            writer.close()
    elif how == "wrong key":
        service.app.config["LJ"].BACKUP_KEY = "a key this backup was never made with"


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("corrupt", "damaged or cut short"),
        ("truncated", "damaged or cut short"),
        ("another backup's", "not the file its manifest names"),
        ("wrong key", "encrypted with another key"),
    ],
)
def test_a_damaged_backup_is_refused_by_verify_and_restore_and_nothing_live_changes(
    service, how, message
):
    service.family("sunnyside")
    service.cli("backups", "run")
    with service.app.app_context(), db.engine.begin() as connection:
        connection.execute(text("UPDATE setting_sunnyside.children SET room = 'Moved'"))
    before = schema_dump(service, "setting_sunnyside")
    _damage(service, how)
    name = service.only_backup().name

    verify = service.cli("backups", "verify")
    one = service.cli("backups", "restore", name, "--setting", "sunnyside", input="sunnyside\n")
    database = service.database_url.rsplit("/", 1)[-1]
    whole = service.cli("backups", "restore", name, input=f"{database}\n")

    assert verify.exit_code == 1 and message in verify.output
    assert service.only_backup().verification.ok is False
    for refused in (one, whole):
        assert refused.exit_code != 0
        assert message in refused.output and "Nothing was changed" in refused.output
    assert schema_dump(service, "setting_sunnyside") == before


def test_a_chunk_changed_inside_a_file_is_caught_by_its_authentication(service):
    """Even when the manifest's checksum is made to match, AES-GCM refuses the chunk."""
    import hashlib

    service.family("sunnyside")
    service.cli("backups", "run")
    backup = service.only_backup()
    dump = backup.path / DATABASE
    data = bytearray(dump.read_bytes())
    data[-40] ^= 0x01
    dump.write_bytes(bytes(data))
    service.rewrite_manifest(
        backup,
        lambda manifest: manifest.update(database_sha256=hashlib.sha256(bytes(data)).hexdigest()),
    )

    verify = service.cli("backups", "verify")

    assert verify.exit_code == 1
    assert "database.dump.enc is damaged or cut short" in verify.output


def test_a_backup_of_the_first_format_is_refused_for_one_setting_and_restores_whole(service):
    """Backups made before each setting's rows were kept apart hold only the whole dump."""

    def as_the_first_format(manifest: dict) -> None:
        for part in ("setting_files", "sequences"):
            del manifest[part]
        manifest["format"] = 1

    service.family("sunnyside")
    service.cli("backups", "run")
    backup = service.only_backup()
    service.rewrite_manifest(backup, as_the_first_format)
    with service.app.app_context(), db.engine.begin() as connection:
        connection.execute(text("UPDATE setting_sunnyside.children SET room = 'Moved'"))
    before = schema_dump(service, "setting_sunnyside")

    one = service.cli(
        "backups", "restore", backup.name, "--setting", "sunnyside", input="sunnyside\n"
    )
    verify = service.cli("backups", "verify")

    assert one.exit_code != 0
    assert "one setting cannot be restored from it" in one.output
    assert schema_dump(service, "setting_sunnyside") == before
    assert verify.exit_code == 0, verify.output


def test_a_setting_backed_up_at_an_older_revision_is_built_by_the_migrations_and_migrated_up(
    service,
):
    """The schema is built at the backup's revision, its rows loaded, then migrated to the head."""
    from tenants.migrating import _script_directory, current_revision, setting_head_revision

    service.family("sunnyside")
    # The setting as a release before this one left it (its rows at that revision), backed
    # up by that release (whose manifest names the revision).
    older = _script_directory().get_revision(setting_head_revision()).down_revision
    downgrade_setting(service.app, "sunnyside", older)
    service.cli("backups", "run")
    backup = service.only_backup()
    service.rewrite_manifest(backup, lambda manifest: manifest["revisions"].update(setting=older))
    with service.app.app_context(), db.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA setting_sunnyside CASCADE"))

    result = service.cli(
        "backups", "restore", backup.name, "--setting", "sunnyside", input="sunnyside\n"
    )

    assert result.exit_code == 0, result.output
    assert count(service, "sunnyside", Child) == 2
    with service.app.app_context(), db.engine.connect() as connection:
        assert current_revision(connection, "setting_sunnyside") == setting_head_revision()


@pytest.mark.parametrize("chain", ["setting", "public"])
def test_a_backup_made_by_a_newer_release_is_refused_and_nothing_live_changes(service, chain):
    """This release cannot migrate a schema it does not know: the whole restore would have
    swapped the database in and then failed to migrate it, leaving a service that cannot
    start."""
    service.family("sunnyside")
    service.cli("backups", "run")
    backup = service.only_backup()
    service.rewrite_manifest(
        backup, lambda manifest: manifest["revisions"].update({chain: "0f0f0f0f0f0f"})
    )
    with service.app.app_context(), db.engine.begin() as connection:
        connection.execute(text("UPDATE setting_sunnyside.children SET room = 'Moved'"))
    before = schema_dump(service, "setting_sunnyside")

    one = service.restore("--setting", "sunnyside", "--confirm", "sunnyside")
    whole = service.restore("--confirm", make_url(service.database_url).database)

    for refused in (one, whole):
        assert refused.exit_code == 1, refused.output
        assert "made by a newer release" in refused.output and "0f0f0f0f0f0f" in refused.output
    assert schema_dump(service, "setting_sunnyside") == before


def _fake_backup(root, age: timedelta, now: datetime, verified: bool = False) -> str:
    from app.backups.store import StoredBackup, stamp

    created = now - age
    path = root / stamp(created)
    path.mkdir(parents=True)
    if verified:
        StoredBackup(path, created).record_verification(Verification(created, True, "ok"))
    return path.name


def test_rotation_keeps_exactly_the_backups_of_the_last_30_days(tmp_path):
    now = datetime(2031, 6, 30, 2, 30, tzinfo=UTC)
    ages = {days: _fake_backup(tmp_path, timedelta(days=days), now) for days in range(41)}
    partial_old = tmp_path / ".partial-20310628T023000Z-abc123"
    partial_new = tmp_path / ".partial-20310630T013000Z-def456"
    partial_old.mkdir()
    partial_new.mkdir()

    rotation = rotate(tmp_path, now)

    assert {backup.name for backup in backups(tmp_path)} == {
        name for days, name in ages.items() if days <= 30
    }
    assert len(rotation.deleted) == 10
    assert not partial_old.exists() and partial_new.exists()


def test_rotation_never_deletes_the_newest_verified_backup(tmp_path):
    now = datetime(2031, 6, 30, 2, 30, tzinfo=UTC)
    verified = _fake_backup(tmp_path, timedelta(days=40), now, verified=True)
    older = _fake_backup(tmp_path, timedelta(days=41), now, verified=True)
    unverified = _fake_backup(tmp_path, timedelta(days=35), now)

    rotate(tmp_path, now)

    assert [backup.name for backup in backups(tmp_path)] == [verified]
    assert older not in [backup.name for backup in backups(tmp_path)]
    assert unverified not in [backup.name for backup in backups(tmp_path)]


def test_the_nightly_job_backs_up_verifies_and_rotates(service):
    service.family("sunnyside")
    now = clock.now()
    stale = _fake_backup(service.backup_dir, timedelta(days=31), now)
    abandoned = service.backup_dir / f".partial-{now:%Y%m%dT%H%M%SZ}-dead00"
    abandoned.mkdir()

    result = service.cli("jobs", "run", "backup")

    assert result.exit_code == 0, result.output
    assert "verified" in result.output and "1 older than 30 days deleted" in result.output
    names = [backup.name for backup in backups(service.backup_dir)]
    assert stale not in names and len(names) == 1
    assert backups(service.backup_dir)[0].verified
    assert not abandoned.exists()


def test_a_backup_killed_mid_job_is_delivered_again_and_completes_leaving_nothing_behind(
    service, start_worker
):
    from tests.helpers.workers import wait_until
    from workers.models import JobRun

    for number in range(4):
        service.family(f"nursery-{number}", f"Nursery {number}")
    first = start_worker("nursery-0", "first")
    first.wait_ready()
    partial = lambda: [p for p in service.backup_dir.glob(".partial-*")]  # noqa: E731

    celery = service.app.extensions["celery"]
    celery.conf.task_always_eager = False  # to the worker, not run here
    # As beat sends it, with the time it was due: a copy delivered after a run succeeded
    # finds nothing to do.
    celery.send_task("workers.run_job", args=("backup",), kwargs={"due": clock.now().isoformat()})
    wait_until(partial, 30, "the backup to be written")
    first.kill()
    assert partial() and backups(service.backup_dir) == [], "killed before it was complete"

    # A second worker is handed the task the broker never saw acknowledged.
    second = start_worker("nursery-0", "second", LJ_VISIBILITY_TIMEOUT="4")
    second.wait_ready()
    second.wait_for_log("job backup finished", timeout=120)

    assert partial() == []
    assert len(backups(service.backup_dir)) == 1 and backups(service.backup_dir)[0].verified
    assert sorted(p.name for p in service.backup_dir.iterdir()) == [
        backups(service.backup_dir)[0].name
    ], "no temporary file is left"
    with service.app.app_context():
        runs = db.session.execute(
            select(JobRun.outcome, JobRun.summary).where(JobRun.job == "backup").order_by(JobRun.id)
        ).all()
    assert [outcome for outcome, _ in runs[:2]] == ["died", "succeeded"], runs
    assert "1 leftover(s) of a run that died removed" in runs[1].summary
    # Past the short visibility timeout the broker may hand the task over again: while the
    # backup runs that copy finds the lock held, after it the run done; neither backs up.
    assert all(outcome == "skipped" for outcome, _ in runs[2:]), runs


def test_a_restored_settings_audit_log_says_it_was_restored_and_from_which_backup(service):
    service.family("sunnyside")
    service.cli("backups", "run")
    backup = service.only_backup()
    restored = service.cli(
        "backups", "restore", backup.name, "--setting", "sunnyside", "--confirm", "sunnyside"
    )
    assert restored.exit_code == 0, restored.output
    log = signed_in_manager(service, "sunnyside").get("/retention/audit?action=backup.restored")
    assert log.status_code == 200
    assert f"Backup: {backup.name}" in log.text and "Purges applied again: 0" in log.text

    database = service.database_url.rsplit("/", 1)[-1]
    whole = service.cli("backups", "restore", backup.name, "--confirm", database)
    assert whole.exit_code == 0, whole.output
    log = signed_in_manager(service, "sunnyside").get("/retention/audit?action=backup.restored")
    assert log.text.count(f"Backup: {backup.name}") == 1  # the whole database, once again
