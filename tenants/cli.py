"""The operator's commands: ``flask --app wsgi tenants ...`` (also the ``lj-tenants`` script)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup
from redis.exceptions import RedisError

from app import clock
from app.auth.first_manager import invite_first_manager
from app.auth.sessions import end_all_sessions_of_setting
from app.extensions import db
from app.operator_commands import OperatorGroup
from app.validation import InvalidInput
from tenants.binding import UnknownSetting
from tenants.migrating import (
    MIGRATION_CONNECTIONS,
    SchemaBehind,
    migrate_all_settings,
    read_revisions,
    upgrade_public,
)
from tenants.models import SettingStatus
from tenants.provisioning import SettingExists, provision_setting
from tenants.registry import all_settings, forget_cached, set_status, setting_by_slug
from tenants.slugs import InvalidSlug
from tenants.spares import drop_unusable_spares, ready_spares

tenants_cli = OperatorGroup(
    "tenants", help="Create, list, suspend, resume, migrate, export and delete settings."
)


@tenants_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The setting's display name.")
@click.option("--manager-email", required=True, help="Email of the first manager.")
@click.option("--manager-name", default="Manager", show_default=True)
def create_command(slug: str, name: str, manager_email: str, manager_name: str) -> None:
    """Create a setting with its own schema and invite its first manager."""
    upgrade_public(db.engine)
    try:
        new = provision_setting(slug, name, manager_email, manager_name)
    except (InvalidSlug, InvalidInput, SettingExists) as error:
        raise click.ClickException(str(error)) from error
    invite_first_manager(new)
    click.echo(f"Created setting '{new.slug}' ({new.name}) in schema {new.schema_name}.")
    click.echo(f"First manager: {new.manager_email}")


@tenants_cli.command("list")
def list_command() -> None:
    """List every setting with its status."""
    for setting in all_settings():
        click.echo(
            f"{setting.slug:<40} {setting.status.value:<10} "
            f"{setting.created_at:%Y-%m-%d}  {setting.name}"
        )


def _change_status(slug: str, status: SettingStatus) -> None:
    try:
        set_status(slug, status)
    except LookupError as error:
        raise click.ClickException(f"No setting '{slug}'.") from error
    db.session.commit()
    forget_cached()
    click.echo(f"Setting '{slug}' is now {status.value}.")


@tenants_cli.command("suspend")
@click.argument("slug")
def suspend_command(slug: str) -> None:
    """Take a setting offline: its pages answer 404 and everyone is signed out."""
    _change_status(slug, SettingStatus.SUSPENDED)
    try:
        ended = end_all_sessions_of_setting(slug)
    except RedisError as error:
        # Offline already (pages answer 404); resume ends the sessions before it returns.
        raise click.ClickException(f"Sessions could not be ended now (Redis: {error}).") from error
    click.echo(f"{ended} sessions ended.")


@tenants_cli.command("resume")
@click.argument("slug")
def resume_command(slug: str) -> None:
    """Bring a suspended setting back online; everyone signs in afresh."""
    current = setting_by_slug(slug)
    if current is not None and current.status is SettingStatus.ACTIVE:
        # Ending its sessions would sign a working nursery out, for nothing.
        click.echo(f"Setting '{slug}' is already active; nobody was signed out.")
        return
    # Before the setting comes back: sessions left from the suspension (Redis was down, or
    # another process signed someone in while its snapshot still showed the setting active)
    # must not come back with it. Redis down: the setting stays suspended.
    try:
        end_all_sessions_of_setting(slug)
    except RedisError as error:
        raise click.ClickException(f"Not resumed: Redis is not answering ({error}).") from error
    _change_status(slug, SettingStatus.ACTIVE)


@tenants_cli.command("export")
@click.argument("slug")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The ZIP file to write (default: SLUG-export-DATE.zip here).",
)
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
def export_command(slug: str, out: Path | None, force: bool) -> None:
    """Export everything of a setting: every table, each child's journal, every photo."""
    from app.retention.setting_exit import export_setting

    out = out or Path(f"{slug}-export-{clock.today().isoformat()}.zip")
    try:
        done = export_setting(slug, out, replace=force)
    except UnknownSetting as error:
        raise click.ClickException(f"No setting '{slug}'.") from error
    except SchemaBehind as error:
        raise click.ClickException(
            f"The schema {error.schema_name} is at revision {error.revision or 'none'}, behind "
            f"the code's {error.head}: nothing was exported. Migrate first with "
            "'flask --app wsgi tenants migrate' (docs/deploy.md), then export again."
        ) from error
    except FileExistsError as error:
        raise click.ClickException(
            f"{out} already exists: nothing was exported. "
            "Choose another --out, or add --force to replace it."
        ) from error
    except OSError as error:
        raise click.ClickException(f"Could not write {out}: {error.strerror}.") from error
    click.echo(
        f"Exported '{slug}' to {out}: {done.rows} rows in {done.tables} tables, "
        f"{done.journals} journals, {done.files} files."
    )


