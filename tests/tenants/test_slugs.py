import pytest

from tenants.slugs import InvalidSlug, schema_name_for, validate_slug


@pytest.mark.parametrize(
    "slug",
    ["sunnyside", "abc", "st-marys-2", "a" * 40, "little-acorns-nursery", "123"],
)
def test_good_slugs_are_accepted(slug):
    assert validate_slug(slug) == slug


@pytest.mark.parametrize(
    "slug",
    [
        "",
        "ab",
        "a" * 41,
        "-abc",
        "abc-",
        "ab--cd",
        "Sunnyside",
        "sunny side",
        "sunny_side",
        "sunny.side",
        "www",
        "admin",
        "api",
        "static",
        "mail",
        "public",
        "pg-catalog",
        "xn--nrsery-3ya",
        "a;drop schema public",
        "x'); DROP TABLE settings;--",
        '"public"',
        "sünnyside",
        "\u0455unnyside",  # Cyrillic dze, looks like s
        "sunny\x00side",
        "sunnyside\n",
        "١٢٣",
    ],
)
def test_bad_slugs_are_refused_with_a_message(slug):
    with pytest.raises(InvalidSlug) as refused:
        validate_slug(slug)
    assert str(refused.value)


def test_schema_name_is_derived_not_taken_raw():
    assert schema_name_for("st-marys") == "setting_st_marys"
    with pytest.raises(InvalidSlug):
        schema_name_for('x"; drop schema public; --')
