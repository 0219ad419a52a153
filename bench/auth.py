"""Sign-in benchmark: sign-ins per second, the session check in µs, signed-in vs anonymous pages.

Run from the repository root (nothing else needs starting; PostgreSQL and Redis must answer):

    .venv/bin/python bench/auth.py             # sign-ins 3 runs x 10 s, pages 3 runs x 5 s
    .venv/bin/python bench/auth.py --quick     # sign-ins 3 runs x 4 s, pages 3 runs x 2 s
    .venv/bin/python bench/auth.py --workers sync --runs 5

What it measures, against the targets of issue 3:

1. Sign-ins per second (target >= 4/s on 2 cores with password cost 12). The real app
   (``wsgi:app``) is served by gunicorn on loopback, and ``--clients`` browsers sign in over
   and over as a browser does: GET /login (session cookie, CSRF token from the form), then
   POST /login with email, password, PIN and token, expecting 303 to ``/``; each sign-in is
   for the next of ``--users`` active users of one setting. The served app runs with
   ``RATELIMIT_ENABLED=0``: with its limits (30 sign-ins a minute per IP, 10 per account)
   on, the figure would be the limit, not the work. The bcrypt costs are the configured ones
   (``PASSWORD_BCRYPT_COST`` / ``PIN_BCRYPT_COST``, 12 / 10 unless set).
   Beside the rate it prints the CPU time gunicorn's processes spent per sign-in (from
   /proc) and what that allows on this machine's cores with nothing else running: on a
   shared machine the rate says how busy the others were, the CPU time what a sign-in costs.
   The CPU time of one password check and one PIN check, timed in this process, is the floor.
2. The session check (target <= 500 µs, one Redis round trip): the app's
   ``session_interface.open_session`` for a signed-in session cookie, inside
   ``app.test_request_context`` with the setting's host, timed in this process (median and
   p95), beside a bare ``GETEX`` of the same key; and the Redis commands gunicorn's workers
   send for each request of a page, watched with ``MONITOR`` on the bench's own database.
3. Requests/s of the signed-in account page (GET /account) and of the setting's home page
   signed in, against the same home page for an anonymous visitor: same setting, same
   gunicorn, loaded by ``wrk`` when installed (else the Python load generator of
   ``bench/loadgen.py``), the signed-in pages with the session cookie of one sign-in.

The servers are those of ``bench/tenancy.py``: a throwaway database (dropped at the end), a
free Redis database (flushed at the end) or REDIS_URL, an SMTP server that drops every
message. All users share one hash of the password and one of the PIN, made with
``app.security.secrets``: a check costs the same whatever the salt, and hashing a password
per user at cost 12 would take a quarter of a second each.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from fnmatch import fnmatchcase
from http.cookies import SimpleCookie
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

import redis
from flask import Flask

if TYPE_CHECKING:
    from app.auth.models import Role, User

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `bench.*` importable

from bench.loadgen import run_load  # noqa: E402
from bench.tenancy import (  # noqa: E402
    WORKER_SETTINGS,
    LoadOptions,
    Page,
    WorkerSettings,
    add_load_options,
    bench_app,
    free_port,
    gunicorn,
    load_options,
    percentile,
    print_machine,
)
from bench.visits import TOO_SLOW, Browser, PageFigures, Visit, Visits  # noqa: E402

SLUG = "bench-auth"
HOST = f"{SLUG}.localhost"
PASSWORD = "correct horse battery staple, for the bench"
PIN = "470215"
CSRF_FIELD = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*\bvalue="([^"]+)"')
CORES = os.cpu_count() or 1

TARGET_SIGNINS_PER_SECOND = 4.0
# Issue #16: sign-ins/s at least this share of the bcrypt floor measured in the same run.
TARGET_SHARE_OF_BCRYPT_FLOOR = 0.9
TARGET_SESSION_CHECK_US = 500.0
TARGET_REDIS_COMMANDS = 1


@dataclass(frozen=True)
class Options(LoadOptions):
    """The page loads' options, and the sign-ins' (``runs`` counts both)."""

    users: int
    clients: int
    signin_duration: float
    iterations: int
    burst: int
    page_browsers: int
    arrangements: tuple[str, ...]
    burst_only: bool


def parse_options() -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100, help="active users signing in")
    parser.add_argument("--clients", type=int, default=8, help="browsers signing in at once")
    parser.add_argument("--signin-duration", type=float, default=10.0, help="s per sign-in run")
    parser.add_argument("--iterations", type=int, default=5000, help="session checks timed")
    parser.add_argument("--quick", action="store_true", help="20 users, shorter runs")
    parser.add_argument("--burst", type=int, default=40, help="browsers signing in at once")
    parser.add_argument(
        "--page-browsers", type=int, default=8, help="signed-in browsers loading pages meanwhile"
    )
    parser.add_argument(
        "--arrangements",
        nargs="+",
        choices=tuple(ARRANGEMENTS),
        default=tuple(ARRANGEMENTS),
        help="serving arrangements the burst is measured with",
    )
    parser.add_argument("--burst-only", action="store_true", help="only the sign-in burst")
    add_load_options(parser, connections=32, workers="both")
    args = parser.parse_args()
    if args.quick:
        args.users, args.signin_duration, args.duration, args.iterations = 20, 4.0, 2.0, 1000
    return Options(
        users=args.users,
        clients=args.clients,
        signin_duration=args.signin_duration,
        iterations=args.iterations,
        burst=args.burst,
        page_browsers=args.page_browsers,
        arrangements=tuple(args.arrangements),
        burst_only=args.burst_only,
        **load_options(parser, args),
    )


# --- the setting and its users -----------------------------------------------------------------


def email_of(number: int) -> str:
    return f"user{number:04d}@{SLUG}.example.org"


@contextmanager
def inside_new_setting(app: Flask, slug: str) -> Iterator[None]:
    """Provision setting ``slug`` (named "Bench Nursery") and run the block inside it."""
    from tenants.binding import tenant_context
    from tenants.provisioning import provision_setting

    with app.app_context():
        provision_setting(slug, "Bench Nursery", f"manager@{slug}.example.org")
        with tenant_context(slug):
            yield


def add_active_users(people: list[tuple[str, str, Role]], password: str, pin: str) -> list[User]:
    """Active accounts (email, full name, role) of the current setting, added to the session,
    who sign in with ``password`` and ``pin``: one hash of each serves them all, since a
    check costs the same whatever the salt. Each has accepted the usage policy in force,
    as everyone must before any page but that policy."""
    from app import clock
    from app.auth.models import AccountStatus, User
    from app.extensions import db
    from app.responsible_use.operations import accept_policy, current_policy_version
    from app.security.secrets import hash_password, hash_pin

    password_hash, pin_hash = hash_password(password), hash_pin(pin)
    users = [
        User(
            email=email,
            full_name=full_name,
            role=role,
            status=AccountStatus.ACTIVE,
            password_hash=password_hash,
            pin_hash=pin_hash,
            activated_at=clock.now(),
        )
        for email, full_name, role in people
    ]
    db.session.add_all(users)
    db.session.flush()
    for user in users:
        accept_policy(user, current_policy_version())
    return users


def create_setting_with_users(app: Flask, count: int) -> list[str]:
    """Provision the setting and ``count`` active users who sign in with PASSWORD and PIN."""
    from app.auth.models import Role
    from app.extensions import db

    emails = [email_of(number) for number in range(1, count + 1)]
    with inside_new_setting(app, SLUG):
        people = [
            (email, f"Bench User {number}", Role.STAFF)
            for number, email in enumerate(emails, start=1)
        ]
        add_active_users(people, PASSWORD, PIN)
        db.session.commit()
    return emails


@dataclass(frozen=True)
class BcryptFigures:
    password_ms: float  # CPU time of one check, this thread
    pin_ms: float

    @property
    def ceiling(self) -> float:
        """Sign-ins/s the cores could do if they did nothing but the two checks."""
        return CORES / ((self.password_ms + self.pin_ms) / 1000)


def time_bcrypt(app: Flask, repeats: int = 3) -> BcryptFigures:
    """CPU time of one password check and one PIN check at the configured costs (median).

    CPU time rather than elapsed time: on a shared machine the elapsed time also
    counts the turns other processes take on the cores.
    """
    from app.security.secrets import check_password, check_pin, hash_password, hash_pin

    def median_ms(check: Callable[[str, str], bool], secret: str, stored: str) -> float:
        timings = []
        for _ in range(repeats):
            started = time.thread_time()
            assert check(secret, stored)
            timings.append((time.thread_time() - started) * 1000)
        return statistics.median(timings)

    with app.app_context():
        password_hash, pin_hash = hash_password(PASSWORD), hash_pin(PIN)
        return BcryptFigures(
            median_ms(check_password, PASSWORD, password_hash), median_ms(check_pin, PIN, pin_hash)
        )


# --- a browser signing in ----------------------------------------------------------------------


class SignInFailed(RuntimeError):
    """The app did not answer a sign-in the way it answers a browser with the right secrets."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: str


