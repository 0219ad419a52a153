"""Making a waiting photo ready: the display image and thumbnail from the uploaded bytes.

The upload's request only checks the file from its header and structure
(``media.check_upload``), keeps its bytes in the setting's waiting folder (never
served, never exported) and commits the photo as WAITING: decoding a 12 MP photo
costs more CPU than the rest of that request together. The display image and the
thumbnail are then made by ``make_ready``, the one function that does it, reached
three ways:

- the ``journal.process_photo`` task, sent when the upload commits (on the
  ``photos`` queue, served by a worker of its own at a lower CPU priority, so
  photos never hold up mail);
- on the spot, by anything that reads the photo before then (its URLs, the
  exports): a reader always gets the processed, metadata-free JPEG, never the
  uploaded bytes, however slow or absent the worker is;
- the ``photo-sweep`` job, every few minutes, for photos whose task was lost
  (broker down, worker killed).

Each run takes the photo's row lock first and does nothing unless the photo
still waits, so two runs never both write it. A file that cannot be decoded after
all is marked FAILED (its key person is told on the observation; families never
see it); so is a waiting photo whose bytes are gone (a setting restored from a
backup taken before they were written). Either way the waiting bytes are deleted
through the durable queue once the outcome is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from celery import shared_task
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.journal import storage
from app.journal.media import MediaRejected, process_upload
from app.journal.models import Photo, PhotoState
from tenants.binding import any_status_context
from tenants.each_setting import EachSettingReport, run_each_setting
from workers.queues import PHOTO_QUEUE

log = logging.getLogger(__name__)

# The task is sent at commit and takes well under a second; a photo still waiting after
# this was surely lost by the broker or a killed worker.
LOST_AFTER = timedelta(minutes=3)
SWEEP_BATCH = 50


def make_ready(photo_id: int) -> Photo | None:
    """Process the photo if it still waits (under its row lock); returns it, as it is now.

    Flushes, never commits: the caller's transaction (a request's, a task's) keeps the
    files it wrote, and the deletion of the waiting bytes, only if it commits.
    """
    photo = db.session.scalar(
        select(Photo)
        .where(Photo.id == photo_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if photo is None or photo.state is not PhotoState.WAITING:
        return photo
    uploaded = storage.waiting_bytes(photo.file_name)
    if uploaded is None and storage.all_stored(photo.file_name, photo.thumbnail_name):
        # A backup's database from before the photo was made, its files from after.
        photo.state = PhotoState.READY
        db.session.flush()
        return photo
    try:
        if uploaded is None:
            raise MediaRejected("The uploaded file is gone.", status=410)
        image = process_upload(uploaded)
    except MediaRejected as refusal:
        log.warning("photo %s could not be processed: %s", photo.id, refusal.message)
        photo.state = PhotoState.FAILED
    else:
        storage.store_named({photo.file_name: image.data, photo.thumbnail_name: image.thumbnail})
        photo.state = PhotoState.READY
        photo.width, photo.height, photo.size_bytes = image.width, image.height, len(image.data)
    storage.remove_waiting_after_commit(photo.file_name)
    db.session.flush()
    return photo


def make_all_ready(photos: Iterable[Photo]) -> None:
    """``make_ready`` each photo that still waits (before an export reads their files)."""
    for photo in photos:
        if photo.state is PhotoState.WAITING:
            make_ready(photo.id)


def make_setting_ready() -> int:
    """``make_ready`` every photo of the bound setting that waits; returns how many."""
    waiting = list(db.session.scalars(select(Photo.id).where(Photo.state == PhotoState.WAITING)))
    for photo_id in waiting:
        make_ready(photo_id)
    return len(waiting)


@shared_task(name="journal.process_photo", ignore_result=True, queue=PHOTO_QUEUE)
def process_photo_task(slug: str, photo_id: int) -> None:
    """Make one uploaded photo ready (sent when its upload commits)."""
    with any_status_context(slug):
        make_ready(photo_id)
        db.session.commit()


class PhotosNotProcessed(RuntimeError):
    """Photos failed in an unexpected way (not a file we cannot read): a bug or a fault."""


def process_lost_photos() -> dict[str, int] | None:
    """The bound setting's photos waiting for longer than ``LOST_AFTER``, each processed
    in a transaction of its own. One that fails in an unexpected way stays waiting for
    the next sweep, and the run fails (``workers.runs`` records it), never silently."""
    processed = failed = 0
    while not failed and (batch := _lost_batch()):
        for photo_id in batch:
            try:
                make_ready(photo_id)
                db.session.commit()
                processed += 1
            except Exception:
                db.session.rollback()
                log.exception("photo %s could not be processed; the next sweep retries", photo_id)
                failed += 1
    if failed:
        raise PhotosNotProcessed(
            f"{failed} photo(s) could not be processed ({processed} were); retried next sweep"
        )
    return {"photos processed": processed} if processed else None


def _lost_batch() -> list[int]:
    return list(
        db.session.scalars(
            select(Photo.id)
            .where(Photo.state == PhotoState.WAITING, Photo.created_at < clock.now() - LOST_AFTER)
            .order_by(Photo.created_at)
            .limit(SWEEP_BATCH)
        )
    )


def photo_sweep() -> EachSettingReport:
    """The ``photo-sweep`` job: process every setting's photos whose task was lost."""
    return run_each_setting(lambda setting: process_lost_photos(), suspended_too=True)
