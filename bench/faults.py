"""Faults during load: Redis and PostgreSQL restarted, a Celery worker and a gunicorn worker killed.

Run from the repository root (it brings its own servers, and never touches the machine's):

    .venv/bin/python bench/faults.py             # 12 users, 5 s outages, ~3 minutes
    .venv/bin/python bench/faults.py --outage 10

The service of ``bench/load.py`` (page pool, sign-in pool, Celery worker and beat, on a
PostgreSQL, a Redis and an SMTP server of the bench's own) runs under a light load of users
who read journals and write: parents comment, staff write observations with a photo and
publish them (emailing half the parents). Every write carries a token of its own, and the
bench notes what the service answered: accepted (303), refused (503 or another 4xx), or no
answer (the connection dropped). A probe signed in once asks for its account page every
quarter second. Then, one after another, with the load running throughout:

1. Redis stops (SIGTERM, as ``systemctl restart`` does) and starts again ``--outage`` s later;
2. PostgreSQL does the same;
3. the SMTP server holds its answers, and the Celery worker's process delivering an email
   is killed (SIGKILL) in the middle of it; the worker's parent starts a new one;
4. a gunicorn page worker is killed (SIGKILL) while requests are under way; gunicorn's
   master starts a new one.

Nothing is restarted by the bench but the server it stopped. For each fault it prints what
the pages answered from the fault until ``--settle`` s after the server was back (503 is
the clean answer; a 500, or a request past 10 s, is a failure), how long until the probe's
page answered again, and whether the probe's session lived through it. At the end it
checks the database and the photo folder against the notes: every accepted write there
once, every refused one absent, every photo row with both its files and no file without a
row (or a deletion queued for it), and every email the outbox marks sent received once.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `bench.*` importable

from bench.journal_media import realistic_jpeg  # noqa: E402
from bench.load import (  # noqa: E402
    HOST,
    PASSWORD,
    PIN,
    SAVED_OBSERVATION,
    SLUG,
    Options,
    Setting,
    User,
    create_setting,
)
from bench.stack import Stack, own_stack, print_log_errors, start_service  # noqa: E402
from bench.tenancy import print_machine  # noqa: E402
from bench.visits import TOO_SLOW, Answer, Browser, Visit, Visits  # noqa: E402


@dataclass(frozen=True)
class FaultOptions:
    users: int
    think: float
    outage: float
    settle: float


def parse_options() -> FaultOptions:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=12, help="people using the setting")
    parser.add_argument("--think", type=float, default=0.5, help="mean pause between actions")
    parser.add_argument("--outage", type=float, default=5.0, help="seconds a server is down")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds watched after")
    args = parser.parse_args()
    return FaultOptions(args.users, args.think, args.outage, args.settle)


# --- writes and what became of them ------------------------------------------------------------


@dataclass
class Write:
    kind: str  # "comment" or "observation"
    token: str
    status: int  # the answer's; 0: no answer
    observation_id: int | None = None  # an accepted observation's
    at: float = field(default_factory=time.monotonic)  # when the answer came
    in_doubt: bool = False  # the page said the commit's outcome is unknown (connection lost)

    @property
    def outcome(self) -> str:
        if self.status == 303:
            return "accepted"
        if self.in_doubt:
            return "in doubt"
        return "no answer" if self.status == 0 else "refused"


@dataclass
class Ledger:
    writes: list[Write] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    faults: list[tuple[str, float]] = field(default_factory=list)  # (name, when it began)

    def note(self, write: Write) -> None:
        with self.lock:
            self.writes.append(write)

    def during(self, moment: float) -> str:
        """The fault whose window ``moment`` falls in."""
        began = [name for name, start in self.faults if start <= moment]
        return f"during {began[-1]}" if began else "before the faults"


class WritingUser(User):
    """A user of ``bench/load.py`` whose writes are noted, each with a token of its own."""

    ledger: Ledger

    def token(self) -> str:
        return f"tok{self.random.getrandbits(48):012x}"

    def visit_ends(self) -> bool:
        return False  # a session ends only if a fault ends it

    def staff_action(self) -> None:
        if self.random.random() < 0.5:
            self.journal("child's journal, staff", self.random.choice(self.setting.child_ids))
            return
        self.browser.get("observation form", "/journal/observations/new")
        child, token = str(self.random.choice(self.setting.child_ids)), self.token()
        fields = {
            "observed_on": time.strftime("%Y-%m-%d"),
            "child_ids": child,
            "text": f"Poured water into three cups by herself ({token}).",
            "caption": "At the water tray",
            "in_photo": child,
        }
        saved = self.browser.post(
            "observation with photo",
            "/journal/observations/new",
            fields,
            photo=self.photo,
            expect=_accepted_or_503,
        )
        match = SAVED_OBSERVATION.search(saved.location) if saved.status == 303 else None
        observation = int(match[1]) if match else None
        self.ledger.note(
            Write("observation", token, saved.status, observation, in_doubt=_in_doubt(saved))
        )
        if observation is not None:
            self.browser.post(
                "publish",
                f"/journal/observations/{observation}/publish",
                {"confirmed": "yes"},
                expect=_accepted_or_503,
            )

    def parent_action(self) -> None:
        if self.random.random() < 0.5 or not self.seen:
            self.journal("child's journal, parent", self.person.child_id)
            return
        child, observation = self.random.choice(self.seen)
        path = f"/journal/children/{child}/observations/{observation}"
        token = self.token()
        answer = self.browser.post(
            "comment", f"{path}/comments", {"body": f"Lovely ({token})"}, expect=_accepted_or_503
        )
        self.ledger.note(Write("comment", token, answer.status, in_doubt=_in_doubt(answer)))


def _in_doubt(answer: Answer) -> bool:
    """The service said it cannot tell whether the write was kept: either way is right, once."""
    from app.request_transaction import IN_DOUBT

    return answer.status == 503 and IN_DOUBT in answer.body


def _accepted_or_503(answer: Answer) -> bool:
    """A write's clean answers: done (303), or refused while a server is down (503)."""
    return answer.status in (303, 503)


