"""What a name, email or date typed about a child, parent or member of staff must be;
each refusal names the form field it belongs to (``InvalidField``).
"""

from __future__ import annotations

from datetime import date

from app.people.models import NAME_LENGTH
from app.validation import InvalidField, InvalidInput, clean_email, clean_name

USER_NAME_LENGTH = 120  # users.full_name


# Dates outside this range are typing mistakes (a year of 0202 or 2206), not real children.
EARLIEST_DATE = date(1900, 1, 1)


LATEST_DATE = date(2199, 12, 31)


def checked_name(raw: str, field: str, label: str, max_length: int = NAME_LENGTH) -> str:
    try:
        return clean_name(raw, field=label, max_length=max_length)
    except InvalidInput as error:
        raise InvalidField(field, str(error)) from error


def checked_email(raw: str) -> str:
    try:
        return clean_email(raw)
    except InvalidInput as error:
        raise InvalidField("email", str(error)) from error


def checked_in_range(value: date, field: str, label: str) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise InvalidField(
            field, f"{label} must be between {EARLIEST_DATE:%Y} and {LATEST_DATE:%Y}."
        )
    return value


def check_leaving_date(leaving_date: date | None, start_date: date | None) -> None:
    if leaving_date is None:
        return
    checked_in_range(leaving_date, "leaving_date", "Leaving date")
    if start_date is not None and leaving_date < start_date:
        raise InvalidField("leaving_date", "Leaving date cannot be before the start date.")
