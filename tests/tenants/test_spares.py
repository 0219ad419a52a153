"""The pool of spare schemas: a setting made from a spare is the schema a fresh build makes,
two provisionings never share one, a stale or missing spare is never taken, the refill
keeps SPARE_SCHEMAS ready, and spares are not settings."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, text

from app.extensions import db
from tenants.building import build_empty_schema
from tenants.migrating import schemas_with_table, setting_head_revision
from tenants.models import SpareSchema
from tenants.spares import drop_unusable_spares, refill, take_spare
from tests.helpers.clients import client_for
from tests.tenants.test_provisioning import _catalogue
from workers.models import JobRun


def _spares() -> dict[str, int | None]:
    """Every recorded spare and its schema's OID (None: the schema is gone)."""
    with db.engine.connect() as connection:
        rows = connection.execute(
            select(SpareSchema.schema_name, text("to_regnamespace(schema_name)::oid"))
        ).all()
    return {name: oid for name, oid in rows}


def _schema_oid(schema_name: str) -> int | None:
    with db.engine.connect() as connection:
        return connection.execute(
            text("SELECT to_regnamespace(:schema)::oid"), {"schema": schema_name}
        ).scalar_one()


@pytest.fixture
def pool(app, monkeypatch):
    """The pool with ``wanted`` spares ready, refilled by no provisioning during the test."""

    def fill(wanted: int) -> dict[str, int | None]:
        with app.app_context():
            refill(db.engine, wanted)
            return _spares()

    monkeypatch.setattr(app.config["LJ"], "SPARE_SCHEMAS", 0)  # send_refill does nothing
    return fill


def test_a_setting_made_from_a_spare_is_the_schema_a_fresh_build_makes(app, pool, make_setting):
    spares = pool(2)

    made = make_setting()

    with app.app_context():
        left = _spares()
        taken = set(spares) - set(left)
        assert len(taken) == 1 and len(left) == 1
        (spare,) = taken
        assert _schema_oid(made.schema_name) == spares[spare], "not the spare, renamed"
        assert _schema_oid(spare) is None
        fresh = f"setting_fresh_{uuid.uuid4().hex[:8]}"
        with db.engine.begin() as connection:
            build_empty_schema(connection, fresh, setting_head_revision())
        from_spare, built = _catalogue(made.schema_name), _catalogue(fresh)
        with db.engine.connect() as connection:
            # Defaults, constraints, indexes as PostgreSQL prints them: no trace of the name.
            mentions = connection.execute(
                text(
                    "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d "
                    "JOIN pg_class c ON c.oid = d.adrelid "
                    "WHERE c.relnamespace = to_regnamespace(:schema) "
                    "UNION ALL SELECT pg_get_constraintdef(con.oid) FROM pg_constraint con "
                    "WHERE con.connamespace = to_regnamespace(:schema) "
                    "UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = :schema"
                ),
                {"schema": made.schema_name},
            ).scalars()
            assert not [found for found in mentions if spare in found]
    assert from_spare["columns"], "the catalogue query found no tables"
    assert from_spare == built
    assert "Sunnyside Nursery" in client_for(app, made.slug).get("/").text


def test_with_no_spare_ready_provisioning_builds_the_schema_itself(app, pool, make_setting):
    assert pool(0) == {}

    made = make_setting()

    with app.app_context():
        assert _spares() == {}
        assert _catalogue(made.schema_name)["versions"] == [(setting_head_revision(),)]
    assert "Sunnyside Nursery" in client_for(app, made.slug).get("/").text


