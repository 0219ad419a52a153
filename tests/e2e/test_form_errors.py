"""A form sent back with problems, on a phone: the reader is taken to them."""

from __future__ import annotations

import pytest

from tests.fixtures.browser import PHONE
from tests.helpers.journal import observe, sign_in_in_browser

pytestmark = pytest.mark.e2e

FOCUSED_SUMMARY = """() => {
  const summary = document.activeElement.closest('.error-summary');
  if (!summary) return null;
  const box = summary.getBoundingClientRect();
  return {text: summary.innerText, inView: box.top >= 0 && box.top < window.innerHeight};
}"""


def test_an_empty_comment_takes_the_parent_to_the_problem(app, family, live_server, new_page):
    """The comment form sits below the observation and its photos, far below the top of a
    phone's screen: sent back, the page opens on the error summary, focused (so a screen
    reader reads it) and in view, not at the top with the problem out of sight."""
    observation_id = observe(app, family, [family.child_a_id], "Ada painted a rainbow.")
    page = new_page(PHONE)
    sign_in_in_browser(page, live_server, family, "parent_a")
    page.goto(
        live_server.url(
            family.slug, f"/journal/children/{family.child_a_id}/observations/{observation_id}"
        )
    )
    page.get_by_role("button", name="Add comment").click()
    page.get_by_role("heading", name="There is a problem").wait_for()
    summary = page.evaluate(FOCUSED_SUMMARY)
    assert summary is not None, "the error summary is not focused"
    assert "Comment is required." in summary["text"] and summary["inView"], summary
