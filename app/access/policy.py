"""Who may do what: the one place that decides.

Every rule has two parts: the roles that may do this kind of thing at all (a page asks
only that, through ``app.auth.access.require``), and, for one object, the further
condition that object must meet (an operation asks before it changes anything; a
template asks ``can("...", target)``). Rules that pick rows are query conditions in
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

from sqlalchemy import exists, select

from app.access.scopes import children_seen_by
from app.auth.models import Role, User
from app.extensions import db
from app.people.models import Child

EVERYONE = frozenset(Role)
STAFF = frozenset({Role.MANAGER, Role.STAFF})
MANAGERS = frozenset({Role.MANAGER})
PARENTS = frozenset({Role.PARENT})


class Action(enum.StrEnum):
    """What a person may be allowed to do; templates name these as strings."""

    SEE_JOURNALS = "see_journals"
    SEE_CHILD = "see_child"
    SEE_CHILDREN_RECORDS = "see_children_records"  # start dates, photo consent, linked parents
    READ_AS_FAMILY = "read_as_family"  # a child by the name they are known by; the sharing rule
    WRITE_OBSERVATIONS = "write_observations"
    REVIEW_OBSERVATIONS = "review_observations"
    REVIEW_HELD_OBSERVATIONS = "review_held_observations"
    HIDE_COMMENTS = "hide_comments"
    SEND_HOME_OBSERVATIONS = "send_home_observations"
    CHOOSE_JOURNAL_EMAILS = "choose_journal_emails"
    GET_LEAVING_PACKS = "get_leaving_packs"
    SEE_ACCESS_LOG = "see_access_log"
    MANAGE_PEOPLE = "manage_people"
    DEACTIVATE_ACCOUNT = "deactivate_account"
    MANAGE_SETTING = "manage_setting"
    MANAGE_RECORDS = "manage_records"


Condition = Callable[[User, Any], bool]


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    on: Condition | None = None  # what one object must meet as well (None: nothing more)


def _sees_child(user: User, child: Child) -> bool:
    return bool(
        db.session.scalar(select(exists().where(Child.id == child.id, *children_seen_by(user))))
    )


def _not_themselves(user: User, person: User) -> bool:
    return person.id != user.id


RULES: dict[Action, Rule] = {
    Action.SEE_JOURNALS: Rule(EVERYONE),
    Action.SEE_CHILD: Rule(EVERYONE, _sees_child),
    Action.SEE_CHILDREN_RECORDS: Rule(STAFF),
    Action.READ_AS_FAMILY: Rule(PARENTS),
    Action.WRITE_OBSERVATIONS: Rule(STAFF),
    Action.REVIEW_OBSERVATIONS: Rule(STAFF),
    # Observations the content rules held wait for a manager; home observations for staff.
    Action.REVIEW_HELD_OBSERVATIONS: Rule(MANAGERS),
    Action.HIDE_COMMENTS: Rule(STAFF),
    Action.SEND_HOME_OBSERVATIONS: Rule(PARENTS, _sees_child),
    Action.CHOOSE_JOURNAL_EMAILS: Rule(PARENTS),
    Action.GET_LEAVING_PACKS: Rule(frozenset({Role.MANAGER, Role.PARENT}), _sees_child),
    Action.SEE_ACCESS_LOG: Rule(MANAGERS, _sees_child),
    Action.MANAGE_PEOPLE: Rule(MANAGERS),
    Action.DEACTIVATE_ACCOUNT: Rule(MANAGERS, _not_themselves),
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
