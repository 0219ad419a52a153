"""Every message a form gives about a field a person types into names that field, as the
error summary at the top of the page lists messages without their fields."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import EmailField, PasswordField, StringField, TextAreaField
from wtforms.fields.core import UnboundField

from tests.routes import app_forms, form_fields

TYPED = (StringField, PasswordField, EmailField, TextAreaField)
# WTForms' own messages, which say "Field" or "This field" instead of the field's name.
NAMELESS = ("This field", "Field ")


def _typed_fields(form) -> dict[str, UnboundField]:
    return {
        name: field
        for name, field in form_fields(form).items()
        if issubclass(field.field_class, TYPED) and field.field_class.__name__ != "HiddenField"
    }


def _messages(form_class, value: str) -> list[str]:
    fields = _typed_fields(form_class)
    form = form_class(formdata=MultiDict({name: value for name in fields}), meta={"csrf": False})
    for field in form:
        if getattr(field, "choices", ()) is None:  # offered by the view; none here
            field.choices = []
    form.validate()
    return [message for name in fields for message in getattr(form, name).errors]


@pytest.mark.parametrize("value", ["", "x" * 30_000], ids=["empty", "too long"])
def test_each_message_about_a_typed_field_names_it(app, value):
    forms = [form for form in app_forms() if _typed_fields(form)]  # imported with the app
    assert forms
    nameless = {}
    with app.test_request_context():
        for form_class in forms:
            found = [m for m in _messages(form_class, value) if m.startswith(NAMELESS)]
            if found:
                nameless[form_class.__name__] = found
    assert nameless == {}
