"""Over real HTTPS: Caddy with its internal CA in front of gunicorn, as docs/deploy.md sets up."""

from __future__ import annotations

import json
import re
import shutil
import ssl
import uuid
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from tests.helpers.clients import GOOD_PASSWORD, GOOD_PIN, make_user
from tests.ops.https import BASE_DOMAIN, Browser, HttpsStack

CSRF_FIELD = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
MEDIA_LIMIT = 25 * 1024 * 1024


@pytest.fixture(scope="module")
def stack(app, tmp_path_factory):
    if shutil.which("caddy") is None:
        pytest.fail("caddy is missing: install Debian's caddy (.ci/run does)")
    from tenants.provisioning import provision_setting

    settings = {}
    with app.app_context():
        for name in ("one", "two"):
            slug = f"tls{name}-{uuid.uuid4().hex[:6]}"
            provision_setting(slug, f"TLS {name}", f"manager@{slug}.example.org", "Mina Manager")
            settings[name] = (slug, make_user(slug, role="manager"))
    app_env = {
        "SECRET_KEY": "test-secret-key-" + uuid.uuid4().hex,
        "PEPPER": app.config["LJ"].PEPPER,  # the accounts above were hashed with it
        "BACKUP_KEY": "test-backup-key-" + uuid.uuid4().hex,
        "TOTP_KEY": "test-totp-key-" + uuid.uuid4().hex,
    }
    running = HttpsStack(tmp_path_factory.mktemp("https"), app_env)
    running.settings = settings
    yield running
    running.stop()


def sign_in(browser: Browser, stack: HttpsStack, slug: str, email: str):
    login = stack.url(slug, "/login")
    form = browser.get(login)
    assert form.status == 200, form.text
    token = CSRF_FIELD.search(form.text).group(1)
    body = urlencode({"email": email, "password": GOOD_PASSWORD, "pin": GOOD_PIN})
    return browser.request(
        "POST",
        login,
        body=f"{body}&csrf_token={token}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Referer": login},
    )


@pytest.fixture(scope="module")
def signed_in(stack):
    """A browser signed in on the first setting, and the answer to its sign-in."""
    slug, email = stack.settings["one"]
    browser = Browser(stack.ca_file)
    answer = sign_in(browser, stack, slug, email)
    assert answer.status == 303, answer.text
    return browser, answer


def test_sign_in_over_https_sets_a_host_only_secure_cookie(stack, signed_in):
    browser, answer = signed_in
    (cookie,) = answer.headers.get_all("Set-Cookie")
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert cookie.startswith("__Host-lj_session=")
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= set(attributes)
    assert not [part for part in attributes if part.startswith("domain")]
    slug, _ = stack.settings["one"]
    assert browser.get(stack.url(slug, "/people/")).status == 200


def test_https_answers_carry_hsts_once(stack, signed_in):
    browser, _ = signed_in
    slug, _ = stack.settings["one"]
    for url in (stack.url(slug, "/people/"), stack.url(None), stack.url(slug, "/static/site.css")):
        answer = browser.get(url)
        assert answer.headers.get_all("Strict-Transport-Security") == [
            "max-age=31536000; includeSubDomains"
        ], url


def test_plain_http_redirects_to_https(stack):
    slug, _ = stack.settings["one"]
    answer = Browser(stack.ca_file).get(stack.url(slug, "/login?next=%2F", scheme="http"))
    assert answer.status in (301, 308)
    target = urlsplit(answer.headers["Location"])
    assert (target.scheme, target.hostname) == ("https", f"{slug}.{BASE_DOMAIN}")
    assert (target.path, target.query) == ("/login", "next=%2F")
    # Caddy 2.6 leaves out a non-default https port in this redirect; on 443 there is none.
    assert target.port in (None, stack.https_port)


def test_another_settings_host_never_gets_or_accepts_the_cookie(stack, signed_in):
    browser, answer = signed_in
    other_slug, _ = stack.settings["two"]
    other_page = stack.url(other_slug, "/people/")
    assert browser.cookie_sent_to(other_page) is None
    assert browser.cookie_sent_to(stack.url(None)) is None
    # Even sent by hand, the other setting does not know the session: sign in first.
    cookie = answer.headers["Set-Cookie"].split(";")[0]
    stranger = Browser(stack.ca_file).get(other_page, Cookie=cookie)
    assert stranger.status == 302
    assert urlsplit(stranger.headers["Location"]).path == "/login"


@pytest.mark.parametrize("name", [f"nosuch-setting.{BASE_DOMAIN}", f"a.b.{BASE_DOMAIN}"])
def test_a_name_the_registry_does_not_know_gets_no_certificate(stack, name):
    with pytest.raises((ssl.SSLError, ConnectionError)):
        Browser(stack.ca_file).get(f"https://{name}:{stack.https_port}/")


def test_the_bare_domain_serves_the_landing_page_and_health(stack):
    browser = Browser(stack.ca_file)
    assert browser.get(stack.url(None)).status == 200
    alive = browser.get(stack.url(None, "/healthz"))
    assert alive.status == 200 and alive.headers["Content-Type"] == "application/json"
    # Caddy names each request; the app logs that id and answers with it.
    assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", alive.headers["X-Request-Id"])
    ready = browser.get(stack.url(None, "/readyz"))
    assert ready.headers["Content-Type"] == "application/json"
    assert set(ready.json()) == {"status", "checks"}


