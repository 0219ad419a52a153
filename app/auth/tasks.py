"""Account work done by a worker on a request's behalf."""

from __future__ import annotations

from celery import shared_task

from app.auth import operations
from app.extensions import db
from tenants.binding import tenant_context


@shared_task(name="auth.request_reset", ignore_result=True)
def request_reset_task(slug: str, email: str, ip: str | None) -> None:
    """Look the address up in setting ``slug`` and queue a reset link if it is an active account.

    Run by a worker so that ``/password/forgot`` does the same work, in the same
    time, whether or not the account exists.
    """
    with tenant_context(slug):
        operations.request_reset(email, ip=ip)
        db.session.commit()