def exchange(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    headers: dict[str, str],
    body: str | None = None,
    *,
    host: str = HOST,
) -> Answer:
    # gunicorn's sync workers close the connection after each answer; http.client
    # then opens a new one for the next request by itself.
    connection.request(method, path, body=body, headers={"Host": host, **headers})
    response = connection.getresponse()
    return Answer(response.status, response.headers, response.read().decode())


def cookie_from(answer: Answer, name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    for header in answer.headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return jar[name].value if name in jar else None


@dataclass(frozen=True)
class SignIn:
    session_id: str
    form_ms: float  # GET /login
    submit_ms: float  # POST /login


def sign_in(
    port: int,
    email: str,
    cookie_name: str,
    *,
    host: str = HOST,
    password: str = PASSWORD,
    pin: str = PIN,
) -> SignIn:
    """Sign in as a browser does; returns the new session's id and how long each step took."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        started = time.perf_counter()
        form = exchange(connection, "GET", "/login", {}, host=host)
        form_done = time.perf_counter()
        cookie, token = cookie_from(form, cookie_name), CSRF_FIELD.search(form.body)
        if form.status != 200 or cookie is None or token is None:
            raise SignInFailed(f"GET /login answered {form.status} without a cookie and token")
        fields = {"email": email, "password": password, "pin": pin, "csrf_token": token[1]}
        answer = exchange(
            connection,
            "POST",
            "/login",
            {
                "Cookie": f"{cookie_name}={cookie}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            urlencode(fields),
            host=host,
        )
        submitted = time.perf_counter()
    finally:
        connection.close()
    location = urlsplit(answer.headers.get("Location", "")).path
    session_id = cookie_from(answer, cookie_name)
    if answer.status != 303 or location != "/" or session_id is None:
        raise SignInFailed(f"POST /login for {email} answered {answer.status} to {location!r}")
    return SignIn(session_id, (form_done - started) * 1000, (submitted - form_done) * 1000)


def gunicorn_cpu_seconds(port: int) -> float:
    """User + system CPU seconds spent so far by the gunicorn serving ``port`` and its workers.

    Read from /proc: the master is the process started with ``--bind 127.0.0.1:<port>``,
    the workers are its children.
    """
    bind = f"127.0.0.1:{port}".encode()
    processes: dict[int, tuple[int, int]] = {}  # pid -> (parent's pid, CPU ticks)
    masters = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        processes[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
        if bind in arguments:
            masters.add(int(entry.name))
    ticks = sum(
        cpu for pid, (parent, cpu) in processes.items() if pid in masters or parent in masters
    )
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class SignInWindow:
    """What happened while a sign-in load ran for a while."""

    seconds: float
    signins: int
    server_cpu: float  # seconds of CPU gunicorn's processes used
    client_cpu: float  # seconds of CPU this process used driving the browsers

    @property
    def rate(self) -> float:
        return self.signins / self.seconds

    @property
    def server_cpu_ms(self) -> float:
        """gunicorn's CPU time per sign-in."""
        return self.server_cpu / max(1, self.signins) * 1000


class SignInLoad:
    """``clients`` threads signing in without pause, each time as the next user."""

    def __init__(self, port: int, emails: list[str], cookie_name: str, clients: int) -> None:
        self.port, self.emails, self.cookie_name = port, emails, cookie_name
        self.turns = itertools.count()
        self.completed: list[float] = []  # monotonic time each sign-in finished
        self.problems: list[str] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._browse, daemon=True) for _ in range(clients)]

    def __enter__(self) -> SignInLoad:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=120)

    def _browse(self) -> None:
        while not self.stopping.is_set():
            email = self.emails[next(self.turns) % len(self.emails)]
            try:
                sign_in(self.port, email, self.cookie_name)
            except (OSError, SignInFailed) as error:
                self.problems.append(f"{type(error).__name__}: {error}")
                self.stopping.set()
                return
            self.completed.append(time.monotonic())

    def watch(self, seconds: float) -> SignInWindow:
        """Sign-ins finished during the next ``seconds``, and the CPU they took.

        Counting completions in a window of a load that runs on either side of it
        counts no sign-in half-done at the start or the end.
        """
        server_cpu, client_cpu = gunicorn_cpu_seconds(self.port), time.process_time()
        started = time.monotonic()
        time.sleep(seconds)
        ended = time.monotonic()
        server_cpu = gunicorn_cpu_seconds(self.port) - server_cpu
        client_cpu = time.process_time() - client_cpu
        if self.problems:
            raise SignInFailed(self.problems[0])
        done = sum(1 for moment in list(self.completed) if started <= moment < ended)
        return SignInWindow(ended - started, done, server_cpu, client_cpu)


