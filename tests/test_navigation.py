"""The site's main navigation: each person sees their own role's links with the page's
section marked, whoever was served by the same process before them (``app.navigation``
keeps it made per role and section)."""

from __future__ import annotations

import re

import pytest

from tests.helpers.clients import client_for, make_user, sign_in

NAV = re.compile(r'<nav aria-label="Main">(.*?)</nav>', re.S)
LINK = re.compile(r'<a href="[^"]*"( aria-current="page")?>([^<]+)</a>')


def _nav_links(page: str) -> tuple[list[str], list[str]]:
    """The nav's link texts, and those marked as the current page."""
    found = NAV.search(page)
    assert found, "no main navigation on the page"
    links = LINK.findall(found.group(1))
    return [text for _, text in links], [text for current, text in links if current]


@pytest.fixture
def people(app, make_setting):
    """A setting's signed-in manager, member of staff and parent, by role."""
    setting = make_setting()
    clients = {}
    for role in ("manager", "staff", "parent"):
        with app.app_context():
            email = make_user(setting.slug, role=role)
        clients[role] = client_for(app, setting.slug)
        assert sign_in(clients[role], email).status_code == 303
    return clients


MANAGER_LINKS = [
    "Home",
    "Children",
    "Observations",
    "Review",
    "People",
    "Journal policies",
    "Responsible use",
    "Accounts",
    "Records",
    "Your account",
]
STAFF_LINKS = ["Home", "Children", "Observations", "Review", "Your account"]
PARENT_LINKS = ["Home", "Your children", "Journals", "Your account"]


def test_each_role_sees_its_own_links_whoever_came_before(people):
    # Taking turns on the same page of the same process: each made (or found) their role's.
    for _ in range(2):
        for role, expected in (
            ("manager", MANAGER_LINKS),
            ("parent", PARENT_LINKS),
            ("staff", STAFF_LINKS),
        ):
            page = people[role].get("/journal/")
            assert page.status_code == 200
            assert _nav_links(page.text)[0] == expected, role


@pytest.mark.parametrize(
    ("path", "current"),
    [
        ("/", ["Home"]),
        ("/people/children", ["Children"]),
        ("/people/", ["People"]),
        ("/journal/", ["Observations"]),
        ("/journal/review", ["Review"]),
        ("/journal/policies", ["Journal policies"]),
        ("/responsible-use", ["Responsible use"]),
        ("/invitations", ["Accounts"]),
        ("/retention/archive", ["Records"]),
        ("/account", []),
    ],
)
def test_the_pages_section_is_marked_current(people, path, current):
    page = people["manager"].get(path)
    assert page.status_code == 200, path
    assert _nav_links(page.text)[1] == current


def test_a_parents_journals_link_is_current_on_their_journal_pages(people):
    page = people["parent"].get("/journal/")
    assert _nav_links(page.text)[1] == ["Journals"]
