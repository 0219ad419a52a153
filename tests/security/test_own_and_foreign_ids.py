"""Every route outside the journal and people that names a row by id, for every role,
with an id of the person's own, one of someone else in the same setting, and one that
exists only in another setting.

The journal and people have their own tables (tests/journal/test_access.py,
tests/people/test_access.py); routes without ids (home, branding, the responsible-use
pages, the audit trail, the schedule) are held to their roles, for a manager of another
setting and for a suspended setting, in test_access_matrix.py. A route with a row id
added outside those tables fails ``test_every_route_naming_a_row_has_an_entry``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.auth.models import AccountStatus, Passkey, Role, User
from app.extensions import db
from app.people import children
from app.people.models import Child
from app.retention.models import LeavingPack
from tests.helpers.access import Cell, wrong_cells
from tests.helpers.clients import post_form
from tests.helpers.journal import make_family, signed_in
from tests.helpers.people import (
    PASSWORD,
    add_child_with_id,
    add_user,
    child_details,
    get_user,
    inside,
)
from tests.routes import app_routes
from tests.security.test_access_matrix import MANAGER_ELSEWHERE, _client_of

FOREIGN_ID = 4242  # a row of every kind with this id exists only in another setting
MANAGER, STAFF, PARENT = "manager", "staff", "parent_a"
SIGNED_IN = frozenset({MANAGER, STAFF, PARENT})
MANAGERS = frozenset({MANAGER})
PACK_READERS = frozenset({MANAGER, PARENT})


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # with one {row} placeholder
    kind: str  # which rows: see ``rows``
    roles: frozenset[str]
    data: tuple[tuple[str, str], ...] = ()  # a form that passes validation


ROUTES: dict[str, Route] = {
    "retention.person": Route("GET", "/retention/archive/child/{row}", "archived", MANAGERS),
    "retention.place_hold": Route(
        "POST",
        "/retention/archive/child/{row}/hold",
        "archived",
        MANAGERS,
        (("reason", "Dispute"),),
    ),
    "retention.lift_hold": Route(
        "POST",
        "/retention/archive/child/{row}/lift",
        "archived",
        MANAGERS,
        (("reason", "Settled"),),
    ),
    "retention.purge": Route(
        "POST",
        "/retention/archive/child/{row}/purge",
        "archived",
        MANAGERS,
        (("confirm_name", "Not Their Name"),),  # refused, with the form shown again
    ),
    "retention.export_subject": Route(
        "POST", "/retention/subject-access/child/{row}", "child", MANAGERS
    ),
    "retention.leaving_packs": Route(
        "GET", "/retention/children/{row}/leaving-pack", "child", PACK_READERS
    ),
    "retention.request_leaving_pack": Route(
        "POST", "/retention/children/{row}/leaving-pack", "child", PACK_READERS
    ),
    "retention.leaving_pack": Route("GET", "/retention/packs/{row}", "pack", PACK_READERS),
    "retention.download_pack": Route(
        "GET", "/retention/packs/{row}/journal.json", "pack", PACK_READERS
    ),
    "factors.reset": Route("POST", "/accounts/{row}/second-factor/reset", "user", MANAGERS),
    "auth.resend": Route("POST", "/invitations/{row}/resend", "invited", MANAGERS),
    "auth.correct_email": Route(
        "POST", "/invitations/{row}/email", "invited", MANAGERS, (("email", "new@example.org"),)
    ),
    "factors.passkey_rename": Route(
        "POST", "/account/passkeys/{row}/name", "passkey", SIGNED_IN, (("name", "Mine"),)
    ),
    "factors.passkey_remove": Route(
        "POST",
        "/account/passkeys/{row}/remove",
        "passkey",
        SIGNED_IN,
        (("current_password", PASSWORD),),
    ),
}
# Named by other means than a row id: one-time links (tests/auth/test_activation.py:
# another setting's link is a 404) and the signed-in person's own devices (a reference
# to another person's session signs out nothing: tests/auth/test_devices.py).
NOT_ROW_IDS = frozenset(
    {"auth.activate", "auth.reset", "auth.confirm_email", "auth.sign_out_one_device"}
)
OTHER_TABLES = ("journal.", "people.")


def test_every_route_naming_a_row_has_an_entry(app):
    naming = {
        route.endpoint
        for route in app_routes(app)
        if {"id", "text"} & set(route.parts.values())
        and not route.endpoint.startswith(OTHER_TABLES)
    }
    assert naming - NOT_ROW_IDS == set(ROUTES)


def _passkey(user_id: int, number: int, passkey_id: int | None = None) -> None:
    db.session.add(
        Passkey(
            id=passkey_id,
            user_id=user_id,
            name=f"Key {number}",
            credential_id=f"credential-{number}".encode(),
            public_key=b"not used here",
            created_at=clock.now(),
        )
    )


def _foreign_pack(child_id: int, user_id: int) -> None:
    db.session.add(
        LeavingPack(
            id=FOREIGN_ID,
            child_id=child_id,
            requested_by_id=user_id,
            file_stem="foreign-pack",
            created_at=clock.now(),
            expires_at=clock.now() + timedelta(days=7),
        )
    )


def _pack(app, family, who: str, child_id: int) -> int:
    """A pack asked for (and made, in process) as a person asks for one: its id."""
    client = signed_in(app, family, who)
    made = post_form(client, f"/retention/children/{child_id}/leaving-pack")
    assert made.status_code == 303, made.status_code
    return int(made.headers["Location"].rsplit("/", 1)[1])


def _rows_elsewhere(app, slug: str) -> None:
    """Rows of every kind with id FOREIGN_ID, in another setting only."""
    elsewhere = make_family(app, slug)
    with inside(app, slug):
        child = add_child_with_id(FOREIGN_ID)
        child.archived_at = clock.now()
        invited = User(
            id=FOREIGN_ID,
            full_name="Ivy Invited",
            email="ivy@example.org",
            role=Role.PARENT,
            status=AccountStatus.INVITED,
        )
        db.session.add(invited)
        _passkey(elsewhere.manager_id, FOREIGN_ID, FOREIGN_ID)
        db.session.flush()
        _foreign_pack(FOREIGN_ID, elsewhere.manager_id)
        db.session.commit()


@pytest.fixture
def rows(app, family, make_setting) -> dict[str, dict[str, int]]:
    """By kind, the id each role may use (own), one of the same setting that is not theirs
    (other) and one of another setting (foreign)."""
    with inside(app, family.slug):
        manager = get_user(family.manager_id)
        left = children.create_child(child_details(first_name="Lia", last_name="Left"), by=manager)
        db.session.flush()
        children.archive_child(db.session.get_one(Child, left.id), by=manager)
        invited = add_user("Ian Invited", "ian@example.org", Role.PARENT, AccountStatus.INVITED)
        db.session.commit()
        left_id, invited_id = left.id, invited.id
    pack_of = {who: _pack(app, family, who, family.child_a_id) for who in (MANAGER, PARENT)}
    other_pack = _pack(app, family, "parent_b", family.child_b_id)
    _rows_elsewhere(app, make_setting().slug)
    return {
        "archived": {"own": left_id, "other": family.child_b_id},  # B has not left
        "child": {"own": family.child_a_id, "other": family.child_b_id},
        "user": {"own": family.staff_id},
        "invited": {"own": invited_id},
        "pack": {"own": pack_of, "other": other_pack},
    }


def _passkeys(app, family) -> dict[str, object]:
    """A passkey for each person (added once they are signed in: with one, signing in
    would ask for it)."""
    owners = {MANAGER: family.manager_id, STAFF: family.staff_id, PARENT: family.parent_a_id}
    with inside(app, family.slug):
        for number, user_id in enumerate([*owners.values(), family.parent_b_id]):
            _passkey(user_id, number)
        db.session.commit()
        passkey_of = {
            user_id: passkey_id
            for passkey_id, user_id in db.session.execute(select(Passkey.id, Passkey.user_id))
        }
    return {
        "own": {who: passkey_of[user_id] for who, user_id in owners.items()},
        "other": passkey_of[family.parent_b_id],
    }


def _expected(route: Route, who: str, target: str) -> str:
    if who in ("anonymous", MANAGER_ELSEWHERE):
        return "sign in"
    if who not in route.roles:
        return "403"
    if target == "foreign":
        return "404"
    # Another family's child: a manager may use every child's; a parent only their own's.
    if route.kind == "child" and target == "other":
        return "allowed" if who == MANAGER else "404"
    return "allowed" if target == "own" else "404"


# Ask the routes that change or remove a row after the others.
LAST = ("retention.purge", "factors.passkey_remove")


@pytest.mark.parametrize("who", ["anonymous", PARENT, STAFF, MANAGER, MANAGER_ELSEWHERE])
def test_own_other_and_foreign_ids_for_every_role(app, family, make_setting, rows, who):
    client = _client_of(app, family, make_setting, who)
    rows = {**rows, "passkey": _passkeys(app, family)}
    order = sorted(ROUTES.items(), key=lambda item: item[0] in LAST)
    cells = [
        Cell(
            route.method,
            route.path.format(row=row_id),
            f"{name}, {target}",
            _expected(route, who, target),
            route.data,
        )
        for name, route in order
        for target, row in [*rows[route.kind].items(), ("foreign", FOREIGN_ID)]
        # No row of a kind may be this person's own (staff ask no packs): None, left out.
        if (row_id := row.get(who) if isinstance(row, dict) else row) is not None
    ]
    wrong = wrong_cells(client, cells)
    assert not wrong, "\n".join(wrong)
