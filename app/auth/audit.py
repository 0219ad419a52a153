"""Recording what happened to accounts, for the setting's managers and an auditor."""

from __future__ import annotations

from flask import has_request_context, request
from sqlalchemy import exists, select

from app import clock
from app.auth.models import AuditEntry, User
from app.extensions import db

# Every action code the audit log holds, in a manager's words: the log viewer and its
# filter show these; the code itself stays in the rows. A code recorded without one here
# fails tests/retention/test_audit_labels.py.
ACTION_LABELS: dict[str, str] = {
    # accounts and signing in
    "invited": "Invited",
    "invitation_resent": "Invitation sent again",
    "invitation_email_corrected": "Invitation's email address corrected",
    "activated": "Account activated",
    "deactivated": "Account deactivated",
    "reactivated": "Account reactivated",
    "role_changed": "Role changed as the account came back",
    "signed_in": "Signed in",
    "signin_failed": "Sign-in failed",
    "locked": "Account locked after failed sign-ins",
    "cooldown": "Sign-ins paused after failed attempts",
    "new_browser": "Signed in from a new browser",
    "recheck_failed": "Password and PIN check failed",
    "recheck_refused": "Password and PIN check refused",
    "reset_requested": "Password reset asked for",
    "reset_completed": "Password reset",
    "secrets_changed": "Password or PIN changed",
    "email_change_requested": "Email address change asked for",
    "email_changed": "Email address changed",
    "email_confirmed_current": "Email address confirmed as current",
    "second_factor.added": "Second factor added",
    "second_factor.removed": "Second factor removed",
    "second_factor.used": "Signed in with a second factor",
    "second_factor.failed": "Second factor failed",
    "second_factor.refused": "Second factor refused",
    "second_factor.asked": "Second factor asked for",
    "second_factor.enrolment_required": "Second factor required before going on",
    "second_factor.reset": "Second factors reset",
    "second_factor.recovery_codes_made": "Recovery codes made",
    "second_factor.recovery_codes_replaced": "Recovery codes replaced",
    "second_factor.policy_changed": "Second factor rules changed",
    "usage_policy_accepted": "Responsible use policy accepted",
    "usage_policy_published": "Responsible use policy published",
    "responsible_use_rules_saved": "Responsible use rules saved",
    # people
    "child.created": "Child added",
    "child.updated": "Child's details changed",
    "child.leaving_date_set": "Child's leaving date set",
    "child.archived": "Child archived",
    "child.restored": "Child restored from the archive",
    "parent.linked": "Parent linked to a child",
    "parent.unlinked": "Parent unlinked from a child",
    "staff.leaving_date_set": "Staff leaving date set",
    "people.policies_changed": "Parent access rules changed",
    # journals
    "journal.journal": "Journal viewed",
    "journal.observation": "Observation viewed",
    "journal.export": "Journal downloaded",
    "journal.policies_changed": "Journal rules changed",
    "observation.created": "Observation written",
    "observation.updated": "Observation changed",
    "observation.rectified": "Observation corrected after its children left",
    "observation.withdrawn": "Observation withdrawn",
    "observation.deleted": "Observation deleted",
    "observation.home_sent": "Observation from home sent",
    "observation.held_for_review": "Observation held for review",
    "observation.published": "Observation published",
    "observation.approved": "Observation approved",
    "observation.sent_back": "Observation sent back",
    "observation_emails.chosen": "Observation emails chosen",
    "photo.removed": "Photo removed",
    "comment.edited": "Comment edited",
    "comment.deleted": "Comment deleted",
    "comment.hidden": "Comment hidden",
    # retention and exports
    "retention.period_changed": "Retention period changed",
    "retention.hold_placed": "Legal hold placed",
    "retention.hold_lifted": "Legal hold lifted",
    "retention.purged": "Records purged",
    "export.subject_access": "Subject access export",
    "export.leaving_pack_requested": "Leaving pack asked for",
    "export.leaving_pack_downloaded": "Leaving pack downloaded",
    "export.setting": "Setting's records exported by the operator",
    "backup.restored": "Restored from a backup",
}


