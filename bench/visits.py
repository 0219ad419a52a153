"""The browser side of the load and fault runs: timed requests, and what they answered.

Every request goes to 127.0.0.1 with the setting's ``Host`` header (Python cannot resolve
``*.localhost``) on a connection of its own, as a browser's to a sync worker that closes
it. ``Visits`` records each one under a page type (its latency, its status, or the error
that stood for one) and prints requests/s and p50/p95/p99 per page type.
"""

from __future__ import annotations

import http.client
import re
import secrets
import socket
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

TIMEOUT = 10.0
"""Seconds a request may take: past this it is a hang, counted as an error."""

PATIENCE = 60.0
"""Seconds a browser waits for an answer. Longer than ``TIMEOUT``: a person whose page is
slow waits rather than sending it again, so a late answer is counted as an error without
leaving the server work nobody waits for."""

TOO_SLOW = "past 10 s"


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no answer (refused, reset, timed out)
    headers: http.client.HTTPMessage | None
    body: str
    error: str = ""

    def cookie(self, name: str) -> str | None:
        jar: SimpleCookie = SimpleCookie()
        for header in (self.headers.get_all("Set-Cookie") or []) if self.headers else []:
            jar.load(header)
        return jar[name].value if name in jar else None

    @property
    def request_id(self) -> str:
        return self.headers.get("X-Request-Id", "") if self.headers else ""

    @property
    def location(self) -> str:
        return self.headers.get("Location", "") if self.headers else ""


def request(
    port: int,
    host: str,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | str | None = None,
    timeout: float = PATIENCE,
) -> Answer:
    """One request on a new connection; a connection error or timeout is ``status`` 0."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers={"Host": host, **(headers or {})})
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read().decode(errors="replace"))
    except (OSError, http.client.HTTPException) as error:
        kind = "timeout" if isinstance(error, socket.timeout) else type(error).__name__
        return Answer(0, None, "", kind)
    finally:
        connection.close()


@dataclass(frozen=True)
class Visit:
    page: str  # the page type
    started: float  # time.monotonic()
    seconds: float
    status: int
    error: str  # "" when the answer was the expected one
    request_id: str = ""  # the X-Request-Id the service answered with


@dataclass
class Visits:
    """Every timed request of a run, by page type; safe to add to from many threads."""

    items: list[Visit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(
        self, page: str, send: Callable[[], Answer], expected: Callable[[Answer], bool]
    ) -> Answer:
        started = time.monotonic()
        answer = send()
        seconds = time.monotonic() - started
        error = TOO_SLOW if seconds > TIMEOUT else ""
        if not expected(answer):
            error = answer.error or f"{answer.status}"
            if answer.location:
                error += f" to {urlsplit(answer.location).path}"
        with self.lock:
            self.items.append(
                Visit(page, started, seconds, answer.status, error, answer.request_id)
            )
        return answer

    def between(self, start: float, end: float) -> list[Visit]:
        """The visits that overlapped ``[start, end]``."""
        with self.lock:
            return [v for v in self.items if v.started <= end and v.started + v.seconds >= start]

    def since(self, start: float) -> list[Visit]:
        with self.lock:
            return [v for v in self.items if v.started >= start]


def percentile(values: list[float], percent: float) -> float:
    """The nearest-rank percentile (p99 of 50 values is the largest but one)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(percent / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass(frozen=True)
class PageFigures:
    page: str
    count: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, page: str, visits: list[Visit]) -> PageFigures:
        ms = [visit.seconds * 1000 for visit in visits]
        return cls(
            page,
            len(visits),
            sum(1 for visit in visits if visit.error),
            statistics.median(ms),
            percentile(ms, 95),
            percentile(ms, 99),
            max(ms),
        )


def figures_by_page(visits: list[Visit]) -> list[PageFigures]:
    pages: dict[str, list[Visit]] = {}
    for visit in visits:
        pages.setdefault(visit.page, []).append(visit)
    return [PageFigures.of(page, pages[page]) for page in sorted(pages)]


