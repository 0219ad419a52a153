"""Stored states in a person's words: each member of a ``LabelledEnum`` carries the label
pages show for it, so no page shows the stored word ("invited", "queued") as it is."""

from __future__ import annotations

import enum
from typing import Self


class LabelledEnum(enum.StrEnum):
    """A ``StrEnum`` whose members read ``NAME = "stored value", "what a page calls it"``.

    The value is what the database, forms and URLs hold; ``label`` is what a person reads
    (lower-cased by the template where it runs on inside a sentence). Keeping the two on
    one line is the one place each state is named: ``tests/test_labels.py`` checks that
    no template renders a value itself.
    """

    label: str

    def __new__(cls, value: str, label: str) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member
