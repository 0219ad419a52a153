"""The registry of settings, kept in the ``public`` schema."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Enum, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class SettingStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETED = "deleted"  # left the service: schema dropped, the slug kept so it is never reused


class Setting(db.Model):
    """A nursery or school: its subdomain, its schema and its setting-wide policies.

    Policies that later features add (retention period, group-name rule, ...)
    are columns of this table, so operator jobs can read them without entering
    each schema.
    """

    __tablename__ = "settings"
    __table_args__ = (
        CheckConstraint("parent_grace_days >= 0", name="parent_grace_days_not_negative"),
        CheckConstraint("group_names IN ('shown', 'hidden')", name="group_names_known"),
        CheckConstraint(
            "retention_years_after_leaving BETWEEN 1 AND 25", name="retention_years_in_range"
        ),
        CheckConstraint("usage_policy_version >= 1", name="usage_policy_version_positive"),
        # The bounds of app.retention.schedule.RULES, kept by the database too.
        CheckConstraint("parent_retention_years BETWEEN 1 AND 6", name="parent_retention"),
        CheckConstraint("staff_retention_years BETWEEN 1 AND 10", name="staff_retention"),
        CheckConstraint("log_retention_years BETWEEN 1 AND 7", name="log_retention"),
        CheckConstraint("link_retention_days BETWEEN 1 AND 365", name="link_retention"),
        CheckConstraint("message_retention_days BETWEEN 1 AND 365", name="message_retention"),
        CheckConstraint("export_retention_days BETWEEN 1 AND 90", name="export_retention"),
        CheckConstraint(
            "second_factor_required_for IN ('nobody', 'managers', 'staff', 'everyone')",
            name="second_factor_required_for_known",
        ),
        CheckConstraint(
            "second_factor_grace_days BETWEEN 0 AND 90", name="second_factor_grace_days_in_range"
        ),
        {"schema": "public"},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    schema_name: Mapped[str] = mapped_column(String(63), unique=True)
    status: Mapped[SettingStatus] = mapped_column(
        Enum(SettingStatus, name="setting_status", values_callable=lambda e: [m.value for m in e]),
        default=SettingStatus.ACTIVE,
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Days a parent keeps access after their last child has left (to download the
    # leaving pack) before the deactivation sweep ends it.
    parent_grace_days: Mapped[int] = mapped_column(Integer, default=14, server_default="14")
    # Other children's names in one child's view of a group observation: "shown" or
    # "hidden" (as "a friend"); see app.journal.masking.
    group_names: Mapped[str] = mapped_column(String(10), default="hidden", server_default="hidden")
    # The setting's logo: a file under MEDIA_ROOT/<slug>/, shown in every page's header.
    logo_file: Mapped[str | None] = mapped_column(String(80))
    # Years an archived child's records are kept after they left (or were archived) before
    # they should be purged. The EYFS sets no statutory retention period for learning
    # journals, and the setting, as data controller, decides; settings commonly keep them
    # until the child is several years past leaving. 3 is a conservative default that each
    # setting can change (1-25) on its people page.
    retention_years_after_leaving: Mapped[int] = mapped_column(
        Integer, default=3, server_default="3"
    )
    # The IANA time zone its pages show times in (a manager sets it with the name and logo).
    time_zone: Mapped[str] = mapped_column(
        String(64), default="Europe/London", server_default="Europe/London"
    )
    # The rest of the retention schedule (app.retention.schedule: what each one keeps,
    # from when, and why its default and bounds are what they are).
    parent_retention_years: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    staff_retention_years: Mapped[int] = mapped_column(Integer, default=6, server_default="6")
    log_retention_years: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    link_retention_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    message_retention_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    export_retention_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    # Who must have a second factor (app.auth.second_factor.FactorPolicy): nobody,
    # managers, staff (managers and staff) or everyone. Someone without one is taken to
    # enrolment at their first sign-in after the grace days, counted from when the policy
    # started to cover their role (``second_factor_since_by_role``: role -> ISO time) or
    # from their activation, whichever is later.
    second_factor_required_for: Mapped[str] = mapped_column(
        String(10), default="nobody", server_default="nobody"
    )
    second_factor_grace_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    second_factor_since_by_role: Mapped[dict[str, str]] = mapped_column(
        JSONB, default=dict, server_default="{}"
    )

    # The version of the setting's usage policy in force (its text is in the setting's
    # schema, app.responsible_use): read by the gate of every request from the snapshot.
    usage_policy_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    @property
    def is_active(self) -> bool:
        return self.status is SettingStatus.ACTIVE


class SpareSchema(db.Model):
    """An empty setting schema built ahead of time, waiting to become a setting's.

    Not a setting: no slug, no registry row, nothing walks it (``tenants.spares``).
    ``revision`` is the ``setting`` chain's head it was built at; only a spare at the
    running code's head is ever taken.
    """

    __tablename__ = "spare_schemas"
    __table_args__ = {"schema": "public"}

    schema_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    revision: Mapped[str] = mapped_column(String(32))
    built_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
