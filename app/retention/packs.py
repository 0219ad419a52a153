"""Leaving packs: a child's whole journal to take away, as the person who asks sees it.

A parent (while they can still sign in, so during the grace period after their child
leaves) or a manager asks for a pack; a Celery task builds three files under
``MEDIA_ROOT/<setting>/packs/``:

- ``.pdf``: every published observation with its date, areas, text, next steps,
  comments and photos (reportlab, which needs no system libraries);
- ``.zip``: the original photos (re-encoded without EXIF when uploaded), named by date;
- ``.json``: the same observations for another system to import, valid against
  ``schemas/leaving-pack.schema.json``.

All three come from the one viewer-shaped reading the journal pages use
(``app.journal.viewing.ChildView``), so the group-name policy and photo consent hold in
each exactly as on the pages. The task reports progress on the pack's row, then emails
the person (through the outbox) a link to the pack's page, where they download the files
signed in, until the pack expires (the retention schedule's period for exports). The ZIP
and the JSON are streamed to disk one observation at a time, the PDF a part at a time
(``_PdfParts``), so building a pack takes the same memory whatever the journal's size
(measured in ``bench/retention.py``).
"""

from __future__ import annotations

import json
import logging
import secrets
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import IO

import pikepdf
from celery import shared_task
from reportlab import rl_config
from reportlab.lib.units import mm
from reportlab.platypus import Image, Spacer
from sqlalchemy import Select, select, update

from app import clock
from app.access.policy import Action, can
from app.auth import audit
from app.auth.models import User
from app.auth.viewer import Reader
from app.extensions import db
from app.journal import access_log, comments, listing
from app.journal.masking import name_for_file
from app.journal.models import JournalView, Observation
from app.journal.photo_processing import make_all_ready
from app.journal.storage import setting_folder
from app.journal.viewing import ShownObservation, as_json, child_view
from app.mail import queue_email
from app.people import departures
from app.people.models import Child
from app.retention.models import LeavingPack, PackStatus
from app.retention.pdf_styles import build_pdf, pdf_paragraph
from app.retention.schedule import retention_schedule
from app.storage.deletions import schedule_file_deletion
from app.timezones import setting_zone
from tenants.binding import bind_schema, current_setting, tenant_context
from tenants.each_setting import EachSettingReport, run_each_setting
from tenants.routing import setting_url
from workers.after_commit import send_task_after_commit
from workers.jobs import job_lock

log = logging.getLogger(__name__)

SCHEMA_PATH = Path(__file__).parent / "schemas" / "leaving-pack.schema.json"
FORMATS = {"pdf": "application/pdf", "zip": "application/zip", "json": "application/json"}
PROGRESS_EVERY = 25  # observations between two progress updates
PHOTO_WIDTH = 120 * mm
PDF_PART = 50  # observations per part of the PDF (see _PdfParts)

# Photos go into the PDF as their JPEG bytes. reportlab would also wrap them in ASCII85,
# a quarter bigger and, without its C accelerator, most of the time of a whole pack.
rl_config.useA85 = 0


@cache
def pack_schema() -> dict[str, object]:
    return json.loads(SCHEMA_PATH.read_text())


# ---------------------------------------------------------------- asking for a pack


def request_pack(child: Child, *, by: User) -> LeavingPack:
    """Queue a pack of ``child``'s journal for ``by`` (the page checked they may see it),
    or the one ``by`` asked for a moment ago (unless it failed)."""
    asked_before = db.session.scalar(
        select(LeavingPack)
        .where(
            LeavingPack.child_id == child.id,
            LeavingPack.requested_by_id == by.id,
            LeavingPack.status != PackStatus.FAILED,
            LeavingPack.created_at >= clock.sent_twice_since(),
        )
        .order_by(LeavingPack.id.desc())
        .limit(1)
    )
    if asked_before is not None:
        return asked_before
    pack = LeavingPack(
        child_id=child.id,
        requested_by_id=by.id,
        status=PackStatus.QUEUED,
        progress=0,
        file_stem=secrets.token_urlsafe(24),
        observations=0,
        photos=0,
        created_at=clock.now(),
        expires_at=_pack_expiry(by),
    )
    db.session.add(pack)
    db.session.flush()
    audit.record("export.leaving_pack_requested", actor=by, child_id=child.id, pack_id=pack.id)
    send_task_after_commit(db.session(), build_pack_task, current_setting().slug, pack.id)
    return pack


def _pack_expiry(reader: User) -> datetime:
    """When a pack for ``reader`` goes: after the retention schedule's period for exports,
    or when the reader's access ends if that comes first (a parent whose last child left
    signs in until the setting's midnight starting the day they were told)."""
    kept_until = clock.now() + timedelta(days=retention_schedule()["export_retention_days"])
    access_ends_on = departures.access_ends_on(reader)
    if access_ends_on is None:
        return kept_until
    return min(kept_until, datetime.combine(access_ends_on, time(), tzinfo=setting_zone()))


