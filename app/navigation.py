"""The site's main navigation (``templates/_nav.html``), made once per role and section.

Every signed-in page shows it, and making it (about ten ``url_for`` and four questions to
the access policy, through Jinja) was a twentieth of a child's journal page's CPU. What it
shows depends only on what the person's role allows and which section the page is in, so
it is kept per process under exactly those (and the path the application is served
under): it names no person, child or setting, and two people with the same role see the
same links. (While developing, an edited ``_nav.html`` shows after a restart.)
"""

from __future__ import annotations

from flask import render_template, request
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from app.kept import Kept

# The nav's sections, in the order they are asked: a path is in the first whose path it is
# (``exact``) or starts with. The template marks the current section's link; a link added to
# the nav adds its section here.
SECTIONS: tuple[tuple[str, str, bool], ...] = (
    ("home", "/", True),
    ("children", "/people/children", False),
    ("people", "/people/", True),
    ("review", "/journal/review", False),
    ("journal_policies", "/journal/policies", False),
    ("journal", "/journal/", False),
    ("responsible_use", "/responsible-use", False),
    ("accounts", "/invitations", False),
    ("records", "/retention/", False),
)


def section_of(path: str) -> str | None:
    """The nav section ``path`` is in (None: a page outside them, e.g. the account page)."""
    for section, start, exact in SECTIONS:
        if path == start or (not exact and path.startswith(start)):
            return section
    return None


# Roles x sections: a few dozen at most.
_KEPT_NAVS: Kept[Markup] = Kept(64)


@pass_context
def main_nav(page: Context) -> Markup:
    """The nav's links for the signed-in person on this page (only for signed-in pages)."""
    section = section_of(request.path)
    # The page's own current_user (flask-login's context processor): not the proxy again.
    key = (page["current_user"].role, section, request.script_root)
    return _KEPT_NAVS.get(key, lambda: _render(section))


def _render(section: str | None) -> Markup:
    return Markup(render_template("_nav.html", section=section))  # noqa: S704 (the template escapes what it is given)
