"""The deactivation sweep: access that ends by itself when someone leaves.

Everything it does is computed from the database and today's date, so running
it twice, or a day late, is harmless: a child already archived, a person already
deactivated or a parent already sent their notice is left as it is. A parent is
deactivated only once their notice has been delivered (see ``ParentDeparture``).
Each setting is swept in its own transaction (``run_each_setting``); a failure
in one is recorded with the job's run and does not stop the others. "Today" is
each setting's own day (``clock.today``), and beat runs the sweep every hour
(``workers.schedule``), so a leaver's access ends within the first hour of their
setting's day, wherever it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from app import clock
from app.auth.models import AccountStatus
from app.auth.operations import deactivate_user
from app.extensions import db
from app.mail import queue_email
from app.people.children import archive_child, children_due_to_leave
from app.people.departures import tell_returning_parents
from app.people.links import DepartingParent, children_of, departing_parents
from app.people.models import ParentDeparture
from app.people.staff import staff_due_to_leave
from tenants.binding import current_setting
from tenants.each_setting import EachSettingReport, run_each_setting
from tenants.routing import setting_url


@dataclass
class SweepCounts:
    children_archived: int = 0
    staff_deactivated: int = 0
    notices_queued: int = 0
    parents_deactivated: int = 0

    def named(self) -> dict[str, int]:
        """The counts as the run's summary names them."""
        return {
            "children archived": self.children_archived,
            "staff deactivated": self.staff_deactivated,
            "notices queued to parents that their access ends": self.notices_queued,
            "parents deactivated": self.parents_deactivated,
        }


def deactivation_sweep() -> EachSettingReport:
    """Sweep every active setting, each in its own transaction."""
    return run_each_setting(lambda setting: sweep_setting(setting.parent_grace_days).named())


def sweep_setting(grace_days: int) -> SweepCounts:
    """Sweep the bound setting; flushes, the caller commits."""
    counts = SweepCounts()
    for child in children_due_to_leave():
        archive_child(child, by=None)
        counts.children_archived += 1
    for user in staff_due_to_leave():
        deactivate_user(user, by=None, reason="leaving date")
        counts.staff_deactivated += 1
    tell_returning_parents()  # a child corrected back outside a request (a restore)
    for departing in departing_parents():
        departure = departing.departure
        if departure is None:
            departure = _tell_parent_access_ends(departing, grace_days)
            counts.notices_queued += 1
        # Not before the notice was delivered: a parent whose notice could not be
        # delivered stays under the manager's "Needs attention" instead.
        if departure.notice_sent_at is not None and clock.today() >= departure.access_ends_on:
            deactivate_user(departing.parent, by=None, reason="last child left")
            counts.parents_deactivated += 1
    return counts


def _tell_parent_access_ends(departing: DepartingParent, grace_days: int) -> ParentDeparture:
    """Queue the parent's email (once) saying the day their access ends, and remember it.

    The grace period runs from the later of the last leaving date and today,
    so a parent always gets the whole period after being told, even when a
    leaving date was entered late or the sweep did not run for a while.
    """
    parent, today = departing.parent, clock.today()
    departure = ParentDeparture(
        user_id=parent.id,
        last_child_left_on=departing.last_child_left_on,
        access_ends_on=max(departing.last_child_left_on, today) + timedelta(days=grace_days),
    )
    setting = current_setting()
    departure.notice = queue_email(
        parent.email,
        f"Your access to {setting.name}'s learning journals ends on "
        f"{departure.access_ends_on:%-d %B %Y}",
        "parent_access_ending",
        user_id=parent.id,
        parent=parent,
        children=[child.known_as for child in children_of(parent)],
        setting_name=setting.name,
        access_ends_on=departure.access_ends_on,
        # One who never activated has no password to sign in with: told how to set it up.
        invited=parent.status is AccountStatus.INVITED,
        link=setting_url(setting.slug, "/"),
    )
    # The primary key makes this notice once-only even if two sweeps overlap:
    # the second one's insert fails and its transaction (and email) is dropped.
    db.session.add(departure)
    db.session.flush()
    return departure
