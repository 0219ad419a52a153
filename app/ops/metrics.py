"""Prometheus metrics at ``/metrics``, for the addresses in ``METRICS_ALLOWED_IPS`` only.

Two kinds:

- counted as things happen, in the process that sees them: request latency by
  route, sign-in failures. Under gunicorn every worker writes its samples to
  ``PROMETHEUS_MULTIPROC_DIR`` (set by ``deploy/gunicorn.conf.py``) and a scrape
  adds them up, whichever worker answers it;
- read at each scrape (``StateCollector``): job runs and how long the last one
  took, and the emails waiting or failed in the settings' outboxes, from the
  database; the newest verified backup's age, from the backups.
  What other processes (the Celery worker) did is recorded there, so nothing has
  to be shared between processes.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from datetime import datetime

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Column, MetaData, Select, Table, func, select, union_all
from sqlalchemy.dialects.postgresql import distinct_on

from app import clock
from app.backups.operations import newest_verified_backup_age
from app.extensions import db
from app.mail.models import DeliveryStatus, OutboxMessage
from app.ops.logs import route_of_request
from tenants.migrating import schemas_with_table
from workers.models import JobRun

REQUEST_SECONDS = Histogram(
    "lj_request_duration_seconds",
    "Time to answer a request, by route pattern and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SIGN_IN_FAILURES = Counter(
    "lj_sign_in_failures",
    "Refused sign-ins, by reason (wrong_credentials, unknown_email, locked, ...).",
    ["reason"],
)


class StateCollector(Collector):
    """What the database and the backups say at scrape time: job runs, the last run's
    duration, the newest verified backup's age."""

    def collect(self) -> Iterator[Metric]:
        yield from _job_metrics()
        yield from _outbox_metrics()
        yield _backup_age()


OUTBOX_BATCH = 100  # settings' outboxes read by one statement
UNDELIVERED = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)


def _undelivered_in(schema_name: str) -> Select:
    outbox = Table(
        OutboxMessage.__tablename__,
        MetaData(),
        Column("status"),
        Column("queued_at"),
        schema=schema_name,
    )
    return (
        select(outbox.c.status, func.count(), func.min(outbox.c.queued_at))
        .where(outbox.c.status.in_([status.value for status in UNDELIVERED]))
        .group_by(outbox.c.status)
    )


def _outbox_metrics() -> Iterator[Metric]:
    """Emails not delivered, over every setting's outbox, a hundred outboxes a statement."""
    waiting = GaugeMetricFamily(
        "lj_outbox_messages",
        "Emails not delivered in every setting's outbox: pending (waiting for a first try "
        "or a retry) and failed (given up after every retry).",
        labels=["status"],
    )
    counts = dict.fromkeys((status.value for status in UNDELIVERED), 0)
    oldest_pending: datetime | None = None
    with db.engine.connect() as connection:
        schemas = sorted(schemas_with_table(connection, OutboxMessage.__tablename__))
        for start in range(0, len(schemas), OUTBOX_BATCH):
            batch = [_undelivered_in(name) for name in schemas[start : start + OUTBOX_BATCH]]
            for status, count, first_queued in connection.execute(union_all(*batch)):
                counts[status] += count
                pending = status == DeliveryStatus.PENDING.value
                if pending and (oldest_pending is None or first_queued < oldest_pending):
                    oldest_pending = first_queued
    for status, count in counts.items():
        waiting.add_metric([status], count)
    yield waiting
    age = (clock.now() - oldest_pending).total_seconds() if oldest_pending else 0.0
    yield GaugeMetricFamily(
        "lj_outbox_oldest_pending_seconds",
        "How long the oldest pending email has waited (0 when none is waiting).",
        value=age,
    )


def _backup_age() -> Metric:
    age = newest_verified_backup_age()
    gauge = GaugeMetricFamily(
        "lj_backup_age_seconds",
        "Age of the newest verified backup (NaN when there is none).",
    )
    gauge.add_metric([], age.total_seconds() if age is not None else math.nan)
    return gauge


def _job_metrics() -> Iterator[Metric]:
    runs = CounterMetricFamily(
        "lj_job_runs", "Recorded runs of each job, by outcome.", labels=["job", "outcome"]
    )
    last = GaugeMetricFamily(
        "lj_job_last_duration_seconds",
        "How long the latest finished run of each job took.",
        labels=["job"],
    )
    with db.engine.connect() as connection:
        counted = connection.execute(
            select(JobRun.job, JobRun.outcome, func.count()).group_by(JobRun.job, JobRun.outcome)
        )
        for job, outcome, count in counted:
            runs.add_metric([job, outcome], count)
        latest = (
            select(JobRun.job, JobRun.started_at, JobRun.finished_at)
            .where(JobRun.finished_at.is_not(None))
            .ext(distinct_on(JobRun.job))
            .order_by(JobRun.job, JobRun.finished_at.desc())
        )
        for job, started_at, finished_at in connection.execute(latest):
            last.add_metric([job], (finished_at - started_at).total_seconds())
    yield runs
    yield last


def metrics_page() -> Response:
    """The text Prometheus reads: this process's (or every worker's) samples, then the state."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector())
    body = generate_latest(counted) + generate_latest(state)
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def _observe_request(response: Response) -> Response:
    started = g.get("request_started")
    if started is not None:
        REQUEST_SECONDS.labels(route_of_request(), _method()).observe(time.perf_counter() - started)
    return response


def _method() -> str:
    method = request.method
    return method if method in _KNOWN_METHODS else "other"


_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def install_request_metrics(app: Flask) -> None:
    app.after_request(_observe_request)
