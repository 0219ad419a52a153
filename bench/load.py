"""Load benchmark: 50 people using one setting at once, against the whole service on loopback.

Run from the repository root (nothing else needs starting; it brings its own servers):

    .venv/bin/python bench/load.py                  # 50 users for 5 minutes
    .venv/bin/python bench/load.py --seconds 60     # a shorter look
    .venv/bin/python bench/load.py --split          # and where each request's time goes
    .venv/bin/python bench/load.py --spawn-rate 1   # users arrive one a second, not five

Each user is a thread of this process acting as a browser, with a pause between two
actions (exponential, ``--think`` seconds on average). A person signs in once a visit, not
once a request:

- staff (30 %) sign in once and stay signed in for the run (a shift on the room's tablet);
  they open a child's journal, open one of their observations, or write a new observation
  with a photo and publish it; publishing emails the parents who asked for it, through the
  outbox and the Celery worker. The photo is what a phone's browser sends from the camera
  roll: the 12 MP original (4032 x 3024, EXIF with GPS; ~7.5 MB, more than most phones'
  3-5 MB since its noise compresses worse than a real scene; ``--typical-photo``: ~3.8 MB);
- parents (60 %) visit for ``--parent-visit`` actions on average (reading their child's
  journal, opening one observation, commenting on it), then sign out; the next visit (the
  thread as another parent coming in) signs in again;
- managers (10 %) sign in once, like staff, and list the people and the children.

The service is the one deployed (``bench/stack.py``): gunicorn's page, sign-in and upload
pools with ``deploy/gunicorn.conf.py``, each request sent to the pool Caddy would send it to, a
Celery worker and Celery beat, on a PostgreSQL and a Redis of the bench's own (never the
machine's shared servers) and an SMTP server that counts what it gets.

Users start ``--spawn-rate`` a second (5: all 50 running after ~10 s), as load tools ramp
them up (locust's spawn rate). Figures are printed twice: for the ramp (requests started
while users were still arriving: every user's first sign-in is in it) and for the steady
state after it, which the target is judged on; an error in either is an error.

It prints requests/s and p50/p95/p99 per page type with the errors (any answer but the
expected one, and any request past 10 s), the CPU each part used (each web pool, worker,
beat, PostgreSQL, Redis, this load generator, and the rest of the machine), the emails delivered,
and the load average before and after. Target: no error, and p99 < 300 ms for every page
type but the sign-in itself, whose bcrypt checks alone take ~0.3 s of CPU (target < 1 s).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `bench.*` importable

from bench.auth import add_active_users, inside_new_setting  # noqa: E402
from bench.journal_media import realistic_jpeg  # noqa: E402
from bench.stack import POOLS, Stack, own_stack, print_log_errors, start_service  # noqa: E402
from bench.tenancy import print_machine  # noqa: E402
from bench.visits import (  # noqa: E402
    Answer,
    Browser,
    Visit,
    Visits,
    figures_by_page,
    print_page_table,
)

if TYPE_CHECKING:
    from flask import Flask

SLUG = "bench-load"
HOST = f"{SLUG}.localhost"
PASSWORD = "correct horse battery staple, for the load bench"
PIN = "470215"
TARGET_P99_MS = 300.0
TARGET_SIGN_IN_P99_MS = 1000.0
PHONE_PHOTO = (4032, 3024)  # an iPhone's 12 MP, sent as taken
# The photo's noise: 60 makes it ~7.5 MB (a worst case), 15 ~3.8 MB (--typical-photo).
WORST_PHOTO_NOISE, TYPICAL_PHOTO_NOISE = 60.0, 15.0
OBSERVATION_LINK = re.compile(r"/journal/children/(\d+)/observations/(\d+)")
SAVED_OBSERVATION = re.compile(r"/journal/observations/(\d+)$")


@dataclass(frozen=True)
class Options:
    seconds: float
    users: int
    think: float
    observations: int
    parent_visit: float
    seed: int
    split: bool
    typical_photo: bool
    spawn_rate: float

    @property
    def ramp_seconds(self) -> float:
        """From the first user's start to the last one's."""
        return (self.users - 1) / self.spawn_rate


def parse_options() -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="length of the run")
    parser.add_argument("--users", type=int, default=50, help="people using the setting at once")
    parser.add_argument("--think", type=float, default=2.0, help="mean pause between actions")
    parser.add_argument(
        "--observations", type=int, default=20, help="published observations per child at start"
    )
    parser.add_argument(
        "--parent-visit", type=float, default=20.0, help="actions of a parent's visit, on average"
    )
    parser.add_argument(
        "--spawn-rate",
        type=float,
        default=5.0,
        help="users started a second, until all are running (5: 50 users in ~10 s)",
    )
    parser.add_argument("--seed", type=int, default=1, help="of the users' random choices")
    parser.add_argument(
        "--split",
        action="store_true",
        help="time where each request's time goes (bench/timed_gunicorn.conf.py)",
    )
    parser.add_argument(
        "--typical-photo",
        action="store_true",
        help="staff send a 12 MP photo of ~3.8 MB (most phones' size) instead of ~7.5 MB",
    )
    args = parser.parse_args()
    return Options(
        args.seconds,
        args.users,
        args.think,
        args.observations,
        args.parent_visit,
        args.seed,
        args.split,
        args.typical_photo,
        args.spawn_rate,
    )


# --- the setting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    email: str
    role: str
    child_id: int  # a parent's own child; staff and managers: the first child


@dataclass
class Setting:
    people: list[Person]
    child_ids: list[int]


def role_counts(users: int) -> dict[str, int]:
    managers = max(1, users // 10)
    staff = max(1, users * 3 // 10)
    return {"manager": managers, "staff": staff, "parent": max(1, users - managers - staff)}


def create_setting(app: Flask, options: Options) -> Setting:
    """Managers, staff, and parents each with a child whose journal has published
    observations (a quarter with a photo); half the parents are emailed each new one."""
    from app import clock
    from app.auth.models import Role
    from app.extensions import db
    from app.journal import observations, photos, publishing
    from app.journal.media import process_upload
    from app.journal.models import EmailChoice
    from app.journal.notifications import set_email_choice
    from app.people.children import ChildDetails, create_child
    from app.people.links import link_parent

    counts = role_counts(options.users)
    with inside_new_setting(app, SLUG):
        accounts = add_active_users(
            [
                (f"{role}{number:03d}@{SLUG}.example.org", f"{role.title()} {number}", Role(role))
                for role, count in counts.items()
                for number in range(1, count + 1)
            ],
            PASSWORD,
            PIN,
        )
        staff = next(account for account in accounts if account.role is Role.STAFF)
        parents = [account for account in accounts if account.role is Role.PARENT]
        photo = process_upload(realistic_jpeg(*PHONE_PHOTO))
        today, child_of = clock.today(), {}
        for number, parent in enumerate(parents):
            child = create_child(
                ChildDetails(
                    first_name=f"Child{number}",
                    last_name=f"Family{number}",
                    date_of_birth=date(2022, 1, 1) + timedelta(days=number * 7),
                    start_date=date(2025, 9, 1),
                    room="Rainbows",
                    photo_consent=True,
                ),
                by=staff,
            )
            link_parent(parent, child, "Mother", by=staff)
            child_of[parent.email] = child.id
            for day in range(options.observations):
                observation = observations.create_observation(
                    observations.ObservationDetails(
                        observed_on=today - timedelta(days=day),
                        child_ids=(child.id,),
                        text=f"{child.first_name} built a tower of **{day + 3} blocks**.",
                        areas=("maths",),
                    ),
                    by=staff,
                )
                if day % 4 == 0:
                    photos.add_photo(observation, photo, caption="The tower", by=staff)
                publishing.publish(observation, by=staff, confirmed=True)
            db.session.commit()
        for parent in parents[::2]:  # after the journals are written: no email for those
            set_email_choice(parent, EmailChoice.EACH)
        first_child = next(iter(child_of.values()))
        people = [
            Person(account.email, account.role.value, child_of.get(account.email, first_child))
            for account in accounts
        ]
        db.session.commit()
    return Setting(people, list(child_of.values()))


# --- the users ---------------------------------------------------------------------------------


@dataclass
class User:
    """One person's browsing, in a thread of its own until ``deadline``."""

    person: Person
    browser: Browser
    setting: Setting
    options: Options
    photo: bytes
    random: random.Random
    own_observations: list[int] = field(default_factory=list)
    seen: list[tuple[int, int]] = field(default_factory=list)  # (child, observation) links

    def run(self, start_at: float, finished: Callable[[], bool]) -> None:
        time.sleep(max(0.0, start_at - time.monotonic()))
        self.sign_in()
        while not finished():
            time.sleep(min(self.random.expovariate(1 / self.options.think), 4 * self.options.think))
            if finished():
                return
            if self.browser.cookie is None:  # the last sign-in failed: try again
                self.sign_in()
            elif self.visit_ends():
                self.browser.sign_out()
                self.sign_in()
            elif self.person.role == "staff":
                self.staff_action()
            elif self.person.role == "parent":
                self.parent_action()
            else:
                self.manager_action()

    def sign_in(self) -> None:
        self.browser.sign_in(self.person.email, PASSWORD, PIN)

    def visit_ends(self) -> bool:
        """A parent's visit ends after ``--parent-visit`` actions on average (each action
        the last with the same odds); staff and managers stay signed in for the run."""
        return self.person.role == "parent" and (
            self.random.random() < 1 / self.options.parent_visit
        )

    def journal(self, page: str, child_id: int) -> Answer:
        answer = self.browser.get(page, f"/journal/children/{child_id}")
        self.seen = [
            (int(c), int(o)) for c, o in OBSERVATION_LINK.findall(answer.body)
        ] or self.seen
        return answer

    def staff_action(self) -> None:
        roll = self.random.random()
        if roll < 0.4 or (not self.own_observations and roll < 0.7):
            self.journal("child's journal, staff", self.random.choice(self.setting.child_ids))
        elif roll < 0.7:
            observation = self.random.choice(self.own_observations)
            self.browser.get("observation, staff", f"/journal/observations/{observation}")
        else:
            self.write_observation()

    def write_observation(self) -> None:
        self.browser.get("observation form", "/journal/observations/new")
        child = str(self.random.choice(self.setting.child_ids))
        fields = {
            "observed_on": time.strftime("%Y-%m-%d"),
            "child_ids": child,
            "text": "Poured water from the jug into three cups, carefully, by herself.",
            "areas": "maths",
            "caption": "At the water tray",
            "in_photo": child,
        }
        saved = self.browser.post(
            "observation with photo", "/journal/observations/new", fields, photo=self.photo
        )
        if match := SAVED_OBSERVATION.search(saved.location):
            observation = int(match[1])
            self.own_observations.append(observation)
            self.browser.post(
                "publish", f"/journal/observations/{observation}/publish", {"confirmed": "yes"}
            )

    def parent_action(self) -> None:
        roll = self.random.random()
        if roll < 0.5 or not self.seen:
            self.journal("child's journal, parent", self.person.child_id)
            return
        child, observation = self.random.choice(self.seen)
        path = f"/journal/children/{child}/observations/{observation}"
        self.browser.get("observation, parent", path)
        if roll >= 0.8:
            words = f"Lovely! She told us about it at home ({self.random.randrange(10**6)})."
            self.browser.post("comment", f"{path}/comments", {"body": words})

    def manager_action(self) -> None:
        if self.random.random() < 0.6:
            self.browser.get("people list", "/people/")
        else:
            self.browser.get("children list", "/people/children")


