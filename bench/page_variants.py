"""CPU microseconds of one request to the routed page, as served and with one thing changed.

Each variant is a fresh app from ``create_app()`` with the bench page, driven in this process
by Flask's test client; ``time.process_time()`` counts only this process's CPU, so waiting
for PostgreSQL or Redis and other people's work on the machine do not count. The difference
to "as served" is what that one change would save the web worker per request. Beside it,
the CPU of the bench database's server processes in the same requests (``/proc/<pid>/
schedstat``, nanoseconds): what a dropped round trip saves PostgreSQL. Used by
``bench/profile_routed.py``; needs the environment and settings that script makes.
"""

from __future__ import annotations

import functools
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app import create_app
from app.config import Config
from bench.routed_page import bench

ROWS_PATH = "/bench/one-row"
USER_PATH = "/bench/one-row-user"
BENCH_ENDPOINTS = frozenset(
    {
        "bench.one_row",
        "bench.one_row_user",
        "bench.one_row_kept_statement",
        "bench.one_row_core",
        "bench.one_row_no_session",
    }
)


@dataclass(frozen=True)
class Variant:
    label: str
    path: str = ROWS_PATH
    engine_options: dict[str, object] = field(default_factory=dict)
    flask_config: dict[str, object] = field(default_factory=dict)
    sessionless: bool = False  # the page joins SESSIONLESS_ENDPOINTS: no Redis PING
    fixed_search_path: bool = False  # measuring only: search_path per connection, no SET LOCAL


PRE_PING = {"pool_pre_ping": True}
NO_LIMITER = {"RATELIMIT_ENABLED": False}

VARIANTS = [
    Variant("as served"),
    Variant("with pool_pre_ping (a SELECT 1 at checkout, as before)", engine_options=PRE_PING),
    Variant("without the Redis PING (page counted as session-less)", sessionless=True),
    Variant("without Flask-Limiter (RATELIMIT_ENABLED off)", flask_config=NO_LIMITER),
    Variant("reading a User object instead of columns (the page until 3 Dec)", path=USER_PATH),
    Variant("without the Redis PING and Flask-Limiter", flask_config=NO_LIMITER, sessionless=True),
    Variant("measuring only, NOT safe: no SET LOCAL (search_path fixed)", fixed_search_path=True),
    Variant("the statement built once, not per request", path="/bench/one-row-kept-statement"),
    Variant(
        "that statement read through the session's connection (Core: no ORM result)",
        path="/bench/one-row-core",
    ),
    Variant(
        "measuring only: a Core connection of the view's own, bound and committed, no Session",
        path="/bench/one-row-no-session",
    ),
]


def variant_app(variant: Variant, schema_name: str) -> Flask:
    """The served app with ``variant``'s configuration (prepared statements on, as served)."""

    class VariantConfig(Config):
        def flask_settings(self) -> dict[str, object]:
            settings = super().flask_settings()
            engine = {**settings["SQLALCHEMY_ENGINE_OPTIONS"], **variant.engine_options}  # type: ignore[dict-item]
            if variant.fixed_search_path:
                engine["connect_args"] = {"options": f"-csearch_path={schema_name}"}
            return {**settings, **variant.flask_config, "SQLALCHEMY_ENGINE_OPTIONS": engine}

    app = create_app(VariantConfig())
    app.register_blueprint(bench)
    return app


@contextmanager
def applied(variant: Variant) -> Iterator[None]:
    """The two changes that are not configuration, undone afterwards."""
    from app.auth import sessions
    from tenants import binding

    original_endpoints = sessions.SESSIONLESS_ENDPOINTS
    if variant.sessionless:
        sessions.SESSIONLESS_ENDPOINTS = original_endpoints | BENCH_ENDPOINTS
    if variant.fixed_search_path:
        event.remove(Session, "after_begin", binding._bind_schema_to_transaction)
    try:
        yield
    finally:
        sessions.SESSIONLESS_ENDPOINTS = original_endpoints
        if variant.fixed_search_path:
            event.listen(Session, "after_begin", binding._bind_schema_to_transaction)


@dataclass(frozen=True)
class Cost:
    cpu_us: float  # this process's CPU per request (least of the rounds)
    calls: float  # Python function calls per request: exact, whatever the machine's load
    database_us: float = 0.0  # the bench database's server processes, in the same round


HELLO = "hello (bare Flask)"
AS_SERVED = VARIANTS[0].label
ACCOUNT = "the account page, signed in (as served; not a variant of the routed page)"
SIGN_IN = "the sign-in form, anonymous (as served; not a variant of the routed page)"
ACCOUNT_EMAIL = "account.page@bench.example.org"