@dataclass(frozen=True)
class SignInFigures:
    windows: list[SignInWindow]
    alone: list[SignIn]

    @property
    def rate(self) -> float:
        return statistics.median(window.rate for window in self.windows)

    @property
    def server_cpu_ms(self) -> float:
        return statistics.median(window.server_cpu_ms for window in self.windows)

    @property
    def capacity(self) -> float:
        """Sign-ins/s the cores could serve with nothing else running (from the CPU time)."""
        return CORES / (self.server_cpu_ms / 1000)


def bench_signins(
    port: int, emails: list[str], cookie_name: str, options: Options
) -> SignInFigures:
    for email in emails[: 2 * CORES]:  # warm up every worker: imports, pooled connections
        sign_in(port, email, cookie_name)
    alone = [sign_in(port, email, cookie_name) for email in emails[:3]]
    with SignInLoad(port, emails, cookie_name, options.clients) as load:
        load.watch(min(3.0, options.signin_duration))  # every browser under way
        windows = [load.watch(options.signin_duration) for _ in range(options.runs)]
    return SignInFigures(windows, alone)


# --- Redis commands per request ----------------------------------------------------------------

# What redis-py sends when it opens a connection, not for the request itself.
CONNECTION_SET_UP = frozenset({"SELECT", "CLIENT", "HELLO", "AUTH"})


