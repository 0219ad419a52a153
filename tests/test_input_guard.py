"""Bad input of any kind answers 4xx with the normal error page, never 500.

``test_no_route_answers_500_to_bad_input`` walks Flask's URL map and sends every route,
as each kind of person, ids no row can have, huge and malformed page numbers, control
characters in the path, query, form and JSON, and every form field of the app set to
each of those values.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug import formparser
from werkzeug.datastructures import FileStorage
from werkzeug.routing.converters import NumberConverter
from werkzeug.test import encode_multipart

from app.input_guard import JSON_REFUSED, MAX_ROW_ID, REFUSED_MESSAGE, RowIdConverter
from tests.helpers.clients import client_for, csrf_token, post_form
from tests.helpers.journal import observe, photo_bytes, signed_in, upload
from tests.routes import app_forms, app_routes, form_fields, real_ids

HUGE = "99999999999999999999"
BAD_IDS = [str(MAX_ROW_ID + 1), HUGE, "0", "-1", "abc", "%00", "%D9%A1"]  # %D9%A1: Arabic 1
BAD_TEXT = ["%00", "%0d%0a", "%C2%85", "x" * 3000]
BAD_QUERIES = [
    f"page={HUGE}",
    "page=-1",
    "page=abc",
    f"child={HUGE}",
    f"child={MAX_ROW_ID + 1}",
    "next=%0d%0a",
    "q=%00",
    "area=%00",
    "date_from=99999-99-99",
]
BAD_FIELD_VALUES = ["\x00", HUGE, str(MAX_ROW_ID + 1), "-1", "x" * 3000]
BAD_JSON = {"text": "\u0000", "caption": "\ud800", "child_id": HUGE}


def test_every_numeric_url_part_is_a_bounded_row_id(app: Flask) -> None:
    for rule in app.url_map.iter_rules():
        for name, converter in (rule._converters or {}).items():
            assert not isinstance(converter, NumberConverter), (
                f"{rule.rule}: <{name}> must use the bounded <id:...> converter"
            )


@pytest.mark.parametrize(
    "path",
    [
        "/journal/children/{id}",
        "/people/children/{id}",
        "/journal/observations/{id}",
        "/journal/children/1/photos/{id}/thumb",
        "/people/staff/{id}",
    ],
)
@pytest.mark.parametrize("number", [MAX_ROW_ID + 1, 10**20, 0])
def test_an_id_no_row_can_have_is_not_found(setting_with_manager, path, number) -> None:
    _setting, client, _email = setting_with_manager
    response = client.get(path.format(id=number))
    assert response.status_code == 404
    assert "Page not found" in response.text


def test_the_largest_id_is_looked_up_and_not_found(setting_with_manager) -> None:
    _setting, client, _email = setting_with_manager
    assert client.get(f"/journal/children/{MAX_ROW_ID}").status_code == 404


@pytest.mark.parametrize("value", ["12", "007", str(MAX_ROW_ID)])
def test_row_ids_in_range_are_read_as_numbers(value: str) -> None:
    assert RowIdConverter.to_python(None, value) == int(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        {"email": "a\x00b@example.org", "password": "x" * 12, "pin": "123456"},
        {"email": "a@example.org", "password": "pass\x07word1234", "pin": "123456"},
        {"email": "a@example.org\x1b", "password": "x" * 12, "pin": "12\x7f3456"},
    ],
)
def test_control_characters_in_a_form_are_refused_with_the_error_page(app, member, data):
    setting, _email = member
    client = client_for(app, setting.slug)
    response = client.post("/login", data={**data, "csrf_token": csrf_token(client)})
    assert response.status_code == 400
    assert REFUSED_MESSAGE in response.text.replace("&#39;", "'")


def test_control_characters_in_a_policy_textarea_are_refused(app, family):
    manager = signed_in(app, family, "manager")
    response = manager.post(
        "/journal/policies",
        data={"blocked_phrases": "bad\x00word", "csrf_token": csrf_token(manager, "/")},
    )
    assert response.status_code == 400


def test_line_breaks_and_tabs_in_a_textarea_are_ordinary_text(app, family):
    manager = signed_in(app, family, "manager")
    response = manager.post(
        "/journal/policies",
        data={
            "group_names": "hidden",
            "mode": "warn",
            "blocked_phrases": "one\r\ntwo\tthree",
            "csrf_token": csrf_token(manager, "/"),
        },
    )
    assert response.status_code in (200, 303)


@pytest.mark.parametrize("where", ["query", "header", "file name", "field name"])
def test_control_characters_anywhere_else_are_refused(app, member, where):
    setting, _email = member
    client = client_for(app, setting.slug)
    if where == "query":
        response = client.get("/login?email=%00")
    elif where == "header":
        response = client.get("/login", headers={"Referer": "http://x/\x00"})
    elif where == "file name":
        response = client.post("/login", data={"photo": (io.BytesIO(b"x"), "a\x00.jpg")})
    else:  # a line break cuts a multipart part's name short: werkzeug reads no name
        response = client.post("/login", data={"\r\n": "x"}, content_type="multipart/form-data")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "document",
    [{"email": "a\u0000b"}, {"leaving_date": {"day": 1}}, {"full_name": 7}, ["x"], None],
)
def test_a_json_body_is_refused_whatever_it_holds(app, family, document):
    manager = signed_in(app, family, "manager")
    response = manager.post(
        f"/people/children/{family.child_a_id}/leaving",
        data=json.dumps(document),
        content_type="application/json",
        headers={"X-CSRFToken": csrf_token(manager, "/")},
    )
    assert response.status_code == 415
    assert JSON_REFUSED in response.text


# ---------------------------------------------------------------- the walk


def _every_form_field_name() -> set[str]:
    return {name for form in app_forms() for name in form_fields(form)}


def _requests(app: Flask, ids: dict[str, str]) -> Iterator[tuple[str, str, dict]]:
    """(method, path, keyword arguments of the test client) for every bad input of every
    route; ids of real rows where an argument is not the one being spoiled."""
    fields = _every_form_field_name()
    for route in app_routes(app):
        # Signing out would end the walk's session; readiness answers 503 by design
        # while a part of the service (here: a worker) is missing, whatever is sent.
        if route.rule in ("/logout", "/readyz"):
            continue
        for method in route.methods:
            for name, kind in route.parts.items():
                for bad in BAD_IDS if kind == "id" else BAD_TEXT:
                    yield method, route.path_with(ids, **{name: bad}), {}
            path = route.path_with(ids)
            if method == "GET":
                for query in BAD_QUERIES:
                    yield method, f"{path}?{query}", {}
            if method == "POST":
                for value in BAD_FIELD_VALUES:
                    yield method, path, {"data": dict.fromkeys(fields, value)}
                yield method, path, {"json": BAD_JSON}


@pytest.mark.parametrize("who", ["manager", "parent_a", "anonymous"])
def test_no_route_answers_500_to_bad_input(app, family, who):
    client = signed_in(app, family, who)
    token = csrf_token(client, "/login")
    answers: dict[int, list[str]] = {}
    for method, path, kwargs in _requests(app, real_ids(app, family)):
        if "data" in kwargs:
            kwargs = {"data": {**kwargs["data"], "csrf_token": token}}
        try:
            status = client.open(path, method=method, **kwargs).status_code
        except Exception as error:  # TESTING lets a view's exception through: a 500
            status, path = 500, f"{path} ({error!r:.200})"
        answers.setdefault(status, []).append(f"{method} {path[:300]}")
    server_errors = {code: where for code, where in answers.items() if code >= 500}
    assert not server_errors
    assert sum(len(where) for where in answers.values()) > 500  # the walk did walk


def test_a_large_photo_is_uploaded_without_writing_it_to_a_temporary_file(
    app, family, monkeypatch
) -> None:
    def no_temporary_file(*args: object, **kwargs: object) -> None:
        raise AssertionError("the upload was spooled to a temporary file")

    # Werkzeug spools each file part to one of these, on disk past 500 KB.
    monkeypatch.setattr(formparser, "SpooledTemporaryFile", no_temporary_file)
    draft_id = observe(app, family, [family.child_a_id], "Ada's painting.", publish=False)
    photo = photo_bytes(1600, 1200)
    assert len(photo) > 500 * 1024
    staff = signed_in(app, family, "staff")
    response = post_form(
        staff,
        f"/journal/observations/{draft_id}/photos",
        {"photo": [upload(photo)], "caption": "The painting"},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code == 200 and "The photo is added." in response.text


class _RecordedBody(io.BytesIO):
    """A request body that records the size of each read the app asks of it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.reads.append(-1 if size is None else size)
        return super().read(size)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        self.reads.append(len(buffer))
        return super().readinto(buffer)


def test_an_upload_is_read_from_the_server_a_mebibyte_at_a_time(app, family) -> None:
    # gunicorn's reader copies what it has received but not yet handed over on every
    # read: asked for Werkzeug's 64 KiB at a time, a 7.7 MB photo cost ~4 ms more CPU
    # (bench/README.md, "Load and faults: figures").
    draft_id = observe(app, family, [family.child_a_id], "Ada's painting.", publish=False)
    staff = signed_in(app, family, "staff")
    photo = photo_bytes(3000, 2250)
    fields = {"caption": "The painting", "csrf_token": csrf_token(staff, "/login")}
    boundary, data = encode_multipart({**fields, "photo": FileStorage(io.BytesIO(photo), "a.jpg")})
    body = _RecordedBody(data)

    response = staff.post(
        f"/journal/observations/{draft_id}/photos",
        input_stream=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        content_length=len(data),
        follow_redirects=True,
    )

    assert response.status_code == 200 and "The photo is added." in response.text
    assert len(data) > 2 * 1024 * 1024
    assert min(body.reads[:-2]) >= 1024 * 1024, body.reads[:10]  # all but the last two