# --- the probe ---------------------------------------------------------------------------------


@dataclass
class Probe:
    """A browser signed in once that asks for its account page every quarter second."""

    browser: Browser
    answers: list[tuple[float, int]] = field(default_factory=list)  # (time, status)
    sessions_ended: list[float] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stopping.wait(0.25):
            if self.browser.cookie is None:
                self.browser.sign_in("manager001@bench-load.example.org", PASSWORD, PIN)
                continue
            answer = self.browser.get("probe", "/account", expect=200)
            self.answers.append((time.monotonic(), answer.status))
            if self.browser.cookie is None:  # sent to /login: the session ended
                self.sessions_ended.append(time.monotonic())

    def back_after(self, moment: float) -> float | None:
        """Seconds from ``moment`` to the probe's first 200 (or sign-in page) after it."""
        for when, status in self.answers:
            if when >= moment and status in (200, 302, 303):
                return when - moment
        return None


# --- faults ------------------------------------------------------------------------------------


def restart(stop: Callable[[], None], start: Callable[[], None], outage: float) -> float:
    stop()
    time.sleep(outage)
    start()
    return time.monotonic()


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if parent == pid:
                found.append(int(entry.name))
    return found


def kill_worker_mid_delivery(stack: Stack) -> float:
    """Hold the SMTP server's answers; once a delivery is under way, SIGKILL the Celery
    process doing it (the prefork pool's child)."""
    stack.smtp.receiving.clear()
    stack.smtp.delay = 5.0
    try:
        if not stack.smtp.receiving.wait(120):
            raise RuntimeError("no email was delivered within 120 s: nothing to kill")
        for child in children_of(stack.parts["worker"].pid):
            os.kill(child, signal.SIGKILL)
    finally:
        stack.smtp.delay = 0.0
    return time.monotonic()


def kill_page_worker(stack: Stack) -> float:
    """SIGKILL a page worker in the middle of a request (one holding a client's connection)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        busy = busy_workers(stack.parts["pages"].pid, stack.page_port)
        if busy:
            os.kill(random.choice(busy), signal.SIGKILL)
            return time.monotonic()
        time.sleep(0.01)
    raise RuntimeError("no page worker was busy for 60 s: nothing to kill mid-request")


def busy_workers(master: int, port: int) -> list[int]:
    """The master's children holding an established connection to ``port`` (from /proc)."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                established.add(f"socket:[{fields[9]}]")
    busy = []
    for worker in children_of(master):
        try:
            links = {os.readlink(fd) for fd in Path(f"/proc/{worker}/fd").iterdir()}
        except OSError:
            continue
        if links & established:
            busy.append(worker)
    return busy


@dataclass(frozen=True)
class Fault:
    name: str
    act: Callable[[Stack, FaultOptions], float]  # returns when the server was back


FAULTS = [
    Fault(
        "Redis restarted",
        lambda stack, o: restart(stack.redis.stop, stack.redis.start, o.outage),
    ),
    Fault(
        "PostgreSQL restarted",
        lambda stack, o: restart(stack.postgres.stop, stack.postgres.start, o.outage),
    ),
    Fault("Celery worker killed mid-job", lambda stack, o: kill_worker_mid_delivery(stack)),
    Fault("gunicorn page worker killed", lambda stack, o: kill_page_worker(stack)),
]


@dataclass(frozen=True)
class FaultOutcome:
    fault: Fault
    answers: Counter[str]  # status (or error) -> count, from the fault to the end of settling
    unexpected: Counter[str]  # "page type: status" of answers other than 200, 303 and 503
    failures: int  # 500s and hangs
    back_after: float | None  # the probe's page, from the server's return
    session_kept: bool


