"""Forms of the journal pages (CSRF-protected by Flask-WTF, except the filters, which only read).

The forms check shape (required, length, a real date, a known choice); the rules about
observations (which children, archived children, content rules) live in
``app.journal.observations`` and ``app.journal.publishing``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.fields import Field
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)

from app.journal.content_rules import ContentRules, Mode
from app.journal.input_rules import (
    CAPTION,
    COMMENT,
    DELETION_REASON,
    NEXT_STEPS,
    REVIEW_NOTE,
    WHAT_HAPPENED,
    TextRule,
)
from app.journal.listing import Filters
from app.journal.models import (
    AGE_BANDS,
    AREAS_OF_LEARNING,
    CHARACTERISTICS_OF_LEARNING,
    EmailChoice,
    GroupNamePolicy,
    ObservationStatus,
)
from app.journal.observations import ObservationDetails

DATE_FORMAT = "%Y-%m-%d"  # what <input type="date"> sends
# Phones and tablets offer the camera or the gallery; several photos can be chosen at once.
PHOTO_INPUT = {"accept": "image/*", "multiple": True}
IN_PHOTO_LABEL = "Who can be seen in these photos?"


class CheckboxesField(SelectMultipleField):
    """Several choices as a list of checkboxes (templates wrap them in a fieldset)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _text(rule: TextRule) -> list[object]:
    checks: list[object] = [DataRequired(message=rule.missing)] if rule.required else []
    return [*checks, Length(max=rule.max_length, message=rule.too_long)]


def _at_least_one(message: str) -> Callable[[FlaskForm, Field], None]:
    # Not DataRequired: that would mark every checkbox of the group "required".
    def check(form: FlaskForm, field: Field) -> None:
        if not field.data:
            raise StopValidation(message)

    return check


def _choices(named: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(code, name) for code, name in named.items()]


class ObservationForm(FlaskForm):
    observed_on = DateField(
        "Date observed",
        validators=[InputRequired(message="Date observed is required.")],
        format=DATE_FORMAT,
    )
    child_ids = CheckboxesField(
        "Children",
        coerce=int,
        validate_choice=True,
        validators=[_at_least_one("Choose at least one child.")],
    )
    text = TextAreaField("What happened", validators=_text(WHAT_HAPPENED))
    areas = CheckboxesField("Areas of learning", choices=_choices(AREAS_OF_LEARNING))
    characteristics = CheckboxesField(
        "Characteristics of effective learning", choices=_choices(CHARACTERISTICS_OF_LEARNING)
    )
    age_band = SelectField(
        "Age band",
        choices=[SelectChoice("", "Not given"), *_choices(AGE_BANDS)],
        default="",
        validate_choice=True,
    )
    next_steps = TextAreaField("Next steps (optional)", validators=_text(NEXT_STEPS))
    photo = MultipleFileField("Add photos (optional)", render_kw=PHOTO_INPUT)
    caption = StringField("Photo caption (optional)", validators=_text(CAPTION))
    in_photo = CheckboxesField(IN_PHOTO_LABEL, coerce=int, validate_choice=True)
    # An edit form's observation as it was opened (observations.edit_version).
    opened_version = HiddenField()
    # "yes" from the button shown beside a correction's findings (warn mode): save anyway.
    confirmed = HiddenField()

    def offer_children(self, children: list[tuple[int, str]]) -> None:
        self.child_ids.choices = [SelectChoice(child_id, name) for child_id, name in children]
        self.in_photo.choices = self.child_ids.choices

    def details(self) -> ObservationDetails:
        return ObservationDetails(
            observed_on=self.observed_on.data,  # type: ignore[arg-type]  (validated: required)
            child_ids=tuple(self.child_ids.data or ()),
            text=self.text.data or "",
            next_steps=self.next_steps.data or "",
            areas=tuple(self.areas.data or ()),
            characteristics=tuple(self.characteristics.data or ()),
            age_band=self.age_band.data or None,
        )


class PhotoForm(FlaskForm):
    photo = MultipleFileField("Photos", render_kw=PHOTO_INPUT)
    caption = StringField("Caption (optional)", validators=_text(CAPTION))
    in_photo = CheckboxesField(IN_PHOTO_LABEL, coerce=int, validate_choice=True)
    # "yes" from the button shown beside the findings (warn mode, a published observation).
    confirmed = HiddenField()

    def offer_children(self, children: list[tuple[int, str]]) -> None:
        self.in_photo.choices = [SelectChoice(child_id, name) for child_id, name in children]


class PeopleInPhotoForm(FlaskForm):
    """Who can be seen in one photo already added (it decides which families see it)."""

    in_photo = CheckboxesField("Who can be seen in this photo?", coerce=int, validate_choice=True)

    def offer_children(self, children: list[tuple[int, str]]) -> None:
        self.in_photo.choices = [SelectChoice(child_id, name) for child_id, name in children]


class DeleteForm(FlaskForm):
    reason = TextAreaField("Why is it being deleted?", validators=_text(DELETION_REASON))


class PublishForm(FlaskForm):
    # Set by the "Publish anyway" button of the warning page (rules in "warn" mode).
    confirmed = HiddenField()


class ReviewForm(FlaskForm):
    note = TextAreaField("Note to the author (optional)", validators=_text(REVIEW_NOTE))


class CommentForm(FlaskForm):
    body = TextAreaField("Your comment", validators=_text(COMMENT))


class HomeObservationForm(FlaskForm):
    observed_on = DateField(
        "Date", validators=[InputRequired(message="Date is required.")], format=DATE_FORMAT
    )
    text = TextAreaField("What did your child do?", validators=_text(WHAT_HAPPENED))
    photo = MultipleFileField("Add photos (optional)", render_kw=PHOTO_INPUT)
    caption = StringField("Photo caption (optional)", validators=_text(CAPTION))


