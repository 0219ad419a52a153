"""Recording what happened to accounts, for the setting's managers and an auditor."""

from __future__ import annotations

from flask import has_request_context, request

from app import clock
from app.auth.models import AuditEntry, User
from app.extensions import db


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
