"""Every action code the code records has words for the audit log viewer.

The codes are read from the source, each call of ``audit.record`` and ``notify`` (which
records ``second_factor.<event>``), so a new code cannot be missed by a list kept here.
"""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

from app.auth.audit import ACTION_LABELS, DETAIL_LABELS
from app.journal.models import JournalView
from app.retention.audit_trail import VIEW_ACTION_PREFIX
from app.retention.setting_exit import Exported

ROOT = Path(__file__).resolve().parents[2]
NOTIFY_PREFIX = "second_factor."  # app.auth.second_factor.notify's f-string


def _calls() -> list[tuple[str, ast.Call]]:
    calls = []
    for folder in ("app", "tenants", "workers"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            calls += [(str(path), node) for node in ast.walk(tree) if isinstance(node, ast.Call)]
    return calls


def _name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    return func.id if isinstance(func, ast.Name) else ""


def _recorded_codes() -> set[str]:
    codes = {VIEW_ACTION_PREFIX + view.value for view in JournalView}
    for path, call in _calls():
        if _name(call) == "audit.record":
            code = call.args[0]
            if isinstance(code, ast.Constant):
                codes.add(code.value)
            else:  # only notify builds its code; any other must be read here too
                assert path.endswith("app/auth/second_factor.py"), (path, call.lineno)
        elif _name(call) == "notify":
            event = call.args[1]
            assert isinstance(event, ast.Constant), (path, call.lineno)
            codes.add(NOTIFY_PREFIX + event.value)
    return codes


def test_every_recorded_action_has_words_and_every_label_is_recorded():
    codes = _recorded_codes()
    assert len(codes) > 50  # the scan found the calls
    assert sorted(codes - ACTION_LABELS.keys()) == []
    assert sorted(ACTION_LABELS.keys() - codes) == []  # no label for a code gone


# What each ``**`` spread in an ``audit.record`` or ``notify`` call adds to the details;
# a spread not named here fails the test, so its keys cannot go unread.
SPREAD_KEYS: dict[str, set[str]] = {
    "detail": set(),  # notify's and used's own ``**detail``: their callers' keys are read
    "audited_about(person.record_type, person.id)": {"child_id"},  # or the subject
    "audited_about(record_type, person_id)": {"child_id"},
    "due": {"newly_due"},
    "asdict(summary)": {field.name for field in fields(Exported)},
}
NOT_DETAILS = {"actor", "subject", "ip", "by"}  # columns of the entry, or notify's actor


def _recorded_detail_keys() -> set[str]:
    keys: set[str] = set()
    for _path, call in _calls():
        if _name(call) not in ("audit.record", "notify", "used"):
            continue
        for keyword in call.keywords:
            if keyword.arg is None:
                keys |= SPREAD_KEYS[ast.unparse(keyword.value)]
            elif keyword.arg not in NOT_DETAILS:
                keys.add(keyword.arg)
    return keys


def test_every_recorded_detail_has_words_and_every_word_is_recorded():
    keys = _recorded_detail_keys()
    assert {"observation_id", "reason", "journals", "left"} <= keys  # the scan found them
    assert sorted(keys - DETAIL_LABELS.keys()) == []
    assert sorted(DETAIL_LABELS.keys() - keys) == []
