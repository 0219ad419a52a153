"""What a setting's slug may be, and the schema name derived from it."""

from __future__ import annotations

import re

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38})[a-z0-9]$")
SCHEMA_PREFIX = "setting_"
# Spare schemas (``tenants.spares``) are named apart from every setting's: no slug can
# give a schema this prefix, and whatever walks schemas by name can tell them apart.
SPARE_SCHEMA_PREFIX = "spare_"

# Host names we keep for ourselves or that would mislead a parent reading a link.
RESERVED_SLUGS = frozenset(
    {
        "www",
        "admin",
        "administrator",
        "api",
        "app",
        "assets",
        "auth",
        "billing",
        "blog",
        "cdn",
        "dashboard",
        "dev",
        "docs",
        "ftp",
        "help",
        "imap",
        "login",
        "mail",
        "media",
        "mx",
        "ns1",
        "ns2",
        "operator",
        "pop",
        "pop3",
        "postgres",
        "public",
        "root",
        "smtp",
        "staging",
        "static",
        "status",
        "support",
        "system",
        "test",
        "template",
        "webmail",
    }
)
RESERVED_PREFIXES = ("pg-", "xn--")


class InvalidSlug(ValueError):
    """The slug cannot name a setting; the message says why, in words for the operator."""


def validate_slug(raw: str) -> str:
    """Return the slug when it may name a new setting, else raise ``InvalidSlug``."""
    slug = raw
    if not SLUG_PATTERN.fullmatch(slug):
        raise InvalidSlug(
            "A slug is 3 to 40 characters of lower-case letters a-z, digits and hyphens, "
            "and does not start or end with a hyphen."
        )
    if "--" in slug:
        raise InvalidSlug("A slug may not contain two hyphens in a row.")
    if slug in RESERVED_SLUGS or slug.startswith(RESERVED_PREFIXES):
        raise InvalidSlug(f"'{slug}' is reserved; please choose another slug.")
    return slug


def schema_name_for(slug: str) -> str:
    """The PostgreSQL schema of a setting, derived from its (already valid) slug.

    Hyphens become underscores; slugs cannot contain underscores, so two slugs
    never map to one schema.
    """
    return SCHEMA_PREFIX + validate_slug(slug).replace("-", "_")