def print_page_table(
    figures: list[PageFigures],
    seconds: float,
    target_ms: float,
    other_targets: dict[str, float] | None = None,
) -> bool:
    """Requests/s, latencies and errors per page type; returns whether each page type had no
    error and a p99 under ``target_ms`` (or its own in ``other_targets``)."""
    print(
        f"  {'page type':<28}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'p99 ms':>8}{'max ms':>8}{'errors':>8}"
    )
    met = True
    for row in figures:
        ok = row.errors == 0 and row.p99_ms < (other_targets or {}).get(row.page, target_ms)
        met &= ok
        print(
            f"  {row.page:<28}{row.count:>9}{row.count / seconds:>8.1f}{row.p50_ms:>8.0f}"
            f"{row.p95_ms:>8.0f}{row.p99_ms:>8.0f}{row.max_ms:>8.0f}{row.errors:>8}"
            + ("" if ok else "   MISSED")
        )
    total = sum(row.count for row in figures)
    errors = sum(row.errors for row in figures)
    print(f"  {'all':<28}{total:>9}{total / seconds:>8.1f}{'':>40}{errors:>8}")
    return met


CSRF_FIELD = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*\bvalue="([^"]+)"')


class Browser:
    """One person's browser: its session cookie and CSRF token, its requests timed in
    ``visits``, each sent to the port ``route(method, path, content_type)`` names (as Caddy
    would)."""

    def __init__(
        self,
        route: Callable[[str, str, str], int],
        host: str,
        cookie_name: str,
        visits: Visits,
        timeout: float = PATIENCE,
    ) -> None:
        self.route, self.host, self.cookie_name, self.visits = route, host, cookie_name, visits
        self.timeout = timeout
        self.cookie: str | None = None
        self.token: str | None = None

    def send(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: object = None
    ) -> Answer:
        sent = dict(headers or {})
        if self.cookie:
            sent["Cookie"] = f"{self.cookie_name}={self.cookie}"
        port = self.route(method, path, sent.get("Content-Type", ""))
        answer = request(port, self.host, method, path, sent, body, self.timeout)  # type: ignore[arg-type]
        if (cookie := answer.cookie(self.cookie_name)) is not None:
            self.cookie = cookie or None
        if answer.status in (302, 303) and urlsplit(answer.location).path == "/login":
            self.cookie = None  # signed out, or the session ended: not signed in any more
        if token := CSRF_FIELD.search(answer.body):
            self.token = token[1]
        return answer

    def get(self, page: str, path: str, expect: int = 200) -> Answer:
        return self.visits.timed(
            page, lambda: self.send("GET", path), lambda answer: answer.status == expect
        )

    def post(
        self,
        page: str,
        path: str,
        fields: dict[str, str],
        *,
        expect: Callable[[Answer], bool] = lambda answer: answer.status == 303,
        photo: bytes | None = None,
    ) -> Answer:
        """A form as a browser sends it (multipart when it carries a photo), with the token."""
        fields = {**fields, "csrf_token": self.token or ""}
        if photo is None:
            body: bytes = urlencode(fields, doseq=True).encode()
            content_type = "application/x-www-form-urlencoded"
        else:
            body, content_type = multipart(fields, "photo", "IMG_0001.JPG", photo)
        headers = {"Content-Type": content_type}
        return self.visits.timed(page, lambda: self.send("POST", path, headers, body), expect)

    def sign_in(self, email: str, password: str, pin: str) -> Answer:
        """GET /login (cookie, token) then POST /login; signed in when it answers 303 to /."""
        self.cookie = None
        form = self.get("sign-in form", "/login")
        if form.status != 200:
            return form  # no form to fill in (a server is down): a person would come back
        fields = {"email": email, "password": password, "pin": pin}
        answer = self.post("sign-in", "/login", fields, expect=_signed_in)
        if not _signed_in(answer):
            self.cookie = None
        return answer

    def sign_out(self) -> Answer:
        """From the account page, as a person does: its form carries the session's token."""
        self.get("account", "/account")
        return self.post("sign-out", "/logout", {})


def _signed_in(answer: Answer) -> bool:
    return answer.status == 303 and urlsplit(answer.location).path == "/"


def multipart(
    fields: dict[str, str | list[str]], file_field: str, file_name: str, data: bytes
) -> tuple[bytes, str]:
    """A multipart/form-data body as a browser sends a form with a file input."""
    boundary = f"----lj-bench-{secrets.token_hex(12)}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, values in fields.items()
        for value in (values if isinstance(values, list) else [values])
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{file_name}"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
