"""What a typed text or date must be before an observation, caption, note or comment
keeps it (the forms check the same limits on what was sent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from app import clock
from app.journal.models import CAPTION_LENGTH, COMMENT_LENGTH, NEXT_STEPS_LENGTH, TEXT_LENGTH
from app.journal.text import clean_observation_text
from app.people.models import Child
from app.validation import InvalidField

EARLIEST_OBSERVATION = date(2000, 1, 1)


@dataclass(frozen=True)
class TextRule:
    """What a typed text must be: its name in messages, its most characters, and whether it
    may be left empty. The form checks the text as sent, the operation once it is cleaned."""

    label: str
    max_length: int
    required: bool = False

    @property
    def missing(self) -> str:
        return f"{self.label} is required."

    @property
    def too_long(self) -> str:
        return f"{self.label} must be at most {self.max_length:,} characters."


WHAT_HAPPENED = TextRule("What happened", TEXT_LENGTH, required=True)


NEXT_STEPS = TextRule("Next steps", NEXT_STEPS_LENGTH)


CAPTION = TextRule("Caption", CAPTION_LENGTH)


REVIEW_NOTE = TextRule("Note", NEXT_STEPS_LENGTH)


COMMENT = TextRule("Comment", COMMENT_LENGTH, required=True)


DELETION_REASON = TextRule("Reason", NEXT_STEPS_LENGTH)


def clean_text(raw: str, field_name: str, rule: TextRule) -> str:
    text = clean_observation_text(raw)
    if rule.required and not text.strip():
        raise InvalidField(field_name, rule.missing)
    if len(text) > rule.max_length:
        raise InvalidField(field_name, rule.too_long)
    return text


def clean_caption(raw: str) -> str:
    # A caption is one line: it becomes alt text too.
    return clean_text(" ".join(raw.split()), "caption", CAPTION)


def checked_date(
    observed_on: date | None, children: Sequence[Child] = (), field_name: str = "observed_on"
) -> date:
    """The date an observation of ``children`` happened: not in the future, and not before
    any of them was born (a slip of the year, 2020 for 2026)."""
    if observed_on is None:
        raise InvalidField(field_name, "Date observed is required.")
    if observed_on > clock.today():
        raise InvalidField(field_name, "The date cannot be in the future.")
    if observed_on < EARLIEST_OBSERVATION:
        raise InvalidField(field_name, f"The date must be after {EARLIEST_OBSERVATION:%Y}.")
    for child in children:
        if observed_on < child.date_of_birth:
            raise InvalidField(
                field_name, f"The date is before {child.known_as} was born: check the year."
            )
    return observed_on
