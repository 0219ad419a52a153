"""Script in what people type (text, next steps, captions, comments) is shown inert."""

from __future__ import annotations

from html.parser import HTMLParser

from sqlalchemy import select

from app.extensions import db
from app.journal.models import Observation
from tests.helpers.clients import post_form
from tests.helpers.journal import observe, photo_bytes, signed_in
from tests.helpers.people import inside

PAYLOADS = [
    "<script>alert('text')</script>",
    '<img src=x onerror="alert(1)">',
    "[click me](javascript:alert(2))",
    '"><svg onload=alert(3)>',
    "<a href='javascript:alert(4)'>link</a>",
]
HOSTILE = "\n\n".join(PAYLOADS)


class _LiveMarkup(HTMLParser):
    """Collects what a browser would run: script elements, event handlers, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and not (values.get("src") or "").startswith("/static/"):
            self.found.append(f"<{tag}>")
        if tag in ("svg", "iframe", "object", "embed"):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.found.append(f"<{tag} {name}={value}>")


def _live_markup(html: str) -> list[str]:
    parser = _LiveMarkup()
    parser.feed(html)
    return parser.found


def test_payloads_in_text_captions_and_comments_render_inert(app, family):
    observation_id = observe(
        app,
        family,
        [family.child_a_id],
        f"Ada **laughed**.\n\n{HOSTILE}",
        next_steps=HOSTILE,
        photos=[(photo_bytes(), PAYLOADS[1] + PAYLOADS[3], None)],
    )
    parent = signed_in(app, family, "parent_a")
    base = f"/journal/children/{family.child_a_id}"
    for payload in PAYLOADS:
        response = post_form(
            parent, f"{base}/observations/{observation_id}/comments", {"body": payload}
        )
        assert response.status_code == 303
    staff = signed_in(app, family, "staff")
    pages = {
        "parent journal": parent.get(base).text,
        "parent observation": parent.get(f"{base}/observations/{observation_id}").text,
        "staff observation": staff.get(f"/journal/observations/{observation_id}").text,
        "staff list": staff.get("/journal/").text,
        "staff child view": staff.get(f"{base}/observations/{observation_id}").text,
    }
    for name, html in pages.items():
        assert _live_markup(html) == [], name
    assert "<strong>laughed</strong>" in pages["parent observation"]  # the Markdown still works
    assert "&lt;script&gt;alert(&#39;text&#39;)&lt;/script&gt;" in pages["parent observation"]

    json_response = parent.get(f"{base}/observations/{observation_id}.json")
    assert json_response.mimetype == "application/json"
    assert json_response.headers["X-Content-Type-Options"] == "nosniff"


def test_hostile_text_is_stored_as_typed(app, family):
    observation_id = observe(app, family, [family.child_a_id], HOSTILE, publish=False)
    with inside(app, family.slug):
        stored = db.session.scalar(select(Observation.text).where(Observation.id == observation_id))
    assert stored == HOSTILE
