"""Server-side sessions in Redis: idle and absolute timeouts, one index of sessions per user.

The cookie holds only a random session id. The data lives under
``lj:session:<setting>:<id>``, so a cookie from one setting names nothing in
another. Each request reads the session with one ``GETEX``, which also slides
its expiry: Redis itself forgets a session idle for ``SESSION_IDLE_TIMEOUT``.
The stored ``created`` and ``seen`` times are checked against ``app.clock`` as
well, so the same limits hold when tests move the clock.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask, Request, Response, abort, current_app, request, session
from flask.sessions import SessionInterface, SessionMixin
from redis.exceptions import RedisError
from werkzeug.datastructures import CallbackDict

from app import clock, outages
from app.redis_store import get_redis
from tenants.routing import ANY_HOST_ENDPOINTS, requested_host

# How stale the stored "seen" time may get before a request rewrites it: a twentieth
# of the idle timeout, at most a minute. Most requests stay a single Redis read, and a
# session idle for the timeout ends at most 5 % early, whatever the timeout (a fixed
# minute would end a 6-second session 6 seconds after sign-in, however busy).
SEEN_REFRESH_FRACTION = 1 / 20
SEEN_REFRESH_MAX_SECONDS = 60.0
# Pages ask here how long their session has left. Asking is not activity: this one path
# reads the session without sliding its expiry (another tab's activity shows in the answer).
STATUS_PATH = "/session/status"
ACCESS_ENDED = "access_ended"  # why a session was ended, told on the next sign-in page
SIGNED_IN_TOO_LONG = "signed_in_too_long"  # the absolute limit ended it, however busy

# Session values the interface itself reads: a session begun on a shared or public computer
# (a short idle timeout: SHARED_SESSION_IDLE_TIMEOUT), and the device it was begun on.
SHARED_COMPUTER_KEY = "shared_computer"
DEVICE_KEY = "device"
# A session half-way through signing in (``app.auth.pending``) keeps its person here, not
# under flask-login's ``_user_id``: nobody is signed in yet. It is indexed with the
# person's sessions all the same, so ending them all ends it too.
PENDING_SIGN_IN = "pending_sign_in"


class RedisSession(CallbackDict[str, Any], SessionMixin):
    """Session data plus what the interface needs to know about it."""

    def __init__(self, sid: str, data: dict[str, Any] | None = None, *, new: bool) -> None:
        def on_update(_: CallbackDict[str, Any]) -> None:
            self.modified = True

        super().__init__(data or {}, on_update)
        self.sid = sid
        self.new = new
        self.modified = False
        self.ended_by_timeout = False
        self.unavailable = False
        self.created: float | None = None  # when the session began (absolute timeout)
        self.discarded_sid: str | None = None
        self.ended_reason: str | None = None  # set when the server ended it (ACCESS_ENDED)
        self.remaining: float | None = None  # seconds left, read without sliding (STATUS_PATH)
        self.changes_dropped = False

    def regenerate(self) -> None:
        """A new id for the same data (at sign-in): a planted id becomes useless."""
        self.discarded_sid = self.sid
        self.sid = _new_sid()
        self.modified = True

    def drop_changes(self) -> None:
        """Store nothing this request changed (its transaction failed to commit): the
        stored session stays as it was, e.g. not signed in by a sign-in never recorded."""
        self.changes_dropped = True


def _new_sid() -> str:
    return secrets.token_urlsafe(32)


def _setting_key() -> str:
    # The slug routing reads from this host (sessions open before routing's step); the bare
    # domain and hosts not ours get namespaces of their own.
    host = requested_host()
    if not host.ours:
        return "_unknown"
    return host.slug or "_"


def session_key(slug: str, sid: str) -> str:
    return f"lj:session:{slug}:{sid}"


def user_index_key(slug: str, user_id: int | str) -> str:
    return f"lj:user-sessions:{slug}:{user_id}"


def ended_key(slug: str, sid: str) -> str:
    return f"lj:session-ended:{slug}:{sid}"


def _timestamp(moment: datetime) -> float:
    return moment.timestamp()


class RedisSessionInterface(SessionInterface):
    """Flask session interface keeping sessions in Redis, never in the cookie."""

    def __init__(self, app: Flask) -> None:
        config = app.config["LJ"]
        self.idle = config.SESSION_IDLE_TIMEOUT
        self.shared_idle = min(config.SHARED_SESSION_IDLE_TIMEOUT, self.idle)
        self.absolute = config.SESSION_ABSOLUTE_TIMEOUT
        self.secure = config.SECURE_COOKIES
        self.cookie_name = "__Host-lj_session" if self.secure else "lj_session"

    def open_session(self, app: Flask, request: Request) -> RedisSession:
        try:
            return self._open(request)
        except RedisError as error:
            outages.redis().failed(error)
            session = RedisSession(_new_sid(), new=True)
            session.unavailable = True
            return session

    def _open(self, request: Request) -> RedisSession:
        sid = request.cookies.get(self.cookie_name, "")
        if not sid or len(sid) > 64:
            return RedisSession(_new_sid(), new=True)
        key = session_key(_setting_key(), sid)
        status_only = request.path == STATUS_PATH
        if status_only:
            raw, ttl_ms = get_redis().pipeline().get(key).pttl(key).execute()
        else:
            raw, ttl_ms = get_redis().getex(key, ex=self.idle), self.idle * 1000
        outages.redis().answered()
        if raw is None:
            return self._ended(sid)
        data = json.loads(raw)
        now = _timestamp(clock.now())
        if self.has_ended(data, now):
            get_redis().delete(key)
            too_long = now - data["created"] > self.absolute
            return self._ended(sid, SIGNED_IN_TOO_LONG if too_long else None)
        session = RedisSession(sid, data["values"], new=False)
        session.created = data["created"]
        session.remaining = min(
            ttl_ms / 1000,
            self.idle_timeout(data["values"]) - (now - data["seen"]),
            self.absolute - (now - data["created"]),
        )
        if now - data["seen"] > self._seen_refresh(data["values"]) and not status_only:
            session.modified = True
        return session

    def idle_timeout(self, values: dict[str, Any]) -> int:
        """Seconds of inactivity that end a session with these values."""
        return self.shared_idle if values.get(SHARED_COMPUTER_KEY) else self.idle

    def _seen_refresh(self, values: dict[str, Any]) -> float:
        return min(SEEN_REFRESH_MAX_SECONDS, self.idle_timeout(values) * SEEN_REFRESH_FRACTION)

    def has_ended(self, data: dict[str, Any], now: float) -> bool:
        """Has the stored session ``data`` timed out at ``now``?"""
        # Redis slides every session's expiry by the longer idle timeout (one GETEX, before
        # the values are known); a shared computer's shorter one is held here.
        return now - data["created"] > self.absolute or now - data["seen"] > self.idle_timeout(
            data["values"]
        )

    def _ended(self, sid: str, reason: str | None = None) -> RedisSession:
        """A fresh session in place of ended ``sid``, knowing why it ended: ``reason``, or
        the one the server stored when it ended it (``ACCESS_ENDED``), or inactivity."""
        session = RedisSession(_new_sid(), new=True)
        session.ended_by_timeout = True
        if reason is None:
            stored = get_redis().get(ended_key(_setting_key(), sid))
            reason = stored.decode() if stored else None
        session.ended_reason = reason
        return session

    def save_session(self, app: Flask, session: RedisSession, response: Response) -> None:  # type: ignore[override]
        if session.unavailable or session.changes_dropped:
            return
        try:
            self._save(session, response)
        except RedisError as error:
            # The page has been answered; the next request finds no session
            # and is asked to sign in: a failure never grants access.
            outages.redis().failed(error)

    def _save(self, session: RedisSession, response: Response) -> None:
        store = get_redis()
        slug = _setting_key()
        if session.discarded_sid:
            store.delete(session_key(slug, session.discarded_sid))
        if not session:
            if not session.new:
                store.delete(session_key(slug, session.sid))
                response.delete_cookie(self.cookie_name, path="/", secure=self.secure)
            return
        if not session.modified:
            return
        now = _timestamp(clock.now())
        record = {
            # A new or regenerated (signed-in) session starts its absolute timeout now.
            "created": now if session.created is None or session.discarded_sid else session.created,
            "seen": now,
            "values": dict(session),
        }
        store.set(session_key(slug, session.sid), json.dumps(record), ex=self.idle)
        user_id = session.get("_user_id") or session.get(PENDING_SIGN_IN, {}).get("user_id")
        if user_id is not None:
            index = user_index_key(slug, int(user_id))
            store.sadd(index, session.sid)
            store.expire(index, self.absolute)
        response.set_cookie(
            self.cookie_name,
            session.sid,
            httponly=True,
            secure=self.secure,
            samesite="Lax",
            path="/",
        )


# Pages that need no session at all: a visitor's first look at a setting.
SESSIONLESS_ENDPOINTS = frozenset({"home.index", "static"})


def refuse_without_session_store() -> None:
    """Before any view: without Redis we cannot know who is signed in, so answer 503.

    A request with no session cookie has not touched Redis yet; unless it is
    for a page that needs no session, check Redis is there before the page
    hands out a form that could never be submitted.
    """
    endpoint = request.endpoint
    if endpoint in ANY_HOST_ENDPOINTS:
        return  # they report on Redis themselves, in their own words
    if getattr(session, "unavailable", False):
        abort(503)
    if session.new and endpoint not in SESSIONLESS_ENDPOINTS:
        try:
            _check_redis_recently()
        except RedisError as error:
            outages.redis().failed(error)
            abort(503)


HEALTH_CHECK_SECONDS = 1.0
_healthy_at: dict[int, float] = {}  # per Redis client: when a PING last succeeded


def _check_redis_recently() -> None:
    """PING Redis at most once a second per process: a visitor's pages stay cheap, and a
    Redis that went down is noticed within a second (sooner by any session read)."""
    store = get_redis()
    now = time.monotonic()
    if now - _healthy_at.get(id(store), float("-inf")) < HEALTH_CHECK_SECONDS:
        return
    store.ping()
    outages.redis().answered()
    _healthy_at[id(store)] = now


def end_all_sessions_of(
    slug: str, user_id: int, reason: str | None = None, *, keep: str | None = None
) -> int:
    """Delete every session of one user (password change, reset, deactivation), or every
    one but ``keep`` ("sign out everywhere else"); returns how many. With a ``reason``,
    the next page each ended session asks for says why (ACCESS_ENDED)."""
    store = get_redis()
    index = user_index_key(slug, user_id)
    sids = [sid.decode() for sid in store.smembers(index) if sid.decode() != keep]
    keys = [session_key(slug, sid) for sid in sids]
    if keys:
        store.delete(*keys)
    if reason:
        remember = current_app.config["LJ"].SESSION_ABSOLUTE_TIMEOUT
        for sid in sids:
            store.set(ended_key(slug, sid), reason, ex=remember)
    if keep is None:
        store.delete(index)
    elif sids:
        store.srem(index, *sids)
    return len(keys)


def end_all_sessions_of_accounts(slug: str, user_ids: Collection[int]) -> int:
    """Delete every session of these users, and their indexes (accounts being purged);
    returns how many. Two round trips to Redis, however many users."""
    store = get_redis()
    indexes = [user_index_key(slug, user_id) for user_id in user_ids]
    if not indexes:
        return 0
    with store.pipeline(transaction=False) as pipeline:
        for index in indexes:
            pipeline.smembers(index)
        members = pipeline.execute()
    keys = [session_key(slug, sid.decode()) for sids in members for sid in sids]
    store.delete(*keys, *indexes)
    return len(keys)


@dataclass(frozen=True)
class StoredSession:
    """One signed-in session as kept in Redis (times are Unix timestamps)."""

    sid: str
    created: float  # when the person signed in
    seen: float  # last active (to within a twentieth of the idle timeout)
    values: dict[str, Any]


def sessions_of(slug: str, user_id: int) -> list[StoredSession]:
    """The user's live sessions, oldest first; ended ones are dropped from their index."""
    store = get_redis()
    index = user_index_key(slug, user_id)
    sids = sorted(sid.decode() for sid in store.smembers(index))
    records = store.mget([session_key(slug, sid) for sid in sids]) if sids else []
    interface: RedisSessionInterface = current_app.session_interface  # type: ignore[assignment]
    now = _timestamp(clock.now())
    live, ended = [], []
    for sid, raw in zip(sids, records, strict=True):
        data = json.loads(raw) if raw is not None else None
        if data is None or interface.has_ended(data, now):
            ended.append(sid)
        else:
            live.append(StoredSession(sid, data["created"], data["seen"], data["values"]))
    if ended:
        store.srem(index, *ended)
    return sorted(live, key=lambda stored: stored.created)


