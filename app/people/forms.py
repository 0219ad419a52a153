"""Forms of the people pages (CSRF-protected by Flask-WTF).

The forms check shape (required, length, a real date); the rules about names, dates
and links live in the operations the views call (``app.people.children``, ``links``,
``staff``, ``policies``), with the typed-input checks in ``app.people.input_rules``.
"""

from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from app.auth.models import Role
from app.form_checks import at_most, required_entry, required_text
from app.people.children import ChildDetails
from app.people.models import NAME_LENGTH, RELATIONSHIP_LENGTH, ROOM_LENGTH
from app.people.policies import GRACE_DAYS_LIMITS, PeoplePolicies

NO_KEY_PERSON = 0
DATE_FORMAT = "%Y-%m-%d"  # what <input type="date"> sends


def _date(label: str, *, required: bool) -> DateField:
    checks = required_entry(label) if required else [Optional()]
    return DateField(label, validators=checks, format=DATE_FORMAT)


class ChildForm(FlaskForm):
    first_name = StringField("First name", validators=required_text("First name", NAME_LENGTH))
    last_name = StringField("Last name", validators=required_text("Last name", NAME_LENGTH))
    preferred_name = StringField(
        "Preferred name (optional)",
        validators=[at_most("Preferred name", NAME_LENGTH)],
    )
    date_of_birth = _date("Date of birth", required=True)
    start_date = _date("Start date", required=True)
    room = StringField("Room", validators=required_text("Room", ROOM_LENGTH))
    key_person_id = SelectField("Key person", coerce=int, validate_choice=True)
    photo_consent = BooleanField("Photos of this child may appear in other families' journals")
    leaving_date = _date("Leaving date (optional)", required=False)
    confirm_duplicate = BooleanField("Yes, this is a different child: save anyway")

    def offer_key_people(self, people: list[tuple[int, str]]) -> None:
        self.key_person_id.choices = [
            SelectChoice(NO_KEY_PERSON, "No key person yet"),
            *(SelectChoice(person_id, name) for person_id, name in people),
        ]

    def details(self) -> ChildDetails:
        key_person = self.key_person_id.data
        return ChildDetails(
            first_name=self.first_name.data or "",
            last_name=self.last_name.data or "",
            preferred_name=self.preferred_name.data or "",
            date_of_birth=self.date_of_birth.data or date.min,
            start_date=self.start_date.data or date.min,
            room=self.room.data or "",
            key_person_id=None if key_person == NO_KEY_PERSON else key_person,
            photo_consent=bool(self.photo_consent.data),
            leaving_date=self.leaving_date.data,
        )


class LeavingDateForm(FlaskForm):
    leaving_date = _date("Leaving date", required=False)


class StaffDatesForm(FlaskForm):
    start_date = _date("Start date (optional)", required=False)
    leaving_date = _date("Leaving date (optional)", required=False)


class NewStaffForm(StaffDatesForm):
    full_name = StringField("Full name", validators=required_text("Full name", 120))
    email = EmailField("Email", validators=required_text("Email", 254))
    role = SelectField(
        "Role",
        choices=[
            SelectChoice(Role.STAFF.value, "Staff"),
            SelectChoice(Role.MANAGER.value, "Manager"),
        ],
        validate_choice=True,
    )


class ParentForChildForm(FlaskForm):
    """Step one of linking a parent to a child: who they are and who they are to the child.

    Step two (the confirmation screen) posts the same fields back with
    ``confirmed`` set and the account it showed in ``shown_parent_id``.
    """

    full_name = StringField("Parent or carer's full name", validators=required_text("Name", 120))
    email = EmailField("Their email", validators=required_text("Email", 254))
    relationship = StringField(
        "Relationship to the child (for example Mother, Grandad, Foster carer)",
        validators=required_text("Relationship", RELATIONSHIP_LENGTH),
    )
    confirmed = HiddenField()
    shown_parent_id = HiddenField()


class ChildForParentForm(FlaskForm):
    """Linking an existing parent to one more child (same two steps)."""

    child_id = SelectField("Child", coerce=int, validate_choice=True)
    relationship = StringField(
        "Relationship to the child (for example Mother, Grandad, Foster carer)",
        validators=required_text("Relationship", RELATIONSHIP_LENGTH),
    )
    confirmed = HiddenField()

    def offer_children(self, children: list[tuple[int, str]]) -> None:
        self.child_id.choices = [SelectChoice(child_id, name) for child_id, name in children]


class ActionForm(FlaskForm):
    """Only a CSRF token: archive now, unlink, deactivate now."""


def _whole_number(label: str, limits: tuple[int, int]) -> IntegerField:
    low, high = limits
    return IntegerField(
        label, validators=required_entry(label), render_kw={"min": low, "max": high, "step": 1}
    )


class PeoplePoliciesForm(FlaskForm):
    """The parents' grace period (range checked by ``operations.save_people_policies``)."""

    parent_grace_days = _whole_number(
        "Days a parent keeps access after their last child leaves", GRACE_DAYS_LIMITS
    )

    def policies(self) -> PeoplePolicies:
        return PeoplePolicies(parent_grace_days=self.parent_grace_days.data or 0)