def pack_for(viewer: Reader, pack_id: int) -> LeavingPack | None:
    """The viewer's own pack with this id (only its requester ever sees a pack)."""
    return db.session.scalar(
        select(LeavingPack).where(
            LeavingPack.id == pack_id, LeavingPack.requested_by_id == viewer.id
        )
    )


def packs_of(viewer: Reader, child: Child) -> list[LeavingPack]:
    return list(
        db.session.scalars(
            select(LeavingPack)
            .where(LeavingPack.requested_by_id == viewer.id, LeavingPack.child_id == child.id)
            .order_by(LeavingPack.id.desc())
        )
    )


def pack_file(pack: LeavingPack, kind: str) -> Path:
    return setting_folder() / "packs" / f"{pack.file_stem}.{kind}"


def download_name(pack: LeavingPack, child: Child, kind: str) -> str:
    """The name a pack's file is saved under: the day it was made, and whose journal it is
    (a parent of two children downloads two packs), as the photos inside are named."""
    name = {"pdf": "journal.pdf", "zip": "photos.zip", "json": "journal.json"}[kind]
    day = f"{pack.created_at.astimezone(setting_zone()):%Y-%m-%d}"
    return "_".join(part for part in (day, name_for_file(child.known_as), name) if part)


def record_download(pack: LeavingPack, kind: str, *, by: User) -> None:
    """Each download of a pack is in the audit log: it takes a whole journal away."""
    audit.record(
        "export.leaving_pack_downloaded",
        actor=by,
        child_id=pack.child_id,
        pack_id=pack.id,
        format=kind,
    )


def is_downloadable(pack: LeavingPack) -> bool:
    return pack.status is PackStatus.READY and not has_expired(pack)


def has_expired(pack: LeavingPack) -> bool:
    """Whether the pack was made and is past its expiry: its files may still be there
    until the night's purge, but it is never downloaded again."""
    return pack.status is PackStatus.READY and pack.expires_at <= clock.now()


# A pack's page reloads itself while the pack is being made (a journal of 500 observations
# takes well under a minute), but not for ever: each reload is a request, and a page left
# open on a pack whose task was lost would keep its reader signed in past the 30 minutes
# of inactivity that end a session.
PAGE_REFRESHES_FOR = timedelta(minutes=10)


def page_refreshes(pack: LeavingPack) -> bool:
    """Whether the pack's page should reload itself to show its progress."""
    being_made = pack.status in (PackStatus.QUEUED, PackStatus.BUILDING)
    return being_made and clock.now() - pack.created_at < PAGE_REFRESHES_FOR


def expired_packs() -> Select[tuple[LeavingPack]]:
    """The packs past their expiry."""
    return select(LeavingPack).where(LeavingPack.expires_at <= clock.now())


def purge_expired_packs() -> list[int]:
    """Delete packs past their expiry, their files after the commit; returns their ids."""
    expired = list(db.session.scalars(expired_packs()))
    _remove(expired)
    return [pack.id for pack in expired]


def remove_packs(pack_ids: list[int]) -> None:
    """Delete these packs and their files (the ledger's replay of their purge: a restore
    brings back the rows and, with the media, the files, each holding a whole journal)."""
    _remove(list(db.session.scalars(select(LeavingPack).where(LeavingPack.id.in_(pack_ids)))))


def _remove(packs: list[LeavingPack]) -> None:
    forget_pack_files(packs)
    for pack in packs:
        db.session.delete(pack)
    db.session.flush()


def forget_pack_files(packs: list[LeavingPack]) -> None:
    """Delete the packs' files once the current transaction commits."""
    if packs:
        schedule_file_deletion(pack_file(pack, kind) for pack in packs for kind in FORMATS)


# ---------------------------------------------------------------- building one


@shared_task(name="retention.build_leaving_pack", ignore_result=True)
def build_pack_task(slug: str, pack_id: int) -> None:
    """Build a queued pack (sent when the request commits; safe to run twice)."""
    with tenant_context(slug):
        build_pack(pack_id)


LOST_AFTER = timedelta(minutes=10)
"""A pack still queued or being made this long after it was asked for has lost its task
(the broker was down at the commit, or its worker died): the ``pack-sweep`` job makes
it. A journal of 500 observations takes well under a minute."""


def building_lock(pack_id: int) -> str:
    """The name of the lock (``workers.jobs.job_lock``) held while the pack is made:
    its task and the sweep never make it at once, and the lock dies with its holder."""
    return f"leaving-pack {current_setting().schema_name} {pack_id}"


