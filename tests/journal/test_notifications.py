"""Parents hear about new observations: none by default, one email for each, or a daily
email counting what is new. The email says only that there is something new and links to
it (no text, no other child's name, no photo)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from app import clock
from tests.fixtures.smtp import html_of, text_of
from tests.helpers.clients import post_form
from tests.helpers.journal import correct, observe, photo_bytes, signed_in
from workers.schedule import scheduled_time


def _choose(app, family, who: str, choice: str) -> None:
    client = signed_in(app, family, who)
    assert f'value="{choice}"' in client.get("/journal/emails").text
    assert post_form(client, "/journal/emails", {"choice": choice}).status_code == 303
    assert re.search(rf'<input checked[^>]*value="{choice}"', client.get("/journal/emails").text)


def _to(mail_outbox, family, who: str, wait: float = 2.0) -> list:
    return mail_outbox.to(family.email(who), timeout=wait)


def test_no_email_unless_the_parent_asks(app, family, mail_outbox):
    observe(app, family, [family.child_a_id], "Ada sang a song.")
    assert _to(mail_outbox, family, "parent-a", wait=0.5) == []


def test_each_new_observation_is_emailed_without_its_words_or_names(app, family, mail_outbox):
    _choose(app, family, "parent_a", "each")
    observation_id = observe(
        app,
        family,
        [family.child_a_id, family.child_b_id],
        "Ada and Barty Quince secretly built a rocket.",
        photos=[(photo_bytes(64, 48), "The rocket", None)],
    )
    [message] = _to(mail_outbox, family, "parent-a")
    body = text_of(message) + html_of(message) + str(message["Subject"])
    assert "new observation in Ada's learning journal" in body
    assert f"/journal/children/{family.child_a_id}/observations/{observation_id}" in body
    [link] = re.findall(r"https?://[^\s\"<>]+", text_of(message))
    opened = signed_in(app, family, "parent_a").get(urlsplit(link).path)
    assert opened.status_code == 200 and "rocket" in opened.text, "the link opens it"
    for secret in ("rocket", "Barty", "Quince", "Bartholomew", "secretly"):
        assert secret not in body, secret
    assert not any(part.get_content_maintype() == "image" for part in message.walk())
    assert _to(mail_outbox, family, "parent-b", wait=0.5) == []  # parent B did not ask

    # A correction or a withdraw-and-publish-again is not news.
    staff = signed_in(app, family, "staff")
    assert post_form(staff, f"/journal/observations/{observation_id}/withdraw").status_code == 303
    assert post_form(staff, f"/journal/observations/{observation_id}/publish").status_code == 303
    assert len(_to(mail_outbox, family, "parent-a", wait=0.5)) == 1


def test_the_daily_email_counts_what_is_new_once(app, family, mail_outbox):
    _choose(app, family, "parent_a", "daily")
    clock.advance(timedelta(minutes=1))
    observe(app, family, [family.child_a_id], "Ada hopped.")
    observe(app, family, [family.child_a_id], "Ada skipped.")
    observe(app, family, [family.child_b_id], "Barty jumped.")
    assert _to(mail_outbox, family, "parent-a", wait=0.5) == []  # nothing until the digest

    clock.move_to(datetime(2026, 12, 1, 17, 0, tzinfo=UTC))  # the nursery day is over
    run = app.test_cli_runner().invoke(args=["jobs", "run", "observation-digests"])
    assert run.exit_code == 0, run.output
    [message] = _to(mail_outbox, family, "parent-a")
    body = text_of(message)
    assert "Ada: 2 new observations" in body and "hopped" not in body and "Barty" not in body
    assert re.search(rf"/journal/children/{family.child_a_id}\b", body)

    again = app.test_cli_runner().invoke(args=["jobs", "run", "observation-digests"])
    assert again.exit_code == 0, again.output
    assert len(_to(mail_outbox, family, "parent-a", wait=0.5)) == 1  # nothing new: no email


def test_publish_tapped_twice_publishes_once_and_says_so(app, family, mail_outbox):
    """The second tap's answer is the page the author sees: it must not say that publishing
    failed ("That didn't work") when the first tap published the observation."""
    _choose(app, family, "parent_a", "each")
    draft_id = observe(app, family, [family.child_a_id], "Ada sang.", publish=False)
    staff = signed_in(app, family, "staff")
    first, second = (
        post_form(staff, f"/journal/observations/{draft_id}/publish") for _ in range(2)
    )
    assert (first.status_code, second.status_code) == (303, 303)
    assert second.headers["Location"] == first.headers["Location"]
    assert "already published" in staff.get(second.headers["Location"]).text
    assert len(_to(mail_outbox, family, "parent-a")) == 1
    # Someone who may not publish it is still refused.
    other = post_form(
        signed_in(app, family, "parent_a"), f"/journal/observations/{draft_id}/publish"
    )
    assert other.status_code in (403, 404)


def test_a_withdrawn_observation_published_again_is_not_news_anywhere(app, family, mail_outbox):
    """The email for each new observation is not sent again for it: neither is the daily
    email's count nor the home page's "new since your last visit" to count it again."""
    _choose(app, family, "parent_a", "daily")
    clock.advance(timedelta(minutes=1))
    observation_id = observe(app, family, [family.child_a_id], "Ada hopped.")
    digest = ["jobs", "run", "observation-digests"]
    clock.move_to(datetime(2026, 12, 1, 17, 0, tzinfo=UTC))  # the nursery day is over
    assert app.test_cli_runner().invoke(args=digest).exit_code == 0
    assert "Ada: 1 new observation" in text_of(_to(mail_outbox, family, "parent-a")[0])
    parent = signed_in(app, family, "parent_a")
    parent.get(f"/journal/children/{family.child_a_id}")  # read it
    assert "Nothing new since your last visit" in parent.get("/").text

    clock.advance(timedelta(hours=2))
    staff = signed_in(app, family, "staff")
    assert post_form(staff, f"/journal/observations/{observation_id}/withdraw").status_code == 303
    assert post_form(staff, f"/journal/observations/{observation_id}/publish").status_code == 303
    clock.advance(timedelta(days=1))  # the next day's email, which counts it again or not
    assert app.test_cli_runner().invoke(args=digest).exit_code == 0
    assert len(_to(mail_outbox, family, "parent-a", wait=0.5)) == 1  # no second digest
    home = signed_in(app, family, "parent_a").get("/").text  # signed out while idle
    assert "Nothing new since your last visit" in home


def test_the_daily_email_goes_at_the_end_of_the_nursery_day_in_its_own_time_zone(
    app, family, mail_outbox
):
    """A Sydney nursery's parents had "today's" email at 4 a.m. the next day, a New York
    one's at noon, when the job ran once at 17:00 UTC."""
    manager = signed_in(app, family, "manager")
    data = {"name": "Sunnyside Nursery", "time_zone": "Australia/Sydney"}
    assert post_form(manager, "/settings/branding/", data).status_code == 303
    _choose(app, family, "parent_a", "daily")
    clock.advance(timedelta(minutes=1))
    observe(app, family, [family.child_a_id], "Ada hopped.")
    five_pm = datetime(2026, 12, 2, 17, 0, tzinfo=ZoneInfo("Australia/Sydney"))

    def run_at(moment: datetime) -> None:
        clock.move_to(moment)
        run = app.test_cli_runner().invoke(args=["jobs", "run", "observation-digests"])
        assert run.exit_code == 0, run.output

    run_at(five_pm - timedelta(minutes=1))
    assert _to(mail_outbox, family, "parent-a", wait=0.5) == []  # their day is not over
    sent_at = scheduled_time("observation-digests", five_pm + timedelta(hours=1))
    assert sent_at is not None and five_pm <= sent_at, sent_at
    run_at(sent_at)
    assert len(_to(mail_outbox, family, "parent-a")) == 1
    observe(app, family, [family.child_a_id], "Ada skipped.")
    run_at(sent_at + timedelta(hours=1))  # once a day, however often the job runs
    assert len(_to(mail_outbox, family, "parent-a", wait=0.5)) == 1


