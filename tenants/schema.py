"""The declarative base of every table that lives in a setting's own schema.

Tables of this base carry no schema name: the schema is chosen per transaction
by ``tenants.binding`` (``SET LOCAL search_path``), so the same model serves
every setting and no query can name another setting's schema.
"""

from __future__ import annotations

import enum

from sqlalchemy import Enum, MetaData
from sqlalchemy.orm import DeclarativeBase

# Fixed names make constraints identical whether a schema was provisioned from
# this metadata or migrated up by Alembic (a test compares the two catalogues).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class TenantModel(DeclarativeBase):
    """Base of per-setting tables (users, children, observations, ...)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def text_enum(kind: type[enum.Enum], name: str) -> Enum:
    """An enum column stored as VARCHAR with a CHECK, never as a PostgreSQL enum type.

    A native enum type would live in each setting's schema with its own OID, so
    the same query would have a different result type per setting, and psycopg's
    prepared statements (kept per pooled connection) would be refused by
    PostgreSQL ("cached plan must not change result type") on the next setting.
    """
    return Enum(
        kind,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
    )
