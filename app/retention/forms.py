"""Forms of the retention pages (ranges and rules are checked by the operations)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    Field,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import InputRequired

from app.form_checks import at_most
from app.journal.forms import DateRangeForm
from app.retention.audit_trail import TrailFilters
from app.retention.models import HOLD_REASON_LENGTH
from app.retention.schedule import RULES, RetentionRule, period_problem

CHILD_PREFIX = "child-"  # a child in the audit trail's person filter


class ScheduleForm(FlaskForm):
    """One whole number per rule of the retention schedule (fields added below), and
    ``confirm`` set by the page that asked before a period is shortened."""

    confirm = HiddenField()

    def periods(self) -> dict[str, int]:
        return {rule.key: self[rule.key].data for rule in RULES}


class PeriodField(IntegerField):
    """A whole number of a rule's unit; anything else ("3.5", "three") is refused with
    the rule's words (``not_a_number``), not the library's "Not a valid integer value"."""

    def __init__(self, *args: Any, not_a_number: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.not_a_number = not_a_number

    def process_formdata(self, valuelist: list) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(self.not_a_number) from error


def _within_bounds(rule: RetentionRule) -> Callable[[FlaskForm, Field], None]:
    """The rule's bounds, checked with the form's other problems so that one answer names
    them all (the schedule's operations check them again, for every caller)."""

    def check(form: FlaskForm, field: Field) -> None:
        if field.data is not None and (problem := period_problem(rule.key, field.data)):
            raise ValidationError(problem)

    return check


def _period_field(rule: RetentionRule) -> PeriodField:
    low, high = rule.limits
    return PeriodField(
        f"{rule.record}: {rule.unit.value} {rule.trigger}",
        validators=[
            InputRequired(message=f"{rule.record}: a period is required."),
            _within_bounds(rule),
        ],
        render_kw={"min": low, "max": high, "step": 1},
        not_a_number=f"{rule.record}: a whole number of {rule.unit.value}, from {low} to {high}.",
    )


for _rule in RULES:
    setattr(ScheduleForm, _rule.key, _period_field(_rule))


class PurgeForm(FlaskForm):
    confirm_name = StringField(
        "Type their full name to confirm",
        validators=[
            InputRequired(message="Type their full name to confirm."),
            at_most("Their full name", 200),
        ],
    )


def _reason_field(label: str, missing: str) -> TextAreaField:
    """A hold's reason, placing or lifting: required, as long as the hold's column holds."""
    return TextAreaField(
        label,
        validators=[InputRequired(message=missing), at_most("The reason", HOLD_REASON_LENGTH)],
    )


class HoldForm(FlaskForm):
    reason = _reason_field("Reason for the hold", "Give the reason for the hold.")


class LiftForm(FlaskForm):
    reason = _reason_field("Reason for lifting the hold", "Give the reason for lifting the hold.")


class TrailForm(DateRangeForm):
    """The audit trail's filters, read from the query string. A person is an account (its
    id) or a child (``child-<id>``)."""

    person = SelectField("Person", coerce=str, default="", validate_choice=True)
    action = SelectField("Action", coerce=str, default="", validate_choice=True)

    def offer(
        self,
        people: list[tuple[int, str]],
        children: list[tuple[int, str]],
        actions: list[tuple[str, str]],
    ) -> None:
        self.person.choices = [
            ("", "Anyone"),
            *((str(i), name) for i, name in people),
            *((f"{CHILD_PREFIX}{i}", f"{name} (child)") for i, name in children),
        ]
        self.action.choices = [("", "Any action"), *actions]

    def filters(self) -> TrailFilters:
        person = self.person.data or ""
        is_child = person.startswith(CHILD_PREFIX)
        return TrailFilters(
            person_id=int(person) if person and not is_child else None,
            child_id=int(person.removeprefix(CHILD_PREFIX)) if is_child else None,
            action=self.action.data or None,
            date_from=self.date_from.data,
            date_to=self.date_to.data,
        )