def test_a_child_added_by_a_correction_is_news_to_their_family_only(app, family, mail_outbox):
    """An observation that joins Barty's journal when staff add him to it is new there:
    his parent, who asked for each one, hears of it once; Ada's parent, told already, not again."""
    _choose(app, family, "parent_a", "each")
    _choose(app, family, "parent_b", "each")
    observation_id = observe(app, family, [family.child_a_id], "Ada and Barty built a den.")
    assert len(_to(mail_outbox, family, "parent-a")) == 1
    staff = signed_in(app, family, "staff")
    both = [family.child_a_id, family.child_b_id]
    assert correct(staff, observation_id, both, "Ada and Barty built a den.").status_code == 303
    assert correct(staff, observation_id, both, "Ada and Barty built a big den.").status_code == 303
    [message] = _to(mail_outbox, family, "parent-b")
    body = text_of(message) + str(message["Subject"])
    assert f"/journal/children/{family.child_b_id}/observations/{observation_id}" in body
    assert "Barty's learning journal" in body and "Ada" not in body
    assert len(_to(mail_outbox, family, "parent-a", wait=0.5)) == 1


def _hold_what_matches(app, family) -> None:
    """The setting's rule: an observation (or correction) saying "rubbish" waits for a manager."""
    manager = signed_in(app, family, "manager")
    rules = {"group_names": "hidden", "blocked_phrases": "rubbish", "mode": "needs_approval"}
    assert post_form(manager, "/journal/policies", rules).status_code == 303