def test_two_provisionings_at_once_take_two_spares_and_a_rollback_gives_them_back(app, pool):
    spares = pool(2)
    names = [f"setting_race_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    with app.app_context(), db.engine.connect() as first, db.engine.connect() as second:
        with first.begin() as one, second.begin() as other:
            assert take_spare(first, names[0])
            assert take_spare(second, names[1]), "the second waited, or found none"
            oids = {_oid_in(first, names[0]), _oid_in(second, names[1])}
            assert oids == set(spares.values())
            one.rollback()
            other.rollback()
        assert _spares() == spares


def _oid_in(connection, schema_name: str) -> int:
    return connection.execute(
        text("SELECT to_regnamespace(:schema)::oid"), {"schema": schema_name}
    ).scalar_one()


def test_a_spare_of_another_revision_is_never_taken_and_migrate_drops_it(app, pool, make_setting):
    spares = pool(1)
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("UPDATE public.spare_schemas SET revision = 'aaaaaaaaaaaa'"))

    made = make_setting()

    (stale,) = spares
    assert _schema_oid_in_app(app, made.schema_name) != spares[stale]
    result = app.test_cli_runner().invoke(args=["tenants", "migrate"])
    assert "1 spare schemas of other revisions dropped" in result.output
    with app.app_context():
        assert _spares() == {} and _schema_oid(stale) is None


def _schema_oid_in_app(app, schema_name: str) -> int | None:
    with app.app_context():
        return _schema_oid(schema_name)


def test_a_spare_whose_schema_is_gone_is_never_taken_and_the_refill_forgets_it(
    app, pool, make_setting
):
    spares = pool(1)
    (gone,) = spares
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{gone}" CASCADE'))

    made = make_setting()

    assert "Sunnyside Nursery" in client_for(app, made.slug).get("/").text
    with app.app_context():
        assert set(_spares()) == {gone}
        done = refill(db.engine, 1)
        assert (done.dropped, done.built, done.ready) == (1, 1, 1)
        assert gone not in _spares()


def test_the_job_keeps_spare_schemas_ready_drops_the_surplus_and_records_its_runs(
    app, pool, monkeypatch
):
    pool(5)
    monkeypatch.setattr(app.config["LJ"], "SPARE_SCHEMAS", 2)

    fewer = app.test_cli_runner().invoke(args=["jobs", "run", "spare-schemas"])
    monkeypatch.setattr(app.config["LJ"], "SPARE_SCHEMAS", 4)
    more = app.test_cli_runner().invoke(args=["jobs", "run", "spare-schemas"])
    status = app.test_cli_runner().invoke(args=["tenants", "status"])

    assert "0 spare schemas built, 3 dropped: 2 ready (SPARE_SCHEMAS 2)" in fewer.output
    assert "2 spare schemas built, 0 dropped: 4 ready (SPARE_SCHEMAS 4)" in more.output
    with app.app_context():
        spares = _spares()
        assert len(spares) == 4 and None not in spares.values()
        runs = db.session.scalars(
            select(JobRun).where(JobRun.job == "spare-schemas").order_by(JobRun.id.desc()).limit(2)
        ).all()
        db.session.remove()
    assert [run.outcome for run in runs] == ["succeeded", "succeeded"]
    assert "4 spare schemas ready for provisioning (SPARE_SCHEMAS 4)" in status.output
    assert not [name for name in spares if name in status.output], "a spare listed as a setting"


def test_spares_are_not_settings(app, pool, make_setting):
    from tenants.each_setting import active_settings
    from tenants.migrating import read_revisions

    spares = pool(2)
    make_setting()
    with app.app_context():
        walked = {setting.schema_name for setting in active_settings()}
        revisions = {setting.schema_name for setting in read_revisions(db.engine).settings}
        with db.engine.connect() as connection:
            outboxes = schemas_with_table(connection, "outbox_messages")
    for name in spares:
        assert name not in walked | revisions | outboxes


def test_provisioning_asks_for_a_refill_once_it_has_committed(app, make_setting):
    """As the test app runs tasks in process, the refill has run by the time it returns."""
    with app.app_context():
        drop_unusable_spares(db.engine, keep=0)

    make_setting()

    with app.app_context():
        assert len(_spares()) == app.config["LJ"].SPARE_SCHEMAS == 3
