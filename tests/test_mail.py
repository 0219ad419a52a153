"""Mail leaves only after the database commit, with a text and an HTML part."""

from __future__ import annotations

from app.auth.models import Role
from app.auth.operations import invite_user
from app.extensions import db
from tenants.binding import tenant_context


def test_an_invitation_rolled_back_sends_no_mail(app, make_setting, mail_outbox):
    setting = make_setting()
    with app.app_context(), tenant_context(setting.slug):
        invite_user("Rolled Back", "rolled@example.org", Role.PARENT, None)
        db.session.rollback()
        invite_user("Kept Person", "kept@example.org", Role.PARENT, None)
        assert mail_outbox.to("kept@example.org", timeout=0.2) == []  # not before COMMIT
        db.session.commit()
    [message] = mail_outbox.to("kept@example.org")
    assert mail_outbox.to("rolled@example.org", timeout=0.3) == []
    assert {part.get_content_type() for part in message.iter_parts()} == {"text/plain", "text/html"}