@tenants_cli.command("delete")
@click.argument("slug")
@click.option("--confirm", "typed", help="The slug again, to delete without being asked.")
def delete_command(slug: str, typed: str | None) -> None:
    """Delete a setting for good: its schema, photos, sessions; the slug is kept, unused."""
    from app.retention.setting_exit import NoSuchSetting, delete_setting

    found = setting_by_slug(slug)
    if found is None:  # before asking for the slug to be typed: there is nothing to confirm
        raise click.ClickException(f"No setting '{slug}'.")
    was_deleted = found.status is SettingStatus.DELETED
    if typed is None:
        click.echo(f"This deletes everything of '{slug}' for good. Export it first.")
        typed = click.prompt("Type the slug to confirm")
    if typed.strip() != slug:
        raise click.ClickException("That is not the slug: nothing was deleted.")
    try:
        gone = delete_setting(slug)
    except NoSuchSetting as error:
        raise click.ClickException(f"No setting '{slug}'.") from error
    if was_deleted:  # a second run finishes what a crash left: files, sessions
        click.echo(f"'{slug}' was already deleted; {gone['files']} files left of it removed.")
        return
    click.echo(
        f"Deleted '{slug}': {gone['rows']} rows in {gone['tables']} tables, "
        f"{gone['files']} files. Backups holding it age out within 30 days."
    )


@tenants_cli.command("migrate")
@click.option(
    "--connections",
    type=click.IntRange(1, 32),
    default=MIGRATION_CONNECTIONS,
    show_default=True,
    help="Schemas migrated at once.",
)
def migrate_command(connections: int) -> None:
    """Upgrade the registry, then every setting's schema that is behind, one transaction each."""
    upgrade_public(db.engine)
    click.echo("public: up to date")

    def progress(slug: str, error: str | None) -> None:
        click.echo(f"{slug}: {'FAILED ' + error if error else 'up to date'}")

    report = migrate_all_settings(db.engine, progress, connections)
    click.echo(
        f"{report.up_to_date} settings up to date ({len(report.upgraded)} upgraded now), "
        f"{len(report.failed)} failed."
    )
    # Spares built before this release are empty: dropped, and built again by the refill.
    click.echo(f"{drop_unusable_spares(db.engine)} spare schemas of other revisions dropped.")
    if report.failed:
        for slug, error in report.failed.items():
            click.echo(f"  failed: {slug}: {error}", err=True)
        sys.exit(1)


@tenants_cli.command("status")
def status_command() -> None:
    """Each schema's migration revision, and how many are behind the code (exit status 1)."""
    fleet = read_revisions(db.engine)

    def state(revision: str | None, head: str) -> str:
        return "up to date" if revision == head else "BEHIND"

    click.echo(
        f"{'public':<40} {'registry':<10} {fleet.public or '-':<14} "
        f"{state(fleet.public, fleet.public_head)}"
    )
    for setting in fleet.settings:
        click.echo(
            f"{setting.slug:<40} {setting.status.value:<10} {setting.revision or '-':<14} "
            f"{state(setting.revision, fleet.setting_head)}"
        )
    behind = fleet.settings_behind()
    if fleet.public == fleet.public_head:  # else the pool's table may not be there yet
        with db.engine.connect() as connection:
            spares = ready_spares(connection)
        click.echo(
            f"{spares} spare schemas ready for provisioning "
            f"(SPARE_SCHEMAS {current_app.config['LJ'].SPARE_SCHEMAS}); they are not settings."
        )
    click.echo(
        f"{len(fleet.settings)} settings: {len(fleet.settings) - len(behind)} at "
        f"{fleet.setting_head}, {len(behind)} behind; the registry "
        f"{'is' if fleet.public == fleet.public_head else 'is NOT'} at {fleet.public_head}."
    )
    if behind or fleet.public != fleet.public_head:
        sys.exit(1)


def main() -> None:
    """Console script ``lj-tenants``: the same commands without ``flask --app wsgi``."""
    from app import create_app

    cli = FlaskGroup(create_app=lambda: create_app(), add_default_commands=False)
    cli.add_command(tenants_cli)
    cli.main(args=["tenants", *sys.argv[1:]], prog_name="lj-tenants")
