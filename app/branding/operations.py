"""The setting's name and logo, as families see them on every page, and its time zone."""

from __future__ import annotations

from zoneinfo import available_timezones

from app.extensions import db
from app.journal import storage
from app.journal.media import process_upload
from app.request_transaction import call_after_commit
from app.validation import InvalidInput, clean_name
from tenants.binding import current_setting
from tenants.models import Setting
from tenants.registry import forget_cached

# A logo is shown small in the header: the 480-pixel rendition is plenty.
LOGO_MAX_BYTES = 5 * 1024 * 1024


def setting_row_to_change() -> Setting:
    """The bound setting's registry row, for a change every page shows: this process's
    settings snapshot is dropped once the change commits, so the next page has it."""
    call_after_commit(forget_cached)
    return db.session.get_one(Setting, current_setting().id)


def rename_setting(name: str) -> Setting:
    """Change the display name; flushes."""
    setting = setting_row_to_change()
    setting.name = clean_name(name, field="Setting name")
    db.session.flush()
    return setting


def set_time_zone(name: str) -> Setting:
    """Show the setting's times in the IANA zone ``name`` (e.g. Europe/London); flushes."""
    if name not in available_timezones():
        raise InvalidInput("Choose the time zone from the list.")
    setting = setting_row_to_change()
    setting.time_zone = name
    db.session.flush()
    return setting


def replace_logo(upload: bytes) -> Setting:
    """Store a new logo (checked and re-encoded like any photo); the old file goes after commit.

    Raises ``MediaRejected`` for anything that is not a usable image.
    """
    processed = process_upload(upload, max_bytes=LOGO_MAX_BYTES)
    setting = setting_row_to_change()
    old = setting.logo_file
    setting.logo_file = storage.store(processed.thumbnail, processed.extension)
    if old:
        storage.remove_after_commit(old)
    db.session.flush()
    return setting


def remove_logo() -> Setting:
    setting = setting_row_to_change()
    if setting.logo_file:
        storage.remove_after_commit(setting.logo_file)
        setting.logo_file = None
        db.session.flush()
    return setting