class PoliciesForm(FlaskForm):
    group_names = RadioField(
        "Other children's names in group observations",
        choices=[
            SelectChoice(
                GroupNamePolicy.HIDDEN.value,
                'Hidden: each family sees other children as "a friend"',
            ),
            SelectChoice(GroupNamePolicy.SHOWN.value, "Shown: every family sees every name"),
        ],
        validate_choice=True,
    )
    mode = RadioField(
        "When an observation matches a rule",
        choices=[
            SelectChoice(Mode.WARN.value, "Warn the author, who may publish anyway"),
            SelectChoice(
                Mode.NEEDS_APPROVAL.value,
                "Hold it for a manager to approve before families see it",
            ),
        ],
        validate_choice=True,
    )
    blocked_phrases = TextAreaField(
        "Blocked words and phrases (one a line)",
        validators=[Length(max=20_000, message="At most 20,000 characters.")],
    )
    no_surnames = BooleanField("No surnames of children")
    no_other_children_names = BooleanField("No names of children the observation is not about")
    photo_limit = IntegerField(
        "Most photos in one observation (optional)",
        validators=[
            Optional(),
            NumberRange(min=0, max=100, message="Enter a number from 0 to 100."),
        ],
    )

    @classmethod
    def showing(cls, group_names: GroupNamePolicy, rules: ContentRules) -> PoliciesForm:
        """The form filled in with the policies as they are saved."""
        return cls(
            formdata=None,
            group_names=group_names.value,
            mode=rules.mode.value,
            blocked_phrases="\n".join(rules.blocked_phrases),
            no_surnames=rules.no_surnames,
            no_other_children_names=rules.no_other_children_names,
            photo_limit=rules.photo_limit,
        )

    def group_name_policy(self) -> GroupNamePolicy:
        return GroupNamePolicy(self.group_names.data)

    def rules(self) -> ContentRules:
        return ContentRules(
            blocked_phrases=tuple((self.blocked_phrases.data or "").splitlines()),
            no_surnames=bool(self.no_surnames.data),
            no_other_children_names=bool(self.no_other_children_names.data),
            photo_limit=self.photo_limit.data,
            mode=Mode(self.mode.data),
        )


class EmailChoiceForm(FlaskForm):
    choice = RadioField(
        "Email me when there is a new observation of my child",
        choices=[
            SelectChoice(EmailChoice.OFF.value, "No, thank you"),
            SelectChoice(EmailChoice.EACH.value, "Yes, for each new observation"),
            SelectChoice(EmailChoice.DAILY.value, "Yes, once a day when there is something new"),
        ],
        validate_choice=True,
    )


class ActionForm(FlaskForm):
    """Only a CSRF token: hide a comment, remove a photo, delete a draft, approve."""


class PageForm(FlaskForm):
    """Which page of a list, read from the query string (nothing is changed: no CSRF);
    a number that is not a page (``abc``, 0, 10**20) makes the form invalid: a 400."""

    class Meta:
        csrf = False

    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, max=100_000)])


class DateRangeForm(PageForm):
    """A page of a list between two days, read from the query string: a first day after
    the last is refused (400, said beside the field), as nothing could match it and an
    empty list would read as "nothing happened"."""

    date_from = DateField("From", validators=[Optional()], format=DATE_FORMAT)
    date_to = DateField("To", validators=[Optional()], format=DATE_FORMAT)

    def validate_date_to(self, field: DateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The first day is after the last: nothing can match.")


class JournalFilterForm(DateRangeForm):
    """The filters of a child's journal, read from the query string."""

    q = StringField(
        "Words", validators=[Optional(), Length(max=200, message="At most 200 characters.")]
    )
    area = SelectField(
        "Area of learning",
        choices=[SelectChoice("", "Any area"), *_choices(AREAS_OF_LEARNING)],
        default="",
        validate_choice=True,
    )

    def filters(self) -> Filters:
        return Filters(
            area=self.area.data or None,
            date_from=self.date_from.data,
            date_to=self.date_to.data,
            text=(self.q.data or "").strip() or None,
        )


class ListFilterForm(JournalFilterForm):
    """Staff's list of observations: the journal's filters, plus child, author and status."""

    child = SelectField("Child", coerce=int, default=0, validate_choice=True)
    room = SelectField("Room", default="", validate_choice=True)
    key_person = SelectField("Key person", coerce=int, default=0, validate_choice=True)
    author = SelectField("Author", coerce=int, default=0, validate_choice=True)
    status = SelectField(
        "Status",
        choices=[
            SelectChoice("", "Any status"),
            *(SelectChoice(status.value, status.label) for status in ObservationStatus),
        ],
        default="",
        validate_choice=True,
    )

    def offer(
        self,
        children: list[tuple[int, str]],
        authors: list[tuple[int, str]],
        rooms: list[str],
        key_people: list[tuple[int, str]],
    ) -> None:
        self.child.choices = [SelectChoice(0, "Any child")] + [
            SelectChoice(child_id, name) for child_id, name in children
        ]
        self.author.choices = [SelectChoice(0, "Anyone")] + [
            SelectChoice(user_id, name) for user_id, name in authors
        ]
        self.room.choices = [SelectChoice("", "Any room")] + [SelectChoice(r, r) for r in rooms]
        self.key_person.choices = [SelectChoice(0, "Any key person")] + [
            SelectChoice(user_id, name) for user_id, name in key_people
        ]

    def filters(self) -> Filters:
        return replace(
            super().filters(),
            child_id=self.child.data or None,
            room=self.room.data or None,
            key_person_id=self.key_person.data or None,
            author_id=self.author.data or None,
            status=ObservationStatus(self.status.data) if self.status.data else None,
        )
