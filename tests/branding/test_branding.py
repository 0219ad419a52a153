"""A manager names the setting and gives it a logo; everyone sees them; no one else may edit."""

from __future__ import annotations

import io

from PIL import Image

from tests.helpers.clients import client_for, csrf_token, make_user, sign_in


def _png(colour: str = "navy", size: tuple[int, int] = (600, 300)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def _save(client, name: str, logo: bytes | None = None, filename: str = "logo.png", **extra):
    data = {"name": name, "csrf_token": csrf_token(client, "/settings/branding/"), **extra}
    if logo is not None:
        data["logo"] = (io.BytesIO(logo), filename)
    return client.post("/settings/branding/", data=data, content_type="multipart/form-data")


def test_manager_renames_and_adds_a_logo_seen_in_every_header(app, setting_with_manager):
    setting, manager, _ = setting_with_manager
    assert _save(manager, "Bluebell Nursery & Pre-school", _png()).status_code == 303
    visitor = client_for(app, setting.slug)
    home = visitor.get("/").text
    assert "Bluebell Nursery &amp; Pre-school" in home
    assert 'src="/settings/branding/logo"' in visitor.get("/login").text
    logo = visitor.get("/settings/branding/logo")
    assert logo.status_code == 200 and logo.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(logo.data)) as stored:
        assert max(stored.size) <= 480 and not stored.getexif()


def test_removing_the_logo(app, setting_with_manager):
    setting, manager, _ = setting_with_manager
    _save(manager, "Bluebell", _png())
    assert _save(manager, "Bluebell", remove_logo="y").status_code == 303
    assert client_for(app, setting.slug).get("/settings/branding/logo").status_code == 404


def test_a_setting_shows_only_its_own_logo(app, setting_with_manager, make_setting):
    _, manager, _ = setting_with_manager
    _save(manager, "Bluebell", _png())
    other = make_setting()
    assert client_for(app, other.slug).get("/settings/branding/logo").status_code == 404


def test_bad_logos_and_names_are_refused_and_nothing_changes(app, setting_with_manager):
    setting, manager, _ = setting_with_manager
    for logo, filename in [
        (b"<html>not an image</html>", "logo.png"),
        (_png()[:200], "logo.png"),
        (b"", "logo.png"),
    ]:
        refused = _save(manager, "Renamed While Failing", logo, filename)
        assert 400 <= refused.status_code < 500
    assert _save(manager, "<b>bold</b>").status_code == 422
    page = client_for(app, setting.slug).get("/").text
    assert "Renamed While Failing" not in page and setting.name in page


def test_only_managers_may_change_branding(app, make_setting):
    setting = make_setting()
    for role in ("staff", "parent"):
        with app.app_context():
            email = make_user(setting.slug, role=role)
        client = client_for(app, setting.slug)
        sign_in(client, email)
        assert client.get("/settings/branding/").status_code == 403
        assert (
            client.post(
                "/settings/branding/", data={"name": "Taken Over", "csrf_token": csrf_token(client)}
            ).status_code
            == 403
        )
    anonymous = client_for(app, setting.slug).get("/settings/branding/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
