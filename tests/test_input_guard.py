"""Bad input of any kind answers 4xx with the normal error page, never 500."""

from __future__ import annotations

import pytest
from flask import Flask
from werkzeug.routing.converters import NumberConverter

from app.input_guard import MAX_ROW_ID, RowIdConverter

ERROR_PAGE_MARK = "Page not found"


def test_every_numeric_url_part_is_a_bounded_row_id(app: Flask) -> None:
    for rule in app.url_map.iter_rules():
        for name, converter in (rule._converters or {}).items():
            assert not isinstance(converter, NumberConverter), (
                f"{rule.rule}: <{name}> must use the bounded <id:...> converter"
            )


@pytest.mark.parametrize(
    "path",
    [
        "/journal/children/{id}",
        "/people/children/{id}",
        "/journal/observations/{id}",
        "/journal/children/1/photos/{id}/thumb",
        "/people/staff/{id}",
    ],
)
@pytest.mark.parametrize("number", [MAX_ROW_ID + 1, 10**20, 0])
def test_an_id_no_row_can_have_is_not_found(setting_with_manager, path, number) -> None:
    _setting, client, _email = setting_with_manager
    response = client.get(path.format(id=number))
    assert response.status_code == 404
    assert ERROR_PAGE_MARK in response.text


def test_the_largest_id_is_looked_up_and_not_found(setting_with_manager) -> None:
    _setting, client, _email = setting_with_manager
    assert client.get(f"/journal/children/{MAX_ROW_ID}").status_code == 404


@pytest.mark.parametrize("value", ["12", "007", str(MAX_ROW_ID)])
def test_row_ids_in_range_are_read_as_numbers(value: str) -> None:
    assert RowIdConverter.to_python(None, value) == int(value)  # type: ignore[arg-type]
