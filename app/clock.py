"""The one source of the current time, so tests can move it instead of sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return _source()


def today() -> date:
    """Today's date for date-driven rules (an observation's date, leaving dates, grace
    periods): the current setting's day, in its time zone (the default zone outside a
    setting). In Sydney, 9 a.m. on the 2nd is still the 1st in UTC."""
    from app.timezones import setting_zone  # here: app.timezones is above the clock

    return now().astimezone(setting_zone()).date()


# The same thing sent again this soon by the same person (a double tap on a tablet, a
# phone resending after a slow answer) is the same request sent twice: the observation,
# comment or leaving pack already made is the answer, not a second one.
SENT_TWICE_WITHIN = timedelta(minutes=2)


def sent_twice_since() -> datetime:
    """The earliest time at which something already made answers the same request now."""
    return now() - SENT_TWICE_WITHIN


def move_to(moment: datetime) -> None:
    """Freeze the clock at ``moment`` (tests and the operator's dry runs)."""
    global _source
    fixed = moment.astimezone(UTC)
    _source = lambda: fixed  # noqa: E731


def advance(delta: timedelta) -> None:
    """Move a frozen or running clock forward by ``delta``."""
    global _source
    base = _source
    _source = lambda: base() + delta  # noqa: E731


def reset() -> None:
    """Back to the real time."""
    global _source
    _source = lambda: datetime.now(UTC)  # noqa: E731
