"""The operator's command groups (``tenants``, ``jobs``, ``backups``): a PostgreSQL server
that cannot be reached is one line saying so, never a traceback."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy.exc import DBAPIError


def postgres_unreachable(error: BaseException) -> bool:
    """Whether ``error`` is PostgreSQL not answering: no connection could be made, or the
    one in use broke. A statement PostgreSQL refused carries an SQLSTATE; these do not."""
    return isinstance(error, DBAPIError) and (
        error.connection_invalidated or getattr(error.orig, "sqlstate", "") is None
    )


class OperatorGroup(AppGroup):
    """A group of operator commands."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DBAPIError as error:
            if not postgres_unreachable(error):
                raise
            reason = str(error.orig).strip().splitlines()[0]
            raise click.ClickException(
                f"PostgreSQL is not answering ({reason}). Check DATABASE_URL and that the "
                "server is running, then run the command again."
            ) from error