@contextmanager
def redis_commands(redis_url: str) -> Iterator[list[str]]:
    """The commands sent to the bench's Redis database while the block runs (MONITOR)."""
    watcher, client = redis.Redis.from_url(redis_url), redis.Redis.from_url(redis_url)
    client.ping()  # connected (and its SELECT sent) before the watch starts
    database = int(client.connection_pool.connection_kwargs.get("db", 0))
    marker = f"lj-bench-end-of-watch-{secrets.token_hex(4)}"
    seen: list[str] = []
    watching = threading.Event()

    def watch() -> None:
        with watcher.monitor() as monitor:
            watching.set()
            for entry in monitor.listen():
                if entry["db"] != database:
                    continue  # other people's tests share the server
                if marker in entry["command"]:
                    return
                seen.append(entry["command"].split(" ", 1)[0].upper())

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    if not watching.wait(timeout=10):
        raise RuntimeError("Redis MONITOR did not start")
    try:
        yield seen
    finally:
        client.echo(marker)
        thread.join(timeout=10)
        client.close()
        watcher.close()


@dataclass(frozen=True)
class CommandCount:
    label: str
    requests: int
    commands: Counter[str]  # by name, connection set-up left out
    set_up: int

    @property
    def per_request(self) -> float:
        return sum(self.commands.values()) / self.requests


def counted(label: str, requests: int, seen: list[str]) -> CommandCount:
    names = Counter(seen)
    set_up = sum(names.pop(name, 0) for name in CONNECTION_SET_UP)
    return CommandCount(label, requests, names, set_up)


def count_page_commands(
    redis_url: str, label: str, port: int, path: str, cookie: str | None, requests: int = 20
) -> CommandCount:
    """Redis commands for each of ``requests`` GETs of ``path``, one after another."""
    headers = {"Cookie": cookie} if cookie else {}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for _ in range(requests):  # every worker has its Redis connection before we watch
            exchange(connection, "GET", path, headers)
        with redis_commands(redis_url) as seen:
            for _ in range(requests):
                answer = exchange(connection, "GET", path, headers)
                if answer.status != 200:
                    raise RuntimeError(f"{label}: GET {path} answered {answer.status}")
    finally:
        connection.close()
    return counted(label, requests, seen)


def count_signin_commands(redis_url: str, port: int, email: str, cookie_name: str) -> CommandCount:
    signins = 3
    with redis_commands(redis_url) as seen:
        for _ in range(signins):
            sign_in(port, email, cookie_name)
    return counted("sign-in (GET + POST /login)", signins, seen)


def count_commands(
    redis_url: str, port: int, cookie: str, email: str, cookie_name: str
) -> list[CommandCount]:
    return [
        count_page_commands(redis_url, "home page, anonymous", port, "/", None),
        count_page_commands(redis_url, "home page, signed in", port, "/", cookie),
        count_page_commands(redis_url, "account page, signed in", port, "/account", cookie),
        count_signin_commands(redis_url, port, email, cookie_name),
    ]


# --- the session check, in this process --------------------------------------------------------


@dataclass(frozen=True)
class SessionCheckFigures:
    open_session_us: list[float]
    getex_us: list[float]


def time_session_check(app: Flask, session_id: str, iterations: int) -> SessionCheckFigures:
    """``open_session`` for a signed-in cookie, then a bare GETEX of its key, each timed."""
    from flask import request

    from app.auth.sessions import session_key
    from app.redis_store import get_redis

    interface = app.session_interface
    cookie = f"{interface.cookie_name}={session_id}"  # type: ignore[attr-defined]
    idle = app.config["LJ"].SESSION_IDLE_TIMEOUT
    context = app.test_request_context(
        "/account", base_url=f"http://{HOST}", headers={"Cookie": cookie}
    )
    with context:
        session = interface.open_session(app, request)
        if session is None or session.new or "_user_id" not in session:
            raise RuntimeError("the cookie of a sign-in opened no signed-in session")
        opening = _time_us(lambda: interface.open_session(app, request), iterations)
        store, key = get_redis(), session_key(SLUG, session_id)
        getex = _time_us(lambda: store.getex(key, ex=idle), iterations)
    return SessionCheckFigures(opening, getex)


