"""Every route of every blueprint has an entry saying who may use it, and each is held to it.

The journal and people routes have their own, finer matrices (own, other, left and
foreign ids: tests/journal/test_access.py, tests/people/test_access.py); every other
route is listed here. A route added without an entry in one of the three fails
``test_every_route_has_an_access_entry``.
"""

from __future__ import annotations

import pytest

from tenants.routing import ANY_HOST_ENDPOINTS
from tests.helpers.access import access_outcome
from tests.helpers.clients import client_for, csrf_token, make_user, sign_in
from tests.helpers.journal import signed_in
from tests.journal import test_access as journal_matrix
from tests.people import test_access as people_matrix
from tests.routes import app_routes, real_ids

MANAGER, STAFF, PARENT = "manager", "staff", "parent_a"
MANAGER_ELSEWHERE = "manager of another setting"
EVERYONE = frozenset({MANAGER, STAFF, PARENT})
MANAGERS = frozenset({MANAGER})
PACK_READERS = frozenset({MANAGER, PARENT})  # a parent during the grace period after leaving
ANYONE = frozenset(
    {"anonymous", MANAGER_ELSEWHERE, *EVERYONE}
)  # public pages: sign-in, one-time links...
ANY_HOST = None  # the operator's probes: answered on any host, tested in tests/ops

# Who may use each route (endpoint, method) not in the journal's or people's matrix.
ROLES: dict[tuple[str, str], frozenset[str] | None] = {
    ("auth.account", "GET"): EVERYONE,
    ("auth.activate", "GET"): ANYONE,
    ("auth.activate", "POST"): ANYONE,
    ("auth.change_email", "POST"): EVERYONE,
    ("auth.change_password_url", "GET"): ANYONE,
    ("auth.change_secrets", "POST"): EVERYONE,
    ("auth.confirm_email", "GET"): ANYONE,
    ("auth.confirm_email", "POST"): ANYONE,
    ("auth.correct_email", "POST"): MANAGERS,
    ("auth.devices", "GET"): EVERYONE,
    ("auth.forgot", "GET"): ANYONE,
    ("auth.forgot_submit", "POST"): ANYONE,
    ("auth.invitations", "GET"): MANAGERS,
    ("auth.invite", "POST"): MANAGERS,
    ("auth.keep_alive", "POST"): EVERYONE,
    ("auth.login", "GET"): ANYONE,
    ("auth.login_submit", "POST"): ANYONE,
    ("auth.logout", "POST"): EVERYONE,
    ("auth.resend", "POST"): MANAGERS,
    ("auth.reset", "GET"): ANYONE,
    ("auth.reset", "POST"): ANYONE,
    ("auth.session_status", "GET"): ANYONE,
    ("auth.sign_out_one_device", "POST"): EVERYONE,
    ("auth.sign_out_other_devices", "POST"): EVERYONE,
    ("branding.edit", "GET"): MANAGERS,
    ("branding.logo", "GET"): ANYONE,
    ("branding.save", "POST"): MANAGERS,
    ("factors.enrol", "GET"): EVERYONE,
    ("factors.manage", "GET"): EVERYONE,
    ("factors.passkey_register", "POST"): EVERYONE,
    ("factors.passkey_register_options", "POST"): EVERYONE,
    ("factors.passkey_remove", "POST"): EVERYONE,
    ("factors.passkey_rename", "POST"): EVERYONE,
    ("factors.passkey_sign_in", "POST"): EVERYONE,
    ("factors.passkey_sign_in_options", "POST"): EVERYONE,
    ("factors.recovery_codes_replace", "POST"): EVERYONE,
    ("factors.reset", "POST"): MANAGERS,
    ("factors.save_policy", "POST"): MANAGERS,
    ("factors.totp_confirm", "POST"): EVERYONE,
    ("factors.totp_remove", "POST"): EVERYONE,
    ("factors.totp_setup", "GET"): EVERYONE,
    ("factors.totp_start", "POST"): EVERYONE,
    ("factors.verify", "GET"): EVERYONE,
    ("factors.verify_submit", "POST"): EVERYONE,
    ("home.index", "GET"): ANYONE,
    ("ops.caddy_ask", "GET"): ANY_HOST,
    ("ops.healthz", "GET"): ANY_HOST,
    ("ops.metrics", "GET"): ANY_HOST,
    ("ops.readyz", "GET"): ANY_HOST,
    ("responsible_use.email_check", "GET"): EVERYONE,
    ("responsible_use.email_check", "POST"): EVERYONE,
    ("responsible_use.manage", "GET"): MANAGERS,
    ("responsible_use.publish_policy", "POST"): MANAGERS,
    ("responsible_use.save_rules", "POST"): MANAGERS,
    ("responsible_use.usage_policy", "GET"): EVERYONE,
    ("responsible_use.usage_policy", "POST"): EVERYONE,
    ("retention.archive", "GET"): MANAGERS,
    ("retention.audit_trail", "GET"): MANAGERS,
    ("retention.download_pack", "GET"): PACK_READERS,
    ("retention.export_subject", "POST"): MANAGERS,
    ("retention.leaving_pack", "GET"): PACK_READERS,
    ("retention.leaving_packs", "GET"): PACK_READERS,
    ("retention.lift_hold", "POST"): MANAGERS,
    ("retention.person", "GET"): MANAGERS,
    ("retention.place_hold", "POST"): MANAGERS,
    ("retention.purge", "POST"): MANAGERS,
    ("retention.request_leaving_pack", "POST"): PACK_READERS,
    ("retention.save_schedule", "POST"): MANAGERS,
    ("retention.schedule", "GET"): MANAGERS,
    ("retention.subject_access", "GET"): MANAGERS,
    ("static", "GET"): ANYONE,
}


