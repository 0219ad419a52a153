"""Provisioning is all or nothing, and gives the same schema as migrating up from empty."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.schema import CreateSchema

from app.extensions import db
from tenants import provisioning
from tenants.migrating import SETTING_HEAD, setting_head_revision, upgrade_schema
from tenants.slugs import schema_name_for
from tenants.spares import ready_spares, refill
from tests.helpers.clients import client_for

CATALOGUE_QUERIES = {
    "columns": """
        SELECT table_name, column_name, ordinal_position, data_type, udt_name, is_nullable,
               column_default, character_maximum_length
        FROM information_schema.columns WHERE table_schema = :schema""",
    "constraints": """
        SELECT rel.relname, con.conname, con.contype, pg_get_constraintdef(con.oid)
        FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid
        WHERE rel.relnamespace = to_regnamespace(:schema)""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = :schema",
    "types": """
        SELECT t.typname, e.enumsortorder, e.enumlabel FROM pg_type t
        JOIN pg_enum e ON e.enumtypid = t.oid WHERE t.typnamespace = to_regnamespace(:schema)""",
    "sequences": """
        SELECT sequence_name, data_type, start_value, increment
        FROM information_schema.sequences WHERE sequence_schema = :schema""",
    "versions": "SELECT version_num FROM {schema}.alembic_version",
}


def _catalogue(schema: str) -> dict[str, list[tuple]]:
    catalogue = {}
    with db.engine.connect() as connection:
        for name, query in CATALOGUE_QUERIES.items():
            rows = connection.execute(text(query.format(schema=schema)), {"schema": schema})
            catalogue[name] = sorted(
                tuple(str(v).replace(schema, "<schema>") for v in row) for row in rows
            )
    return catalogue


def _schemas_and_rows(slug: str) -> tuple[int, int]:
    with db.engine.connect() as connection:
        schemas = connection.execute(
            text("SELECT count(*) FROM pg_namespace WHERE nspname = :n"),
            {"n": schema_name_for(slug)},
        ).scalar_one()
        rows = connection.execute(
            text("SELECT count(*) FROM public.settings WHERE slug = :s"), {"s": slug}
        ).scalar_one()
    return schemas, rows


@pytest.mark.parametrize("spares_ready", [1, 0], ids=["from a spare", "built here"])
def test_provisioned_schema_equals_schema_migrated_up_from_empty(
    app, make_setting, monkeypatch, spares_ready
):
    monkeypatch.setattr(app.config["LJ"], "SPARE_SCHEMAS", 0)  # no refill in between
    with app.app_context():
        refill(db.engine, spares_ready)
    provisioned = make_setting()
    with app.app_context(), db.engine.connect() as connection:
        assert ready_spares(connection) == 0, "the spare was not taken"
    migrated = f"setting_migrated_{uuid.uuid4().hex[:8]}"
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(CreateSchema(migrated))
            upgrade_schema(connection, migrated, SETTING_HEAD)
        from_models = _catalogue(provisioned.schema_name)
        from_migrations = _catalogue(migrated)
    assert from_models["columns"], "the catalogue query found no tables"
    assert from_models["versions"] == [(setting_head_revision(),)]
    for part in CATALOGUE_QUERIES:
        assert from_models[part] == from_migrations[part], part


@pytest.mark.parametrize("failing_step", range(len(provisioning.PROVISIONING_STEPS)))
def test_a_failure_at_any_step_leaves_nothing_behind(app, monkeypatch, failing_step):
    steps = list(provisioning.PROVISIONING_STEPS)
    real_step = steps[failing_step]

    def step_then_fail(connection, new):
        real_step(connection, new)
        raise RuntimeError(f"injected failure after {real_step.__name__}")

    steps[failing_step] = step_then_fail
    monkeypatch.setattr(provisioning, "PROVISIONING_STEPS", tuple(steps))
    slug = f"fail-{uuid.uuid4().hex[:8]}"
    with app.app_context():
        with pytest.raises(RuntimeError, match="injected failure"):
            provisioning.provision_setting(slug, "Doomed Nursery", "m@example.org")
        assert _schemas_and_rows(slug) == (0, 0)
    assert client_for(app, slug).get("/").status_code == 404


def test_cli_creates_a_setting_that_serves_its_subdomain(app):
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    result = app.test_cli_runner().invoke(
        args=[
            "tenants",
            "create",
            slug,
            "--name",
            "Oak Tree School",
            "--manager-email",
            "Head@Example.org",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "head@example.org" in result.output
    listed = app.test_cli_runner().invoke(args=["tenants", "list"])
    assert slug in listed.output and "active" in listed.output
    assert "Oak Tree School" in client_for(app, slug).get("/").text


@pytest.mark.parametrize(
    ("slug", "name", "email", "message"),
    [
        ("ab", "Fine Name", "m@example.org", "3 to 40"),
        ("admin", "Fine Name", "m@example.org", "reserved"),
        ("good-slug", "", "m@example.org", "required"),
        ("good-slug", "<script>x</script>", "m@example.org", "may contain"),
        ("good-slug", "Fine Name", "not-an-email", "not valid"),
    ],
)
def test_cli_refuses_bad_requests_with_a_message(app, slug, name, email, message):
    result = app.test_cli_runner().invoke(
        args=["tenants", "create", slug, "--name", name, "--manager-email", email]
    )
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_refuses_a_taken_slug(app, make_setting):
    taken = make_setting()
    result = app.test_cli_runner().invoke(
        args=["tenants", "create", taken.slug, "--name", "Again", "--manager-email", "m@x.org"]
    )
    assert result.exit_code != 0
    assert "already exists" in result.output


def test_migrate_upgrades_every_schema_and_lists_failures(app, make_setting):
    healthy, broken = make_setting(), make_setting()
    with app.app_context(), db.engine.begin() as connection:
        # A schema whose version row names a revision we do not have cannot be upgraded.
        connection.execute(
            text(f'UPDATE "{broken.schema_name}".alembic_version SET version_num = :v'),
            {"v": "ffffffffffff"},
        )
    result = app.test_cli_runner().invoke(args=["tenants", "migrate"])
    assert result.exit_code == 1
    assert f"{healthy.slug}: up to date" in result.output
    assert f"failed: {broken.slug}" in result.output
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(
            text(f'UPDATE "{broken.schema_name}".alembic_version SET version_num = :v'),
            {"v": setting_head_revision()},
        )


def test_no_column_of_a_setting_uses_a_type_defined_in_its_own_schema(app, make_setting):
    """Per-schema types (native enums) give each setting's queries a different result type,
    which PostgreSQL refuses for statements psycopg has prepared on a pooled connection."""
    setting = make_setting()
    with app.app_context(), db.engine.connect() as connection:
        own_types = connection.execute(
            text(
                """SELECT c.relname, a.attname, t.typname FROM pg_attribute a
                   JOIN pg_class c ON c.oid = a.attrelid
                   JOIN pg_type t ON t.oid = a.atttypid
                   WHERE c.relnamespace = to_regnamespace(:schema)
                     AND t.typnamespace = to_regnamespace(:schema) AND a.attnum > 0
                     AND c.relkind = 'r'"""
            ),
            {"schema": setting.schema_name},
        ).all()
    assert own_types == []
