"""The whole journey in a real browser, with axe-core on every page at phone and desktop widths.

Operator creates a setting → the manager activates from the emailed link → invites a member of
staff and two parents → the staff member posts a group observation with a photo → parent A sees
it with child B's name hidden → comments → child A gets a leaving date → the deactivation sweep
(clock moved past the grace period) deactivates parent A → parent A cannot sign in.
"""

from __future__ import annotations

import io
import re
import uuid
from datetime import timedelta
from urllib.parse import urlparse

import pytest

from app import clock
from tests.fixtures.browser import DESKTOP, PHONE, check_accessibility, screenshot
from tests.fixtures.smtp import text_of

pytestmark = pytest.mark.e2e

PASSWORDS = {
    "manager": ("bluebell meadow lantern 42", "582013"),
    "staff": ("puddle jumping wellies 7", "730164"),
    "parent_a": ("orange kite over the hill", "914270"),
    "parent_b": ("tea and toast at four", "261839"),
    "parent_a_again": ("a new kite for a new term", "608153"),
}


def _photo() -> bytes:
    """A camera-like JPEG carrying GPS in its EXIF (the service must strip it)."""
    from PIL import Image

    image = Image.new("RGB", (1600, 1200), "#3a7bd5")
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


class Journey:
    """Steps a person takes, each checked for accessibility as they go."""

    def __init__(self, app, live_server, new_page, mail_outbox, slug: str) -> None:
        self.app, self.server, self.new_page, self.mail = app, live_server, new_page, mail_outbox
        self.slug = slug

    def url(self, path: str) -> str:
        return self.server.url(self.slug, path)

    def open(self, page, path: str, name: str | None = None) -> None:
        page.goto(self.url(path))
        self.check(page, name or path)

    def check(self, page, where: str, shot: str | None = None) -> None:
        check_accessibility(page, where)
        if shot:
            screenshot(page, shot)

    def activation_path(self, email: str) -> str:
        message = self.mail.to(email)[-1]
        return re.search(r"/activate/[\w-]+", text_of(message)).group(0)

    def activate(self, page, email: str, who: str, shot: str | None = None) -> None:
        password, pin = PASSWORDS[who]
        self.open(page, self.activation_path(email), f"activation of {who}")
        if shot:
            screenshot(page, shot)
        page.get_by_label("New password", exact=True).fill(password[:5])
        assert "more characters needed" in page.locator("#password-strength").inner_text()
        page.get_by_label("New password", exact=True).fill(password)
        assert "Good length" in page.locator("#password-strength").inner_text()
        page.get_by_label("New password again").fill(password)
        page.get_by_label("New PIN (6 digits)").fill(pin)
        page.get_by_label("New PIN again").fill(pin)
        page.get_by_role("button", name="Save and continue").click()
        page.wait_for_url(self.url("/login"))

    def sign_in(
        self, page, email: str, who: str, *, expect_success: bool = True, first: bool = True
    ) -> None:
        password, pin = PASSWORDS[who]
        if not page.url.endswith("/login"):
            self.open(page, "/login", "sign-in page")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_label("PIN").fill(pin)
        page.get_by_role("button", name="Sign in").click()
        if not expect_success:
            return
        if first:
            # Everyone's first sign-in: the setting's usage policy comes first.
            page.wait_for_url(self.url("/usage-policy?next=/"))
            self.check(page, f"usage policy for {who}")
            page.get_by_role("button", name="I have read it and accept it").click()
        page.wait_for_url(self.url("/"))
        self.check(page, f"{who}'s home")


