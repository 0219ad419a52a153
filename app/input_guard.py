"""What every request must be before a view reads it.

One place turns malformed input into a 4xx, so no view can forget and answer 500:

- ``RowIdConverter`` (``<id:child_id>`` in a route) is the only way a URL carries a
  number. Row ids are PostgreSQL ``integer`` columns: a value outside 1 to 2**31 - 1 names
  no row, so the URL matches nothing and answers 404 instead of overflowing in the query.
- ``refuse_malformed_input`` answers 400 to a request whose query, form, uploaded file
  names, path values or headers hold a control character. No person types one;
  PostgreSQL refuses NUL in text, and the others would reach pages, emails and exports
  unseen. Tab, line feed and carriage return are ordinary text in a form.
- A JSON body is answered 415. No view reads one (forms are posted as forms, and a
  passkey's signed answer travels in a form field), but Flask-WTF would read it as the
  form's data and hand numbers, lists and objects to fields made for text.
- Uploaded files are read into memory (``FilesInMemoryRequest``), not spooled to disk,
  and a form with files is read from the server a mebibyte at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from io import BufferedReader, BytesIO, RawIOBase
from typing import IO

from flask import Flask, Request, abort, request
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.formparser import FormDataParser
from werkzeug.routing import BaseConverter, ValidationError

MAX_ROW_ID = 2**31 - 1  # the largest PostgreSQL ``integer``

# C0 controls but tab, line feed and carriage return; DEL; C1 controls; lone surrogates
# (only a JSON ``\ud800`` escape can make one, and no database accepts it).
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Header values are bytes read as Latin-1, where UTF-8 text can look like C1: refuse only
# C0 controls (a tab is allowed) and DEL.
_CONTROL_IN_HEADER = re.compile("[\x00-\x08\x0a-\x1f\x7f]")

REFUSED_MESSAGE = (
    "What was sent contains characters that cannot be used (control characters). "
    "Please check what you typed or pasted and try again."
)

NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})  # methods whose body no view reads
JSON_REFUSED = "This address takes a form, not JSON: nothing was changed."


class RowIdConverter(BaseConverter):
    """A row id in a path: ASCII digits, 1 to ``MAX_ROW_ID``; anything else is a 404."""

    # ASCII only: ``\\d`` would also take other scripts' digits, which ``int()`` accepts.
    regex = r"[0-9]+"
    weight = 50  # as werkzeug's own ``int``: a literal segment ("new") wins over an id
    part_isolating = True

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= MAX_ROW_ID:
            raise ValidationError  # werkzeug tries the other rules, then answers 404
        return number

    def to_url(self, value: object) -> str:
        return str(int(value))  # type: ignore[call-overload]


# gunicorn's largest read of a body (``gunicorn.http.body.MAX_READ_STEP``).
FORM_READ_SIZE = 1024 * 1024


class ReadAheadFormDataParser(FormDataParser):
    """Werkzeug's form parser, reading a multipart body ``FORM_READ_SIZE`` bytes at a time.

    Werkzeug asks for 64 KiB at a time, and gunicorn's reader receives up to 1 MiB and, on
    each read, copies what it has not handed over yet: a 7.7 MB photo was copied about
    sixteen times over, ~4 ms of CPU more a photo (bench/README.md, "Load and faults:
    figures"). The parse itself, its limits and its errors are Werkzeug's, unchanged.
    """

    def parse(
        self,
        stream: IO[bytes],
        mimetype: str,
        content_length: int | None,
        options: dict[str, str] | None = None,
    ) -> tuple[IO[bytes], MultiDict[str, str], MultiDict[str, FileStorage]]:
        # Werkzeug's LimitedStream (what it parses from behind gunicorn and the test client)
        # is a raw stream; anything else is parsed as it comes.
        if mimetype == "multipart/form-data" and isinstance(stream, RawIOBase):
            stream = BufferedReader(stream, FORM_READ_SIZE)
        return super().parse(stream, mimetype, content_length, options)


class FilesInMemoryRequest(Request):
    """A request whose uploaded files are kept in memory while the form is parsed.

    Werkzeug writes each file over 500 KB to a temporary file, which the view then reads
    back whole to check the image: for a phone's 7.5 MB photo that was 13 of the 24 ms of
    CPU Werkzeug spent on the form (bench/README.md, "Load"). In memory the file costs no
    more than those bytes, which the view holds anyway, and at most ``MAX_CONTENT_LENGTH``
    (refused before the form is read) per request a worker serves at once.
    """

    form_data_parser_class = ReadAheadFormDataParser

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> BytesIO:
        return BytesIO()


_ENVIRON_HEADERS = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})  # the two without HTTP_


def _header_values() -> str:
    """Every header value of the request, joined by spaces (not a control character), read
    from the WSGI environment: one search a request, and no header name rebuilt as
    ``request.headers`` rebuilds each."""
    environ = request.environ
    return " ".join(
        [
            value
            for key, value in environ.items()
            if key.startswith("HTTP_") or key in _ENVIRON_HEADERS
        ]
    )


def _text_sent() -> Iterator[str]:
    for name, value in request.args.items(multi=True):
        yield from (name, value)
    for name, value in (request.view_args or {}).items():
        yield name
        if isinstance(value, str):
            yield value
    if request.method in NO_BODY:
        return
    for name, value in request.form.items(multi=True):
        yield from (_part_name(name), value)
    for name, upload in request.files.items(multi=True):
        yield from (_part_name(name), upload.filename or "")


def _part_name(name: str | None) -> str:
    """A field's name; werkzeug gives none to a multipart part whose name a line break cut
    short, which no form sends."""
    if name is None:
        abort(400, description=REFUSED_MESSAGE)
    return name


def refuse_malformed_input() -> None:
    """Before any view: 415 when the body is JSON; 400 when the request carries a control
    character."""
    if request.is_json and request.method not in NO_BODY:
        abort(415, description=JSON_REFUSED)
    if _CONTROL_IN_HEADER.search(_header_values()):
        abort(400, description=REFUSED_MESSAGE)
    if any(_CONTROL_IN_TEXT.search(text) for text in _text_sent()):
        abort(400, description=REFUSED_MESSAGE)


def install_input_guard(app: Flask) -> None:
    """Register the ``id`` converter, the guard against malformed input, and the request
    class that reads uploads into memory.

    Call before any blueprint adds its routes, and after routing and the session-store
    check, so that the guard runs before CSRF, rate limits and every view read the input.
    """
    app.request_class = FilesInMemoryRequest
    app.url_map.converters["id"] = RowIdConverter
    app.before_request_funcs[None].insert(2, refuse_malformed_input)
