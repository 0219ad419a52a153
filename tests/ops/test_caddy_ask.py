"""/_caddy/ask: Caddy may get a certificate only for the bare domain and known settings."""

from __future__ import annotations

import pytest

from tenants.models import SettingStatus
from tenants.registry import set_status

OPERATOR = "127.0.0.1"


def ask(app, domain: str, address: str = OPERATOR) -> int:
    answer = app.test_client().get(
        "/_caddy/ask", query_string={"domain": domain}, environ_base={"REMOTE_ADDR": address}
    )
    return answer.status_code


def test_the_bare_domain_and_a_known_setting_get_a_yes(app, make_setting):
    setting = make_setting()
    assert ask(app, "localhost") == 200
    assert ask(app, f"{setting.slug}.localhost") == 200


def test_a_suspended_setting_keeps_its_certificate(app, make_setting):
    setting = make_setting()
    with app.app_context():
        set_status(setting.slug, SettingStatus.SUSPENDED)
    assert ask(app, f"{setting.slug}.localhost") == 200


@pytest.mark.parametrize(
    "domain",
    ["nosuchsetting.localhost", "a.b.localhost", "example.org", "localhost.example.org", ""],
)
def test_anything_else_gets_a_no(app, domain):
    assert ask(app, domain) == 404


def test_only_the_operators_addresses_may_ask(app):
    assert ask(app, "localhost", address="203.0.113.9") == 403