def staff_photo(options: Options) -> bytes:
    noise = TYPICAL_PHOTO_NOISE if options.typical_photo else WORST_PHOTO_NOISE
    photo = realistic_jpeg(*PHONE_PHOTO, noise_sigma=noise)
    print(f"Staff's photo: {PHONE_PHOTO[0]} x {PHONE_PHOTO[1]}, {len(photo) / 1e6:.1f} MB")
    return photo


def run_users(
    stack: Stack, setting: Setting, cookie_name: str, options: Options, photo: bytes
) -> tuple[Visits, float]:
    """Every user in a thread, ``--spawn-rate`` of them starting a second; the visits, and
    when the first user started (``time.monotonic()``)."""
    visits = Visits()
    started = time.monotonic()
    deadline = started + options.seconds
    threads = []
    for number, person in enumerate(setting.people):
        user = User(
            person,
            Browser(stack.port_for, HOST, cookie_name, visits),
            setting,
            options,
            photo,
            random.Random(options.seed * 1000 + number),
        )
        start_at = started + number / options.spawn_rate
        finished = lambda: time.monotonic() >= deadline  # noqa: E731
        threads.append(threading.Thread(target=user.run, args=(start_at, finished), daemon=True))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=options.seconds + 120)
    return visits, started


# --- reports -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    title: str
    visits: list[Visit]
    seconds: float
    steady: bool  # all users running: the target is judged here