def _time_us(call: Callable[[], object], iterations: int) -> list[float]:
    for _ in range(min(200, iterations)):  # warm up: connection, caches
        call()
    timings = []
    for _ in range(iterations):
        started = time.perf_counter_ns()
        call()
        timings.append((time.perf_counter_ns() - started) / 1000)
    return timings


# --- signed-in vs anonymous pages --------------------------------------------------------------


@dataclass(frozen=True)
class LoadedPage:
    label: str
    path: str
    signed_in: bool


LOADED_PAGES = [
    LoadedPage("home page, anonymous", "/", signed_in=False),
    LoadedPage("home page, signed in", "/", signed_in=True),
    LoadedPage("account page, signed in", "/account", signed_in=True),
]


def check_signed_in(port: int, cookie: str) -> None:
    """A signed-in page answers 200 with the cookie (wrk would count a redirect as success)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        answer = exchange(connection, "GET", "/account", {"Cookie": cookie})
    finally:
        connection.close()
    if answer.status != 200:
        raise RuntimeError(f"GET /account with the session cookie answered {answer.status}")


def load_pages(port: int, cookie: str, options: Options) -> dict[str, list[float]]:
    """Requests/s of each page, ``options.runs`` times, taking turns (as bench/tenancy.py)."""

    def load(page: LoadedPage, duration: float) -> float:
        headers = {"Cookie": cookie} if page.signed_in else None
        result = run_load(
            options.use_wrk, port, page.path, [HOST], duration, options.connections, headers
        )
        if result.failures:
            raise RuntimeError(f"{page.label}: {result.failures} of {result.requests} failed")
        return result.requests_per_second

    check_signed_in(port, cookie)
    for page in LOADED_PAGES:  # warm up: imports, pooled connections, prepared statements
        load(page, min(2.0, options.duration))
    rates: dict[str, list[float]] = {page.label: [] for page in LOADED_PAGES}
    for _ in range(options.runs):
        for page in LOADED_PAGES:
            rates[page.label].append(load(page, options.duration))
    check_signed_in(port, cookie)  # still signed in: no run measured the sign-in page instead
    return rates


# --- one gunicorn ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServedFigures:
    workers: WorkerSettings
    signins: SignInFigures
    pages: dict[str, list[float]]
    session_id: str  # a signed-in session, for the in-process session check
    commands: list[CommandCount] | None


def bench_served_app(
    workers: WorkerSettings,
    emails: list[str],
    cookie_name: str,
    redis_url: str,
    options: Options,
    *,
    with_commands: bool,
) -> ServedFigures:
    """Sign-ins, Redis commands and page loads against ``wsgi:app`` under one gunicorn."""
    home = Page("home page, anonymous", "wsgi:app", "/", [HOST])
    with gunicorn(home, workers) as port:
        signins = bench_signins(port, emails, cookie_name, options)
        session_id = sign_in(port, emails[0], cookie_name).session_id
        cookie = f"{cookie_name}={session_id}"
        commands = (
            count_commands(redis_url, port, cookie, emails[1], cookie_name)
            if with_commands
            else None
        )
        pages = load_pages(port, cookie, options)
    return ServedFigures(workers, signins, pages, session_id, commands)


# --- a burst of sign-ins beside page traffic ---------------------------------------------------

TARGET_BURST_PAGE_P99_MS = 300.0
TARGET_BURST_SECONDS = 10.0
PAGE_THINK = 0.3  # seconds between two pages of a browser: 8 make about the 50-user load's


@dataclass(frozen=True)
class Arrangement:
    """How gunicorn serves sign-ins and pages (``deploy/gunicorn.conf.py`` underneath)."""

    name: str
    pages: tuple[str, ...]  # gunicorn arguments of the page pool, over the configuration's
    sign_in: tuple[str, ...] | None  # LJ_POOL and arguments of a pool for sign-in POSTs
    nice: int = 10  # the sign-in pool's workers' (LJ_SIGN_IN_NICE; 10 as deployed)

    def start(self, folder: Path, stack: ExitStack) -> Callable[[str, str, str], int]:
        """Start the pools; returns the routing (Caddy's @sign_in matcher, or one pool)."""
        from bench.stack import gunicorn_pool, sign_in_routes, stop_parts, wait_for_pool

        page_port, sign_in_port = free_port(), free_port()
        parts = [(gunicorn_pool(folder, page_port, "pages", *self.pages, name="pages"), page_port)]
        if self.sign_in is not None:
            pool, *arguments = self.sign_in
            sign_in = gunicorn_pool(folder, sign_in_port, pool, *arguments, name="sign-in")
            sign_in.environment["LJ_SIGN_IN_NICE"] = str(self.nice)
            parts.append((sign_in, sign_in_port))
        for part, port in parts:
            part.start()
            stack.callback(stop_parts, [part])
            wait_for_pool(part, port)
        if self.sign_in is None:
            return lambda _method, _path, _content_type: page_port
        patterns = sign_in_routes()

        def route(method: str, path: str, _content_type: str) -> int:
            signing_in = method == "POST" and any(fnmatchcase(path, p) for p in patterns)
            return sign_in_port if signing_in else page_port

        return route


ARRANGEMENTS = {
    "one-pool": Arrangement("one pool, sync workers (2 x cores + 1)", (), None),
    "gthread": Arrangement(
        "one pool, 2 gthread workers x 8 threads",
        ("--worker-class", "gthread", "--workers", "2", "--threads", "8"),
        None,
    ),
    "sign-in-threads": Arrangement(
        "page pool + sign-in pool of 2 gthread workers x 4 threads",
        (),
        ("sign-in", "--worker-class", "gthread", "--workers", "2", "--threads", "4"),
        nice=0,
    ),
    "sign-in-threads-nice": Arrangement(
        "page pool + sign-in pool of 2 gthread workers x 4 threads at nice 10",
        (),
        ("sign-in", "--worker-class", "gthread", "--workers", "2", "--threads", "4"),
        nice=10,
    ),
    "two-pools-not-nice": Arrangement(
        "page pool + sign-in pool of a sync worker a core at nice 0", (), ("sign-in",), nice=0
    ),
    "two-pools": Arrangement(
        "page pool + sign-in pool of a sync worker a core at nice 10 (as deployed)",
        (),
        ("sign-in",),
    ),
}


@dataclass(frozen=True)
class BurstFigures:
    arrangement: Arrangement
    quiet: list[Visit]  # page visits before the burst
    during: list[Visit]  # page visits overlapping the burst
    signins: list[Visit]  # the burst's POST /login
    finished_s: float  # from the burst's start to its last sign-in's answer


def page_browsing(
    browsers: list[Browser], visits: Visits, stopping: threading.Event, think: float
) -> list[threading.Thread]:
    """Each signed-in browser loads the home page and its account page, with a pause."""

    def browse(browser: Browser) -> None:
        for path in itertools.cycle(("/", "/account")):
            if stopping.wait(think):
                return
            browser.get("page", path)

    threads = [threading.Thread(target=browse, args=(b,), daemon=True) for b in browsers]
    for thread in threads:
        thread.start()
    return threads


def bench_burst(
    arrangement: Arrangement, emails: list[str], cookie_name: str, options: Options
) -> BurstFigures:
    """Pages loaded by ``--page-browsers`` signed-in browsers; after a quiet while,
    ``--burst`` browsers sign in at the same moment."""
    visits, stopping = Visits(), threading.Event()
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="lj-burst-") as folder:
        route = arrangement.start(Path(folder), stack)
        readers = [
            Browser(route, HOST, cookie_name, Visits()) for _ in range(options.page_browsers)
        ]
        for browser, email in zip(readers, emails, strict=False):
            if not browser.sign_in(email, PASSWORD, PIN).status == 303:
                raise SignInFailed(f"{email} could not sign in before the burst")
            browser.visits = visits
        threads = page_browsing(readers, visits, stopping, think=PAGE_THINK)
        stack.callback(lambda: [stopping.set(), *(t.join(30) for t in threads)])
        time.sleep(2.0)  # every worker warm
        quiet_start = time.monotonic()
        time.sleep(5.0)
        burst_visits = Visits()
        ready = threading.Barrier(options.burst + 1)

        def sign_in_now(email: str) -> None:
            browser = Browser(route, HOST, cookie_name, burst_visits, timeout=120)
            ready.wait()
            browser.sign_in(email, PASSWORD, PIN)

        burst = [
            threading.Thread(target=sign_in_now, args=(email,), daemon=True)
            for email in emails[options.page_browsers :][: options.burst]
        ]
        for thread in burst:
            thread.start()
        ready.wait()
        started = time.monotonic()
        for thread in burst:
            thread.join(120)
        signins = [v for v in burst_visits.items if v.page == "sign-in"]
        finished = max(v.started + v.seconds for v in burst_visits.items)
        time.sleep(1.0)
    pages = [v for v in visits.items if v.page == "page"]
    return BurstFigures(
        arrangement,
        [v for v in pages if quiet_start <= v.started < started],
        [v for v in pages if v.started <= finished and v.started + v.seconds >= started],
        signins,
        finished - started,
    )