def end_session_of(slug: str, user_id: int, sid: str) -> bool:
    """End one of the user's sessions; only their own can be named."""
    store = get_redis()
    if not store.srem(user_index_key(slug, user_id), sid):
        return False
    store.delete(session_key(slug, sid))
    return True


def _delete_matching(pattern: str) -> int:
    store = get_redis()
    deleted = 0
    batch: list[bytes] = []
    for key in store.scan_iter(match=pattern, count=1000):
        batch.append(key)
        if len(batch) == 1000:
            deleted += store.delete(*batch)
            batch = []
    return deleted + (store.delete(*batch) if batch else 0)


def end_all_sessions_of_setting(slug: str) -> int:
    """Delete every session of one setting (suspension, resumption); returns how many.

    Slugs hold only letters, digits and hyphens, so the pattern matches this setting only.
    """
    ended = _delete_matching(session_key(slug, "*"))
    _delete_matching(user_index_key(slug, "*"))
    return ended


def end_every_session() -> int:
    """Delete every session of every setting (after the whole database was restored)."""
    ended = _delete_matching(session_key("*", "*"))
    _delete_matching(user_index_key("*", "*"))
    return ended


def prune_session_indexes() -> str:
    """Drop from every user's session index the sessions that have expired; the job
    ``session-index-cleanup``. An index only lists sessions to end together, so a
    stale entry is harmless but would grow without bound for a person who signs in
    every day."""
    store = get_redis()
    indexes = pruned = 0
    for index in store.scan_iter(match=user_index_key("*", "*"), count=1000):
        indexes += 1
        slug = index.decode().split(":")[2]
        sids = [sid.decode() for sid in store.smembers(index)]
        with store.pipeline(transaction=False) as pipeline:
            for sid in sids:
                pipeline.exists(session_key(slug, sid))
            alive = pipeline.execute()
        dead = [sid for sid, exists in zip(sids, alive, strict=True) if not exists]
        if dead:
            pruned += store.srem(index, *dead)
    return f"{pruned} expired sessions dropped from {indexes} session indexes"