def build_pack(pack_id: int) -> bool:
    """Build the pack's three files, then mark it ready and email its link; commits.
    False when there was nothing to do: made already, or being made elsewhere."""
    with job_lock(building_lock(pack_id)) as held:
        return held is not None and _build(pack_id)


def pack_sweep() -> EachSettingReport:
    """The ``pack-sweep`` job: make every setting's packs whose task was lost."""
    return run_each_setting(lambda setting: make_lost_packs())


def make_lost_packs() -> dict[str, int] | None:
    """Make the bound setting's packs queued or being made for longer than ``LOST_AFTER``
    (one whose maker is alive holds its lock and is left to it). A pack that fails is
    marked failed, its reader told on its page, and the run fails (recorded)."""
    lost = list(
        db.session.scalars(
            select(LeavingPack.id)
            .where(
                LeavingPack.status.in_((PackStatus.QUEUED, PackStatus.BUILDING)),
                LeavingPack.created_at < clock.now() - LOST_AFTER,
            )
            .order_by(LeavingPack.id)
        )
    )
    made = sum(build_pack(pack_id) for pack_id in lost)
    return {"packs made": made} if made else None


def _build(pack_id: int) -> bool:
    pack = db.session.get(LeavingPack, pack_id)
    if pack is None or pack.status is PackStatus.READY:
        return False
    viewer = db.session.get_one(User, pack.requested_by_id)
    child = db.session.get_one(Child, pack.child_id)
    _set_progress(pack_id, PackStatus.BUILDING, 0)
    try:
        counts = _write_files(pack, child, viewer)
    except Exception:
        db.session.rollback()
        _set_progress(pack_id, PackStatus.FAILED, 0)
        raise
    pack = db.session.get_one(LeavingPack, pack_id)
    pack.status, pack.progress, pack.finished_at = PackStatus.READY, 100, clock.now()
    pack.observations, pack.photos = counts
    access_log.record_view(viewer, [child], JournalView.EXPORT)
    queue_email(
        viewer.email,
        f"{_child_name(child, viewer)}'s learning journal is ready to download",
        "leaving_pack_ready",
        user_id=viewer.id,
        user=viewer,
        child_name=_child_name(child, viewer),
        setting_name=current_setting().name,
        link=setting_url(current_setting().slug, f"/retention/packs/{pack.id}"),
        expires_at=pack.expires_at,
    )
    db.session.commit()
    return True


def _set_progress(pack_id: int, status: PackStatus, progress: int) -> None:
    """Record progress in a short transaction of its own, so the page sees it at once."""
    with db.engine.begin() as connection:
        bind_schema(connection, current_setting().schema_name)
        connection.execute(
            update(LeavingPack)
            .where(LeavingPack.id == pack_id)
            .values(status=status, progress=progress)
        )


def _child_name(child: Child, viewer: Reader) -> str:
    return child.known_as if can(viewer, Action.READ_AS_FAMILY) else child.full_name


class _PdfParts:
    """The PDF, written a part at a time and joined at the end.

    reportlab keeps every page of a document, with the bytes of each photo on it, until
    it writes the file: a whole journal at once would take memory in proportion to the
    journal. So every ``PDF_PART`` observations are built into a part file of their own,
    and qpdf (through pikepdf) joins the parts, reading each photo from its part as it
    writes the whole (qpdf's own page merging: copying pages in Python held them all).
    """

    def __init__(self, path: Path, title: str, author: str) -> None:
        self.path, self.title, self.author = path, title, author
        self.parts: list[Path] = []
        self.flowables: list[object] = []
        self.observations = 0

    def add(self, flowables: Iterable[object]) -> None:
        """Add one observation's flowables."""
        self.flowables.extend(flowables)
        self.observations += 1
        if self.observations % PDF_PART == 0:
            self._write_part()

    def finish(self) -> None:
        if self.flowables or not self.parts:
            self._write_part()
        first, *rest = (str(part) for part in self.parts)
        # The first part's document information (its title) is the whole's.
        job = pikepdf.Job(["qpdf", first, "--pages", ".", *rest, "--", str(self.path)])
        job.run()
        if job.exit_code not in (0, pikepdf.Job.EXIT_WARNING):
            raise RuntimeError(f"qpdf could not join the parts of {self.path.name}")
        self.discard()

    def discard(self) -> None:
        for part in self.parts:
            part.unlink(missing_ok=True)

    def _write_part(self) -> None:
        part = self.path.with_name(f"{self.path.name}.{len(self.parts)}")
        self.parts.append(part)
        build_pdf(part, self.title, self.author, self.flowables)
        self.flowables = []


@dataclass
class _Pack:
    """The three files being written, each to a temporary name until the pack is whole."""

    pdf: _PdfParts
    photos: zipfile.ZipFile
    json: IO[str]
    first: bool = True