def phases(visits: list[Visit], run_started: float, options: Options) -> list[Phase]:
    """The ramp (requests started while users were still arriving) and the steady state
    after it, to the deadline (no action starts after it; the last ones end later); a phase
    with no request is left out."""
    seconds = options.seconds
    ramp = min(options.ramp_seconds, seconds)
    found = [
        Phase(
            f"Ramp: the first {ramp:.0f} s, {options.spawn_rate:g} users starting a second",
            [visit for visit in visits if visit.started < run_started + ramp],
            ramp,
            steady=False,
        ),
        Phase(
            f"Steady state: the {seconds - ramp:.0f} s after, all {options.users} users running",
            [visit for visit in visits if visit.started >= run_started + ramp],
            seconds - ramp,
            steady=True,
        ),
    ]
    return [phase for phase in found if phase.visits]


def print_phases(parts: list[Phase]) -> bool:
    """Each phase's page table; whether the run met the target: no error in either, and
    every page type's p99 within its target in the steady state (the ramp's are printed,
    marked when over, but a burst of first sign-ins is not what the service does all day)."""
    met = True
    for phase in parts:
        print(f"{phase.title}:")
        figures = figures_by_page(phase.visits)
        within = print_page_table(
            figures, phase.seconds, TARGET_P99_MS, {"sign-in": TARGET_SIGN_IN_P99_MS}
        )
        met &= within if phase.steady else all(row.errors == 0 for row in figures)
    return met


