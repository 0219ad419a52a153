"""Where the CPU of a child's journal page goes, in this process (no load, no gunicorn).

Run from the repository root (PostgreSQL and Redis must answer):

    .venv/bin/python bench/profile_journal.py                 # 500 observations, 200 pages
    .venv/bin/python bench/profile_journal.py --pages 50      # a quicker look

It builds the journal of ``bench/journal.py`` (page 1 of 25, a quarter group observations,
a quarter with a photo) on the throwaway servers of ``bench/tenancy.py``, signs the parent
in through Flask's test client and fetches ``GET /journal/children/<id>`` again and again.
It prints:

1. CPU per page in this process and Python calls per page (``bench/page_variants.py``),
   beside the bare hello's (``bench/hello_wsgi.py``) through a test client;
2. the statements one page sends (a SQLAlchemy ``before_cursor_execute`` listener);
3. the page's CPU by step: cProfile's cumulative CPU time (not the waits for PostgreSQL or
   Redis) of each step's function, as a share of the whole request (steps nest only where
   said; what no step holds is Flask, Werkzeug, the test client, CSRF, security headers).

cProfile slows calls down evenly enough for proportions, not for absolute figures: the
microseconds beside each step are its share of the unprofiled CPU per page.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import sys
import time
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `bench.*` importable

from bench.auth import CSRF_FIELD  # noqa: E402
from bench.hello_wsgi import app as hello_app  # noqa: E402
from bench.journal import HOST, PASSWORD, PIN, create_journal  # noqa: E402
from bench.page_variants import calls_per_request, cpu_per_request, page_getter  # noqa: E402
from bench.tenancy import bench_app  # noqa: E402

# (step, (file ending, function)): cProfile's cumulative time of that function.
STEPS: list[tuple[str, tuple[str, str]]] = [
    ("session from Redis", ("app/auth/sessions.py", "open_session")),
    ("the person signed in (load_user)", ("flask_login/login_manager.py", "_load_user")),
    ("the filters, read once per query string", ("app/journal/views.py", "_journal_query")),
    (
        "open the journal: access, family, names, rows (1 query)",
        ("app/journal/journal_page.py", "open_journal_page"),
    ),
    ("the body's key", ("app/journal/views.py", "_journal_body_key")),
    ("the body: kept, or made", ("app/kept.py", "get")),
    ("render the template", ("flask/templating.py", "render_template")),
    ("  of which: can() in the template", ("app/access/policy.py", "can")),
    ("  of which: url_for", ("flask/app.py", "url_for")),
    ("  of which: the nav, kept per role and section", ("app/navigation.py", "main_nav")),
    ("  of which: CSRF tokens, kept per session", ("app/security/csrf_tokens.py", "csrf_token")),
    ("commit", ("app/request_transaction.py", "_commit_or_roll_back")),
    ("session saved to Redis", ("app/auth/sessions.py", "save_session")),
]


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--observations", type=int, default=500)
    parser.add_argument("--pages", type=int, default=200, help="pages fetched for each figure")
    return parser.parse_args()


def signed_in_client(app: Flask, email: str) -> FlaskClient:
    """A test client with the person signed in (and the usage policy accepted, if asked)."""
    client = app.test_client()
    base_url = f"http://{HOST}"
    form = client.get("/login", base_url=base_url).text
    fields = {"email": email, "password": PASSWORD, "pin": PIN, "csrf_token": _token(form)}
    signed = client.post("/login", base_url=base_url, data=fields)
    if signed.status_code != 303 or signed.headers["Location"].endswith("/login"):
        raise RuntimeError(f"{email} could not sign in ({signed.status_code})")
    policy = client.get("/usage-policy", base_url=base_url).text
    version = re.search(r'name="version" type="hidden" value="(\d+)"', policy)
    if version is not None:
        fields = {"version": version[1], "csrf_token": _token(policy)}
        client.post("/usage-policy", base_url=base_url, data=fields)
    return client


def _token(page: str) -> str:
    found = CSRF_FIELD.search(page)
    if found is None:
        raise RuntimeError("no CSRF token on the page")
    return found[1]


def statements_of_one(app: Flask, get) -> list[str]:
    from app.extensions import db

    sent: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        sent.append(" ".join(statement.split())[:110])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        get()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return sent


def cumulative_by_step(get, pages: int) -> tuple[dict[str, float], float]:
    """Each step's share of the profiled pages' time, and that whole time."""
    profile = cProfile.Profile(time.process_time)  # CPU, not the waits for the database
    profile.enable()
    for _ in range(pages):
        get()
    profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    whole = sum(tottime for (_calls, _primitive, tottime, _cum, _callers) in stats.values())
    shares = {}
    for step, (file_ending, function) in STEPS:
        shares[step] = (
            sum(
                cumulative
                for (file, _line, name), (_c, _p, _t, cumulative, _callers) in stats.items()
                if file.endswith(file_ending) and name == function
            )
            / whole
        )
    return shares, whole


def main() -> None:
    options = parse_options()
    with bench_app() as bench:
        journal = create_journal(bench.app, options.observations)
        client = signed_in_client(bench.app, journal.parent_email)
        path = f"/journal/children/{journal.child_id}"
        page = page_getter(bench.app, path, HOST, client)
        hello = page_getter(hello_app, "/hello", "localhost")
        page_us = cpu_per_request(page, options.pages)
        hello_us = cpu_per_request(hello, options.pages)
        print(f"Journal page ({options.observations} observations, page 1), in this process:")
        calls = calls_per_request(page)
        print(f"  CPU per page {page_us / 1000:.2f} ms, Python calls {calls:,.0f}")
        print(f"  bare hello through a test client: {hello_us / 1000:.2f} ms")
        statements = statements_of_one(bench.app, page)
        print(f"Statements of one page: {len(statements)}")
        for statement in statements:
            print(f"  {statement}")
        shares, whole = cumulative_by_step(page, options.pages)
        print(f"Its CPU by step (cProfile, {options.pages} pages, {whole:.2f} s profiled):")
        for step, share in shares.items():
            print(f"  {share * page_us:7.0f} us  {share:5.1%}  {step}")
        rest = 1 - sum(share for step, share in shares.items() if not step.startswith(" "))
        print(f"  {rest * page_us:7.0f} us  {rest:5.1%}  the rest (Flask, Werkzeug, test client)")


if __name__ == "__main__":
    main()