def watch(
    fault: Fault, stack: Stack, visits: Visits, probe: Probe, options: FaultOptions
) -> FaultOutcome:
    started = time.monotonic()
    back = fault.act(stack, options)
    time.sleep(options.settle)
    seen = [v for v in visits.since(started) if v.started <= back + options.settle]
    answers = Counter(_answer_kind(v) for v in seen)
    unexpected = Counter(
        f"{v.page}: {_answer_kind(v)}" for v in seen if v.status not in (200, 303, 503)
    )
    failures = sum(
        1 for v in seen if (v.status >= 500 and v.status != 503) or v.error in ("timeout", TOO_SLOW)
    )
    kept = not any(started <= moment for moment in probe.sessions_ended)
    return FaultOutcome(fault, answers, unexpected, failures, probe.back_after(back), kept)


def _answer_kind(visit: Visit) -> str:
    if visit.status == 0:
        return visit.error  # timeout, RemoteDisconnected, ConnectionRefusedError...
    return str(visit.status)


# --- checking the data -------------------------------------------------------------------------


@dataclass(frozen=True)
class DataCheck:
    lines: list[str]
    whole: bool


def _names_in(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir()} if folder.exists() else set()


def check_data(stack: Stack, ledger: Ledger) -> DataCheck:
    from sqlalchemy import select

    from app import create_app
    from app.extensions import db
    from app.journal.models import Comment, Observation, Photo, PhotoState
    from app.journal.storage import WAITING_FOLDER
    from app.mail.models import DeliveryStatus, OutboxMessage
    from app.storage.models import FileDeletion
    from tenants.binding import tenant_context

    app = create_app()
    lines, whole = [], True
    with app.app_context(), tenant_context(SLUG):
        texts = {
            "comment": Counter(db.session.scalars(select(Comment.body))),
            "observation": Counter(db.session.scalars(select(Observation.text))),
        }
        for kind in ("comment", "observation"):
            found, refused_but_there = Counter(), Counter()
            for write in (w for w in ledger.writes if w.kind == kind):
                there = sum(n for text, n in texts[kind].items() if write.token in text)
                found[(write.outcome, min(there, 2))] += 1
                if write.outcome == "refused" and there:
                    refused_but_there[f"{write.status} ({ledger.during(write.at)})"] += 1
            wrong = found[("accepted", 0)] + found[("accepted", 2)] + found[("refused", 1)]
            wrong += found[("refused", 2)] + found[("no answer", 2)] + found[("in doubt", 2)]
            whole &= wrong == 0
            lines.append(
                f"{kind}s: accepted {found[('accepted', 1)]} there once"
                f" ({found[('accepted', 0)]} missing, {found[('accepted', 2)]} twice); refused "
                f"{found[('refused', 0)]} absent ({found[('refused', 1)] + found[('refused', 2)]}"
                f" there); no answer {found[('no answer', 1)]} there, "
                f"{found[('no answer', 0)]} absent; in doubt {found[('in doubt', 1)]} there, "
                f"{found[('in doubt', 0)]} absent"
                + "".join(
                    f"; answered {status} yet there x{n}" for status, n in refused_but_there.items()
                )
            )
        photos = db.session.scalars(select(Photo)).all()
        root = Path(app.config["LJ"].MEDIA_ROOT)
        # A photo not processed yet has its upload's bytes in the waiting folder instead.
        waits = {photo.file_name for photo in photos if photo.state is PhotoState.WAITING}
        named = {
            name
            for photo in photos
            if photo.state is PhotoState.READY
            for name in (photo.file_name, photo.thumbnail_name)
        }
        on_disk, waiting = (_names_in(root / SLUG), _names_in(root / WAITING_FOLDER / SLUG))
        queued = {Path(path).name for path in db.session.scalars(select(FileDeletion.path))}
        missing = (named - on_disk) | (waits - waiting)
        orphans = (on_disk - named - queued) | (waiting - waits - queued)
        whole &= not missing and not orphans
        lines.append(
            f"photos: {len(photos)} rows, {len(missing)} files missing; {len(on_disk)} files, "
            f"{len(orphans)} with neither a row nor a queued deletion "
            f"({len(on_disk & queued)} queued for deletion)"
        )
        statuses = Counter(db.session.scalars(select(OutboxMessage.status)))
        sent = db.session.scalars(
            select(OutboxMessage.message_id).where(OutboxMessage.status == DeliveryStatus.SENT)
        ).all()
        db.session.remove()
    received = stack.smtp.received
    lost = sum(1 for message in sent if received[message] == 0)
    twice = sum(1 for message in sent if received[message] > 1)
    whole &= lost == 0 and twice == 0 and statuses[DeliveryStatus.PENDING] == 0
    lines.append(
        f"emails: {len(sent)} sent, {statuses[DeliveryStatus.PENDING]} still pending; "
        f"{lost} marked sent but never received, {twice} received more than once"
    )
    return DataCheck(lines, whole)


