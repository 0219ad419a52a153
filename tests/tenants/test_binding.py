"""The schema is bound inside each transaction, whichever way the transaction begins."""

from __future__ import annotations

from sqlalchemy import text

from app.extensions import db
from tenants.binding import tenant_context


def _transaction_state() -> tuple[str, str]:
    return (
        db.session.execute(text("SHOW search_path")).scalar_one(),
        db.session.execute(text("SHOW transaction_isolation")).scalar_one(),
    )


def test_a_plain_transaction_begins_bound_to_the_setting(app, make_setting):
    setting = make_setting()
    with app.app_context(), tenant_context(setting.slug):
        assert _transaction_state() == (setting.schema_name, "read committed")
        db.session.commit()
        # The next transaction begins bound again; the binding ended with the last one.
        assert _transaction_state() == (setting.schema_name, "read committed")


def test_a_transaction_with_an_isolation_level_keeps_it_and_is_bound(app, make_setting):
    setting = make_setting()
    with app.app_context(), tenant_context(setting.slug):
        db.session.connection(execution_options={"isolation_level": "SERIALIZABLE"})
        assert _transaction_state() == (setting.schema_name, "serializable")
    with app.app_context(), db.engine.connect() as connection:
        assert connection.execute(text("SHOW search_path")).scalar_one() != setting.schema_name
