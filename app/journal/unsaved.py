"""An observation being written when its author is signed out for inactivity is not lost.

Just before the idle sign-out, the page sends what was typed (no files) here; it is kept
in Redis for a day, for that person and that form only, and the form brings it back the
next time they open it (once: it is forgotten when read).
"""

from __future__ import annotations

import json

from werkzeug.datastructures import MultiDict

from app.auth.models import User
from app.redis_store import get_redis
from tenants.binding import current_setting

KEEP_SECONDS = 24 * 3600
MAX_BYTES = 64 * 1024  # several times the longest observation the form accepts
NOT_KEPT = frozenset({"csrf_token", "photo"})


def _key(user: User, page: str) -> str:
    return f"lj:unsaved:{current_setting().slug}:{user.id}:{page}"


def keep(user: User, page: str, form: MultiDict[str, str]) -> bool:
    """Keep what ``user`` typed into the form at ``page``; False if it is too large."""
    fields = [(name, value) for name, value in form.items(multi=True) if name not in NOT_KEPT]
    data = json.dumps(fields)
    if len(data.encode()) > MAX_BYTES:
        return False
    get_redis().set(_key(user, page), data, ex=KEEP_SECONDS)
    return True


def take(user: User, page: str) -> MultiDict[str, str] | None:
    """What ``user`` last typed into the form at ``page`` before being signed out, if any."""
    data = get_redis().getdel(_key(user, page))
    if data is None:
        return None
    return MultiDict([(str(name), str(value)) for name, value in json.loads(data)])