def report_burst(figures: BurstFigures, burst: int) -> bool:
    quiet = PageFigures.of("page", figures.quiet)
    during = PageFigures.of("page", figures.during)
    # A late sign-in is what the time to finish them all measures, not an error here.
    failed = [v for v in figures.signins if v.error not in ("", TOO_SLOW)]
    errors, done = len(failed) + during.errors, len(figures.signins) - len(failed)
    met = (
        during.p99_ms <= TARGET_BURST_PAGE_P99_MS
        and figures.finished_s <= TARGET_BURST_SECONDS
        and errors == 0
        and done == burst
    )
    print(f"  {figures.arrangement.name}:")
    print(
        f"    pages before: p50 {quiet.p50_ms:.0f} ms, p99 {quiet.p99_ms:.0f} ms ({quiet.count}); "
        f"during the burst: p50 {during.p50_ms:.0f} ms, p99 {during.p99_ms:.0f} ms, "
        f"max {during.max_ms:.0f} ms ({during.count}; target p99 <= "
        f"{TARGET_BURST_PAGE_P99_MS:.0f} ms)"
    )
    kinds = Counter(v.error for v in [*figures.during, *figures.signins] if v.error)
    if kinds:
        print("    errors: " + ", ".join(f"{kind} x{count}" for kind, count in kinds.items()))
    print(
        f"    {done} of {burst} sign-ins done in {figures.finished_s:.1f} s (target <= "
        f"{TARGET_BURST_SECONDS:.0f} s), median "
        f"{statistics.median(v.seconds for v in figures.signins):.1f} s; {errors} errors"
        + ("" if met else "   MISSED")
    )
    return met


