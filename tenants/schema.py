"""The declarative base of every table that lives in a setting's own schema.

Tables of this base carry no schema name: the schema is chosen per transaction
by ``tenants.binding`` (``SET LOCAL search_path``), so the same model serves
every setting and no query can name another setting's schema.
"""

from __future__ import annotations

from sqlalchemy import MetaData
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
