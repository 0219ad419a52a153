"""Hostile input to every form field and query parameter of every route, as each role.

Hypothesis builds each request from what its route reads: the fields of the Flask-WTF
forms the view's code uses (found in the code, so a new route, form or field is fuzzed
with no edit here) and the query parameters its page looks up (recorded while the page
is read once). Each value is either plausible for its field (a date, a number, a real
choice, a small photo), so that validation is passed and what lies behind it is reached,
or hostile: control characters, invalid UTF-8, 100 KB, huge and negative numbers,
markup, SQL, a field sent twice; the body is a form, a multipart upload with junk files,
JSON, or something else under a wrong content type. The CSRF token is always right: the
real validation is fuzzed, not the CSRF refusal.

Every answer is held to three rules:
- never a 5xx;
- markup sent never comes back unescaped in a page;
- a refused request (4xx) writes nothing: the row count of every table of the setting's
  schema and of ``public`` is the same after it as before.

The normal run sends NORMAL_INPUTS per role, the same ones each run (derandomized);
``--run-slow`` sends SLOW_INPUTS per role, new ones each run. Each run prints its count.
"""

from __future__ import annotations

import html
import inspect
import io
import json
import struct
import time
import types
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import ClassVar
from urllib.parse import urlencode

import psycopg
import pytest
from flask import Flask, Request, Response
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, MultipleFileField
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import ImmutableMultiDict
from wtforms import BooleanField, DateField, EmailField, IntegerField
from wtforms.fields.choices import SelectChoice
from wtforms.fields.core import UnboundField

from app.auth.models import AccountStatus, Role
from app.extensions import db
from app.people.children import create_child
from app.people.links import link_parent
from tests.helpers.clients import (
    POLICY_VERSION_FIELD,
    accept_usage_policy,
    csrf_token,
    is_signed_out,
    sign_in,
)
from tests.helpers.journal import EMAILS, photo_bytes, signed_in
from tests.helpers.people import PASSWORD, PIN, add_user, child_details, get_user, inside
from tests.routes import Route, app_forms, app_routes, form_fields, real_ids

ROLES = ("manager", "staff", "parent_a", "anonymous")
NORMAL_INPUTS = 75  # per role: a few hundred in the normal run
SLOW_INPUTS = 2_500  # per role: 10,000 with --run-slow

# Signing out would end the run's own session; readiness answers 503 by design while a
# part of the service (here, a worker) is missing, whatever is sent.
NOT_FUZZED = frozenset({"auth.logout", "ops.readyz"})
# Accepted requests archive children and delete observations (archiving a child takes
# only the CSRF token): every so many inputs the run moves on to new rows.
FRESH_ROWS_EVERY = 200

# Refusals the setting must remember (a wrong password or PIN counts toward the lockout)
# are written to the audit log on purpose: its rows of these events are not counted.
REFUSAL_EVENTS = ("signin_failed", "recheck_failed", "recheck_refused", "locked", "cooldown")

