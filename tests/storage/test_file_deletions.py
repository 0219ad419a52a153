"""Files made garbage by a change are deleted after its commit, durably and idempotently."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.storage import deletions
from app.storage.deletions import (
    OutsideMediaRoot,
    drain_file_deletions,
    schedule_file_deletion,
)
from app.storage.models import FileDeletion
from tests.helpers.people import inside


@pytest.fixture
def slug(make_setting) -> str:
    return make_setting().slug


def _file(app, slug: str, name: str, content: bytes = b"photo") -> Path:
    folder = Path(app.config["LJ"].MEDIA_ROOT) / slug
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def _queued(app, slug: str) -> int:
    with inside(app, slug):
        return db.session.scalar(select(func.count()).select_from(FileDeletion))


def _die_after_commit() -> None:
    """Stand-in for the process being killed right after COMMIT: the drain task is never sent."""
    db.session().info.pop("lj_tasks_after_commit")


def test_a_scheduled_file_is_deleted_once_the_change_commits(app, slug):
    path = _file(app, slug, "gone.jpg")
    with inside(app, slug):
        schedule_file_deletion([path])
        assert path.exists(), "nothing is deleted before the commit"
        db.session.commit()
    assert not path.exists()
    assert _queued(app, slug) == 0


def test_a_rolled_back_change_keeps_its_files_and_leaves_no_queue_row(app, slug):
    path = _file(app, slug, "kept.jpg")
    with inside(app, slug):
        schedule_file_deletion([path])
        db.session.rollback()
    assert path.exists()
    assert _queued(app, slug) == 0


def test_files_whose_drain_was_lost_after_the_commit_are_deleted_by_the_job(app, slug):
    paths = [_file(app, slug, f"orphan-{n}.jpg") for n in range(3)]
    with inside(app, slug):
        schedule_file_deletion(paths)
        _die_after_commit()
        db.session.commit()
    assert all(path.exists() for path in paths) and _queued(app, slug) == 3

    result = app.test_cli_runner().invoke(args=["jobs", "run", "file-deletions"])

    assert result.exit_code == 0, result.output
    # Other tests' settings may have had files due as well.
    deleted = re.search(r"(\d+) files deleted", result.output)
    assert deleted and int(deleted.group(1)) >= 3, result.output
    assert not any(path.exists() for path in paths)
    assert _queued(app, slug) == 0


def test_draining_twice_deletes_nothing_twice_and_a_missing_file_is_fine(app, slug):
    present, missing = _file(app, slug, "present.jpg"), _file(app, slug, "missing.jpg")
    missing.unlink()
    with inside(app, slug):
        schedule_file_deletion([present, missing])
        _die_after_commit()
        db.session.commit()
        assert drain_file_deletions() == 2
        assert drain_file_deletions() == 0
    assert not present.exists()
    assert _queued(app, slug) == 0


def test_a_deletion_due_later_waits_until_then(app, slug):
    path = _file(app, slug, "later.jpg")
    with inside(app, slug):
        schedule_file_deletion([path], due_at=clock.now() + timedelta(hours=1))
        db.session.commit()
        assert path.exists()
        clock.advance(timedelta(hours=1, seconds=1))
        assert drain_file_deletions() == 1
    assert not path.exists()


def test_only_files_under_the_media_root_can_be_scheduled(app, slug, tmp_path):
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    with inside(app, slug), pytest.raises(OutsideMediaRoot):
        schedule_file_deletion([outside])
    with inside(app, slug):
        climbing_out = os.path.relpath(outside, app.config["LJ"].MEDIA_ROOT)
        db.session.add(FileDeletion(path=climbing_out, due_at=clock.now()))
        db.session.commit()
        drain_file_deletions()
    assert outside.read_text() == "keep me"


def test_each_setting_drains_only_its_own_queue(app, make_setting):
    first, second = make_setting().slug, make_setting().slug
    mine, theirs = _file(app, first, "mine.jpg"), _file(app, second, "theirs.jpg")
    with inside(app, second):
        schedule_file_deletion([theirs])
        _die_after_commit()
        db.session.commit()
    with inside(app, first):
        schedule_file_deletion([mine])
        db.session.commit()
    assert not mine.exists() and theirs.exists()


def test_a_drain_never_follows_a_symbolic_link_out_of_the_media_root(app, slug, tmp_path):
    outside = tmp_path / "precious.jpg"
    outside.write_text("keep me")
    _file(app, slug, "ours.jpg").parent.joinpath("elsewhere").symlink_to(tmp_path)
    with inside(app, slug):
        db.session.add(FileDeletion(path=f"{slug}/elsewhere/precious.jpg", due_at=clock.now()))
        db.session.commit()
        assert drain_file_deletions() == 1  # refused, and not tried again
    assert outside.read_text() == "keep me"


class _Killed(BaseException):
    """Stand-in for the drain's process dying part-way (nothing of it catches this)."""


def _files_and_queue(app, slug: str, paths: list[Path]) -> tuple[set[str], set[str]]:
    """(names of the files still on disk, names of the files still queued)."""
    with inside(app, slug):
        queued = {Path(path).name for path in db.session.scalars(select(FileDeletion.path))}
    return {path.name for path in paths if path.exists()}, queued


@pytest.mark.parametrize("killed_at", [3, 7], ids=["in the first batch", "in the second batch"])
def test_a_drain_killed_mid_batch_leaves_each_file_gone_with_its_row_or_present_and_queued(
    app, slug, monkeypatch, killed_at
):
    paths = [_file(app, slug, f"photo-{n}.jpg") for n in range(10)]
    with inside(app, slug):
        schedule_file_deletion(paths)
        _die_after_commit()
        db.session.commit()
    monkeypatch.setattr(deletions, "BATCH_SIZE", 5)  # photos 0-4, then 5-9
    unlink, dies_at = os.unlink, paths[killed_at].name

    def dying_unlink(name: str, *, dir_fd: int) -> None:
        if name == dies_at:  # the other threads go on removing the batch's files meanwhile
            raise _Killed
        unlink(name, dir_fd=dir_fd)

    monkeypatch.setattr(deletions.os, "unlink", dying_unlink)
    with inside(app, slug), pytest.raises(_Killed):
        deletions.drain_file_deletions()

    on_disk, queued = _files_and_queue(app, slug, paths)
    killed_batch = 5 * (killed_at // 5)
    assert on_disk == {dies_at} | {path.name for path in paths[killed_batch + 5 :]}
    # The batch before the kill went with its rows; the killed one is queued whole, its
    # files removed so far included.
    assert queued == {path.name for path in paths[killed_batch:]}
    monkeypatch.setattr(deletions.os, "unlink", unlink)
    with inside(app, slug):
        assert deletions.drain_file_deletions() == len(queued)
    assert _files_and_queue(app, slug, paths) == (set(), set())