# --- reports -----------------------------------------------------------------------------------


def report_bcrypt(app: Flask, figures: BcryptFigures) -> None:
    config = app.config["LJ"]
    print(
        f"  bcrypt, CPU time in this process: password check (cost "
        f"{config.PASSWORD_BCRYPT_COST}) {figures.password_ms:.0f} ms + PIN check (cost "
        f"{config.PIN_BCRYPT_COST}) {figures.pin_ms:.0f} ms a sign-in: at most "
        f"{figures.ceiling:.1f} sign-ins/s on {CORES} cores"
    )


def report_signins(workers: WorkerSettings, figures: SignInFigures, ceiling: float) -> None:
    form_ms = statistics.median(signin.form_ms for signin in figures.alone)
    submit_ms = statistics.median(signin.submit_ms for signin in figures.alone)
    runs = " / ".join(f"{window.rate:.1f}" for window in figures.windows)
    cores_used = statistics.median(window.server_cpu / window.seconds for window in figures.windows)
    client_ms = statistics.median(
        window.client_cpu / max(1, window.signins) * 1000 for window in figures.windows
    )
    print(f"  {workers.name}:")
    print(
        f"    {figures.rate:.1f} sign-ins/s (runs {runs}; target >= "
        f"{TARGET_SIGNINS_PER_SECOND:g}/s), gunicorn busy on {cores_used:.2f} of {CORES} cores"
    )
    print(
        f"    gunicorn's CPU time a sign-in: {figures.server_cpu_ms:.0f} ms (bcrypt "
        f"{figures.capacity / ceiling:.0%} of it) -> {figures.capacity:.1f} sign-ins/s with "
        f"the {CORES} cores to itself; the browsers' CPU {client_ms:.0f} ms a sign-in"
    )
    print(
        f"    sign-ins/s / the bcrypt floor ({ceiling:.1f}/s): {figures.rate / ceiling:.2f} "
        f"(target >= {TARGET_SHARE_OF_BCRYPT_FLOOR:g}); by CPU time "
        f"{figures.capacity / ceiling:.2f}"
    )
    print(f"    one sign-in alone: GET /login {form_ms:.0f} ms + POST /login {submit_ms:.0f} ms")


def report_pages(figures: ServedFigures) -> None:
    """Print each page's requests/s, and its share of the anonymous home page's."""
    medians = {label: statistics.median(runs) for label, runs in figures.pages.items()}
    anonymous = medians[LOADED_PAGES[0].label]
    print(f"  {figures.workers.name}:")
    for label, runs in figures.pages.items():
        each = " / ".join(f"{rate:,.0f}" for rate in runs)
        print(
            f"    {label:<26} {medians[label]:>7,.0f} req/s   "
            f"({medians[label] / anonymous:.2f} of anonymous; runs {each})"
        )


def report_commands(counts: list[CommandCount], workers: WorkerSettings) -> float:
    """Print Redis commands per request; returns the signed-in account page's."""
    print(f"Redis commands a request (MONITOR on the bench's database, {workers.name})")
    for count in counts:
        names = ", ".join(
            f"{name} x{number / count.requests:.2g}"
            for name, number in count.commands.most_common()
        )
        set_up = f"; connection set-up {count.set_up}" if count.set_up else ""
        print(
            f"  {count.label:<28} {count.per_request:.2g}"
            + (f" ({names})" if names else "")
            + f"   [{count.requests} requests{set_up}]"
        )
    return next(count.per_request for count in counts if count.label.startswith("account"))


