"""Validators whose messages name their field. An error summary at the top of a page lists
messages without their fields, so WTForms' own "This field is required." would not say which."""

from __future__ import annotations

from wtforms.validators import DataRequired, InputRequired, Length


def required_entry(label: str) -> list[object]:
    """Something must be sent (a 0 or a date counts)."""
    return [InputRequired(message=f"{label} is required.")]


def at_most(label: str, max_length: int) -> Length:
    return Length(max=max_length, message=f"{label} must be at most {max_length} characters.")


def required_text(label: str, max_length: int) -> list[object]:
    """Text that may not be left blank, up to ``max_length`` characters."""
    return [DataRequired(message=f"{label} is required."), at_most(label, max_length)]
