"""The leaving pack: the whole journal as PDF, photos ZIP and JSON, as its reader may see it."""

from __future__ import annotations

import io
import json
import re
import subprocess
import unicodedata
import zipfile
from datetime import timedelta

import jsonschema
import pikepdf
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.journal.models import Photo
from app.retention import packs
from app.retention.models import LeavingPack, PackStatus
from app.retention.packs import pack_schema
from tests.fixtures.smtp import text_of
from tests.helpers.clients import post_form
from tests.helpers.journal import observe, photo_bytes, signed_in
from tests.helpers.people import inside
from tests.helpers.retention import media_files
from workers.jobs import job_lock, run_and_record
from workers.models import Outcome

B_NAMES = ["Bartholomew", "Barty", "Quince"]


def _journal_of_a(app, family) -> dict[str, int]:
    """A alone (with a photo), A with B (a photo of both; B has photo consent), B alone,
    and an unpublished draft of A."""
    return {
        "alone": observe(
            app,
            family,
            [family.child_a_id],
            "Ada painted a sunflower.",
            photos=[(photo_bytes(), "Ada's sunflower", None)],
        ),
        "group": observe(
            app,
            family,
            [family.child_a_id, family.child_b_id],
            "Ada and Barty Quince built a tower together.",
            next_steps="Ada: count the blocks with Bartholomew.",
            photos=[(photo_bytes(), "Ada and Barty", [family.child_a_id, family.child_b_id])],
        ),
        "b_only": observe(app, family, [family.child_b_id], "Barty climbed the frame."),
        "draft": observe(app, family, [family.child_a_id], "Ada draft unseen.", publish=False),
    }


