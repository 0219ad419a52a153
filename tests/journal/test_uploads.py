"""Photos through the upload pages: refused with a 4xx and a message, or stored clean.

Files are written to ``MEDIA_ROOT/<setting>/`` under random names, atomically, and
removed again when the transaction that wrote them does not commit.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.config import MAX_REQUEST_MB
from app.extensions import db
from app.journal import storage
from app.journal.models import Observation, Photo
from tests.helpers.clients import post_form
from tests.helpers.journal import (
    observe,
    observe_with_a_photo,
    photo_bytes,
    read_image,
    signed_in,
    upload,
)
from tests.helpers.people import inside
from tests.journal.images import blank_png, encode, jpeg_with_everything, noise_photo


def _draft(app, family) -> int:
    return observe(app, family, [family.child_a_id], "Ada at the easel.", publish=False)


def _upload_photo(client, observation_id: int, data: bytes, name: str = "photo.jpg", **fields):
    return post_form(
        client,
        f"/journal/observations/{observation_id}/photos",
        {"photo": upload(data, name), "caption": "", **fields},
        content_type="multipart/form-data",
    )


def _photo_count(app, slug: str) -> int:
    with inside(app, slug):
        return db.session.scalar(select(func.count()).select_from(Photo))


def _stored_files(app, slug: str) -> list[str]:
    with inside(app, slug):
        folder = storage.setting_folder()
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _polyglot_gif_html() -> bytes:
    return encode(noise_photo(32, 32), "GIF") + b"<script>alert(document.cookie)</script>"


def _truncated_jpeg() -> bytes:
    whole = encode(noise_photo(800, 600), "JPEG", quality=90)
    return whole[: len(whole) // 2]


REFUSED = {
    "text named .jpg": (b"Just some notes, not a photo at all.\n" * 20, "notes.jpg", 415),
    "html named .png": (b"<html><script>alert(1)</script></html>", "x.png", 415),
    "gif/html polyglot": (_polyglot_gif_html(), "funny.gif", 415),
    "30000x30000 png bomb": (blank_png(30_000, 30_000), "bomb.png", 422),
    "truncated jpeg": (_truncated_jpeg(), "half.jpg", 422),
    "21 MB file": (b"\xff\xd8\xff" + bytes(21 * 1024 * 1024), "huge.jpg", 413),
}
MESSAGES = {
    415: "not a photo we can use",
    422: "",  # too many pixels, or damaged: each says so in its own words
    413: "larger than 20 MB",
}


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_a_file_that_is_not_a_usable_photo_is_refused_with_a_message(app, family, case):
    data, name, status = REFUSED[case]
    observation_id = _draft(app, family)
    staff = signed_in(app, family, "staff")
    response = _upload_photo(staff, observation_id, data, name)
    assert response.status_code == status
    assert 'class="error-message"' in response.text and 'id="photo-error-1"' in response.text
    assert MESSAGES[status] in response.text
    assert _photo_count(app, family.slug) == 0
    assert _stored_files(app, family.slug) == []


def test_an_upload_over_the_request_limit_gets_a_clear_413_page(app, family):
    observation_id = _draft(app, family)
    staff = signed_in(app, family, "staff")
    too_much = bytes((MAX_REQUEST_MB + 1) * 1024 * 1024)
    response = _upload_photo(staff, observation_id, too_much, "big.jpg")
    assert response.status_code == 413
    assert "That photo is too large" in response.text
    assert "up to 20 MB each, and 60 MB together" in response.text
    assert _photo_count(app, family.slug) == 0


def test_a_too_large_photo_on_the_new_observation_form_saves_nothing(app, family):
    staff = signed_in(app, family, "staff")
    response = post_form(
        staff,
        "/journal/observations/new",
        {
            "observed_on": "2026-12-01",
            "child_ids": [str(family.child_a_id)],
            "text": "Ada and a very big photo.",
            "photo": upload(blank_png(30_000, 30_000), "bomb.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "too many pixels" in response.text
    assert "Ada and a very big photo." in response.text  # what was typed is kept
    with inside(app, family.slug):
        assert db.session.scalar(select(func.count()).select_from(Observation)) == 0


def test_the_stored_photo_has_no_exif_or_gps_when_read_back(app, family):
    observation_id = _draft(app, family)
    staff = signed_in(app, family, "staff")
    original = jpeg_with_everything(noise_photo(1200, 900))
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # GPS is there to begin with
    assert _upload_photo(staff, observation_id, original).status_code == 303
    with inside(app, family.slug):
        photo = db.session.scalars(select(Photo)).one()
        on_disk = storage.path_of(photo.file_name).read_bytes()
        thumbnail = storage.path_of(photo.thumbnail_name).read_bytes()
    served = staff.get(f"/journal/photos/{photo.id}/full")
    assert served.status_code == 200 and served.get_data() == on_disk
    for data in (on_disk, thumbnail):
        image = read_image(data)
        assert image.format == "JPEG"
        assert not image.getexif() and not image.getexif().get_ifd(0x8825)
        assert "exif" not in image.info and "xmp" not in image.info
        assert b"Secret" not in data and b"PhoneMaker" not in data


def test_a_png_named_jpg_and_a_jpeg_with_a_zip_appended_are_stored_as_clean_jpegs(app, family):
    observation_id = _draft(app, family)
    staff = signed_in(app, family, "staff")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("evil.html", "<script>alert(1)</script>")
    jpeg_and_zip = encode(noise_photo(320, 240), "JPEG") + archive.getvalue()
    png_named_jpg = encode(noise_photo(320, 240), "PNG")
    for data in (jpeg_and_zip, png_named_jpg):
        assert _upload_photo(staff, observation_id, data, "photo.jpg").status_code == 303
    with inside(app, family.slug):
        names = [p.file_name for p in db.session.scalars(select(Photo))]
        stored = [storage.path_of(name).read_bytes() for name in names]
    for data in stored:
        assert read_image(data).format == "JPEG"
        assert not zipfile.is_zipfile(io.BytesIO(data)) and b"<script>" not in data


def test_photos_are_served_privately_without_sniffing(app, family):
    _, photo_id = observe_with_a_photo(app, family, "Ada.")
    parent = signed_in(app, family, "parent_a")
    for path in (
        f"/journal/children/{family.child_a_id}/photos/{photo_id}/full",
        f"/journal/children/{family.child_a_id}/photos/{photo_id}/thumb",
    ):
        response = parent.get(path)
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
        assert response.headers["Cache-Control"].startswith("private")
        assert "public" not in response.headers["Cache-Control"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"].startswith("inline")


def test_file_names_on_disk_are_random_and_reveal_nothing(app, family):
    observation_id = _draft(app, family)
    staff = signed_in(app, family, "staff")
    _upload_photo(staff, observation_id, photo_bytes(), "Ada-Okafor-at-home.jpg")
    names = _stored_files(app, family.slug)
    assert len(names) == 2  # the photo and its thumbnail
    for name in names:
        assert "ada" not in name.lower() and "okafor" not in name.lower()
        assert len(name) >= 30 and name.endswith(".jpg") and not name.startswith(".")


# ---------------------------------------------------------------- files follow the transaction


def test_a_stored_file_is_removed_when_its_transaction_rolls_back(app, family):
    with inside(app, family.slug):
        name = storage.store(b"not committed", "jpg")
        path = storage.setting_folder() / name
        assert path.read_bytes() == b"not committed"
        db.session.rollback()
        assert not path.exists()


def test_a_stored_file_is_kept_when_its_transaction_commits(app, family):
    with inside(app, family.slug):
        name = storage.store(b"committed", "jpg")
        db.session.commit()
        path = storage.setting_folder() / name
    assert path.read_bytes() == b"committed"
    with inside(app, family.slug):
        assert storage.path_of(name) == path  # a new transaction's rollback leaves it alone
        db.session.rollback()
    assert path.exists()


def test_a_file_left_by_a_transaction_closed_without_commit_is_removed(app, family):
    with inside(app, family.slug):
        name = storage.store(b"abandoned", "jpg")
        path = storage.setting_folder() / name
    # tenant_context ended the session without a commit
    assert not path.exists()


def test_a_removed_photo_file_goes_only_once_the_removal_commits(app, family):
    observation_id = observe(
        app, family, [family.child_a_id], "Ada.", photos=[(photo_bytes(), "", None)], publish=False
    )
    with inside(app, family.slug):
        photo = db.session.scalars(select(Photo)).one()
        path = storage.path_of(photo.file_name)
        photo_id = photo.id
    staff = signed_in(app, family, "staff")
    with inside(app, family.slug):
        storage.remove_after_commit(photo.file_name)
        db.session.rollback()
    assert path.exists()
    response = post_form(staff, f"/journal/observations/{observation_id}/photos/{photo_id}/remove")
    assert response.status_code == 303
    assert not path.exists() and _stored_files(app, family.slug) == []


def test_a_photos_files_and_their_names_are_on_disk_before_its_row_can_commit(
    app, family, monkeypatch
):
    """A crash just after the commit must not lose a file the new row names: each file's
    bytes are flushed, and then its folder (where a rename lives), once for both files
    of an upload, with both files in place."""
    flushed: list[tuple[str, list[str]]] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        path = Path(os.readlink(f"/proc/self/fd/{descriptor}"))
        folder = path if path.is_dir() else path.parent
        flushed.append((path.name, sorted(p.name for p in folder.iterdir())))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    with inside(app, family.slug):
        folder = storage.setting_folder()
        folder.mkdir(parents=True, exist_ok=True)  # not the setting's first photo
        names = storage.store_all([b"the photo", b"its thumbnail"], "jpg")
        db.session.commit()
    incoming = [f"{storage.INCOMING_PREFIX}{name}" for name in names]
    assert flushed == [
        (incoming[0], [incoming[0]]),
        (incoming[1], sorted([names[0], incoming[1]])),
        (folder.name, sorted(names)),
    ]


def test_a_settings_first_photo_flushes_its_new_folders_name_too(app, family, monkeypatch):
    flushed: list[Path] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        flushed.append(Path(os.readlink(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    with inside(app, family.slug):
        folder = storage.setting_folder()
        assert not folder.exists()
        storage.store(b"the first photo", "jpg")
        db.session.commit()
    assert flushed[0] == folder.parent and flushed[-1] == folder


def test_no_temporary_file_is_left_behind(app, family):
    observation_id = _draft(app, family)
    staff = signed_in(app, family, "staff")
    _upload_photo(staff, observation_id, photo_bytes())
    assert not [name for name in _stored_files(app, family.slug) if name.startswith(".")]


def test_remove_photo_tapped_twice_says_it_is_removed_to_whoever_removed_it(app, family):
    observation_id = observe(
        app, family, [family.child_a_id], "Ada.", photos=[(photo_bytes(), "", None)], publish=False
    )
    with inside(app, family.slug):
        photo_id = db.session.scalars(select(Photo.id)).one()
    remove = f"/journal/observations/{observation_id}/photos/{photo_id}/remove"
    staff, manager = signed_in(app, family, "staff"), signed_in(app, family, "manager")

    first, second = (post_form(staff, remove) for _ in range(2))

    assert (first.status_code, second.status_code) == (303, 303)
    assert second.headers["Location"] == first.headers["Location"]
    assert "The photo is removed." in staff.get(second.headers["Location"]).text
    assert _photo_count(app, family.slug) == 0
    assert post_form(manager, remove).status_code == 404  # they removed nothing


def test_a_photo_upload_tapped_twice_keeps_one_photo_and_answers_as_the_first(app, family):
    observation_id = _draft(app, family)
    staff, manager = signed_in(app, family, "staff"), signed_in(app, family, "manager")
    data = photo_bytes()

    first, second = (_upload_photo(staff, observation_id, data) for _ in range(2))

    assert (first.status_code, second.status_code) == (303, 303)
    assert second.headers["Location"] == first.headers["Location"]
    assert "The photo is added." in staff.get(second.headers["Location"]).text
    assert _photo_count(app, family.slug) == 1
    # Another photo, or the same one from someone else, is a photo of its own.
    assert _upload_photo(staff, observation_id, photo_bytes(320, 240)).status_code == 303
    assert _upload_photo(manager, observation_id, data).status_code == 303
    assert _photo_count(app, family.slug) == 3


@pytest.mark.parametrize("who, path", [("staff", "/journal/observations/new"), ("parent_a", None)])
def test_a_form_refused_for_its_text_asks_for_the_chosen_photos_again(app, family, who, path):
    """A browser never fills a file input again: the form shown back says the photos chosen
    were not kept, beside the photo field, instead of dropping them silently."""
    client = signed_in(app, family, who)
    path = path or f"/journal/children/{family.child_a_id}/home-observations/new"
    response = post_form(
        client,
        path,
        {
            "observed_on": "2026-12-01",
            "child_ids": [str(family.child_a_id)],
            "text": "",
            "photo": [upload(photo_bytes(), "one.jpg"), upload(photo_bytes(), "two.jpg")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "is required." in response.text
    assert 'id="photo-error-1"' in response.text
    assert "Choose the photos again: they were not kept." in response.text
    with inside(app, family.slug):
        assert db.session.scalar(select(func.count()).select_from(Photo)) == 0
