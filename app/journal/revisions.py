"""Corrections kept: once an observation has been published, each change is kept as
a revision (who, when, what changed from what) that staff and managers can read.
"""

from __future__ import annotations

from sqlalchemy import select

from app import clock
from app.auth.models import User
from app.extensions import db
from app.journal.models import Observation, ObservationRevision, Photo

Snapshot = dict[str, str]


def _photo_line(number: int, photo: Photo, names: dict[int, str]) -> str:
    seen = ", ".join(names.get(child_id, "a child") for child_id in sorted(photo.child_ids))
    caption = f" \u201c{photo.caption}\u201d" if photo.caption else ""
    return f"Photo {number}{caption}: {'shows ' + seen if seen else 'nobody chosen as in it'}"


def _snapshot(observation: Observation) -> Snapshot:
    """Every part of an observation a correction can change, as a reader would see it."""
    db.session.flush()
    names = {child.id: child.full_name for child in observation.children}
    return {
        "Status": "Published" if observation.is_published else "Withdrawn (draft)",
        "Date observed": f"{observation.observed_on:%-d %B %Y}",
        "Children": ", ".join(names.values()),
        "What happened": observation.text,
        "Next steps": observation.next_steps,
        "Areas of learning": "; ".join(observation.area_names),
        "Characteristics of effective learning": "; ".join(observation.characteristic_names),
        "Age band": observation.age_band_name or "",
        "Photos": "\n".join(
            _photo_line(number, photo, names)
            for number, photo in enumerate(observation.photos, start=1)
        ),
    }


def before_change(observation: Observation) -> Snapshot | None:
    """What the observation looks like now, if it has ever been published (only then are
    changes kept as revisions: a draft nobody has seen changes freely)."""
    if observation.published_at is None:
        return None
    return _snapshot(observation)


def revised(observation: Observation, before: Snapshot | None, *, by: User) -> None:
    """Keep what changed since ``before`` as a revision (who, when, what)."""
    if before is None:
        return
    after = _snapshot(observation)
    changes = [
        {"what": part, "before": before[part], "after": after[part]}
        for part in after
        if before.get(part) != after[part]
    ]
    if not changes:
        return
    now = clock.now()
    db.session.add(
        ObservationRevision(
            observation_id=observation.id, edited_at=now, editor_id=by.id, changes=changes
        )
    )
    if any(change["what"] != "Status" for change in changes):
        observation.edited_at = now  # families see the current version marked "edited"
    db.session.flush()


def revisions(observation: Observation) -> list[ObservationRevision]:
    """The corrections of an observation, newest first (for staff and managers)."""
    return list(
        db.session.scalars(
            select(ObservationRevision)
            .where(ObservationRevision.observation_id == observation.id)
            .order_by(ObservationRevision.edited_at.desc(), ObservationRevision.id.desc())
        )
    )
