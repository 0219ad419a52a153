"""Who may do what: the one place that decides.

Every rule has two parts: the roles that may do this kind of thing at all (a page asks
only that, through ``app.auth.access.require``), and, for one object, the further
condition that object must meet. An operation asks ``check()`` before it changes
anything (``NotAllowed`` says the rule's refusal, a 409 on a page); a template asks
``can("...", target)``. Rules that pick rows are query conditions in
``app.access.scopes``; the rule for one such row asks those same conditions of it.

In the nursery's words:

- a manager runs the setting: its people and accounts, its policies, its records, and
  every child's journal;
- staff write and review observations and see the records and journals of the children
  who have not left (whether or not they are the child's key person);
- a parent sees the journals of the children linked to them, also once a child has left
  while the parent can still sign in (the grace period), sends observations from home,
  and may ask for a child's leaving pack.

Being signed in at all (an active account of this setting) is decided before any rule:
``app.auth.access`` loads only active people of the bound setting.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import g, has_request_context
from sqlalchemy import exists, select

from app.access.scopes import children_seen_by
from app.auth.models import STAFF_ROLES, Role, User
from app.auth.viewer import Reader
from app.extensions import db
from app.journal.closing import closed_to_staff, journal_closed
from app.journal.models import Comment, Observation, ObservationKind, ObservationStatus
from app.people.models import Child
from app.validation import InvalidInput

EVERYONE = frozenset(Role)
STAFF = frozenset(STAFF_ROLES)
MANAGERS = frozenset({Role.MANAGER})
PARENTS = frozenset({Role.PARENT})


class Action(enum.StrEnum):
    """What a person may be allowed to do; templates name these as strings."""

    SEE_JOURNALS = "see_journals"
    SEE_CHILD = "see_child"
    SEE_CHILDREN_RECORDS = "see_children_records"  # start dates, photo consent, linked parents
    READ_AS_FAMILY = "read_as_family"  # a child by the name they are known by; the sharing rule
    WRITE_OBSERVATIONS = "write_observations"
    EDIT_OBSERVATION = "edit_observation"
    ADD_PHOTOS_FROM_HOME = "add_photos_from_home"
    PUBLISH_OBSERVATION = "publish_observation"
    WITHDRAW_OBSERVATION = "withdraw_observation"
    DELETE_OBSERVATION = "delete_observation"
    REVIEW_OBSERVATIONS = "review_observations"
    REVIEW_HELD_OBSERVATIONS = "review_held_observations"
    CHANGE_COMMENT = "change_comment"
    HIDE_COMMENTS = "hide_comments"
    SEND_HOME_OBSERVATIONS = "send_home_observations"
    CHOOSE_JOURNAL_EMAILS = "choose_journal_emails"
    GET_LEAVING_PACKS = "get_leaving_packs"
    SEE_ACCESS_LOG = "see_access_log"
    MANAGE_PEOPLE = "manage_people"
    DEACTIVATE_ACCOUNT = "deactivate_account"
    MANAGE_SETTING = "manage_setting"
    MANAGE_RECORDS = "manage_records"


Condition = Callable[[Reader, Any], bool]


class NotAllowed(InvalidInput):
    """The person may not do this (to this object): the page answers 403 or 409."""


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    on: Condition | None = None  # what one object must meet as well (None: nothing more)
    refusal: str = "You may not do this."  # what an operation that refuses says
    # Why not, said of this object when that says more than ``refusal`` (None: nothing more).
    why_not: Callable[[Any], str | None] | None = None


_CHILDREN_SEEN = "lj_children_seen"  # on g: {(user id, child id): may open}


def _answers_this_request() -> dict[tuple[int, int], bool]:
    # A page asks about its child several times (its links, its header): one query a
    # request. Outside a request (a job, the CLI) every question is asked afresh.
    return g.setdefault(_CHILDREN_SEEN, {}) if has_request_context() else {}


def _sees_child(user: Reader, child: Child) -> bool:
    answers = _answers_this_request()
    key = (user.id, child.id)
    if key not in answers:
        answers[key] = bool(
            db.session.scalar(select(exists().where(Child.id == child.id, *children_seen_by(user))))
        )
    return answers[key]


def found_seen_child(user: Reader, child: Child) -> None:
    """``child`` was found by a query under ``children_seen_by(user)`` in this request:
    the rules about it need not ask again (a page's links only; what a link leads to
    asks again in its own request)."""
    _answers_this_request()[user.id, child.id] = True


def _not_themselves(user: Reader, person: User) -> bool:
    return person.id != user.id


def _writes(user: Reader, observation: Observation) -> bool:
    """A staff observation is changed by its author or a manager, as a draft or once
    published (a correction, kept as a revision); one waiting for review is not."""
    return (
        observation.kind is ObservationKind.STAFF
        and observation.status in (ObservationStatus.DRAFT, ObservationStatus.PUBLISHED)
        and (user.role is Role.MANAGER or observation.author_id == user.id)
    )


def _edits(user: Reader, observation: Observation) -> bool:
    """In a closed journal (``journal_closed``) only a manager corrects an observation's
    words: a family may ask for that after leaving (rectification); the operation keeps
    its children and audits it as a rectification."""
    return _writes(user, observation) and (
        user.role is Role.MANAGER or not journal_closed(observation)
    )


def _sends_from_home(user: Reader, observation: Observation) -> bool:
    """A parent's home observation takes photos from them while they are sending it."""
    return (
        observation.kind is ObservationKind.HOME
        and observation.author_id == user.id
        and observation.status is ObservationStatus.IN_REVIEW
    )