# Every key an audit entry's details hold, in a manager's words (the log viewer shows
# these, and ids as what they name: ``app.retention.audit_trail``). A key recorded without
# words here fails tests/retention/test_audit_labels.py.
DETAIL_LABELS: dict[str, str] = {
    "backed_up_at": "Backup taken at",
    "backup": "Backup",
    "blocked_phrases": "Words and phrases not to use",
    "browser": "Browser",
    "child_id": "Child",
    "choice": "Emails chosen",
    "comment_id": "Comment",
    "email_check_months": "Email addresses checked every (months)",
    "factor": "Second factor",
    "failures": "Failed sign-ins",
    "files": "Files",
    "findings": "Content rule findings",
    "former_role": "Role before",
    "format": "Format",
    "grace_days": "Days to set one up",
    "group_names": "Other children's names in group observations",
    "journals": "Journals",
    "leaving_date": "Leaving date",
    "ledger_entry": "Erasure ledger entry",
    "left": "Recovery codes left",
    "links_ended": "Links to children ended",
    "method": "Signed in with",
    "mode": "Observations matching a content rule",
    "name": "Name",
    "new": "New period",
    "newly_due": "Records due at once",
    "no_other_children_names": "No other children's names",
    "no_surnames": "No surnames",
    "observation_id": "Observation",
    "observations": "Observations",
    "old": "Old period",
    "pack_id": "Leaving pack",
    "parent_grace_days": "Parents' access after their last child leaves (days)",
    "parents": "Parents' accounts with them",
    "password": "Password changed",
    "people": "People",
    "photo_id": "Photo",
    "photo_limit": "Photo limit",
    "photos": "Photos",
    "pin": "PIN changed",
    "purges_replayed": "Purges applied again",
    "purpose": "Checked for",
    "reason": "Reason",
    "record": "Record",
    "relationship": "Relationship",
    "required_for": "Required for",
    "role": "Role",
    "rows": "Rows",
    "status": "Status",
    "tables": "Tables",
    "version": "Version",
}


# Details recorded as codes (the sign-in metrics and the ledger use the same codes), in
# a manager's words. By detail; by action and detail where the same detail is free text
# in other actions (a hold's or a deactivation's reason).
_SIGN_IN_REFUSALS = {
    "unknown_email": "no account has this email address",
    "wrong_credentials": "wrong password or PIN",
    "locked": "account locked after too many wrong attempts",
    "cooling_down": "too many wrong attempts: asked to wait",
    "invited": "account not activated yet",
    "deactivated": "account deactivated",
}
_VALUE_WORDS: dict[tuple[str | None, str], dict[str, str]] = {
    (None, "method"): {
        "password_and_pin": "password and PIN",
        "totp": "password, PIN and authenticator app",
        "passkey": "password, PIN and passkey",
        "recovery_code": "password, PIN and a recovery code",
        "totp_enrolled": "password and PIN, then a new authenticator app",
        "passkey_enrolled": "password and PIN, then a new passkey",
    },
    (None, "factor"): {
        "totp": "authenticator app",
        "passkey": "passkey",
        "recovery_code": "recovery code",
    },
    (None, "purpose"): {
        "secrets_change": "changing the password or PIN",
        "email_change": "changing the email address",
        "second_factor_removal": "removing a second factor",
        "recovery_codes_replaced": "replacing the recovery codes",
    },
    (None, "record"): {
        "child": "a child",
        "parent": "a parent or carer",
        "staff": "a member of staff",
        "audit_log": "audit log entries",
        "access_log": "journal access log entries",
        "links": "invitation and reset links",
        "messages": "sent emails",
        "exports": "leaving packs and exports",
    },
    ("signin_failed", "reason"): _SIGN_IN_REFUSALS,
    ("recheck_refused", "reason"): _SIGN_IN_REFUSALS,
    ("second_factor.refused", "reason"): _SIGN_IN_REFUSALS,
    ("retention.purged", "reason"): {
        "retention": "its retention period ended",
        "manager": "purged now by a manager",
        "operator": "the setting left the service",
    },
}


def detail_value(action: str, key: str, value: object) -> str | None:
    """A coded detail's value in words, or None when it is not one of the codes."""
    words = _VALUE_WORDS.get((action, key)) or _VALUE_WORDS.get((None, key), {})
    return words.get(value) if isinstance(value, str) else None


def detail_label(key: str) -> str:
    """A detail's key in words; an unknown key (a row older than its label) as it is."""
    return DETAIL_LABELS.get(key, key)


def action_label(action: str) -> str:
    """``action`` in words; an unknown code (a row older than its label) as it is."""
    return ACTION_LABELS.get(action, action)


def record(
    event: str,
    *,
    actor: User | None = None,
    subject: User | None = None,
    ip: str | None = None,
    **detail: str | int | bool | None,
) -> None:
    """Add an audit row to the current transaction. ``detail`` must never hold a secret.

    ``ip`` is the request's address unless given (a task acting for a request passes it).
    """
    db.session.add(
        AuditEntry(
            at=clock.now(),
            event=event,
            actor_id=actor.id if actor else None,
            subject_id=subject.id if subject else None,
            ip=ip or (request.remote_addr if has_request_context() else None),
            detail=detail,
        )
    )


def done_a_moment_ago(
    event: str, *, actor: User, subject: User | None = None, **detail: int | str
) -> bool:
    """Whether ``actor`` did ``event`` (to ``subject``, or what ``detail`` names) within
    the window of a request sent twice (``clock.sent_twice_since``): a second tap of a
    button whose first tap deleted its object finds it here, where the object is gone."""
    about = [AuditEntry.subject_id == subject.id] if subject is not None else []
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    AuditEntry.event == event,
                    AuditEntry.actor_id == actor.id,
                    AuditEntry.at >= clock.sent_twice_since(),
                    AuditEntry.detail.contains(detail),
                    *about,
                )
            )
        )
    )
