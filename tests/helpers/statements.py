"""The statements a block of a test sends to the database."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from app.extensions import db

# Binding the schema is the transaction's, not the page's: sent with BEGIN where it can
# be (tenants.binding.begin_bound_to), on its own where not.
BINDING = "SET LOCAL search_path"


@contextmanager
def statements_of(app) -> Iterator[list[str]]:
    """Every statement the block sends to the database, in order (but the binding)."""
    sent: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        if not statement.startswith(BINDING):
            sent.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)
