"""Forms of the usage policy, the email check and the manager's responsible-use page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, NumberRange, Regexp

from app.form_checks import required_text
from app.responsible_use.models import (
    EMAIL_CHECK_MONTHS_LIMITS,
    POLICY_LENGTH,
    SHARING_RULE_LENGTH,
)

OWN_WORDS = {"autocomplete": "off"}  # the setting's texts: nothing for a browser to fill in


class AcceptPolicyForm(FlaskForm):
    """ "I accept": carries the version read, so a newer one published meanwhile is not
    accepted unseen."""

    # ASCII digits only: ``str.isdigit`` would also take "¹", which ``int`` refuses.
    version = HiddenField(validators=[DataRequired(), Regexp(r"[0-9]{1,9}\Z")])


class PublishPolicyForm(FlaskForm):
    text = TextAreaField(
        "The policy everyone accepts",
        validators=required_text("The policy", POLICY_LENGTH),
        render_kw={**OWN_WORDS, "rows": 16},
    )


class RulesForm(FlaskForm):
    sharing_rule = TextAreaField(
        "Sharing rule shown to parents beside photos and downloads",
        validators=required_text("The sharing rule", SHARING_RULE_LENGTH),
        render_kw={**OWN_WORDS, "rows": 3},
    )
    email_check_months = IntegerField(
        "Ask everyone to confirm their email address every … months",
        validators=[
            InputRequired(),
            NumberRange(
                min=EMAIL_CHECK_MONTHS_LIMITS[0],
                max=EMAIL_CHECK_MONTHS_LIMITS[1],
                message="Enter a number of months from 1 to 60.",
            ),
        ],
        render_kw={**OWN_WORDS, "inputmode": "numeric"},
    )