def wait_for_outbox(stack: Stack, seconds: float = 120) -> None:
    """Let the worker deliver what is due (a killed delivery goes out with the next task)."""
    from sqlalchemy import func, select

    from app import create_app
    from app.extensions import db
    from app.mail.models import DeliveryStatus, OutboxMessage
    from tenants.binding import tenant_context

    app = create_app()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with app.app_context(), tenant_context(SLUG):
            pending = db.session.scalar(
                select(func.count()).where(OutboxMessage.status == DeliveryStatus.PENDING)
            )
            db.session.remove()
        if not pending:
            return
        time.sleep(2)


# --- the run -----------------------------------------------------------------------------------


def print_outcomes(outcomes: list[FaultOutcome]) -> bool:
    print(
        f"  {'fault':<32}{'answers from the fault until settled':<48}{'500/hang':>9}"
        f"{'back after':>12}{'session':>10}"
    )
    met = True
    for outcome in outcomes:
        answers = ", ".join(f"{kind} x{n}" for kind, n in sorted(outcome.answers.items()))
        back = f"{outcome.back_after:.1f} s" if outcome.back_after is not None else "never"
        session = "kept" if outcome.session_kept else "ended"
        met &= outcome.failures == 0 and outcome.back_after is not None
        print(
            f"  {outcome.fault.name:<32}{answers:<48}{outcome.failures:>9}{back:>12}{session:>10}"
        )
        if outcome.unexpected:
            details = ", ".join(f"{kind} x{n}" for kind, n in sorted(outcome.unexpected.items()))
            print(f"  {'':<32}({details})")
    return met


def main() -> None:
    options = parse_options()
    print_machine()
    with own_stack() as stack:
        from app import create_app
        from app.extensions import db
        from tenants.migrating import upgrade_public

        app = create_app()
        with app.app_context():
            upgrade_public(db.engine)
        load_options = Options(
            seconds=0,
            users=options.users,
            think=options.think,
            observations=3,
            parent_visit=float("inf"),  # sessions end only by faults (``visit_ends``)
            seed=1,
        )
        setting = create_setting(app, load_options)
        with app.app_context():
            db.engine.dispose()
        start_service(stack)
        cookie_name = app.session_interface.cookie_name  # type: ignore[attr-defined]
        visits, ledger = Visits(), Ledger()
        stopping = threading.Event()
        probe = Probe(Browser(stack.port_for, HOST, cookie_name, visits))
        threads = [threading.Thread(target=probe.run, daemon=True)]
        threads[0].start()
        threads += start_users(stack, setting, cookie_name, load_options, visits, ledger, stopping)
        print(f"{options.users} users writing and reading; faults one after another")
        try:
            time.sleep(10 + len(threads))  # everyone signed in
            outcomes = []
            for fault in FAULTS:
                ledger.faults.append((fault.name, time.monotonic()))
                outcomes.append(watch(fault, stack, visits, probe, options))
                print(f"  {fault.name}: done", flush=True)
        finally:
            stopping.set()
            probe.stopping.set()
            for thread in threads:
                thread.join(30)
        wait_for_outbox(stack)
        print("Faults during load (no restart of the app; the bench restarts only what it stopped)")
        met = print_outcomes(outcomes)
        data = check_data(stack, ledger)
        print("Afterwards, the database and the photo folder against what the service answered:")
        for line in data.lines:
            print(f"  {line}")
        if not (met and data.whole):
            print_log_errors(stack)
    print_machine()
    print(
        "Target (no 500 or hang, every page back without a restart, nothing lost or doubled): "
        + ("met" if met and data.whole else "MISSED")
    )


def start_users(
    stack: Stack,
    setting: Setting,
    cookie_name: str,
    options: Options,
    visits: Visits,
    ledger: Ledger,
    stopping: threading.Event,
) -> list[threading.Thread]:
    photo = realistic_jpeg(1600, 1200)
    threads, started = [], time.monotonic()
    for number, person in enumerate(setting.people):
        if person.role == "manager":
            continue  # the probe signs in as the first manager
        user = WritingUser(
            person,
            Browser(stack.port_for, HOST, cookie_name, visits),
            setting,
            options,
            photo,
            random.Random(number),
        )
        user.ledger = ledger
        start_at = started + number  # a sign-in a second, not all at once
        thread = threading.Thread(target=user.run, args=(start_at, stopping.is_set), daemon=True)
        thread.start()
        threads.append(thread)
    return threads


if __name__ == "__main__":
    main()