CPU_PARTS = (
    *(f"web: {pool}" for pool in POOLS),
    *("worker", "photo worker", "beat", "postgres", "redis", "load generator"),
)


def print_cpu_split(before: dict[str, float], after: dict[str, float], seconds: float) -> None:
    used = {name: after[name] - before[name] for name in after}
    machine = used.pop("machine")
    used["everything else"] = max(0.0, machine - sum(used[name] for name in CPU_PARTS))
    print(f"CPU over the run (cores busy on average, of {os.cpu_count()}; share of the machine's)")
    for name, seconds_used in used.items():
        share = seconds_used / max(machine, 1e-9)
        print(f"  {name:<16}{seconds_used / seconds:>6.2f}   {share:>5.0%}")
    print(f"  {'machine':<16}{machine / seconds:>6.2f}")


SPLIT_PAGES = ("observation with photo", "sign-in")
SPLIT_COLUMNS = ("client", "outside", "worker", "cpu", "no core", "blocked", "fsync", "pg", "photo")


def print_time_split(visits: list[Visit], timings: dict[str, dict[str, float]]) -> None:
    """Where the time of the photo POST, the sign-in POST and every other request went:
    the mean of each part over all of a page type's requests, and over its slowest 5 %."""
    print(
        "Where the time went (ms, means). client: as the browser timed it; outside: before "
        "gunicorn's worker parsed the request's head (the queue in front of the pool) and "
        "the answer's way back; worker: the rest, which is its main thread's time on a core "
        "+ no core (ready, no core free) + blocked (off a core: of which fsync and pg, the "
        "rest the body arriving, Redis, ...); cpu: the worker process's, every thread; "
        "photo: in check_upload, or make_ready on a GET (bench/timed_gunicorn.conf.py)"
    )
    print(f"  {'requests':<30}{'n':>5}" + "".join(f"{name:>8}" for name in SPLIT_COLUMNS))
    timed = [(visit, timings[visit.request_id]) for visit in visits if visit.request_id in timings]

    def group_of(visit: Visit) -> str:
        return visit.page if visit.page in SPLIT_PAGES else "every other page type"

    for page in (*SPLIT_PAGES, "every other page type"):
        mine = sorted(
            (pair for pair in timed if group_of(pair[0]) == page), key=lambda pair: pair[0].seconds
        )
        if not mine:
            continue
        slowest = mine[-max(1, len(mine) // 20) :]
        for label, group in ((page, mine), ("  its slowest 5 %", slowest)):
            means = _split_means(group)
            print(
                f"  {label:<30}{len(group):>5}"
                + "".join(f"{means[name]:>8.0f}" for name in SPLIT_COLUMNS)
            )


def _split_means(group: list[tuple[Visit, dict[str, float]]]) -> dict[str, float]:
    """Each column's mean over ``group``, in milliseconds."""
    count = len(group)
    sums = {
        "client": sum(visit.seconds for visit, _ in group),
        "worker": sum(parts["wall"] for _, parts in group),
        "cpu": sum(parts["cpu"] for _, parts in group),
        "no core": sum(parts["waiting_for_core"] for _, parts in group),
        "blocked": sum(parts["blocked"] for _, parts in group),
        "fsync": sum(parts["fsync"] for _, parts in group),
        "pg": sum(parts["postgres"] for _, parts in group),
        "photo": sum(parts["photo"] for _, parts in group),
    }
    sums["outside"] = sums["client"] - sums["worker"]
    return {name: 1000 * total / count for name, total in sums.items()}


def print_emails(stack: Stack) -> None:
    from sqlalchemy import func, select

    from app import create_app
    from app.extensions import db
    from app.mail.models import OutboxMessage
    from tenants.binding import tenant_context

    app = create_app()
    with app.app_context(), tenant_context(SLUG):
        by_status = dict(
            db.session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            ).all()
        )
        db.session.remove()
    received = stack.smtp.received
    twice = sum(1 for count in received.values() if count > 1)
    print(
        "Emails: outbox "
        + ", ".join(f"{status.value} {count}" for status, count in sorted(by_status.items()))
        + f"; the SMTP server got {sum(received.values())} ({twice} more than once)"
    )


def main() -> None:
    options = parse_options()
    print_machine()
    with own_stack(timed=options.split) as stack:
        from app import create_app
        from app.extensions import db
        from tenants.migrating import upgrade_public

        app = create_app()
        with app.app_context():
            upgrade_public(db.engine)
        started = time.perf_counter()
        setting = create_setting(app, options)
        with app.app_context():
            db.engine.dispose()
        counts = role_counts(options.users)
        print(
            f"Setting {SLUG}: {counts['staff']} staff, {counts['parent']} parents (a child "
            f"each, {options.observations} observations), {counts['manager']} managers; "
            f"written in {time.perf_counter() - started:.0f} s"
        )
        start_service(stack)
        cookie_name = app.session_interface.cookie_name  # type: ignore[attr-defined]
        print(
            f"{options.users} users for {options.seconds:g} s, {options.think:g} s between two "
            f"actions on average, parents' visits {options.parent_visit:g} actions; gunicorn "
            "page pool + sign-in pool + upload pool, Celery worker + beat"
        )
        photo = staff_photo(options)
        before = stack.cpu_seconds()
        visits, run_started = run_users(stack, setting, cookie_name, options, photo)
        seconds = time.monotonic() - run_started
        after = stack.cpu_seconds()
        parts = phases(visits.items, run_started, options)
        met = print_phases(parts)
        print_cpu_split(before, after, seconds)
        if options.split:
            timings = stack.timings()
            for phase in parts:
                print(f"{phase.title}:")
                print_time_split(phase.visits, timings)
        time.sleep(5)  # the worker delivers the last emails
        print_emails(stack)
        if not met:
            kinds = Counter(f"{v.page}: {v.error}" for v in visits.items if v.error)
            for kind, count in sorted(kinds.items()):
                print(f"  error {kind} x{count}")
            print_log_errors(stack)
    print_machine()
    print(
        f"Target (no error, p99 < {TARGET_P99_MS:.0f} ms a page type, sign-in < "
        f"{TARGET_SIGN_IN_P99_MS:.0f} ms): {'met' if met else 'MISSED'} (one run on a shared "
        "machine: the load average above says how much the others took)"
    )


if __name__ == "__main__":
    main()
