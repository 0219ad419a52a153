"""/metrics: Prometheus text for the operator's addresses, 403 for anyone else."""

from __future__ import annotations

import math
import re
from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from app import clock
from app.backups.operations import nightly_backup
from tests.helpers.clients import client_for, csrf_token
from workers.jobs import run_job_now

OPERATOR = "127.0.0.1"
STRANGER = "203.0.113.9"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(app, address: str = OPERATOR):
    return app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": address})


def test_metrics_refuse_an_address_not_allowed(app):
    refused = scrape(app, STRANGER)
    assert refused.status_code == 403
    assert "lj_" not in refused.text


def test_metrics_allow_a_configured_network(make_app):
    other = make_app(METRICS_ALLOWED_IPS="10.20.0.0/16")
    assert scrape(other, "10.20.3.4").status_code == 200
    assert scrape(other, OPERATOR).status_code == 403


def test_metrics_count_requests_by_route_and_sign_in_failures(app, member):
    setting, email = member
    before = samples(scrape(app).text)
    client = client_for(app, setting.slug)
    token = csrf_token(client)
    client.post(
        "/login",
        data={
            "email": email,
            "password": "not the password at all",
            "pin": "111111",
            "csrf_token": token,
        },
    )
    after = samples(scrape(app).text)

    failures = ("lj_sign_in_failures_total", (("reason", "wrong_credentials"),))
    assert after[failures] == before.get(failures, 0) + 1
    login_posts = ("lj_request_duration_seconds_count", (("method", "POST"), ("route", "/login")))
    assert after[login_posts] == before.get(login_posts, 0) + 1


def test_metrics_show_job_runs_and_the_last_duration(app):
    with app.app_context():
        run_job_now("deactivation-sweep")
    text = scrape(app).text
    found = samples(text)
    runs = ("lj_job_runs_total", (("job", "deactivation-sweep"), ("outcome", "succeeded")))
    assert found[runs] >= 1
    duration = ("lj_job_last_duration_seconds", (("job", "deactivation-sweep"),))
    assert found[duration] >= 0
    assert not re.search(r"@|example\.org", text)


def test_metrics_show_the_age_of_the_newest_verified_backup(service):
    none_yet = samples(scrape(service.app).text)[("lj_backup_age_seconds", ())]
    assert math.isnan(none_yet)
    with service.app.app_context():
        nightly_backup()
    clock.advance(timedelta(hours=3))
    age = samples(scrape(service.app).text)[("lj_backup_age_seconds", ())]
    assert 3 * 3600 <= age < 3 * 3600 + 600


def test_metrics_count_emails_waiting_in_the_outboxes(
    app, setting_with_manager, tasks_left_to_workers
):
    _, manager, _ = setting_with_manager
    before = samples(scrape(app).text)
    invited = manager.post(
        "/invitations",
        data={
            "full_name": "Wren Waiting",
            "email": "wren.waiting@example.org",
            "role": "parent",
            "csrf_token": csrf_token(manager, "/invitations"),
        },
    )
    assert invited.status_code == 303
    clock.advance(timedelta(minutes=10))  # no worker has taken the delivery
    text = scrape(app).text
    after = samples(text)
    pending = ("lj_outbox_messages", (("status", "pending"),))
    assert after[pending] == before[pending] + 1
    assert after[("lj_outbox_oldest_pending_seconds", ())] >= 600
    assert "wren" not in text.lower()