def report_session_check(figures: SessionCheckFigures, redis_url: str) -> float:
    median = statistics.median(figures.open_session_us)
    print(f"Session check, in this process (Redis at {redis_url})")
    print(
        f"  open_session, signed-in cookie: median {median:.0f} µs, "
        f"p95 {percentile(figures.open_session_us, 95):.0f} µs over "
        f"{len(figures.open_session_us):,} checks (target <= {TARGET_SESSION_CHECK_US:.0f} µs)"
    )
    print(
        f"  of which Redis, a bare GETEX of the same key: median "
        f"{statistics.median(figures.getex_us):.0f} µs, "
        f"p95 {percentile(figures.getex_us, 95):.0f} µs"
    )
    return median


def report_targets(
    served: list[ServedFigures],
    ceiling: float,
    session_check_us: float,
    account_commands: float,
    burst_met: bool,
) -> None:
    measured = all(figures.signins.rate >= TARGET_SIGNINS_PER_SECOND for figures in served)
    near_floor = all(
        figures.signins.rate >= TARGET_SHARE_OF_BCRYPT_FLOOR * ceiling for figures in served
    )
    capable = all(figures.signins.capacity >= TARGET_SIGNINS_PER_SECOND for figures in served)
    session_met = (
        session_check_us <= TARGET_SESSION_CHECK_US and account_commands <= TARGET_REDIS_COMMANDS
    )
    ratios = ", ".join(f"{report_ratio(figures):.2f}" for figures in served)
    print(
        "Targets: sign-ins/s "
        + ("met" if measured else "MISSED")
        + " as measured, "
        + ("met" if capable else "MISSED")
        + " by CPU time; sign-ins/s >= 0.9 x the bcrypt floor "
        + ("met" if near_floor else "MISSED")
        + "; session check "
        + ("met" if session_met else "MISSED")
        + f"; account page / anonymous home page {ratios}"
        + "; sign-in burst "
        + ("met" if burst_met else "MISSED")
        + " (one run on a shared machine: other work moves these figures by 10-20 % or more)"
    )


def report_ratio(figures: ServedFigures) -> float:
    return statistics.median(figures.pages[LOADED_PAGES[2].label]) / statistics.median(
        figures.pages[LOADED_PAGES[0].label]
    )


# --- the run -----------------------------------------------------------------------------------


def bench_bursts(emails: list[str], cookie_name: str, options: Options) -> bool:
    print(
        f"Sign-in burst: {options.burst} browsers sign in at the same moment while "
        f"{options.page_browsers} signed-in browsers load pages (a pause of {PAGE_THINK} s "
        "between two); rate limits off"
    )
    met = {}
    for name in options.arrangements:
        figures = bench_burst(ARRANGEMENTS[name], emails, cookie_name, options)
        met[name] = report_burst(figures, options.burst)
    return met.get("two-pools", all(met.values()))


def main() -> None:
    options = parse_options()
    print_machine()
    # The served app's rate limits would cap sign-ins at 30 a minute (see the docstring).
    with bench_app(RATELIMIT_ENABLED="0") as bench:
        app, redis_url = bench.app, bench.redis_url
        users = max(options.users, options.page_browsers + options.burst)
        emails = create_setting_with_users(app, users)
        cookie_name = app.session_interface.cookie_name  # type: ignore[attr-defined]
        if options.burst_only:
            burst_met = bench_bursts(emails, cookie_name, options)
            print_machine()
            print(f"Targets: sign-in burst {'met' if burst_met else 'MISSED'}")
            return
        bcrypt_figures = time_bcrypt(app)

        print(
            f"Sign-ins: GET + POST /login by {options.clients} browsers over {options.users} "
            f"users, median of {options.runs} runs x {options.signin_duration:g} s; "
            "rate limits off"
        )
        report_bcrypt(app, bcrypt_figures)
        served = []
        for number, kind in enumerate(options.worker_kinds):
            figures = bench_served_app(
                WORKER_SETTINGS[kind],
                emails,
                cookie_name,
                redis_url,
                options,
                with_commands=number == 0,
            )
            report_signins(figures.workers, figures.signins, bcrypt_figures.ceiling)
            served.append(figures)

        print(
            f"Signed-in vs anonymous pages: gunicorn on 127.0.0.1, {options.generator}, "
            f"{options.connections} connections, median of {options.runs} runs x "
            f"{options.duration:g} s"
        )
        for figures in served:
            report_pages(figures)
        assert served[0].commands is not None
        account_commands = report_commands(served[0].commands, served[0].workers)
        session_check_us = report_session_check(
            time_session_check(app, served[-1].session_id, options.iterations), redis_url
        )
        burst_met = bench_bursts(emails, cookie_name, options)
    print_machine()
    report_targets(served, bcrypt_figures.ceiling, session_check_us, account_commands, burst_met)


if __name__ == "__main__":
    main()
