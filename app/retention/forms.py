"""Forms of the retention pages (ranges and rules are checked by the operations)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from app.journal.forms import DATE_FORMAT, PageForm
from app.retention.audit_trail import TrailFilters
from app.retention.models import HOLD_REASON_LENGTH
from app.retention.schedule import RULES

CHILD_PREFIX = "child-"  # a child in the audit trail's person filter


class ScheduleForm(FlaskForm):
    """One whole number per rule of the retention schedule (fields added below), and
    ``confirm`` set by the page that asked before a period is shortened."""

    confirm = HiddenField()

    def periods(self) -> dict[str, int]:
        return {rule.key: self[rule.key].data for rule in RULES}


for _rule in RULES:
    _low, _high = _rule.limits
    setattr(
        ScheduleForm,
        _rule.key,
        IntegerField(
            f"{_rule.record}: {_rule.unit.value} {_rule.trigger}",
            validators=[InputRequired(message=f"{_rule.record}: a period is required.")],
            render_kw={"min": _low, "max": _high, "step": 1},
        ),
    )


class PurgeForm(FlaskForm):
    confirm_name = StringField(
        "Type their full name to confirm",
        validators=[InputRequired(message="Type their full name to confirm."), Length(max=200)],
    )


class HoldForm(FlaskForm):
    reason = TextAreaField(
        "Reason for the hold",
        validators=[
            InputRequired(message="Give the reason for the hold."),
            Length(max=HOLD_REASON_LENGTH),
        ],
    )


class TrailForm(PageForm):
    """The audit trail's filters, read from the query string. A person is an account (its
    id) or a child (``child-<id>``)."""

    person = SelectField("Person", coerce=str, default="", validate_choice=True)
    action = SelectField("Action", coerce=str, default="", validate_choice=True)
    date_from = DateField("From", validators=[Optional()], format=DATE_FORMAT)
    date_to = DateField("To", validators=[Optional()], format=DATE_FORMAT)

    def offer(
        self, people: list[tuple[int, str]], children: list[tuple[int, str]], actions: list[str]
    ) -> None:
        self.person.choices = [
            ("", "Anyone"),
            *((str(i), name) for i, name in people),
            *((f"{CHILD_PREFIX}{i}", f"{name} (child)") for i, name in children),
        ]
        self.action.choices = [("", "Any action"), *((action, action) for action in actions)]

    def validate_date_to(self, field: DateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The first day is after the last: nothing can match.")

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