def _pdf_text(data: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()


def _pdf_fonts(data: bytes) -> str:
    return subprocess.run(
        ["pdffonts", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()


def _make_pack(app, family, who: str = "parent_a"):
    client = signed_in(app, family, who)
    made = post_form(client, f"/retention/children/{family.child_a_id}/leaving-pack")
    assert made.status_code == 303
    return client, made.headers["Location"]


def test_a_parents_pack_holds_every_published_observation_and_nothing_of_another_child(
    app, family, mail_outbox
):
    made = _journal_of_a(app, family)
    client, page_path = _make_pack(app, family)

    page = client.get(page_path).text
    assert "2 observations and 2 photos" in page
    [email] = mail_outbox.to(family.email("parent-a"))
    told = text_of(email)
    assert page_path in told
    # The moment the pack goes, not only its day: it is gone at 09:00 that morning.
    assert re.search(r"until \d{1,2} [A-Z][a-z]{2} 20\d\d 09:00 GMT", told), told

    pdf = _pdf_text(client.get(f"{page_path}/journal.pdf").data)
    assert "Ada painted a sunflower." in pdf
    assert "Ada and a friend built a tower together." in pdf
    assert "Barty climbed" not in pdf and "draft unseen" not in pdf
    assert not any(name in pdf for name in B_NAMES)

    document = client.get(f"{page_path}/journal.json").get_json()
    jsonschema.validate(document, pack_schema())
    assert [o["id"] for o in document["observations"]] == [made["alone"], made["group"]]
    assert not any(name in json.dumps(document) for name in B_NAMES)

    photos = zipfile.ZipFile(io.BytesIO(client.get(f"{page_path}/journal.zip").data))
    names = photos.namelist()
    assert len(names) == 2 and all(re.fullmatch(r"photos/2026-12-01_ada_.*\.jpg", n) for n in names)
    assert sorted(names) == sorted(p["file"] for o in document["observations"] for p in o["photos"])
    with inside(app, family.slug):
        originals = {
            (app.config["LJ"].MEDIA_ROOT / family.slug / p.file_name).read_bytes()
            for p in db.session.scalars(select(Photo))
        }
    assert {photos.read(name) for name in names} <= originals


def test_a_pdf_built_in_parts_holds_every_observation_in_order_and_leaves_no_part(
    app, family, monkeypatch
):
    monkeypatch.setattr(packs, "PDF_PART", 1)  # one part per observation
    _journal_of_a(app, family)
    client, page_path = _make_pack(app, family)

    data = client.get(f"{page_path}/journal.pdf").data
    pdf = _pdf_text(data)
    assert pdf.index("Ada painted a sunflower.") < pdf.index("Ada and a friend built a tower")
    with pikepdf.open(io.BytesIO(data)) as document:
        assert len(document.pages) == 2
        assert str(document.docinfo["/Title"]) == "Ada's learning journal"
    packs_folder = app.config["LJ"].MEDIA_ROOT / family.slug / "packs"
    assert sorted(path.suffix for path in packs_folder.iterdir()) == [".json", ".pdf", ".zip"]


def test_a_photo_of_a_child_without_consent_stays_out_of_the_pack(app, family):
    with inside(app, family.slug):
        from sqlalchemy import update

        from app.people.models import Child

        db.session.execute(
            update(Child).where(Child.id == family.child_b_id).values(photo_consent=False)
        )
        db.session.commit()
    observe(
        app,
        family,
        [family.child_a_id, family.child_b_id],
        "Ada and Barty at the sand tray.",
        photos=[(photo_bytes(), "Both of them", [family.child_a_id, family.child_b_id])],
    )
    client, page_path = _make_pack(app, family)
    document = client.get(f"{page_path}/journal.json").get_json()
    assert document["observations"][0]["photos"] == []
    assert zipfile.ZipFile(io.BytesIO(client.get(f"{page_path}/journal.zip").data)).namelist() == []


def test_only_the_person_who_asked_may_open_or_download_a_pack(app, family):
    _journal_of_a(app, family)
    _, page_path = _make_pack(app, family)
    for who in ("parent_b", "manager"):
        other = signed_in(app, family, who)
        assert other.get(page_path).status_code == 404, who
        assert other.get(f"{page_path}/journal.pdf").status_code == 404, who
    assert signed_in(app, family, "anonymous").get(f"{page_path}/journal.pdf").status_code in (
        302,
        303,
    )
    staff = signed_in(app, family, "staff")
    assert staff.get(f"/retention/children/{family.child_a_id}/leaving-pack").status_code == 403
    parent_b = signed_in(app, family, "parent_b")
    asked = post_form(parent_b, f"/retention/children/{family.child_a_id}/leaving-pack")
    assert asked.status_code == 404


def test_a_managers_pack_is_the_childs_journal_as_the_journal_page_shows_it(app, family):
    _journal_of_a(app, family)
    client, page_path = _make_pack(app, family, "manager")
    pdf = _pdf_text(client.get(f"{page_path}/journal.pdf").data)
    assert "Ada Okafor's learning journal" in pdf
    journal_page = client.get(f"/journal/children/{family.child_a_id}").text
    assert "Ada and a friend built a tower together." in journal_page
    assert "Ada and a friend built a tower together." in pdf


def test_an_expired_pack_cannot_be_downloaded_and_the_job_deletes_its_files(app, family):
    from datetime import timedelta

    from app import clock
    from workers.jobs import run_job_now

    _journal_of_a(app, family)
    client, page_path = _make_pack(app, family)
    before = media_files(app, family.slug)
    clock.advance(timedelta(days=31))
    client = signed_in(app, family, "parent_a")
    assert client.get(f"{page_path}/journal.pdf").status_code == 410
    with app.app_context():
        run_job_now("retention-purge")
    assert client.get(page_path).status_code == 404
    packs_folder = app.config["LJ"].MEDIA_ROOT / family.slug / "packs"
    assert list(packs_folder.iterdir()) == []
    assert before == media_files(app, family.slug)


def _said(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace("&#39;", "'")


def test_a_pack_past_its_expiry_not_yet_swept_reads_expired_and_its_files_are_refused(app, family):
    """Between its expiry and the night's purge, the pack is listed as expired (not
    "ready"), and a download is refused with a page saying so and where to make another."""
    _journal_of_a(app, family)
    client, page_path = _make_pack(app, family)
    with inside(app, family.slug):
        expires_at = db.session.scalars(select(LeavingPack.expires_at)).one()
    packs_page = f"/retention/children/{family.child_a_id}/leaving-pack"
    assert "ready until" in _said(client.get(packs_page).text)

    clock.move_to(expires_at)
    client = signed_in(app, family, "parent_a")  # the first session ended long ago
    listed = _said(client.get(packs_page).text)
    assert "ready" not in listed.split("Your packs", 1)[1]
    assert f"expired on {expires_at:%-d %B %Y}" in listed
    assert "This pack has expired." in _said(client.get(page_path).text)
    for kind in ("pdf", "zip", "json"):
        refused = client.get(f"{page_path}/journal.{kind}")
        assert refused.status_code == 410
        said = _said(refused.text)
        assert f"This leaving pack expired on {expires_at:%-d %B %Y}" in said
        assert f'href="{packs_page}"' in refused.text and "Make a new leaving pack" in said


def test_the_packs_page_and_list_give_the_moment_it_goes_as_its_email_does(app, family):
    _journal_of_a(app, family)
    client, page_path = _make_pack(app, family)
    until = re.compile(r"until \d{1,2} [A-Z][a-z]{2} 20\d\d 09:00 GMT")
    assert until.search(_said(client.get(page_path).text))
    assert until.search(
        _said(client.get(f"/retention/children/{family.child_a_id}/leaving-pack").text)
    )


def test_each_file_of_a_pack_is_named_with_the_child_and_the_day(app, family):
    """A parent of two children downloads two packs: each file says whose it is (the name
    reduced to ASCII, as the photos in the ZIP are named)."""
    _journal_of_a(app, family)
    client, page_path = _make_pack(app, family)
    for kind, name in (("pdf", "journal.pdf"), ("zip", "photos.zip"), ("json", "journal.json")):
        disposition = client.get(f"{page_path}/journal.{kind}").headers["Content-Disposition"]
        assert re.search(rf"filename=20\d\d-\d\d-\d\d_ada_{name}$", disposition), disposition


def test_purging_the_child_deletes_their_packs_and_files(app, family):
    from app.retention.ledger import PurgeReason
    from app.retention.purge import purge_children
    from tests.helpers.retention import archive

    _journal_of_a(app, family)
    _make_pack(app, family)
    packs_folder = app.config["LJ"].MEDIA_ROOT / family.slug / "packs"
    assert len(list(packs_folder.iterdir())) == 3
    archive(app, family, family.child_a_id)
    with inside(app, family.slug):
        purge_children([family.child_a_id], by=None, reason=PurgeReason.RETENTION)
        db.session.commit()
    assert list(packs_folder.iterdir()) == []


WRITTEN_IN_MANY_SCRIPTS = "Łucja zbudowała wieżę; Şükrü, Ngọc, Καλημέρα, Привет."


def test_a_journal_in_any_european_script_reads_back_from_the_pdf_as_written(app, family):
    with inside(app, family.slug):
        from app.people.models import Child

        db.session.get_one(Child, family.child_a_id).first_name = "Łucja"
        db.session.commit()
    observe(app, family, [family.child_a_id], WRITTEN_IN_MANY_SCRIPTS)
    client, page_path = _make_pack(app, family)
    pdf = " ".join(_pdf_text(client.get(f"{page_path}/journal.pdf").data).split())
    assert "Łucja's learning journal" in pdf
    assert WRITTEN_IN_MANY_SCRIPTS in pdf


ASIAN_AND_RIGHT_TO_LEFT = ["美玲", "さくら", "민준", "שלום", "مرحبا"]
BIDI_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e"))


def test_a_journal_in_asian_and_right_to_left_scripts_reads_back_from_the_pdf_as_written(
    app, family
):
    """Chinese, Japanese and Korean are drawn (not boxes lost to search), Hebrew and Arabic
    in reading order (reportlab alone lays them out reversed, Arabic unjoined)."""
    with inside(app, family.slug):
        from app.people.models import Child

        db.session.get_one(Child, family.child_a_id).first_name = "美玲"
        db.session.commit()
    observe(app, family, [family.child_a_id], "Played with " + ", ".join(ASIAN_AND_RIGHT_TO_LEFT))
    client, page_path = _make_pack(app, family)
    data = client.get(f"{page_path}/journal.pdf").data
    text = _pdf_text(data).translate(BIDI_MARKS)
    # pdftotext gives Arabic as the presentation forms drawn; NFKC reads them as letters.
    pdf = unicodedata.normalize("NFKC", text)
    assert "美玲's learning journal" in pdf
    for written in ASIAN_AND_RIGHT_TO_LEFT:
        assert written in pdf
    _assert_every_font_embedded(data)


def _assert_every_font_embedded(data: bytes) -> None:
    """Every character is drawn from the PDF itself, whatever fonts the reader has."""
    fonts = _pdf_fonts(data).splitlines()[2:]
    assert fonts and all(re.search(r" yes +yes +yes +\d+ +\d+$", line) for line in fonts), fonts


HEBREW_PARAGRAPH = (
    "נועה בנתה מגדל גבוה מקוביות עץ והיא ספרה את הקוביות אחת אחת ושמחה מאוד כשהמגדל עמד "
    "יציב ואחר כך היא הזמינה את החברים שלה לבנות גשר ארוך ליד המגדל וכולם עבדו יחד עד "
    "ארוחת הצהריים"
)
ARABIC_PARAGRAPH = (
    "بنى أحمد برجا عاليا من المكعبات الخشبية وعد المكعبات واحدا واحدا وفرح كثيرا عندما وقف "
    "البرج ثابتا ثم دعا أصدقاءه لبناء جسر طويل بجانب البرج وعملوا معا حتى وقت الغداء"
)


def test_a_right_to_left_paragraph_of_several_lines_reads_from_its_first_line(app, family):
    """Lines are broken in the order written and each then put in reading order: ordering
    the whole paragraph first put its end on the first line, so a parent's long comment in
    Hebrew or Arabic read from the bottom up. After a name in Latin letters too."""
    observe(app, family, [family.child_a_id], HEBREW_PARAGRAPH)
    observe(app, family, [family.child_a_id], "Ahmed: " + ARABIC_PARAGRAPH)
    client, page_path = _make_pack(app, family)
    data = client.get(f"{page_path}/journal.pdf").data
    read = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True)
    words = " ".join(unicodedata.normalize("NFKC", read.stdout.decode()).split())
    words = words.translate(BIDI_MARKS)
    assert HEBREW_PARAGRAPH in words
    # pdftotext reads a line mostly in Arabic from the right: the name comes at its end.
    assert "Ahmed:" in words and ARABIC_PARAGRAPH in words.replace("Ahmed: ", "")


# Scripts whose letters join into conjuncts or reorder (a vowel sign drawn before its
# consonant), so a font alone is not enough: the words must be shaped.
SHAPED_SCRIPTS = {
    "NotoSansDevanagari": "अदिति ने क्षितिज पर श्रीमान् हिन्दी गाना गाया।",
    "NotoSansBengali": "প্রিয়া একটি টাওয়ার বানাল।",
    "NotoSansThai": "สมชาย สร้างหอคอย น้ำ",
    "NotoSansGurmukhi": "ਹਰਪ੍ਰੀਤ ਨੇ ਖੇਡਿਆ",
    "NotoSansTamil": "தமிழ்செல்வி விளையாடினாள்",
}


def _pdf_fonts(data: bytes) -> str:
    return subprocess.run(
        ["pdffonts", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()


def test_a_journal_in_indic_and_thai_scripts_is_drawn_and_reads_back_as_written(app, family):
    """Devanagari, Bengali, Thai and other scripts of India and South-East Asia are drawn in
    an embedded font of their own, shaped (conjuncts, vowel signs in place), and read back by
    pdftotext in the order written, next to Latin in the same word (the title's 's)."""
    with inside(app, family.slug):
        from app.people.models import Child

        db.session.get_one(Child, family.child_a_id).first_name = "अदिति"
        db.session.commit()
    observe(app, family, [family.child_a_id], " ".join(SHAPED_SCRIPTS.values()))
    client, page_path = _make_pack(app, family)
    data = client.get(f"{page_path}/journal.pdf").data
    pdf = unicodedata.normalize("NFC", " ".join(_pdf_text(data).split()))
    assert "अदिति's learning journal" in pdf
    for written in SHAPED_SCRIPTS.values():
        assert unicodedata.normalize("NFC", written) in pdf
    fonts = _pdf_fonts(data)
    assert all(f"+{font}-Regular " in fonts for font in SHAPED_SCRIPTS), fonts
    _assert_every_font_embedded(data)


def test_a_parents_emoji_are_drawn_in_the_pdf(app, family):
    """Parents write emoji in their comments: drawn from a font the PDF holds, not boxes."""
    observation_id = observe(app, family, [family.child_a_id], "Ada painted a rainbow.")
    parent = signed_in(app, family, "parent_a")
    path = f"/journal/children/{family.child_a_id}/observations/{observation_id}/comments"
    assert post_form(parent, path, {"body": "So proud 😍👍🎉🌈"}).status_code == 303
    client, page_path = _make_pack(app, family)
    data = client.get(f"{page_path}/journal.pdf").data
    assert "So proud 😍👍🎉🌈" in _pdf_text(data)
    assert "+Symbola " in _pdf_fonts(data)
    _assert_every_font_embedded(data)


def test_the_pdf_says_which_journal_it_is_and_who_made_it(app, family):
    """A PDF reader's window and the file's properties name the journal and the setting
    (not 'anonymous')."""
    _journal_of_a(app, family)
    client, page_path = _make_pack(app, family)
    data = client.get(f"{page_path}/journal.pdf").data
    info = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, check=True)
    said = dict(line.split(":", 1) for line in info.stdout.decode().splitlines() if ":" in line)
    assert said["Title"].strip() == "Ada's learning journal"
    assert said["Author"].strip() == "Sunnyside Nursery"
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert str(pdf.Root.Lang) == "en-GB"
        assert bool(pdf.Root.ViewerPreferences.DisplayDocTitle)


def test_a_pack_of_a_journal_with_nothing_published_says_so(app, family):
    observe(app, family, [family.child_a_id], "Ada draft unseen.", publish=False)
    client, page_path = _make_pack(app, family)
    pdf = " ".join(_pdf_text(client.get(f"{page_path}/journal.pdf").data).split())
    assert "Ada's learning journal" in pdf and "No observation of Ada's is published." in pdf
    assert "draft unseen" not in pdf


def test_a_parent_in_the_grace_period_is_given_until_their_access_ends_not_longer(
    app, family, mail_outbox
):
    """A parent whose child left signs in until the end of the grace period: their pack's
    email and page give that moment when it comes first, not a day they cannot sign in
    (and the pack goes then: nobody can download it any more)."""
    from app.people import children
    from app.people.sweep import sweep_setting
    from tests.helpers.people import get_child

    _journal_of_a(app, family)
    with inside(app, family.slug):
        children.set_child_leaving_date(get_child(family.child_a_id), clock.today(), by=None)
        db.session.commit()
        sweep_setting(14)  # Ada is archived; Pat is told their access ends in 14 days
        db.session.commit()
    mail_outbox.clear()
    access_ends = clock.today() + timedelta(days=14)
    client, page_path = _make_pack(app, family)
    said = f"until {access_ends:%-d %b %Y} 00:00 GMT"
    [email] = mail_outbox.to(family.email("parent-a"))
    assert said in text_of(email)
    assert said in _said(client.get(page_path).text)
    with inside(app, family.slug):
        pack = db.session.scalars(select(LeavingPack)).one()
        assert pack.expires_at < clock.now() + timedelta(days=15)


def test_a_pack_page_stops_refreshing_itself_when_the_pack_is_long_in_the_making(app, family):
    """A page left open on a pack whose task was lost must not keep its reader signed in:
    each self-refresh is a request, and the session ends after 30 minutes without one."""
    from datetime import timedelta

    from sqlalchemy import update

    from app import clock
    from app.retention.models import LeavingPack, PackStatus

    _journal_of_a(app, family)
    client, page_path = _make_pack(app, family)
    with inside(app, family.slug):
        db.session.execute(update(LeavingPack).values(status=PackStatus.QUEUED, progress=0))
        db.session.commit()
    refresh = '<meta http-equiv="refresh"'
    page = client.get(page_path).text
    assert refresh in page and "refreshes by itself" in page
    clock.advance(packs.PAGE_REFRESHES_FOR + timedelta(seconds=1))
    page = client.get(page_path).text
    assert refresh not in page
    assert "taking longer than usual" in page


def test_each_download_of_a_pack_is_in_the_audit_log(app, family):
    _journal_of_a(app, family)
    client, page_path = _make_pack(app, family)
    for kind in ("pdf", "zip", "json"):
        assert client.get(f"{page_path}/journal.{kind}").status_code == 200
    manager = signed_in(app, family, "manager")
    log = manager.get("/retention/audit?action=export.leaving_pack_downloaded").text
    rows = re.findall(r"<tr>.*?</tr>", log.split("<tbody>", 1)[1], re.S)
    assert len(rows) == 3 and all("Pat Okafor" in row and "Ada Okafor" in row for row in rows)
    assert {re.search(r"Format: (\w+)", row).group(1) for row in rows} == {"pdf", "zip", "json"}


def test_a_pack_asked_for_twice_by_a_double_tap_is_made_once(app, family, mail_outbox):
    """Each pack is the whole journal built by a worker and announced by email: the same
    request sent twice (a double tap, a resend) is the pack already asked for."""
    observe(app, family, [family.child_a_id], "Ada painted a sun.")
    client = signed_in(app, family, "parent_a")
    path = f"/retention/children/{family.child_a_id}/leaving-pack"
    first, second = (post_form(client, path) for _ in range(2))
    assert (first.status_code, second.status_code) == (303, 303)
    assert first.headers["Location"] == second.headers["Location"]
    with inside(app, family.slug):
        assert len(db.session.scalars(select(LeavingPack)).all()) == 1
    assert len(mail_outbox.to(family.email("parent-a"))) == 1
    # Someone else asking for the same child's pack gets a pack of their own.
    _, managers = _make_pack(app, family, "manager")
    assert managers != first.headers["Location"]


def test_the_packs_photos_are_named_by_date_and_words_without_another_childs_name(app, family):
    """A family tells 200 photos apart by the observation's words, as they read them:
    "Barty" stays out of the file names as he stays out of the text."""
    made = _journal_of_a(app, family)
    client, page_path = _make_pack(app, family)
    photos = zipfile.ZipFile(io.BytesIO(client.get(f"{page_path}/journal.zip").data))
    names = sorted(photos.namelist())
    assert names == [
        f"photos/2026-12-01_ada_ada-and-a-friend-built-a-tower_observation-{made['group']}"
        "_photo-1.jpg",
        f"photos/2026-12-01_ada_ada-painted-a-sunflower_observation-{made['alone']}_photo-1.jpg",
    ]
    for name in B_NAMES:
        assert not any(name.lower() in file.lower() for file in names), name


def test_a_pack_whose_task_was_lost_is_made_by_the_sweep_and_announced_once(
    app, family, mail_outbox, tasks_left_to_workers
):
    """The broker took the task but no worker ever will (or the broker was down when the
    request committed): the pack is not left "being made" for ever."""
    _journal_of_a(app, family)
    client, page_path = _make_pack(app, family)
    with app.app_context():
        run_and_record("pack-sweep")
    assert "being made" in client.get(page_path).text  # not lost yet
    clock.advance(packs.LOST_AFTER + timedelta(minutes=1))

    with app.app_context():
        run = run_and_record("pack-sweep")
        again = run_and_record("pack-sweep")
        run_and_record("email-delivery")  # no worker takes the task sent after the commit

    # (other tests' settings may hold lost packs too: the job runs over every setting)
    assert run.outcome is again.outcome is Outcome.SUCCEEDED and "packs made" in run.summary
    assert "2 observations and 2 photos" in client.get(page_path).text
    assert client.get(f"{page_path}/journal.pdf").status_code == 200
    assert len(mail_outbox.to(family.email("parent-a"))) == 1


def test_a_pack_being_made_is_not_made_again_by_the_sweep(app, family, tasks_left_to_workers):
    _journal_of_a(app, family)
    _make_pack(app, family)
    clock.advance(packs.LOST_AFTER + timedelta(minutes=1))
    with inside(app, family.slug):
        [pack] = db.session.scalars(select(LeavingPack)).all()
        with job_lock(packs.building_lock(pack.id)) as held:
            assert held is not None
            with app.app_context():
                run_and_record("pack-sweep")
    with inside(app, family.slug):
        assert db.session.get_one(LeavingPack, pack.id).status is PackStatus.QUEUED
