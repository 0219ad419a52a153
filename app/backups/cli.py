"""The operator's backup commands: ``flask --app wsgi backups run|list|verify|restore``.

Each holds the ``backup`` job's lock while it works, so it never runs beside
the nightly job or another of these commands.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.engine import make_url

from app import clock
from app.backups.crypto import BackupUnreadable
from app.backups.making import BackupPlace, backup_place, make_backup, remove_abandoned_work
from app.backups.postgres import BackupRefused
from app.backups.restoring import (
    restore_database,
    restore_setting,
    setting_in_backup,
    verify_backup,
)
from app.backups.store import NoSuchBackup, StoredBackup, backups, find_backup
from app.operator_commands import OperatorGroup
from workers.jobs import job_lock

BACKUP_JOB = "backup"

backups_cli = OperatorGroup("backups", help="Make, list, verify and restore encrypted backups.")


@contextmanager
def _exclusive() -> Iterator[BackupPlace]:
    """The backup job's lock for the block, with clear messages for what can go wrong."""
    with job_lock(BACKUP_JOB) as lock:
        if lock is None:
            raise click.ClickException(
                "a backup job is running (its lock is held); try again when it has finished"
            )
        try:
            yield backup_place()
        except NoSuchBackup as error:
            raise click.ClickException(str(error)) from error
        except BackupUnreadable as error:
            raise click.ClickException(f"refused: {error}. Nothing was changed.") from error
        except BackupRefused as error:
            raise click.ClickException(f"refused: {error}") from error


@backups_cli.command("run")
def run_command() -> None:
    """Back up the whole database and the media files now."""
    with _exclusive() as place:
        remove_abandoned_work(place)
        backup = make_backup(place)
    click.echo(f"Backup {backup.name} written to {backup.path}")


def _describe(backup: StoredBackup, place: BackupPlace) -> str:
    verification = backup.verification
    if verification is None:
        state = "not verified"
    else:
        state = f"{'verified' if verification.ok else 'FAILED verification'} "
        state += f"{verification.at:%Y-%m-%d %H:%M}"
    size = sum(path.stat().st_size for path in backup.path.iterdir()) / 1_000_000
    try:
        settings = f"{len(backup.manifest(place.backup_key)['registry'])} settings"
    except BackupUnreadable as error:
        settings = f"unreadable ({error})"
    age = (clock.now() - backup.created_at).days
    return f"{backup.name}  {age:>2} days old  {size:8.1f} MB  {settings:<14} {state}"


@backups_cli.command("list")
def list_command() -> None:
    """Every backup, oldest first: age, size, settings, verification."""
    place = backup_place()
    found = backups(place.backup_dir)
    if not found:
        click.echo(f"No backups in {place.backup_dir}.")
    for backup in found:
        click.echo(_describe(backup, place))


@backups_cli.command("verify")
@click.argument("backup", required=False)
def verify_command(backup: str | None) -> None:
    """Restore BACKUP (the newest by default) into a scratch database and compare its counts."""
    with _exclusive() as place:
        stored = find_backup(place.backup_dir, backup)
        verification = verify_backup(place, stored)
    click.echo(
        f"{stored.name}: {'verified' if verification.ok else 'FAILED'}: {verification.detail}"
    )
    if not verification.ok:
        sys.exit(1)


def _confirm(expected: str, prompt: str, given: str | None) -> None:
    answer = given if given is not None else click.prompt(prompt, default="", show_default=False)
    if answer.strip() != expected:
        raise click.ClickException(f"not confirmed (expected {expected!r}); nothing was changed")


@backups_cli.command("restore")
@click.argument("backup")
@click.option("--setting", "slug", help="Restore only this setting (its slug).")
@click.option("--as", "as_slug", help="With --setting: restore it beside the live one as NEWSLUG.")
@click.option("--confirm", help="The confirmation, typed ahead (for scripts).")
def restore_command(
    backup: str, slug: str | None, as_slug: str | None, confirm: str | None
) -> None:
    """Restore BACKUP: the whole database and media, or one setting (--setting SLUG)."""
    if as_slug and not slug:
        raise click.ClickException("--as needs --setting: it names the copy of one setting")
    with _exclusive() as place:
        stored = find_backup(place.backup_dir, backup)
        if slug is None:
            database = make_url(place.database_url).database or ""
            _confirm(
                database,
                f"This replaces the whole database and every media file with backup "
                f"{stored.name}, and signs everyone out.\nType the database's name "
                f"({database}) to go on",
                confirm,
            )
            restored = restore_database(place, stored)
            click.echo(
                f"Restored {stored.name}: {restored.settings} settings, "
                f"{restored.purges_replayed} purges replayed from the erasure ledger, "
                f"{restored.sessions_ended} sessions ended."
            )
            for removed in restored.settings_removed:
                click.echo(f"  setting {removed} had left the service since: removed again")
            click.echo(
                f"The database it replaced is kept as {restored.replaced_database}: drop it "
                "when you are satisfied (DROP DATABASE)."
            )
            return
        if as_slug is None:
            setting_in_backup(place, stored, slug)
            _confirm(
                slug,
                f"This replaces setting {slug} with its state in backup {stored.name} and "
                f"signs its people out.\nType the setting's slug ({slug}) to go on",
                confirm,
            )
        setting = restore_setting(place, stored, slug, as_slug)
    where = "beside the live one (suspended: resume it to open it)" if as_slug else "in place"
    click.echo(
        f"Restored setting {slug} from {stored.name} {where} as {setting.slug}: "
        f"{setting.rows} rows, {setting.files} files, {setting.purges_replayed} purges "
        f"replayed from the erasure ledger, {setting.sessions_ended} sessions ended."
    )