def test_every_route_has_an_access_entry(app):
    registered = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if not rule.endpoint.startswith("probe.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    listed = set(ROLES) | {
        (name, route.method)
        for matrix in (journal_matrix, people_matrix)
        for name, route in matrix.ROUTES.items()
    }
    assert registered - listed == set(), "routes without an access entry"
    assert listed - registered == set(), "entries for routes that no longer exist"


def _expected(roles: frozenset[str], who: str) -> set[str]:
    if who in roles:
        return {"allowed", "404"}  # ids here are made up: the row may not exist
    return {"sign in"} if who in ("anonymous", MANAGER_ELSEWHERE) else {"403"}


def _client_of(app, family, make_setting, who: str):
    """A client of ``family``'s setting, signed in as ``who``; a manager of another
    setting brings the cookie of their own setting's session."""
    if who != MANAGER_ELSEWHERE:
        return signed_in(app, family, who)
    elsewhere = make_setting()
    with app.app_context():
        email = make_user(elsewhere.slug, role="manager")
    own = client_for(app, elsewhere.slug)
    assert sign_in(own, email).status_code == 303
    visiting = client_for(app, family.slug)
    visiting.use_session_cookie(own.session_cookie())
    return visiting


@pytest.mark.parametrize("who", ["anonymous", PARENT, STAFF, MANAGER, MANAGER_ELSEWHERE])
def test_every_other_route_admits_only_its_roles(app, family, make_setting, who):
    client = _client_of(app, family, make_setting, who)
    token = csrf_token(client, "/login")
    ids = real_ids(app, family)
    wrong = []
    for route in app_routes(app):
        for method in route.methods:
            roles = ROLES.get((route.endpoint, method))
            if (
                route.endpoint == "auth.logout"
                or roles is None
                or (method != "GET" and who in roles)
            ):
                continue  # the probes; signing out; changes (only refusals are tried here)
            path = route.path_with(ids)
            response = client.open(path, method=method, data={"csrf_token": token})
            outcome = access_outcome(response)
            if outcome not in _expected(roles, who):
                wrong.append(f"{method} {path}: {outcome}")
    assert wrong == [], "\n".join(wrong)


def test_every_route_of_a_suspended_setting_is_not_found_even_signed_in(app, family):
    client = signed_in(app, family, MANAGER)
    token = csrf_token(client, "/")
    ids = real_ids(app, family)
    suspended = app.test_cli_runner().invoke(args=["tenants", "suspend", family.slug])
    assert suspended.exit_code == 0, suspended.output
    # The operator's probes answer on any host, whatever the setting's state.
    any_host = {
        rule.rule for rule in app.url_map.iter_rules() if rule.endpoint in ANY_HOST_ENDPOINTS
    }
    answered = [
        f"{method} {path}: {response.status_code}"
        for route in app_routes(app)
        if route.rule not in any_host
        for method in route.methods
        for path in [route.path_with(ids)]
        for response in [client.open(path, method=method, data={"csrf_token": token})]
        if response.status_code != 404
    ]
    assert answered == [], "\n".join(answered)
