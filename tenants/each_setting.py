"""Doing one thing in every active setting: the loop every operator job repeats.

``run_each_setting(fn)`` calls ``fn(setting)`` once per active setting, inside
``tenant_context`` (so the ORM session is bound to that setting's schema), and
commits after each one: each setting is its own transaction. A setting whose
``fn`` raises is rolled back and recorded, and the loop goes on with the others.
The result is one report a job returns as its outcome (``workers.runs`` stores
its summary, its per-setting counts and its errors).

``fn`` receives the registry row (its policy columns, e.g.
``retention_years_after_leaving``, are there to read) and returns what it did
as named counts, ``{"children archived": 2}``, or None when it did nothing
worth counting. It flushes; it does not need to commit (it may, to commit in
batches).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select

from app.extensions import db
from tenants.binding import any_status_context, tenant_context
from tenants.models import Setting, SettingStatus

log = logging.getLogger(__name__)

SettingWork = Callable[[Setting], Mapping[str, int] | None]


@dataclass
class EachSettingReport:
    """What a job did in each setting, and where it failed."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return not self.errors

    def totals(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for counts in self.counts.values():
            totals.update(counts)
        return totals

    def summary(self) -> str:
        """One line: "3 settings done: 2 children archived; 1 failed: sunnyside"."""
        done = f"{len(self.counts)} setting{'' if len(self.counts) == 1 else 's'} done"
        totals = ", ".join(f"{number} {what}" for what, number in self.totals().items())
        line = f"{done}: {totals}" if totals else done
        if self.errors:
            line += f"; {len(self.errors)} failed: {', '.join(sorted(self.errors))}"
        return line

    def __str__(self) -> str:
        return self.summary()


def active_settings(*, suspended_too: bool = False) -> list[Setting]:
    """Every active (and, if asked, suspended) setting's registry row, detached, in slug
    order."""
    statuses = [SettingStatus.ACTIVE, *([SettingStatus.SUSPENDED] if suspended_too else [])]
    settings = list(
        db.session.scalars(
            select(Setting).where(Setting.status.in_(statuses)).order_by(Setting.slug)
        )
    )
    db.session.remove()  # the rows stay readable; the public-schema transaction ends here
    return settings


def run_each_setting(fn: SettingWork, *, suspended_too: bool = False) -> EachSettingReport:
    """Run ``fn`` in every active setting (and suspended ones if asked: the retention
    purge, which an offline setting does not pause), one transaction each; a failure
    stops none."""
    report = EachSettingReport()
    context = any_status_context if suspended_too else tenant_context
    for setting in active_settings(suspended_too=suspended_too):
        try:
            with context(setting.slug):
                counts = fn(setting)
                db.session.commit()
        except Exception as error:
            log.exception("%s failed in setting %s", getattr(fn, "__name__", fn), setting.slug)
            report.errors[setting.slug] = f"{type(error).__name__}: {error}"
        else:
            report.counts[setting.slug] = dict(counts or {})
    return report
