"""The snapshot of every active setting each web process keeps (``tenants.registry``):
checked by reading one row, read again only when the registry has changed."""

import pytest
from sqlalchemy import text

from app.extensions import db
from tenants import registry
from tests.helpers.clients import client_for
from tests.helpers.statements import statements_of

READ_REGISTRY_TOKEN = "SELECT token FROM public.registry_version"


@pytest.fixture
def checked_every_request(monkeypatch):
    """No interval between checks: each request checks the snapshot, as one does each 2 s."""
    monkeypatch.setattr(registry, "CACHE_SECONDS", 0.0)


def _change_elsewhere(app, statement: str, **parameters) -> None:
    """A change committed as another process (the operator's CLI) makes it: this process
    is not told."""
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text(statement), parameters)


def _token(app) -> object:
    with app.app_context(), db.engine.connect() as connection:
        return connection.execute(text(READ_REGISTRY_TOKEN)).scalar_one()


@pytest.mark.usefixtures("checked_every_request")
def test_a_setting_renamed_elsewhere_shows_its_new_name_at_the_next_check(app, make_setting):
    setting = make_setting(name="Little Acorns")
    client = client_for(app, setting.slug)
    assert "Little Acorns" in client.get("/").text

    rename = "UPDATE public.settings SET name = 'Oak Tree Nursery' WHERE slug = :slug"
    _change_elsewhere(app, rename, slug=setting.slug)

    assert "Oak Tree Nursery" in client.get("/").text


@pytest.mark.usefixtures("checked_every_request")
def test_a_setting_suspended_elsewhere_answers_404_at_the_next_check(app, make_setting):
    setting = make_setting()
    client = client_for(app, setting.slug)
    assert client.get("/").status_code == 200

    suspend = "UPDATE public.settings SET status = 'suspended' WHERE slug = :slug"
    _change_elsewhere(app, suspend, slug=setting.slug)

    assert client.get("/").status_code == 404


@pytest.mark.usefixtures("checked_every_request")
def test_an_unchanged_registry_is_checked_by_one_row_and_not_read_again(app, make_setting):
    setting = make_setting()
    client = client_for(app, setting.slug)
    assert client.get("/").status_code == 200  # the snapshot is current

    with statements_of(app) as sent:
        assert client.get("/").status_code == 200

    assert READ_REGISTRY_TOKEN in sent
    assert not [statement for statement in sent if "FROM public.settings" in statement]


def test_every_committed_change_to_the_registry_gives_it_a_new_token(app, make_setting):
    before = _token(app)
    setting = make_setting()  # a new row
    created = _token(app)
    assert created != before

    assert app.test_cli_runner().invoke(args=["tenants", "suspend", setting.slug]).exit_code == 0
    assert _token(app) != created


def test_a_change_rolled_back_leaves_the_token_as_it_was(app, make_setting):
    setting = make_setting()
    before = _token(app)
    with app.app_context(), db.engine.connect() as connection:
        rename = "UPDATE public.settings SET name = 'Never Saved' WHERE slug = :slug"
        connection.execute(text(rename), {"slug": setting.slug})
        connection.rollback()
    assert _token(app) == before
