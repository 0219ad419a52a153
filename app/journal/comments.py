"""Comments in one child's view of a published observation: written, corrected, taken
back by their author, hidden by staff.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from app import clock
from app.access.policy import Action, NotAllowed, check
from app.auth import audit
from app.auth.models import User
from app.extensions import db
from app.journal.closing import journal_closed, journal_closed_message
from app.journal.input_rules import COMMENT, clean_text
from app.journal.listing import ListedObservation, observation_for_staff
from app.journal.models import Comment, Observation
from app.people.models import Child


def add_comment(observation: Observation, child: Child, body: str, *, by: User) -> Comment:
    """A comment in ``child``'s view of a published observation (the page checked access);
    the same comment sent again a moment later is the one already added."""
    if not observation.is_published or child.id not in observation.child_ids:
        raise NotAllowed("Comments are added to published observations.")
    refuse_if_closed(observation, child)
    body = clean_text(body, "body", COMMENT)
    now = clock.now()
    sent_before = db.session.scalar(
        select(Comment).where(
            Comment.observation_id == observation.id,
            Comment.child_id == child.id,
            Comment.author_id == by.id,
            Comment.body == body,
            Comment.created_at >= clock.sent_twice_since(),
        )
    )
    if sent_before is not None:
        return sent_before
    comment = Comment(
        observation_id=observation.id,
        child_id=child.id,
        author_id=by.id,
        body=body,
        created_at=now,
    )
    db.session.add(comment)
    db.session.flush()
    return comment


def closed_to_comments(observation: Observation | ListedObservation, child: Child) -> str | None:
    """Why no comment may be added in ``child``'s view of the observation, if none may
    (``journal_closed``): said in the child's own name only, as a family may read it."""
    if not child.is_archived:
        return None  # the observation is in this child's open journal
    whole = (
        observation
        if isinstance(observation, Observation)
        else db.session.get_one(Observation, observation.id)
    )
    return journal_closed_message([child.known_as]) if journal_closed(whole) else None


def refuse_if_closed(observation: Observation, child: Child) -> None:
    if reason := closed_to_comments(observation, child):
        raise NotAllowed(reason)


def refuse_to_change(comment: Comment, *, by: User) -> None:
    """``NotAllowed`` unless ``by`` may change or take back ``comment``: its author, while
    it is shown and its child's journal is open (a closed journal is read as it is)."""
    check(by, Action.CHANGE_COMMENT, comment)
    observation = db.session.get_one(Observation, comment.observation_id)
    refuse_if_closed(observation, db.session.get_one(Child, comment.child_id))


def edit_comment(comment: Comment, body: str, *, by: User) -> None:
    """The author of a comment corrects it; families see it marked "edited"."""
    refuse_to_change(comment, by=by)
    comment.body = clean_text(body, "body", COMMENT)
    comment.edited_at = clock.now()
    db.session.flush()
    audit.record("comment.edited", actor=by, comment_id=comment.id)


def delete_comment(comment: Comment, *, by: User) -> None:
    """The author of a comment takes it back."""
    refuse_to_change(comment, by=by)
    audit.record("comment.deleted", actor=by, comment_id=comment.id)
    db.session.delete(comment)
    db.session.flush()


def comment_in_view(child: Child, observation: Observation, comment_id: int) -> Comment | None:
    """A comment of ``child``'s view of the observation (the page checked the view)."""
    return db.session.scalar(
        select(Comment).where(
            Comment.id == comment_id,
            Comment.observation_id == observation.id,
            Comment.child_id == child.id,
        )
    )


def hide_comment(comment: Comment, *, by: User) -> None:
    """Staff hide a comment from the family; it stays visible to staff, marked hidden."""
    check(by, Action.HIDE_COMMENTS)
    if comment.is_hidden:
        return
    comment.hidden_at, comment.hidden_by_id = clock.now(), by.id
    db.session.flush()
    audit.record("comment.hidden", actor=by, comment_id=comment.id)


def comments_in_view(
    observation: Observation | ListedObservation, child: Child, *, with_hidden: bool
) -> list[Comment]:
    """The comments on ``observation`` in ``child``'s view (an ORM row or one read as columns)."""
    query = select(Comment).where(
        Comment.observation_id == observation.id, Comment.child_id == child.id
    )
    if not with_hidden:
        query = query.where(Comment.hidden_at.is_(None))
    return list(db.session.scalars(query.order_by(Comment.created_at, Comment.id)))


def family_comments(child: Child, observations: Sequence[Observation]) -> dict[int, list[Comment]]:
    """The comments a family sees in ``child``'s view of each observation (one query)."""
    grouped: dict[int, list[Comment]] = {observation.id: [] for observation in observations}
    for comment in db.session.scalars(
        select(Comment)
        .where(
            Comment.observation_id.in_(grouped),
            Comment.child_id == child.id,
            Comment.hidden_at.is_(None),
        )
        .order_by(Comment.created_at, Comment.id)
    ):
        grouped[comment.observation_id].append(comment)
    return grouped


def comments_by_child(observation: Observation) -> dict[int, list[Comment]]:
    """Every comment on an observation (hidden ones too), per child's view: for staff."""
    grouped: dict[int, list[Comment]] = {}
    for comment in db.session.scalars(
        select(Comment)
        .where(Comment.observation_id == observation.id)
        .order_by(Comment.created_at, Comment.id)
    ):
        grouped.setdefault(comment.child_id, []).append(comment)
    return grouped


def comment_for_staff(user: User, comment_id: int) -> Comment | None:
    comment = db.session.get(Comment, comment_id)
    if comment is None or observation_for_staff(user, comment.observation_id) is None:
        return None
    return comment