def _write_files(pack: LeavingPack, child: Child, viewer: Reader) -> tuple[int, int]:
    folder = setting_folder() / "packs"
    folder.mkdir(parents=True, exist_ok=True, mode=0o750)
    partial = {kind: folder / f".partial-{pack.file_stem}.{kind}" for kind in FORMATS}

    def progress(done: int) -> None:
        _set_progress(pack.id, PackStatus.BUILDING, done)

    counts = write_journal(child, viewer, partial, progress)
    for kind, path in partial.items():
        path.replace(pack_file(pack, kind))
    return counts


def write_journal(
    child: Child,
    viewer: Reader,
    files: dict[str, Path],
    progress: Callable[[int], None] = lambda per_cent: None,
) -> tuple[int, int]:
    """Write ``child``'s published journal as ``viewer`` sees it to ``files["pdf"]``,
    ``files["zip"]`` and ``files["json"]``; returns how many observations and photos."""
    published = [o for o in listing.whole_journal(child, viewer) if o.is_published]
    published.sort(key=lambda observation: (observation.observed_on, observation.id))
    view = child_view(viewer, child)
    comments_by_observation = comments.family_comments(child, published)
    photo_count = 0
    title = f"{_child_name(child, viewer)}'s learning journal"
    with ExitStack() as stack:
        out = _Pack(
            pdf=_PdfParts(files["pdf"], title, current_setting().name),
            photos=stack.enter_context(zipfile.ZipFile(files["zip"], "w", zipfile.ZIP_STORED)),
            json=stack.enter_context(files["json"].open("w", encoding="utf-8")),
        )
        stack.callback(out.pdf.discard)  # part files left by a failure
        _start(out, child, viewer)
        for number, observation in enumerate(published, start=1):
            shown = view.show(observation, comments_by_observation[observation.id])
            photo_count += _add(out, shown)
            if number % PROGRESS_EVERY == 0:
                progress(90 * number // len(published))
        if not published:  # a PDF of a title alone would look like a failed one
            name = _child_name(child, viewer)
            out.pdf.flowables.append(
                pdf_paragraph(f"No observation of {name}'s is published.", "BodyText")
            )
        out.json.write("]}\n")
        out.pdf.finish()
    return len(published), photo_count


def _start(out: _Pack, child: Child, viewer: Reader) -> None:
    name = _child_name(child, viewer)
    head = {
        "format": "learning-journals/leaving-pack",
        "version": 1,
        "setting": current_setting().name,
        "child": name,
        "made_at": clock.now().isoformat(),
    }
    out.json.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "observations": [')
    out.pdf.flowables.append(pdf_paragraph(out.pdf.title, "Title"))
    out.pdf.flowables.append(pdf_paragraph(current_setting().name, "Normal"))


def _photo_path(file_name: str) -> str:
    return f"photos/{file_name}"


def _add(out: _Pack, shown: ShownObservation) -> int:
    """One observation into the three files; returns how many photos went in."""
    document = as_json(shown, lambda photo, size: "")
    document.pop("status")
    document["photos"] = [
        {"file": _photo_path(photo.file_name), "caption": photo.caption, "alt": photo.alt}
        for photo in shown.photos
    ]
    out.json.write(("" if out.first else ",") + json.dumps(document, ensure_ascii=False))
    out.first = False
    folder = setting_folder()
    make_all_ready(photo.photo for photo in shown.photos)  # files, never the uploaded bytes
    for photo in shown.photos:
        out.photos.write(folder / photo.photo.file_name, _photo_path(photo.file_name))
    out.pdf.add(_pdf_observation(shown, folder))
    return len(shown.photos)


def _pdf_observation(shown: ShownObservation, folder: Path) -> Iterator[object]:
    observation: Observation = shown.observation
    yield Spacer(1, 8 * mm)
    yield pdf_paragraph(f"{observation.observed_on:%-d %B %Y}: {shown.children}", "Heading2")
    if observation.area_names:
        yield pdf_paragraph("Areas: " + ", ".join(observation.area_names), "Italic")
    for paragraph in shown.text.plain.split("\n"):
        if paragraph.strip():
            yield pdf_paragraph(paragraph, "BodyText")
    if shown.next_steps:
        yield pdf_paragraph("Next steps: " + shown.next_steps.plain, "BodyText")
    for photo in shown.photos:
        # Scaled into the box keeping its shape (reportlab reads the size from the file).
        thumbnail = str(folder / photo.photo.thumbnail_name)
        yield Image(thumbnail, PHOTO_WIDTH, PHOTO_WIDTH, kind="proportional")
        if photo.caption:
            yield pdf_paragraph(photo.caption, "Italic")
    for comment in shown.comments:
        author = comment.comment.author.full_name if comment.comment.author else "Someone"
        yield pdf_paragraph(f"{author}: {comment.body}", "BodyText")
