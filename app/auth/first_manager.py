"""A new setting's first manager: their account, made in the setting's provisioning
transaction, and their invitation, sent once the setting surely exists."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from app.auth.models import AccountStatus, Role, User
from app.auth.operations import send_invitation
from app.extensions import db
from tenants.binding import bound_to
from tenants.provisioning import NewSetting


def prepare_first_manager(connection: Connection, new: NewSetting) -> None:
    """A seed of every new setting (``tenants.provisioning.install_setting_seeds``)."""
    new.manager_id = connection.execute(
        insert(User)
        .values(
            email=new.manager_email,
            full_name=new.manager_name,
            role=Role.MANAGER,
            status=AccountStatus.INVITED,
        )
        .returning(User.id)
    ).scalar_one()


def invite_first_manager(new: NewSetting) -> None:
    """Email the first manager's activation link: after ``provision_setting`` returned."""
    with bound_to(new.bound()):
        send_invitation(db.session.get_one(User, new.manager_id), by=None)
        db.session.commit()
