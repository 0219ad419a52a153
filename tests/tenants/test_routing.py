import pytest

from tenants.routing import NotOurHost, slug_for_host
from tests.helpers.clients import client_for, make_user, sign_in


@pytest.mark.parametrize(
    ("host", "slug"),
    [
        ("localhost", None),
        ("localhost:5000", None),
        ("sunnyside.localhost", "sunnyside"),
        ("Sunnyside.LOCALHOST:5000", "sunnyside"),
        ("sunnyside.localhost.", "sunnyside"),
    ],
)
def test_hosts_name_a_setting_or_the_bare_domain(host, slug):
    assert slug_for_host(host, "localhost") == slug


@pytest.mark.parametrize(
    "host", ["example.org", "a.b.localhost", "evil-localhost", "-x.localhost", "x_y.localhost"]
)
def test_other_hosts_are_not_ours(host):
    with pytest.raises(NotOurHost):
        slug_for_host(host, "localhost")


def test_bare_domain_serves_the_landing_page(app):
    response = client_for(app, None).get("/")
    assert response.status_code == 200
    assert "Learning Journals" in response.text


def test_setting_host_serves_its_home(app, make_setting):
    setting = make_setting(name="Little Acorns")
    response = client_for(app, setting.slug).get("/")
    assert response.status_code == 200
    assert "Little Acorns" in response.text


@pytest.mark.parametrize(
    "host", ["nosuchplace.localhost", "a.b.localhost", "example.org", "%00.localhost", "x" * 300]
)
def test_unknown_host_gets_a_clean_404(app, host):
    response = app.test_client().get("/", headers={"Host": host})
    assert response.status_code == 404
    assert "Page not found" in response.text


def test_setting_pages_do_not_exist_on_the_bare_domain(app):
    assert client_for(app, None).get("/_probe/where").status_code == 404


def test_suspended_setting_answers_404_until_resumed(app, make_setting):
    setting = make_setting()
    runner = app.test_cli_runner()
    client = client_for(app, setting.slug)
    assert client.get("/").status_code == 200

    assert runner.invoke(args=["tenants", "suspend", setting.slug]).exit_code == 0
    assert client.get("/").status_code == 404

    assert runner.invoke(args=["tenants", "resume", setting.slug]).exit_code == 0
    assert client.get("/").status_code == 200


def _sessions_in_redis(app, slug: str) -> list[bytes]:
    from app.redis_store import get_redis

    with app.app_context():
        return list(get_redis().scan_iter(match=f"lj:*:{slug}:*"))


@pytest.mark.parametrize("path", ["/", "/account", "/journal/", "/people/", "/login"])
def test_signed_in_people_of_a_suspended_setting_get_404(app, setting_with_manager, path):
    setting, client, _email = setting_with_manager
    assert app.test_cli_runner().invoke(args=["tenants", "suspend", setting.slug]).exit_code == 0
    response = client.get(path)
    assert response.status_code == 404
    assert "Page not found" in response.text


def test_suspending_ends_the_settings_sessions_at_once(app, make_setting):
    suspended, other = make_setting(), make_setting()
    clients = {}
    for setting in (suspended, other):
        with app.app_context():
            email = make_user(setting.slug, role="staff")
        clients[setting.slug] = client_for(app, setting.slug)
        assert sign_in(clients[setting.slug], email).status_code == 303
    assert _sessions_in_redis(app, suspended.slug)

    result = app.test_cli_runner().invoke(args=["tenants", "suspend", suspended.slug])
    assert result.exit_code == 0, result.output
    assert "1 sessions ended" in result.output
    assert _sessions_in_redis(app, suspended.slug) == []
    assert _sessions_in_redis(app, other.slug), "another setting's sessions are untouched"
    assert clients[other.slug].get("/account").status_code == 200


def test_a_resumed_setting_needs_a_fresh_sign_in(app, setting_with_manager):
    setting, client, email = setting_with_manager
    runner = app.test_cli_runner()
    cookie = client.session_cookie()
    assert runner.invoke(args=["tenants", "suspend", setting.slug]).exit_code == 0
    assert runner.invoke(args=["tenants", "resume", setting.slug]).exit_code == 0

    replay = client_for(app, setting.slug)
    replay.use_session_cookie(cookie)
    assert replay.get("/account").status_code == 302
    assert client.get("/account").status_code == 302
    assert sign_in(client, email).status_code == 303
    assert client.get("/account").status_code == 200


def test_resuming_a_setting_that_is_active_signs_nobody_out(app, setting_with_manager):
    """A resume typed for the wrong setting, or twice, must not sign a whole nursery out."""
    setting, client, _email = setting_with_manager
    result = app.test_cli_runner().invoke(args=["tenants", "resume", setting.slug])
    assert result.exit_code == 0, result.output
    assert "already active" in result.output
    assert client.get("/account").status_code == 200
