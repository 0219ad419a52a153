"""Backups: made encrypted with a manifest, verified in a scratch database, listed."""

from __future__ import annotations

import json

import pytest

from app.backups.crypto import MAGIC, WrongBackupKey, decrypted_chunks
from app.backups.postgres import lock_capacity_problem
from app.backups.store import DATABASE, MANIFEST, MEDIA, VERIFICATION
from tenants.migrating import setting_head_revision


def test_a_backup_is_one_folder_of_encrypted_files_with_a_manifest(service):
    family = service.family("sunnyside")

    result = service.cli("backups", "run")

    assert result.exit_code == 0, result.output
    backup = service.only_backup()
    files = [path for path in backup.path.rglob("*") if path.is_file()]
    assert sorted(str(path.relative_to(backup.path)) for path in files) == sorted(
        [MANIFEST, DATABASE, MEDIA, "settings/00001.enc"]
    )
    for path in files:
        data = path.read_bytes()
        assert data.startswith(MAGIC)
        assert b"Okafor" not in data and b"sunnyside" not in data, f"{path.name} is readable"
    key = service.app.config["LJ"].BACKUP_KEY
    manifest = json.loads(b"".join(decrypted_chunks(backup.path / MANIFEST, key)))
    assert manifest["revisions"]["setting"] == setting_head_revision()
    assert manifest["revisions"]["public"]
    assert [row["slug"] for row in manifest["registry"]] == [family.slug]
    assert manifest["registry"][0]["retention_years_after_leaving"] == 3
    rows = manifest["rows"][family.slug]
    assert rows["children"] == 2 and rows["observations"] == 1 and rows["users"] == 4
    assert manifest["media_files"] == {family.slug: 2}, "a photo and its thumbnail"
    assert len(manifest["database_sha256"]) == 64
    assert manifest["setting_files"][family.slug]["file"] == "settings/00001.enc"
    assert manifest["sequences"][family.slug]["children_id_seq"] == [2, True]


def test_a_backup_file_is_useless_without_its_key(service):
    service.family("sunnyside")
    service.cli("backups", "run")

    with pytest.raises(WrongBackupKey, match="another key"):
        b"".join(decrypted_chunks(service.only_backup().path / DATABASE, "some other key"))


def test_verify_restores_the_backup_into_a_scratch_database_and_records_the_result(service):
    service.family("sunnyside")
    service.family("moonbeam", "Moonbeam Pre-school")
    service.cli("backups", "run")

    result = service.cli("backups", "verify")

    assert result.exit_code == 0, result.output
    assert "verified: restored into a scratch database: 2 settings" in result.output
    backup = service.only_backup()
    assert backup.verified
    assert json.loads((backup.path / VERIFICATION).read_text())["ok"] is True
    listing = service.cli("backups", "list")
    assert backup.name in listing.output and "2 settings" in listing.output
    assert "verified" in listing.output


def test_a_server_whose_lock_table_cannot_hold_every_table_is_refused_with_what_to_set():
    problem = lock_capacity_problem(tables=15_000, per_transaction=64, slots=100)

    assert problem is not None
    assert "max_locks_per_transaction = 64" in problem
    assert "ALTER SYSTEM SET max_locks_per_transaction = 192" in problem
    assert lock_capacity_problem(tables=15_000, per_transaction=256, slots=100) is None


def test_a_deleted_setting_beside_live_ones_is_backed_up_as_its_registry_row_alone(service):
    """Deleting a setting keeps its registry row and drops its schema: the backup goes on."""
    from app.retention.setting_exit import delete_setting

    service.family("sunnyside")
    service.family("moonbeam", "Moonbeam Pre-school")
    with service.app.app_context():
        delete_setting("moonbeam")

    result = service.cli("backups", "run")

    assert result.exit_code == 0, result.output
    key = service.app.config["LJ"].BACKUP_KEY
    manifest = json.loads(b"".join(decrypted_chunks(service.only_backup().path / MANIFEST, key)))
    assert sorted(row["slug"] for row in manifest["registry"]) == ["moonbeam", "sunnyside"]
    assert list(manifest["setting_files"]) == ["sunnyside"]
    refused = service.restore("--setting", "moonbeam", input="moonbeam\n")
    assert refused.exit_code != 0 and "left the service" in refused.output


def test_a_backup_whose_manifest_is_gone_is_named_unreadable_never_a_traceback(service):
    """A folder copied back from off-site without its manifest, or cut by hand."""
    service.family("sunnyside")
    service.cli("backups", "run")
    backup = service.only_backup()
    (backup.path / MANIFEST).unlink()
    missing = f"{backup.name}/{MANIFEST} is missing"

    listed = service.cli("backups", "list")
    verified = service.cli("backups", "verify", backup.name)
    restored = service.restore("--setting", "sunnyside", "--confirm", "sunnyside")

    assert listed.exit_code == 0 and missing in listed.output, listed.output
    assert verified.exit_code == 1 and f"FAILED: {missing}" in verified.output, verified.output
    assert restored.exit_code == 1, restored.output
    assert missing in restored.output and "Nothing was changed" in restored.output
