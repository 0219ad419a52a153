"""The setting's usage policy (every version kept), who accepted which, and its other rules.

They live in the setting's own schema: the policy and the sharing rule are the setting's
own words. The number of the version in force is also kept in the registry
(``Setting.usage_policy_version``), so the gate of every request reads it from the
settings snapshot instead of asking the database.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tenants.schema import TenantModel

POLICY_LENGTH = 20_000
SHARING_RULE_LENGTH = 1_000
EMAIL_CHECK_MONTHS_LIMITS = (1, 60)  # as the CHECK on responsible_use_rules


class UsagePolicy(TenantModel):
    """One published version of the setting's acceptable-use policy; never changed later."""

    __tablename__ = "usage_policies"
    __table_args__ = (CheckConstraint("version >= 1", name="version_positive"),)

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    text: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class PolicyAcceptance(TenantModel):
    """A person accepted one version of the policy, at a time."""

    __tablename__ = "usage_policy_acceptances"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(
        ForeignKey("usage_policies.version", ondelete="CASCADE"), primary_key=True
    )
    accepted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ResponsibleUseRules(TenantModel):
    """The sharing rule parents see and how often emails are checked: one row, written when
    a manager first saves them (until then the defaults apply)."""

    __tablename__ = "responsible_use_rules"
    __table_args__ = (
        CheckConstraint("id = 1", name="one_row"),
        CheckConstraint("email_check_months BETWEEN 1 AND 60", name="email_check_months_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    sharing_rule: Mapped[str] = mapped_column(String(SHARING_RULE_LENGTH))
    email_check_months: Mapped[int] = mapped_column(Integer, default=12)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
