"""An observation being written when its author is signed out for inactivity is not lost.

Just before the idle sign-out, the page sends what was typed (no files) here; it is kept
in Redis for a day, for that person and that form only, and the form brings it back the
next time they open it (once: it is forgotten when read). A purge forgets what was kept
by the people it removes and what tags or names the children it removes
(``forget_kept``): nothing of theirs is left in Redis for the next sign-in to bring back.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence

from werkzeug.datastructures import MultiDict

from app.auth.models import User
from app.journal.masking import ChildName, names_any
from app.redis_store import get_redis
from tenants.binding import current_setting

KEEP_SECONDS = 24 * 3600
MAX_BYTES = 64 * 1024  # several times the longest observation the form accepts
NOT_KEPT = frozenset({"csrf_token", "photo"})
CHILD_FIELDS = frozenset({"child_ids", "in_photo"})  # the form's fields of children's ids


def _prefix(slug: str) -> str:
    return f"lj:unsaved:{slug}:"


def _key(user: User, page: str) -> str:
    return f"{_prefix(current_setting().slug)}{user.id}:{page}"


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


def forget_kept(
    slug: str,
    *,
    of_users: Collection[int] = (),
    about: Sequence[ChildName] = (),
    namesakes: Sequence[ChildName] = (),
) -> None:
    """Forget what the setting keeps of forms being written by these users, or tagging
    or naming these children (as the masking's matcher reads names; a name ``namesakes``
    share with them is theirs): one scan of the setting's kept forms, whatever the
    number of people."""
    if not of_users and not about:
        return
    store = get_redis()
    prefix = _prefix(slug)
    users = {str(user_id) for user_id in of_users}
    keys = list(store.scan_iter(match=f"{prefix}*", count=1000))
    values = store.mget(keys) if about and keys else [None] * len(keys)
    doomed = [
        key
        for key, value in zip(keys, values, strict=True)
        if key.decode()[len(prefix) :].split(":", 1)[0] in users
        or (value is not None and _tags_or_names(json.loads(value), about, namesakes))
    ]
    if doomed:
        store.delete(*doomed)


def _tags_or_names(
    fields: list[list[str]], children: Sequence[ChildName], namesakes: Sequence[ChildName]
) -> bool:
    ids = {str(child.id) for child in children}
    return any(
        (name in CHILD_FIELDS and value in ids) or names_any(str(value), children, namesakes)
        for name, value in fields
    )