def test_a_child_added_by_a_held_correction_is_news_when_it_is_approved(app, family, mail_outbox):
    """Barty's family cannot see the observation while the correction that adds him waits
    for the manager: they hear of it once, when it is approved, and Ada's family not again."""
    _choose(app, family, "parent_a", "each")
    _choose(app, family, "parent_b", "each")
    observation_id = observe(app, family, [family.child_a_id], "Ada and Barty built a den.")
    assert len(_to(mail_outbox, family, "parent-a")) == 1
    _hold_what_matches(app, family)
    staff = signed_in(app, family, "staff")
    both = [family.child_a_id, family.child_b_id]
    assert correct(staff, observation_id, both, "A rubbish den.").status_code == 303
    assert _to(mail_outbox, family, "parent-b", wait=0.5) == []  # waiting: not in his journal
    manager = signed_in(app, family, "manager")
    approve = f"/journal/observations/{observation_id}/approve"
    assert post_form(manager, approve).status_code == 303
    [message] = _to(mail_outbox, family, "parent-b")
    assert f"/journal/children/{family.child_b_id}/observations/{observation_id}" in (
        text_of(message)
    )
    assert post_form(manager, approve).status_code == 303  # tapped twice: not told twice
    assert len(_to(mail_outbox, family, "parent-b", wait=0.5)) == 1
    assert len(_to(mail_outbox, family, "parent-a", wait=0.5)) == 1


def test_a_child_taken_off_before_approval_is_never_news(app, family, mail_outbox):
    _choose(app, family, "parent_b", "each")
    observation_id = observe(app, family, [family.child_a_id], "Ada and Barty built a den.")
    _hold_what_matches(app, family)
    staff = signed_in(app, family, "staff")
    both = [family.child_a_id, family.child_b_id]
    assert correct(staff, observation_id, both, "A rubbish den.").status_code == 303
    manager = signed_in(app, family, "manager")
    send_back = f"/journal/observations/{observation_id}/send-back"
    assert post_form(manager, send_back).status_code == 303
    assert correct(staff, observation_id, [family.child_a_id], "A den.").status_code == 303
    publish = post_form(staff, f"/journal/observations/{observation_id}/publish")
    assert publish.status_code == 303
    assert _to(mail_outbox, family, "parent-b", wait=0.5) == []


def test_the_daily_email_counts_a_child_added_by_a_correction(app, family, mail_outbox):
    """An observation published yesterday about Ada, to which Barty is added today, is new
    in Barty's journal today: his parent's daily email and home page count it."""
    observation_id = observe(app, family, [family.child_a_id], "Ada and Barty built a den.")
    clock.advance(timedelta(minutes=1))
    _choose(app, family, "parent_b", "daily")  # counting from now
    signed_in(app, family, "parent_b").get(f"/journal/children/{family.child_b_id}")  # read
    clock.advance(timedelta(minutes=1))
    staff = signed_in(app, family, "staff")
    both = [family.child_a_id, family.child_b_id]
    assert correct(staff, observation_id, both, "Ada and Barty built a den.").status_code == 303
    clock.move_to(datetime(2026, 12, 1, 17, 0, tzinfo=UTC))  # the nursery day is over
    run = app.test_cli_runner().invoke(args=["jobs", "run", "observation-digests"])
    assert run.exit_code == 0, run.output
    [message] = _to(mail_outbox, family, "parent-b")
    assert "Barty: 1 new observation" in text_of(message)
    home = signed_in(app, family, "parent_b").get("/").text
    assert "1 new observation since your last visit" in home
