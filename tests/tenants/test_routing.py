import pytest

from tenants.routing import NotOurHost, slug_for_host
from tests.conftest import client_for


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