MARKUP = ("<script>alert('lj-fuzz')</script>", '"><img src=x onerror=ljFuzz()>')
HOSTILE: tuple[str | bytes, ...] = (
    *MARKUP,
    "\x00",
    "a\x00b",
    "\x1b[31m",
    "\x7f",
    "\u0085",
    "\u202e\u200b\ufeff",
    "x" * 100_000,
    "é" * 50_000,
    "' OR '1'='1",
    "'; DROP TABLE children; --",
    "1); SELECT pg_sleep(0); --",
    "{{ 7 * 7 }}",
    "%s%s%n",
    "../../../../etc/passwd",
    "99999999999999999999",
    "-99999999999999999999",
    "2147483648",
    "-2147483649",
    "-1",
    "0",
    "1e309",
    "NaN",
    "0x10",
    "9999-12-31",
    "0001-01-01",
    "10000-01-01",
    "2026-02-30",
    "",
    " ",
    "\r\n",
    "🙂" * 30,
    b"\xff\xfe",
    b"\xc3\x28",
    b"\xed\xa0\x80",  # a surrogate, encoded
    b"\xf4\x90\x80\x80",  # past U+10FFFF
    b"caf\xe9",  # Latin-1
)


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` by ``height`` pixels, with almost no pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


JUNK_FILES: tuple[tuple[bytes, str, str], ...] = (
    (b"", "empty.jpg", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "truncated.png", "image/png"),
    (b"GIF89a" + b"\xff" * 64, "junk.gif", "image/gif"),
    (b"<svg onload=ljFuzz()></svg>", "<script>.svg", "image/svg+xml"),
    (b"%PDF-1.4 junk", "../../etc/passwd", "application/pdf"),
    (b"\x00" * 2048, "a" * 300 + ".jpg", "image/jpeg"),
    (b"MZ\x90\x00", "\u202egpj.exe", "application/octet-stream"),
    (_png_claiming(60_000, 60_000), "bomb.png", "image/png"),
)
WRONG_CONTENT_TYPES = (
    "text/plain",
    "application/xml",
    "application/octet-stream",
    "multipart/form-data",  # no boundary
    "application/x-www-form-urlencoded; charset=latin-1",
    "application/json",
)


# ---------------------------------------------------------------- what each route reads


def _names_in_code(function: types.FunctionType) -> set[str]:
    names, codes = set(), [function.__code__]
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes.extend(const for const in code.co_consts if isinstance(const, types.CodeType))
    return names


def forms_used_by(view: Callable) -> set[type[FlaskForm]]:
    """The form classes a view's code names, itself or through the app's functions it calls."""
    forms: set[type[FlaskForm]] = set()
    seen: set[Callable] = set()
    todo = [inspect.unwrap(view)]
    while todo:
        function = todo.pop()
        if function in seen or not isinstance(function, types.FunctionType):
            continue
        seen.add(function)
        for name in _names_in_code(function):
            named = function.__globals__.get(name)
            if isinstance(named, type) and issubclass(named, FlaskForm):
                forms.add(named)
            elif callable(named) and getattr(named, "__module__", "").startswith("app."):
                todo.append(inspect.unwrap(named))
    return forms


class _RecordingArgs(ImmutableMultiDict):
    """Query parameters that remember which names the app looked up."""

    looked_up: ClassVar[set[str]] = set()

    def __contains__(self, key: object) -> bool:
        self.looked_up.add(str(key))
        return super().__contains__(key)

    def __getitem__(self, key: str) -> str:
        self.looked_up.add(key)
        return super().__getitem__(key)

    def getlist(self, key: str, type: Callable | None = None) -> list:
        self.looked_up.add(key)
        return super().getlist(key, type)


class _RecordingRequest(Request):
    parameter_storage_class = _RecordingArgs


@dataclass(frozen=True)
class Target:
    """One route and method, with the form fields and query parameters it reads."""

    endpoint: str
    method: str
    route: Route
    fields: dict[str, UnboundField] = field(hash=False, repr=False)
    query: tuple[str, ...]


def targets_of(app: Flask, client, ids: dict[str, str], monkeypatch) -> list[Target]:
    """Every route and method to fuzz; each page is read once (as ``client``) to record
    the query parameters it looks up."""
    monkeypatch.setattr(app, "request_class", _RecordingRequest)
    query_of: dict[str, set[str]] = {}
    for route in app_routes(app):
        if "GET" in route.methods and route.endpoint not in NOT_FUZZED:
            _RecordingArgs.looked_up = set()
            client.get(route.path_with(ids))
            query_of.setdefault(route.rule, set()).update(_RecordingArgs.looked_up)
    monkeypatch.undo()
    targets = []
    for route in app_routes(app):
        if route.endpoint in NOT_FUZZED:
            continue
        fields = {
            name: unbound
            # In a fixed order, so that a derandomized run sends the same inputs each time.
            for form in sorted(forms_used_by(app.view_functions[route.endpoint]), key=str)
            for name, unbound in form_fields(form).items()
            if name != "csrf_token"
        }
        query = tuple(sorted(query_of.get(route.rule, set())))
        for method in route.methods:
            targets.append(Target(route.endpoint, method, route, fields, query))
    return targets


# ---------------------------------------------------------------- values and requests

# Text of every script but control characters, which input_guard refuses before any
# view: HOSTILE holds a few, so that most requests reach the forms' own checks.
PRINTABLE = st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=30)
HOSTILE_VALUES = st.sampled_from(HOSTILE) | PRINTABLE | st.integers().map(str)


def _choice_values(unbound: UnboundField, ids: dict[str, str]) -> list[str]:
    choices = unbound.kwargs.get("choices") or ()
    values = [
        choice
        if isinstance(choice, str)
        else str(choice.value if isinstance(choice, SelectChoice) else choice[0])
        for choice in choices
    ]
    return values or list(ids.values())  # choices offered by the view: rows of the setting


def plausible(unbound: UnboundField, ids: dict[str, str]) -> st.SearchStrategy[str]:
    """A value the field would accept on its own (the view may still refuse it)."""
    kind = unbound.field_class
    if "choices" in unbound.kwargs or "coerce" in unbound.kwargs:
        return st.sampled_from(_choice_values(unbound, ids))
    if issubclass(kind, DateField):
        return st.dates().map(lambda day: day.isoformat())
    if issubclass(kind, IntegerField):
        return st.integers(-5, 120).map(str)
    if issubclass(kind, BooleanField):
        return st.just("y")
    if issubclass(kind, EmailField):
        return st.sampled_from(["fuzz@example.org", "Parent-A@Example.org "])
    return st.just("Ada Okafor") | PRINTABLE


@st.composite
def pairs(draw, fields: dict[str, UnboundField | None], ids: dict[str, str]) -> list:
    """(name, value) pairs: each field left out, sent once or sent twice, with a plausible
    or a hostile value (from one hostile field to all of them); now and then a stranger."""
    hostile_in_ten = draw(st.sampled_from([1, 3, 10]))
    sent: list[tuple[str | bytes, str | bytes]] = []
    for name, unbound in fields.items():
        for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2]))):
            hostile = unbound is None or draw(st.integers(0, 9)) < hostile_in_ten
            sent.append((name, draw(HOSTILE_VALUES if hostile else plausible(unbound, ids))))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        sent.append((draw(st.sampled_from(HOSTILE) | PRINTABLE), draw(HOSTILE_VALUES)))
    return sent


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


@dataclass
class FuzzRequest:
    """One request as drawn; ``kwargs`` adds the session's CSRF token when it is sent."""

    endpoint: str
    method: str
    path: str
    body: str = "none"  # form, multipart, json or a wrong content type
    fields: list[tuple[str | bytes, str | bytes]] = field(default_factory=list)
    upload: tuple[str, bytes, str, str] | None = None  # field, content, file name, type
    document: dict = field(default_factory=dict)  # JSON of the wrong types, added
    raw: bytes = b""

    def kwargs(self, token: str) -> dict:
        sent = [*self.fields, ("csrf_token", token)]
        kwargs: dict = {"headers": {"X-CSRFToken": token}}
        if self.body == "form":
            kwargs["data"] = urlencode(sent).encode()
            kwargs["content_type"] = "application/x-www-form-urlencoded"
        elif self.body == "multipart":
            parts: list = [(_text(name), _text(value)) for name, value in sent]
            if self.upload:
                name, content, file_name, content_type = self.upload
                parts.append((name, (io.BytesIO(content), file_name, content_type)))
            kwargs["data"] = ImmutableMultiDict(parts)
            kwargs["content_type"] = "multipart/form-data"
        elif self.body == "json":
            kwargs["data"] = json.dumps({**{_text(n): _text(v) for n, v in sent}, **self.document})
            kwargs["content_type"] = "application/json"
        elif self.body != "none":
            kwargs["data"] = self.raw
            kwargs["content_type"] = self.body
        return kwargs

    def __str__(self) -> str:
        shown = self.fields or self.document or self.raw
        return f"{self.method} {self.path[:200]} {self.body} {str(shown)[:300]}"


def _uploads(names: list[str]) -> st.SearchStrategy:
    files = (
        st.sampled_from(JUNK_FILES)
        | st.just((photo_bytes(8, 8), "photo.jpg", "image/jpeg"))
        | st.binary(max_size=512).map(lambda data: (data, "random.jpg", "image/jpeg"))
    )
    return st.tuples(st.sampled_from(names), files).map(lambda upload: (upload[0], *upload[1]))


def _json_values() -> st.SearchStrategy:
    """Values of the wrong JSON type for a form field: numbers, lists, objects, null."""
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=8,
    )


def _file_fields(target: Target) -> list[str]:
    names = [
        name
        for name, unbound in target.fields.items()
        if issubclass(unbound.field_class, (FileField, MultipleFileField))
    ]
    return names or ["photo", "logo"]


@st.composite
def requests(draw, targets: list[Target], ids: dict[str, str]) -> FuzzRequest:
    target = draw(st.sampled_from(targets))
    in_query = dict.fromkeys(target.query) | (target.fields if target.method == "GET" else {})
    query = urlencode(draw(pairs(in_query, ids)))
    path = target.route.path_with(ids)  # the rows of the moment: see fresh_rows
    path = f"{path}?{query}" if query else path
    request = FuzzRequest(target.endpoint, target.method, path)
    if target.method == "GET":
        return request
    # Mostly forms, so that validation is reached; a JSON body or a wrong content type
    # is refused whatever it holds.
    request.body = draw(
        st.sampled_from(["form", "form", "form", "multipart", "multipart"])
        | st.sampled_from(["json", *WRONG_CONTENT_TYPES])
    )
    request.fields = draw(pairs(target.fields, ids))
    if request.body == "multipart":
        request.upload = draw(_uploads(_file_fields(target)))
    elif request.body == "json":
        names = st.sampled_from([*target.fields, "x"])
        request.document = draw(st.dictionaries(names, _json_values(), max_size=3))
    else:
        request.raw = draw(st.binary(max_size=2048))
    return request


# ---------------------------------------------------------------- the checks


def _count(schema: str, table: str) -> str:
    if table == "audit_log":
        events = ", ".join(f"'{event}'" for event in REFUSAL_EVENTS)
        return f'(SELECT count(*) FROM "{schema}".audit_log WHERE event NOT IN ({events}))'
    return f'(SELECT count(*) FROM "{schema}"."{table}")'


class RowCounts:
    """The row count of every table of one setting's schema and of ``public``, in one query."""

    def __init__(self, database_url: str, slug: str) -> None:
        self.connection = psycopg.connect(database_url, autocommit=True)
        schema = self.connection.execute(
            "SELECT schema_name FROM public.settings WHERE slug = %s", (slug,)
        ).fetchone()[0]
        tables = self.connection.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema IN ('public', %s) AND table_type = 'BASE TABLE'"
            " ORDER BY 1, 2",
            (schema,),
        ).fetchall()
        self.tables = [f"{schema_name}.{table}" for schema_name, table in tables]
        self.query = "SELECT " + ", ".join(_count(s, t) for s, t in tables)

    def now(self) -> dict[str, int]:
        return dict(zip(self.tables, self.connection.execute(self.query).fetchone(), strict=True))

    def close(self) -> None:
        self.connection.close()


def problems_with(
    request: FuzzRequest, response, before: dict[str, int], counts: RowCounts
) -> Iterator[str]:
    if response.status_code >= 500:
        yield f"{response.status_code}: {request}"
    if response.mimetype == "text/html":
        page = response.get_data(as_text=True)
        for markup in MARKUP:
            if markup in page:
                yield f"markup came back unescaped: {request}"
    if 400 <= response.status_code < 500:
        after = counts.now()
        changed = {
            table: (before[table], after[table])
            for table in before
            if before[table] != after[table]
        }
        if changed:
            yield f"{response.status_code} but rows changed {changed}: {request}"


@dataclass
class Run:
    """What one role's run sent and found."""

    inputs: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    signed_in_again: int = 0
    accepted: set[tuple[str, str]] = field(default_factory=set)  # endpoints answering < 400


def fuzz(app, family, who: str, inputs: int, monkeypatch, servers, *, derandomize: bool) -> Run:
    client = signed_in(app, family, who)
    session = {"token": csrf_token(client, "/login")}
    ids = real_ids(app, family)
    targets = targets_of(app, client, ids, monkeypatch)
    counts = RowCounts(servers["DATABASE_URL"], family.slug)
    run = Run()

    @settings(
        max_examples=inputs,
        deadline=None,
        database=None,
        derandomize=derandomize,
        phases=[Phase.generate],  # every problem is collected; none is shrunk
        suppress_health_check=list(HealthCheck),
    )
    @given(requests(targets, ids))
    def send(request: FuzzRequest) -> None:
        before = counts.now()
        try:
            kwargs = request.kwargs(session["token"])
            response = client.open(request.path, method=request.method, **kwargs)
        except Exception as error:  # TESTING lets a view's exception through: a 500
            run.problems.append(f"500 ({error!r:.300}): {request}")
            return
        run.inputs += 1
        run.statuses[response.status_code] = run.statuses.get(response.status_code, 0) + 1
        run.problems.extend(problems_with(request, response, before, counts))
        if response.status_code < 400:
            run.accepted.add((request.endpoint, request.method))
        if _stay_signed_in(family, who, client, response):
            session["token"] = csrf_token(client, "/login")
            run.signed_in_again += 1
        if run.inputs % FRESH_ROWS_EVERY == 0:
            ids.update(fresh_rows(app, family))

    try:
        send()
    finally:
        counts.close()
    return run


def fresh_rows(app, family) -> dict[str, str]:
    """Ids (as ``real_ids``) of a new child, of parent A's while parent A is active, and of
    a new published observation of them with a photo (its author, the member of staff,
    made active again if a fuzzed request deactivated them)."""
    with inside(app, family.slug):
        manager = get_user(family.manager_id)
        get_user(family.staff_id).status = AccountStatus.ACTIVE
        child = create_child(child_details(), by=manager, confirm_duplicate=True)
        parent = get_user(family.parent_a_id)
        if parent.status is AccountStatus.ACTIVE:
            link_parent(parent, child, "Mother", by=manager)
        db.session.commit()
        child_id = child.id
    return real_ids(app, replace(family, child_a_id=child_id))


def _stay_signed_in(family, who: str, client, response) -> bool:
    """Sign in again, or accept a newly published usage policy, when an accepted request
    ended the run's own session or put a step before every page, so that the rest of the
    run still reaches the pages; True when the session (and its CSRF token) changed."""
    if who == "anonymous":
        return False
    if response.headers.get("Location", "").endswith("/usage-policy"):
        if POLICY_VERSION_FIELD.search(client.get("/usage-policy").text):
            accept_usage_policy(client)
        return False
    if is_signed_out(response):
        sign_in(client, family.email(EMAILS[who]), PASSWORD, PIN)
        return True
    return False


def _report(who: str, run: Run, seconds: float) -> None:
    print(
        f"\nfuzz {who}: {run.inputs} inputs in {seconds:.1f} s;"
        f" answers {dict(sorted(run.statuses.items()))};"
        f" {len(run.accepted)} routes accepted at least one; signed in again {run.signed_in_again}"
    )


def _fuzz_and_check(app, family, who, inputs, monkeypatch, servers, *, derandomize: bool) -> None:
    started = time.monotonic()
    run = fuzz(app, family, who, inputs, monkeypatch, servers, derandomize=derandomize)
    _report(who, run, time.monotonic() - started)
    assert run.problems == [], "\n".join(run.problems[:50])
    assert run.inputs >= inputs * 0.9


@pytest.mark.parametrize("who", ROLES)
def test_hostile_input_is_refused_cleanly(app, family, who, monkeypatch, servers):
    _fuzz_and_check(app, family, who, NORMAL_INPUTS, monkeypatch, servers, derandomize=True)


@pytest.mark.slow
@pytest.mark.parametrize("who", ROLES)
def test_hostile_input_is_refused_cleanly_at_length(app, family, who, monkeypatch, servers):
    _fuzz_and_check(app, family, who, SLOW_INPUTS, monkeypatch, servers, derandomize=False)


def test_every_form_of_the_app_is_fuzzed_through_a_route(app):
    used = {form for view in app.view_functions.values() for form in forms_used_by(view)}
    # A base class (e.g. DateRangeForm) is fuzzed through the forms made from it.
    reached = {base for form in used for base in form.__mro__}
    assert set(app_forms()) - reached - {FlaskForm} == set()


def test_the_checks_see_a_server_error_unescaped_markup_and_a_write(app, family, servers):
    counts = RowCounts(servers["DATABASE_URL"], family.slug)
    request = FuzzRequest("people.create_child", "POST", "/people/children/new")
    try:
        before = counts.now()
        with inside(app, family.slug):
            add_user("Wendy Written", "wendy@example.org", Role.PARENT, AccountStatus.INVITED)
            db.session.commit()
        refused = Response(f"<p>{MARKUP[0]}</p>", status=422, mimetype="text/html")
        found = list(problems_with(request, refused, before, counts))
        assert [problem.split(" ", 1)[0] for problem in found] == ["markup", "422"]
        assert ".users': (" in found[1]
        escaped = Response(f"<p>{html.escape(MARKUP[0])}</p>", status=422, mimetype="text/html")
        assert list(problems_with(request, escaped, counts.now(), counts)) == []
        broken = Response("", status=502)
        assert len(list(problems_with(request, broken, counts.now(), counts))) == 1
    finally:
        counts.close()
