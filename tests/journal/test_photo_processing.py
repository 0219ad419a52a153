"""An upload is answered at once; its display image and thumbnail are made after the request.

The request checks the file from its header and structure, keeps its bytes where nothing
serves them, and commits the photo as waiting; a task on the ``photos`` queue (a real
worker here), the photo's first reader, or the ``photo-sweep`` job makes it ready.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import redis
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.journal import storage
from app.journal.models import Photo, PhotoState
from app.journal.photo_processing import LOST_AFTER
from app.storage.deletions import drain_file_deletions
from tests.helpers.clients import post_form
from tests.helpers.journal import observe, photo_bytes, read_image, signed_in, upload
from tests.helpers.people import inside
from tests.helpers.workers import wait_until
from tests.journal.images import encode, noise_photo
from workers.jobs import run_and_record
from workers.models import JobRun, Outcome
from workers.queues import PHOTO_QUEUE


@pytest.fixture
def no_worker(app, celery_app):
    """Tasks go to the broker, and no worker takes them: as when every worker is down."""
    broker = redis.Redis.from_url(app.config["LJ"].REDIS_URL)
    broker.delete(PHOTO_QUEUE)
    yield
    broker.delete(PHOTO_QUEUE)


def _draft(app, family) -> int:
    return observe(app, family, [family.child_a_id], "Ada at the easel.")


def _upload_photo(client, observation_id: int, data: bytes):
    return post_form(
        client,
        f"/journal/observations/{observation_id}/photos",
        {"photo": upload(data, "photo.jpg"), "caption": "At the easel"},
        content_type="multipart/form-data",
    )


def _the_photo(app, slug: str) -> Photo:
    with inside(app, slug):
        photo = db.session.scalars(select(Photo)).one()
        db.session.expunge(photo)
        return photo


def _waiting_path(app, slug: str, photo: Photo):
    with inside(app, slug):
        return storage.waiting_folder() / photo.file_name


def _stored(app, slug: str, name: str):
    with inside(app, slug):
        return storage.setting_folder() / name


def _drain(app, slug: str) -> None:
    with inside(app, slug):
        drain_file_deletions()


def _damaged_inside_png() -> bytes:
    """A PNG whose structure is whole (it ends with IEND) but whose pixels cannot be decoded."""
    data = bytearray(encode(noise_photo(300, 200), "PNG"))
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    return bytes(data)


def _photo_urls(family, photo_id: int) -> list[str]:
    return [
        f"/journal/children/{family.child_a_id}/photos/{photo_id}/full",
        f"/journal/children/{family.child_a_id}/photos/{photo_id}/thumb",
    ]


def test_an_upload_answers_at_once_and_its_first_reader_gets_the_processed_photo(
    app, family, no_worker
):
    observation_id = _draft(app, family)
    staff = signed_in(app, family, "staff")
    original = photo_bytes(1200, 900)

    assert _upload_photo(staff, observation_id, original).status_code == 303

    photo = _the_photo(app, family.slug)
    waiting = _waiting_path(app, family.slug, photo)
    assert photo.state is PhotoState.WAITING and waiting.read_bytes() == original
    assert not _stored(app, family.slug, photo.file_name).exists()
    # The journal page lists it as usual; its parent's first fetch makes it.
    parent = signed_in(app, family, "parent_a")
    page = parent.get(f"/journal/children/{family.child_a_id}")
    assert f"/photos/{photo.id}/thumb" in page.text
    full, thumb = (parent.get(url) for url in _photo_urls(family, photo.id))
    assert full.status_code == thumb.status_code == 200
    for served in (full, thumb):
        image = read_image(served.get_data())
        assert image.format == "JPEG" and not image.getexif()
        assert served.get_data() != original and b"PhoneMaker" not in served.get_data()
    assert read_image(full.get_data()).size == (1200, 900)
    assert max(read_image(thumb.get_data()).size) == 480
    assert _the_photo(app, family.slug).state is PhotoState.READY
    _drain(app, family.slug)
    assert not waiting.exists()  # the uploaded bytes are gone once processed


def test_the_uploaded_bytes_are_never_served(app, family, no_worker):
    observation_id = _draft(app, family)
    staff = signed_in(app, family, "staff")
    original = photo_bytes()
    _upload_photo(staff, observation_id, original)
    photo = _the_photo(app, family.slug)
    name = photo.file_name
    for url in (
        f"/media/{family.slug}/{name}",
        f"/media/.waiting/{family.slug}/{name}",
        f"/.waiting/{family.slug}/{name}",
        f"/static/../.waiting/{family.slug}/{name}",
        f"/journal/photos/{name}",
        f"/journal/photos/{name}/full",
        f"/journal/photos/.waiting/{name}",
    ):
        assert staff.get(url).status_code == 404, url
    served = staff.get(f"/journal/photos/{photo.id}/full")
    assert served.status_code == 200 and served.get_data() != original


def test_a_worker_makes_the_photo_ready_and_deletes_the_upload(app, family, start_worker):
    worker = start_worker(family.slug, queues=f"celery,{PHOTO_QUEUE}")
    worker.wait_ready()
    observation_id = _draft(app, family)
    staff = signed_in(app, family, "staff")

    assert _upload_photo(staff, observation_id, photo_bytes(1200, 900)).status_code == 303

    wait_until(
        lambda: _the_photo(app, family.slug).state is PhotoState.READY, 60, "the worker's photo"
    )
    photo = _the_photo(app, family.slug)
    waiting = _waiting_path(app, family.slug, photo)
    wait_until(lambda: not waiting.exists(), 60, "the uploaded bytes to be deleted")
    on_disk = _stored(app, family.slug, photo.file_name).read_bytes()
    assert read_image(on_disk).size == (1200, 900)
    assert staff.get(f"/journal/photos/{photo.id}/full").get_data() == on_disk


def test_the_sweep_processes_a_photo_whose_task_was_lost(app, family, no_worker):
    observation_id = _draft(app, family)
    _upload_photo(signed_in(app, family, "staff"), observation_id, photo_bytes())
    photo = _the_photo(app, family.slug)

    with app.app_context():
        assert "photos processed" not in run_and_record("photo-sweep").summary  # not lost yet
    clock.advance(LOST_AFTER + timedelta(minutes=1))
    with app.app_context():
        run = run_and_record("photo-sweep")

    assert run.outcome is Outcome.SUCCEEDED and "1 photos processed" in run.summary
    assert _the_photo(app, family.slug).state is PhotoState.READY
    assert read_image(_stored(app, family.slug, photo.thumbnail_name).read_bytes())


def test_a_failure_in_processing_is_recorded_and_retried(app, family, no_worker, monkeypatch):
    observation_id = _draft(app, family)
    _upload_photo(signed_in(app, family, "staff"), observation_id, photo_bytes())
    clock.advance(LOST_AFTER + timedelta(minutes=1))

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr("app.journal.photo_processing.process_upload", out_of_memory)
    with app.app_context():
        failed = run_and_record("photo-sweep")
    assert failed.outcome is Outcome.FAILED and family.slug in failed.summary
    with app.app_context():
        recorded = db.session.scalars(
            select(JobRun).where(JobRun.job == "photo-sweep").order_by(JobRun.id.desc())
        ).first()
        assert "1 photo(s) could not be processed" in recorded.errors[family.slug]
    assert _the_photo(app, family.slug).state is PhotoState.WAITING

    monkeypatch.undo()
    with app.app_context():
        retried = run_and_record("photo-sweep")
    assert retried.outcome is Outcome.SUCCEEDED
    assert _the_photo(app, family.slug).state is PhotoState.READY


def test_an_unreadable_upload_is_marked_failed_told_to_staff_and_hidden_from_families(app, family):
    observation_id = _draft(app, family)
    staff = signed_in(app, family, "staff")

    # Whole in its structure, so the request accepts it; its worker cannot decode it.
    assert _upload_photo(staff, observation_id, _damaged_inside_png()).status_code == 303

    photo = _the_photo(app, family.slug)
    assert photo.state is PhotoState.FAILED
    assert not _waiting_path(app, family.slug, photo).exists()
    page = staff.get(f"/journal/observations/{observation_id}")
    assert "This photo could not be read, please upload it again." in page.text
    parent = signed_in(app, family, "parent_a")
    journal = parent.get(f"/journal/children/{family.child_a_id}")
    assert f"/photos/{photo.id}/" not in journal.text and "could not be read" not in journal.text
    for url in _photo_urls(family, photo.id):
        assert parent.get(url).status_code == 404
    # The key person dismisses the message; nothing of the photo is left.
    dismissed = post_form(staff, f"/journal/observations/{observation_id}/photos/{photo.id}/remove")
    assert dismissed.status_code == 303
    assert "could not be read" not in staff.get(f"/journal/observations/{observation_id}").text
    with inside(app, family.slug):
        assert db.session.scalar(select(func.count()).select_from(Photo)) == 0


def test_a_waiting_photo_whose_bytes_are_gone_is_a_404_not_an_error(app, family, no_worker):
    """As after restoring one setting from a backup taken before its upload was written."""
    observation_id = _draft(app, family)
    _upload_photo(signed_in(app, family, "staff"), observation_id, photo_bytes())
    photo = _the_photo(app, family.slug)
    _waiting_path(app, family.slug, photo).unlink()

    parent = signed_in(app, family, "parent_a")
    for url in _photo_urls(family, photo.id):
        assert parent.get(url).status_code == 404
    assert _the_photo(app, family.slug).state is PhotoState.FAILED


def test_removing_a_waiting_photo_deletes_the_uploaded_bytes(app, family, no_worker):
    observation_id = _draft(app, family)
    staff = signed_in(app, family, "staff")
    _upload_photo(staff, observation_id, photo_bytes())
    photo = _the_photo(app, family.slug)
    waiting = _waiting_path(app, family.slug, photo)
    assert waiting.exists()

    removed = post_form(staff, f"/journal/observations/{observation_id}/photos/{photo.id}/remove")

    assert removed.status_code == 303
    _drain(app, family.slug)
    assert not waiting.exists()


def test_deleting_an_observation_with_a_waiting_photo_deletes_the_uploaded_bytes(
    app, family, no_worker
):
    observation_id = _draft(app, family)
    manager = signed_in(app, family, "manager")
    _upload_photo(manager, observation_id, photo_bytes())
    waiting = _waiting_path(app, family.slug, _the_photo(app, family.slug))

    deleted = post_form(
        manager, f"/journal/observations/{observation_id}/delete", {"reason": "Wrong child."}
    )

    assert deleted.status_code == 303
    _drain(app, family.slug)
    assert not waiting.exists()


def test_a_subject_access_export_holds_the_processed_photo_never_the_upload(app, family, no_worker):
    import zipfile

    from app.auth.models import User
    from app.retention.subject_access import RecordType, export_subject

    observation_id = _draft(app, family)
    original = photo_bytes(1200, 900)
    _upload_photo(signed_in(app, family, "staff"), observation_id, original)
    photo = _the_photo(app, family.slug)

    with inside(app, family.slug):
        manager = db.session.get(User, family.manager_id)
        path = export_subject(RecordType.CHILD, family.child_a_id, by=manager)
        db.session.commit()
    with zipfile.ZipFile(path) as archive:
        photos = [name for name in archive.namelist() if name.startswith("photos/")]
        exported = archive.read(photos[0])
    path.unlink()
    assert len(photos) == 1 and exported != original
    assert read_image(exported).format == "JPEG" and not read_image(exported).getexif()
    assert _the_photo(app, family.slug).state is PhotoState.READY
    assert exported == _stored(app, family.slug, photo.file_name).read_bytes()


def test_purging_a_child_with_a_waiting_photo_deletes_the_uploaded_bytes(app, family, no_worker):
    from tests.helpers.retention import archive

    observation_id = _draft(app, family)  # of child A alone: the purge takes it whole
    _upload_photo(signed_in(app, family, "staff"), observation_id, photo_bytes())
    waiting = _waiting_path(app, family.slug, _the_photo(app, family.slug))
    archive(app, family, family.child_a_id)

    purged = post_form(
        signed_in(app, family, "manager"),
        f"/retention/archive/child/{family.child_a_id}/purge",
        {"confirm_name": "Ada Okafor"},
    )

    assert purged.status_code == 303
    _drain(app, family.slug)
    assert not waiting.exists()


def _waiting_photo(app, family) -> tuple[bytes, Photo]:
    """A photo uploaded to a new draft of staff's, still waiting (its task not run), and
    the bytes uploaded."""
    original = photo_bytes(1200, 900)
    _upload_photo(signed_in(app, family, "staff"), _draft(app, family), original)
    photo = _the_photo(app, family.slug)
    assert photo.state is PhotoState.WAITING
    return original, photo


def test_the_settings_export_holds_the_processed_photo_never_the_upload(
    app, family, no_worker, tmp_path
):
    import zipfile

    from app.retention.setting_exit import export_setting

    original, photo = _waiting_photo(app, family)

    with app.app_context():
        export_setting(family.slug, tmp_path / "export.zip")

    with zipfile.ZipFile(tmp_path / "export.zip") as archive:
        media = {name: archive.read(name) for name in archive.namelist() if "media/" in name}
    assert (
        media[f"media/{photo.file_name}"] == _stored(app, family.slug, photo.file_name).read_bytes()
    )
    assert all(data != original and b"PhoneMaker" not in data for data in media.values())
    assert not any(".waiting" in name for name in media)


def test_a_leaving_pack_holds_the_processed_photo_never_the_upload(
    app, family, no_worker, celery_app
):
    import zipfile

    original, photo = _waiting_photo(app, family)
    celery_app.conf.task_always_eager = True  # the pack is built at once; the photo's task is lost
    parent = signed_in(app, family, "parent_a")

    made = post_form(parent, f"/retention/children/{family.child_a_id}/leaving-pack")

    assert made.status_code == 303
    pack = parent.get(f"{made.headers['Location']}/journal.zip")
    with zipfile.ZipFile(io.BytesIO(pack.get_data())) as photos:
        [name] = photos.namelist()
        packed = photos.read(name)
    assert packed == _stored(app, family.slug, photo.file_name).read_bytes() != original