def test_caddy_serves_static_files_itself(stack):
    answer = Browser(stack.ca_file).get(stack.url(None, "/static/site.css"))
    assert answer.status == 200
    assert answer.headers["Cache-Control"] == "public, max-age=3600"
    assert answer.headers.get_all("Server") == ["Caddy"]  # gunicorn never saw it


def test_a_body_over_the_media_limit_is_refused_by_caddy(stack):
    slug, _ = stack.settings["one"]
    answer = Browser(stack.ca_file).post_start_of_body(stack.url(slug, "/login"), MEDIA_LIMIT + 1)
    assert answer.status == 413
    assert answer.headers.get_all("Server") == ["Caddy"]


def test_a_client_cannot_choose_its_address_with_x_forwarded_for(stack):
    # Caddy replaces the header with the real address (127.0.0.1, allowed), and the app
    # believes exactly one proxy: a forged address would be refused.
    ask = stack.url(None, f"/_caddy/ask?domain={BASE_DOMAIN}")
    answer = Browser(stack.ca_file).get(ask, **{"X-Forwarded-For": "203.0.113.7"})
    assert answer.status == 200


def healthz_count(browser: Browser, stack: HttpsStack) -> float:
    scraped = browser.get(stack.url(None, "/metrics"))
    assert scraped.status == 200
    count = re.search(
        r'lj_request_duration_seconds_count\{method="GET",route="/healthz"\} (\S+)', scraped.text
    )
    return float(count.group(1)) if count else 0.0


def test_metrics_add_up_the_requests_every_gunicorn_worker_answered(stack):
    browser = Browser(stack.ca_file)
    before = healthz_count(browser, stack)
    for _ in range(12):
        assert browser.get(stack.url(None, "/healthz")).status == 200
    assert healthz_count(browser, stack) == before + 12


def test_the_deployed_app_logs_json_lines_without_query_strings(stack):
    slug, email = stack.settings["one"]
    browser = Browser(stack.ca_file)
    assert browser.get(stack.url(slug, "/login?next=/people/&secret-query=42")).status == 200
    assert browser.get(stack.url(None, "/healthz")).status == 200  # a line after the one above
    gunicorn_log = stack.logs[0].read_text()
    lines = [json.loads(line) for line in gunicorn_log.splitlines() if line.strip()]
    logins = [line for line in lines if line.get("route") == "/login"]
    assert logins and all(line["setting"] == slug for line in logins)
    for log in (gunicorn_log, stack.logs[1].read_text()):  # the page pool's, the sign-in pool's
        assert "secret-query" not in log and email not in log


def requests_logged(log: Path, method: str, route: str) -> int:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return sum(1 for line in lines if line.get("method") == method and line.get("route") == route)


def test_caddy_sends_sign_ins_to_the_sign_in_pool_and_pages_to_the_page_pool(stack):
    slug, email = stack.settings["two"]
    pages, sign_ins = stack.logs[0], stack.logs[1]
    before = requests_logged(pages, "GET", "/login"), requests_logged(sign_ins, "POST", "/login")
    assert sign_in(Browser(stack.ca_file), stack, slug, email).status == 303
    assert requests_logged(pages, "GET", "/login") == before[0] + 1
    assert requests_logged(sign_ins, "POST", "/login") == before[1] + 1
    assert requests_logged(pages, "POST", "/login") == 0


def test_with_the_sign_in_pool_down_the_page_pool_serves_sign_ins(stack):
    slug, email = stack.settings["two"]
    stack.stop_sign_in_pool()
    try:
        before = requests_logged(stack.logs[0], "POST", "/login")
        assert sign_in(Browser(stack.ca_file), stack, slug, email).status == 303
        assert requests_logged(stack.logs[0], "POST", "/login") == before + 1
    finally:
        stack.start_sign_in_pool()


def post_a_form_with_a_file(browser: Browser, stack: HttpsStack):
    """A multipart form, as the observation form sends a photo (what the app answers to this
    one does not matter here, only which pool answers it)."""
    slug, _ = stack.settings["one"]
    form = stack.url(slug, "/journal/observations/new")
    boundary = "lj-test-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; '
        f'filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\nnot a photo\r\n--{boundary}--\r\n'
    )
    return browser.request(
        "POST",
        form,
        body=body.encode(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "Referer": form},
    )


def test_caddy_sends_forms_with_files_to_the_upload_pool(stack, signed_in):
    browser, _ = signed_in
    pages, uploads = stack.logs[0], stack.logs[2]
    route = "/journal/observations/new"
    before = requests_logged(pages, "POST", route), requests_logged(uploads, "POST", route)
    assert post_a_form_with_a_file(browser, stack).status < 500
    assert requests_logged(uploads, "POST", route) == before[1] + 1
    assert requests_logged(pages, "POST", route) == before[0]


def test_with_the_upload_pool_down_the_page_pool_serves_forms_with_files(stack, signed_in):
    browser, _ = signed_in
    stack.stop_upload_pool()
    try:
        before = requests_logged(stack.logs[0], "POST", "/journal/observations/new")
        assert post_a_form_with_a_file(browser, stack).status < 500
        assert requests_logged(stack.logs[0], "POST", "/journal/observations/new") == before + 1
    finally:
        stack.start_upload_pool()