def _publishes(user: Reader, observation: Observation) -> bool:
    return observation.status is ObservationStatus.DRAFT and _writes(user, observation)


def _withdraws(user: Reader, observation: Observation) -> bool:
    """A published observation, by whoever may write it, unless its journals are closed
    (they stay as they were when the children left)."""
    return (
        observation.status is ObservationStatus.PUBLISHED
        and _writes(user, observation)
        and not journal_closed(observation)
    )


def _deletes(user: Reader, observation: Observation) -> bool:
    """A draft never published by whoever may edit it; anything else only by a manager
    (with a reason): withdrawing first does not make what families saw the author's to
    delete. Nothing published in a closed journal (records of children who left are
    purged by the retention schedule, not one by one)."""
    if observation.is_published and journal_closed(observation):
        return False
    unseen = observation.only_staff_have_seen
    return (unseen and _writes(user, observation)) or user.role is Role.MANAGER


def _reviews(user: Reader, observation: Observation) -> bool:
    """What the content rules held waits for a manager; what a parent sent, for staff."""
    if observation.status is not ObservationStatus.IN_REVIEW:
        return False
    return observation.kind is ObservationKind.HOME or user.role is Role.MANAGER


def _changes_comment(user: Reader, comment: Comment) -> bool:
    """Only its author changes or takes back a comment, and only while it is shown."""
    return comment.author_id == user.id and not comment.is_hidden


RULES: dict[Action, Rule] = {
    Action.SEE_JOURNALS: Rule(EVERYONE),
    Action.SEE_CHILD: Rule(EVERYONE, _sees_child),
    Action.SEE_CHILDREN_RECORDS: Rule(STAFF),
    Action.READ_AS_FAMILY: Rule(PARENTS),
    Action.WRITE_OBSERVATIONS: Rule(STAFF, refusal="Only staff write observations."),
    Action.EDIT_OBSERVATION: Rule(
        STAFF,
        _edits,
        "Only a draft or a published observation can be changed, by its author or a manager.",
        closed_to_staff,
    ),
    Action.ADD_PHOTOS_FROM_HOME: Rule(
        PARENTS,
        _sends_from_home,
        "Photos are added to a home observation by the parent who sends it.",
    ),
    Action.PUBLISH_OBSERVATION: Rule(
        STAFF, _publishes, "Only a draft is published, by its author or a manager."
    ),
    Action.WITHDRAW_OBSERVATION: Rule(
        STAFF,
        _withdraws,
        "Only a published observation is withdrawn, by its author or a manager.",
        closed_to_staff,
    ),
    Action.DELETE_OBSERVATION: Rule(
        STAFF,
        _deletes,
        "Only a manager deletes an observation that has been published.",
        closed_to_staff,
    ),
    Action.REVIEW_OBSERVATIONS: Rule(
        STAFF, _reviews, "This observation is not waiting for your review."
    ),
    # Observations the content rules held wait for a manager; home observations for staff.
    Action.REVIEW_HELD_OBSERVATIONS: Rule(MANAGERS),
    Action.CHANGE_COMMENT: Rule(
        EVERYONE,
        _changes_comment,
        "Only the person who wrote a comment changes it, while it is shown.",
    ),
    # Those who may hide comments from families also see the hidden ones.
    Action.HIDE_COMMENTS: Rule(STAFF, refusal="Only staff hide comments."),
    Action.SEND_HOME_OBSERVATIONS: Rule(
        PARENTS, _sees_child, "Parents send home observations about their own children."
    ),
    Action.CHOOSE_JOURNAL_EMAILS: Rule(PARENTS),
    Action.GET_LEAVING_PACKS: Rule(frozenset({Role.MANAGER, Role.PARENT}), _sees_child),
    Action.SEE_ACCESS_LOG: Rule(MANAGERS, _sees_child),
    Action.MANAGE_PEOPLE: Rule(MANAGERS),
    # Only managers reach the question (their pages require this action), so a refusal is
    # always about their own account.
    Action.DEACTIVATE_ACCOUNT: Rule(
        MANAGERS, _not_themselves, "You cannot deactivate your own account."
    ),
    Action.MANAGE_SETTING: Rule(MANAGERS),
    Action.MANAGE_RECORDS: Rule(MANAGERS),
}


def can(user: Any, action: Action | str, target: object = None) -> bool:
    """May ``user`` do ``action`` (to ``target``, when given)? Nobody signed in may not.

    An action name that is not in ``Action`` raises ``ValueError``: a misspelt rule in a
    template fails loudly instead of hiding (or showing) a link.
    """
    rule = RULES[Action(action)]
    if not getattr(user, "is_authenticated", False) or user.role not in rule.roles:
        return False
    return target is None or rule.on is None or rule.on(user, target)


def check(user: Reader, action: Action, target: object = None, *, refusal: str = "") -> None:
    """``NotAllowed`` unless ``user`` may do ``action`` (to ``target``): how an operation
    asks before it changes anything. It says ``refusal`` if given, else why not for this
    target when the rule can say (a closed journal), else the rule's refusal."""
    if not can(user, action, target):
        rule = RULES[action]
        specific = rule.why_not(target) if rule.why_not and target is not None else None
        raise NotAllowed(refusal or specific or rule.refusal)