def cpu_per_request(get: Callable[[], object], requests: int) -> float:
    """This process's CPU microseconds per ``get()``."""
    started = time.process_time()
    for _ in range(requests):
        get()
    return (time.process_time() - started) / requests * 1e6


def cpu_with_database(
    get: Callable[[], object], requests: int, database_url: str
) -> tuple[float, float]:
    """This process's and the bench database's server processes' CPU microseconds per
    ``get()`` (their connections are open: ``get`` was warmed up)."""
    with psycopg.connect(database_url) as connection:
        pids = [
            pid
            for (pid,) in connection.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
    database = -_on_cpu_ns(pids)
    process = cpu_per_request(get, requests)
    database += _on_cpu_ns(pids)
    return process, database / requests / 1e3


def _on_cpu_ns(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
        except FileNotFoundError:  # the connection closed
            continue
    return total


def calls_per_request(get: Callable[[], object], requests: int = 50) -> float:
    calls = 0

    def count(_frame: object, event: str, _arg: object) -> None:
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(count)
    try:
        for _ in range(requests):
            get()
    finally:
        sys.setprofile(None)
    return calls / requests


def page_getter(
    app: Flask, path: str, host: str, client: FlaskClient | None = None
) -> Callable[[], object]:
    """One GET of ``path`` on ``host`` through the test client (``client``, e.g. one
    signed in, or a new one); anything but 200 stops."""
    client = client or app.test_client()
    base_url = f"http://{host}"

    def get() -> object:
        response = client.get(path, base_url=base_url)
        if response.status_code != 200:
            raise RuntimeError(f"{path} on {host} answered {response.status_code}")
        return response

    for _ in range(50):  # warm up: pooled connection, prepared statements, caches
        get()
    return get


def add_account_page_person(app: Flask, slug: str) -> None:
    """An active person of setting ``slug``, for the signed-in account page."""
    from app.auth.models import Role
    from app.extensions import db
    from bench.auth import PASSWORD, PIN, add_active_users
    from tenants.binding import tenant_context

    with app.app_context(), tenant_context(slug):
        add_active_users([(ACCOUNT_EMAIL, "Account Page", Role.STAFF)], PASSWORD, PIN)
        db.session.commit()


def account_page_getter(app: Flask, host: str) -> Callable[[], object]:
    """GET /account for a person signed in through the sign-in form (one bcrypt check)."""
    from bench.auth import CSRF_FIELD, PASSWORD, PIN

    client = app.test_client()
    base_url = f"http://{host}"
    token = CSRF_FIELD.search(client.get("/login", base_url=base_url).text)
    fields = {"email": ACCOUNT_EMAIL, "password": PASSWORD, "pin": PIN}
    signed_in = client.post(
        "/login", base_url=base_url, data={**fields, "csrf_token": token[1] if token else ""}
    )
    if signed_in.status_code != 303:
        raise RuntimeError(f"signing in for the account page answered {signed_in.status_code}")
    return page_getter(app, "/account", host, client)


@contextmanager
def variant_getter(variant: Variant, host: str, schema_name: str) -> Iterator[Callable[[], object]]:
    from app.extensions import db

    # A fresh app each time: Flask-Limiter keeps some of its state on the shared object.
    app = variant_app(variant, schema_name)
    try:
        with applied(variant):
            yield page_getter(app, variant.path, host)
    finally:
        with app.app_context():
            db.engine.dispose()


def measure_variants(
    host: str, schema_name: str, requests: int = 400, rounds: int = 7
) -> dict[str, Cost]:
    """What a request costs this process, for the bare hello, for each variant, for
    the account page of a signed-in person (what every signed-in page pays, and more)
    and for the sign-in form (the two pages with forms every person opens).

    The variants take turns, round after round, so the machine's other work falls
    evenly on each; the least CPU of the rounds is the one the others disturbed
    least (as ``timeit`` advises). Function calls are counted once, exactly.
    """
    from bench.hello_wsgi import app as hello_app

    hello = page_getter(hello_app, "/hello", "localhost")
    account_app = variant_app(VARIANTS[0], schema_name)
    url = make_url(account_app.config["SQLALCHEMY_DATABASE_URI"])
    database_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
    database: dict[str, list[float]] = {label: [] for label in (v.label for v in VARIANTS)}
    try:
        account = account_page_getter(account_app, host)
        sign_in = page_getter(account_app, "/login", host)
        cpu: dict[str, list[float]] = {HELLO: []}
        calls = {HELLO: calls_per_request(hello)}
        for variant in VARIANTS:
            with variant_getter(variant, host, schema_name) as get:
                calls[variant.label] = calls_per_request(get)
            cpu[variant.label] = []
        calls[ACCOUNT], cpu[ACCOUNT] = calls_per_request(account), []
        calls[SIGN_IN], cpu[SIGN_IN] = calls_per_request(sign_in), []
        for _ in range(rounds):
            cpu[HELLO].append(cpu_per_request(hello, requests))
            for variant in VARIANTS:
                with variant_getter(variant, host, schema_name) as get:
                    process, server = cpu_with_database(get, requests, database_url)
                cpu[variant.label].append(process)
                database[variant.label].append(server)
            cpu[ACCOUNT].append(cpu_per_request(account, requests))
            cpu[SIGN_IN].append(cpu_per_request(sign_in, requests))
    finally:
        from app.extensions import db

        with account_app.app_context():
            db.engine.dispose()
    return {
        label: Cost(min(cpu[label]), calls[label], min(database.get(label, [0.0]))) for label in cpu
    }


def report_variants(costs: dict[str, Cost]) -> None:
    served = costs[AS_SERVED]
    print("What one request costs this process through Flask's test client (CPU: least of")
    print("7 rounds of 400 requests, +-50 us on a busy machine; calls: exact; PostgreSQL:")
    print("its server processes' CPU in the same requests, least of the rounds):")
    print(f"  {'CPU us':>7} {'change':>7} {'calls':>7} {'change':>7} {'PG us':>7}")
    for label, cost in costs.items():
        if label in (HELLO, AS_SERVED, ACCOUNT, SIGN_IN):
            changes = f"{'':>7} {cost.calls:7.0f} {'':>7}"
        else:
            changes = (
                f"{cost.cpu_us - served.cpu_us:+7.0f} {cost.calls:7.0f} "
                f"{cost.calls - served.calls:+7.0f}"
            )
        server = f"{cost.database_us:7.0f}" if cost.database_us else f"{'':>7}"
        print(f"  {cost.cpu_us:7.0f} {changes} {server}  {label}")


# --- each step of the served request ------------------------------------------------------------

_HOOK_KINDS = {
    "before_request_funcs": "before",
    "after_request_funcs": "after",
    "teardown_request_funcs": "teardown",
}


class StepMeter:
    """CPU and Python calls of each app-wide step of one app, summed over the requests made
    while it is attached: every before-, after- and teardown-request function, the session
    interface's open and save, and the page's view."""

    def __init__(self) -> None:
        self.cpu: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.counting = False  # calls are counted apart: the counter slows what it counts

    def attach(self, app: Flask, endpoint: str) -> None:
        for kind, label in _HOOK_KINDS.items():
            for functions in getattr(app, kind).values():
                functions[:] = [self._metered(f"{label}: {_name(f)}", f) for f in functions]
        interface = app.session_interface
        for method in ("open_session", "save_session"):
            metered = self._metered(f"session: {method}", getattr(interface, method))
            setattr(interface, method, metered)
        view = app.view_functions[endpoint]
        app.view_functions[endpoint] = self._metered(f"view: {endpoint}", view)

    def _metered(self, step: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def metered(*args: Any, **kwargs: Any) -> Any:
            calls = 0

            def count(_frame: object, event: str, _arg: object) -> None:
                nonlocal calls
                calls += event == "call"

            started = time.process_time()
            if self.counting:
                sys.setprofile(count)
            try:
                return function(*args, **kwargs)
            finally:
                if self.counting:
                    sys.setprofile(None)
                    self.calls[step] += calls
                else:
                    self.cpu[step] += time.process_time() - started

        return metered


def _name(function: Callable[..., Any]) -> str:
    inner = getattr(function, "func", function)  # Flask-Limiter registers partials
    return getattr(inner, "__qualname__", repr(inner))


def measure_steps(host: str, schema_name: str, requests: int = 300, rounds: int = 5) -> None:
    """Print each app-wide step's CPU (least of the rounds) and exact Python calls per
    request of the routed page as served, biggest first."""
    from app.extensions import db

    app = variant_app(VARIANTS[0], schema_name)
    meter = StepMeter()
    meter.attach(app, "bench.one_row")
    try:
        get = page_getter(app, ROWS_PATH, host)
        least: dict[str, float] = {}
        for _ in range(rounds):
            meter.cpu.clear()
            for _ in range(requests):
                get()
            for step, seconds in meter.cpu.items():
                least[step] = min(least.get(step, seconds), seconds)
        meter.counting = True
        for _ in range(50):
            get()
    finally:
        with app.app_context():
            db.engine.dispose()
    print(f"Each step of the routed page as served (CPU: least of {rounds} rounds of {requests}")
    print("requests; calls: exact, of 50), per request; the rest is Flask and the test client:")
    for step, seconds in sorted(least.items(), key=lambda item: -item[1]):
        print(f"  {seconds / requests * 1e6:7.0f} us {meter.calls[step] / 50:6.0f} calls  {step}")