def test_full_journey(app, live_server, new_page, mail_outbox):
    slug = f"bluebell-{uuid.uuid4().hex[:6]}"
    journey = Journey(app, live_server, new_page, mail_outbox, slug)
    emails = {
        "manager": f"maria@{slug}.example",
        "staff": f"sam@{slug}.example",
        "parent_a": f"anna@{slug}.example",
        "parent_b": f"ben@{slug}.example",
    }

    # The operator creates the setting; its first manager is emailed an activation link.
    created = app.test_cli_runner().invoke(
        args=[
            "tenants",
            "create",
            slug,
            "--name",
            "Bluebell Nursery",
            "--manager-email",
            emails["manager"],
            "--manager-name",
            "Maria Manager",
        ]
    )
    assert created.exit_code == 0, created.output

    landing = new_page()
    landing.goto(live_server.url(None))
    journey.check(landing, "landing page", "landing")

    manager = new_page()
    journey.activate(manager, emails["manager"], "manager", shot="activation")
    journey.sign_in(manager, emails["manager"], "manager")

    # Signed in on a phone too, the manager signs out everywhere else from the laptop.
    manager_phone = new_page(PHONE)
    journey.open(manager_phone, "/login", "sign-in page on a phone")
    manager_phone.get_by_label("Email").fill(emails["manager"])
    manager_phone.get_by_label("Password").fill(PASSWORDS["manager"][0])
    manager_phone.get_by_label("PIN").fill(PASSWORDS["manager"][1])
    manager_phone.get_by_role("button", name="Sign in").click()
    manager_phone.wait_for_url(journey.url("/"))
    journey.open(manager, "/account/devices", "your devices")
    assert manager.locator(".device").count() == 2
    screenshot(manager, "your-devices")
    manager.get_by_role("button", name="Sign out everywhere else").click()
    manager.get_by_text("Signed out everywhere else (1 other device).").wait_for()
    manager_phone.goto(journey.url("/people/"))
    assert "/login" in manager_phone.url, "the phone is signed out"
    journey.open(manager, "/", "manager's home, still signed in")
    assert manager.url == journey.url("/")

    # The manager invites a member of staff and adds two children with their parents.
    journey.open(manager, "/people/staff/new", "invite staff")
    manager.get_by_label("Full name").fill("Sam Staff")
    manager.get_by_label("Email").fill(emails["staff"])
    manager.get_by_role("button", name="Send invitation").click()
    journey.check(manager, "staff member page")

    for first, last, parent_name, parent_email in (
        ("Amelia", "Jones", "Anna Jones", emails["parent_a"]),
        ("Bilal", "Khan", "Ben Khan", emails["parent_b"]),
    ):
        journey.open(manager, "/people/children/new", "new child form")
        manager.get_by_label("First name").fill(first)
        manager.get_by_label("Last name").fill(last)
        manager.get_by_label("Date of birth").fill("2023-03-14")
        manager.get_by_label("Start date").fill("2024-09-02")
        manager.get_by_label("Room").fill("Bluebells")
        manager.get_by_label("Photos of this child may appear in other families' journals").check()
        manager.get_by_role("button", name="Save").click()
        manager.get_by_role("heading", name=f"{first} {last}").wait_for()
        journey.check(manager, "child page")
        manager.get_by_label("Parent or carer's full name").fill(parent_name)
        manager.get_by_label("Their email").fill(parent_email)
        manager.get_by_label("Relationship to the child").fill(
            "Mum" if first == "Amelia" else "Dad"
        )
        manager.get_by_role("button", name="Continue").click()
        manager.get_by_role("heading", name="Check before linking").wait_for()
        journey.check(manager, "link confirmation", "link-confirmation")
        manager.get_by_role("button", name=f"Yes, link {parent_name} to {first} {last}").click()
        manager.get_by_text(f"{parent_name} is now linked to {first} {last}").wait_for()

    manager.goto(journey.url("/"))
    manager.set_viewport_size(PHONE)
    screenshot(manager, "manager-dashboard")  # on a phone, with its getting-started steps
    manager.set_viewport_size(DESKTOP)

    staff = new_page(PHONE)
    journey.activate(staff, emails["staff"], "staff")
    journey.sign_in(staff, emails["staff"], "staff")

    # The key person, tablet in hand, writes a group observation with a photo.
    staff.get_by_role("link", name="Write an observation").click()
    journey.check(staff, "observation form")
    staff.get_by_label("Date observed").fill(clock.today().isoformat())
    children = staff.get_by_role("group", name="Children")
    children.get_by_label("Amelia Jones").check()
    children.get_by_label("Bilal Khan").check()
    staff.get_by_label("What happened").fill(
        "Amelia and Bilal built a tower taller than themselves in the block corner. Bilal "
        "counted 12 blocks, pointing at each one, and @Amelia added a flag on top. When it "
        'wobbled, Amelia said *"it needs a bigger bottom"* and they rebuilt the base with '
        "the long blocks."
    )
    staff.get_by_label("Mathematics").check()
    staff.get_by_label("Creating and thinking critically").check()
    staff.get_by_label("Age band").select_option(label="Three and four-year-olds")
    staff.get_by_label("Next steps (optional)").fill(
        "Offer rulers and a tape measure; ask who is taller, the tower or the children."
    )
    staff.get_by_label("Add photos (optional)").set_input_files(
        {"name": "tower.jpg", "mimeType": "image/jpeg", "buffer": _photo()}
    )
    staff.get_by_label("Photo caption (optional)").fill("Amelia and Bilal with their tower")
    in_photo = staff.get_by_role("group", name="Who can be seen in these photos?")
    in_photo.get_by_label("Amelia Jones").check()
    in_photo.get_by_label("Bilal Khan").check()
    screenshot(staff, "observation-form-phone")
    staff.get_by_role("button", name="Save draft").click()
    staff.get_by_role("button", name="Publish").click()
    journey.check(staff, "published observation", "observation-published")

    # A slip: it was 14 blocks. The key person corrects the published observation; the
    # change is kept as a revision that staff read under it.
    staff.get_by_role("link", name="Correct the observation").click()
    text = staff.get_by_label("What happened")
    text.fill(text.input_value().replace("counted 12 blocks", "counted 14 blocks"))
    staff.get_by_label("Physical Development").check()
    staff.get_by_role("button", name="Save the correction").click()
    staff.get_by_role("heading", name="Changes since it was published").wait_for()
    journey.check(staff, "corrected observation", "observation-history-phone")
    observation_path = urlparse(staff.url).path

    # Parent A reads it on a phone with Bilal's name hidden, and answers.
    parent_a = new_page(PHONE)
    journey.activate(parent_a, emails["parent_a"], "parent_a")
    journey.sign_in(parent_a, emails["parent_a"], "parent_a")
    screenshot(parent_a, "parent-home-phone")
    assert "Amelia" in parent_a.content() and "Bilal" not in parent_a.content()
    parent_a.get_by_role("link", name="Amelia's journal").click()
    parent_a.get_by_text("built a tower taller than themselves").first.wait_for()
    journey.check(parent_a, "Amelia's journal", "child-journal-phone")
    assert "Bilal" not in parent_a.content()
    parent_a.locator("article.observation-card h3 a").first.click()
    parent_a.locator("main img").first.wait_for()
    assert "Bilal" not in parent_a.content() and "a friend" in parent_a.content()
    assert "counted 14 blocks" in parent_a.content() and "Edited" in parent_a.content()
    journey.check(parent_a, "observation seen by parent A")
    parent_a.get_by_label("Your comment").fill("She told us all about the flag at tea time!")
    parent_a.get_by_role("button", name="Add comment").click()
    parent_a.get_by_text("She told us all about the flag at tea time!").wait_for()
    journey.check(parent_a, "observation with comment", "parent-comment-phone")

    # Withdrawn for a moment, it leaves the family's journal; published again, it is back.
    parent_view = parent_a.url.split("#")[0]
    staff.goto(journey.url(observation_path))
    staff.get_by_role("button", name="Withdraw from the journals").click()
    staff.get_by_text("The observation is withdrawn").wait_for()
    assert parent_a.goto(parent_view).status == 404
    staff.get_by_role("button", name="Publish").click()
    staff.get_by_text("The observation is published.").wait_for()
    assert parent_a.goto(parent_view).status == 200

    # Amelia leaves; after the grace period the sweep ends Anna's access.
    journey.open(manager, "/people/children", "children list")
    manager.get_by_role("link", name="Amelia Jones").click()
    manager.get_by_label("Leaving date").fill(clock.today().isoformat())
    manager.get_by_role("button", name="Save leaving date").click()
    journey.check(manager, "child page after leaving date")

    runner = app.test_cli_runner()
    first_sweep = runner.invoke(args=["jobs", "run", "deactivation-sweep"])
    assert first_sweep.exit_code == 0, first_sweep.output
    assert mail_outbox.to(emails["parent_a"])[-1] is not None
    grace_days = 14
    clock.advance(timedelta(days=grace_days + 1))
    second_sweep = runner.invoke(args=["jobs", "run", "deactivation-sweep"])
    assert second_sweep.exit_code == 0, second_sweep.output

    # The sweep runs over every setting of the shared test database, where earlier tests
    # may have left parents past their grace too: Anna's own end is checked below.
    assert re.search(r"\b[1-9]\d* parents deactivated", second_sweep.output), second_sweep.output
    parent_a.goto(journey.url("/"))
    assert "Hello Anna" not in parent_a.content(), "the deactivated parent's session was ended"
    journey.open(parent_a, "/login", "sign-in page")
    journey.sign_in(parent_a, emails["parent_a"], "parent_a", expect_success=False)
    parent_a.get_by_text("not recognised").wait_for()
    journey.check(parent_a, "refused sign-in", "signin-refused")

    # The family comes back (a younger sibling starts): the manager reactivates Anna, who
    # chooses a new password and PIN from a fresh link. (Two weeks on, the manager signs in
    # again too.)
    journey.sign_in(manager, emails["manager"], "manager", first=False)
    journey.open(manager, "/people/parents", "parents list")
    manager.get_by_role("link", name="Anna Jones").click()
    manager.get_by_role("link", name="Reactivate Anna Jones").click()
    journey.check(manager, "reactivation confirmation")
    manager.get_by_role("button", name="Yes, reactivate Anna Jones").click()
    manager.get_by_text("account is back").wait_for()
    journey.activate(parent_a, emails["parent_a"], "parent_a_again")
    assert parent_a.get_by_label("Email").input_value() == emails["parent_a"]
    journey.sign_in(parent_a, emails["parent_a"], "parent_a_again", first=False)
    assert "Hello Anna" in parent_a.content()
