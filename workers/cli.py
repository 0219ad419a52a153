"""The operator's job commands: ``flask --app wsgi jobs list|run NAME|status``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from app import clock
from app.extensions import db
from app.operator_commands import OperatorGroup, postgres_unreachable
from workers.jobs import (
    JobAlreadyRunning,
    UnknownJob,
    registered_jobs,
    run_and_record,
    settle_dead_runs,
)
from workers.runs import JobHistory, Outcome, job_history, needs_attention
from workers.schedule import WHEN, interval

jobs_cli = OperatorGroup(
    "jobs", help="List the scheduled jobs, run one now, or show their last runs."
)


@jobs_cli.command("list")
def list_command() -> None:
    """List every registered job, when it runs (crontab, UTC) and its function."""
    jobs = registered_jobs()
    if not jobs:
        click.echo("No jobs registered.")
    for name, target in sorted(jobs.items()):
        click.echo(f"{name:<28} {WHEN.get(name, 'not scheduled'):<16} {target}")


@jobs_cli.command("run")
@click.argument("name")
def run_command(name: str) -> None:
    """Run the job NAME now, in this process, and print its summary; exits 1 when the
    run failed (in any setting), as ``jobs status`` records it."""
    try:
        run = run_and_record(name)
    except UnknownJob as error:
        known = ", ".join(sorted(registered_jobs())) or "none"
        raise click.ClickException(f"No job '{name}'. Registered jobs: {known}.") from error
    except JobAlreadyRunning as error:
        raise click.ClickException(
            f"Job '{name}' is running elsewhere (its lock is held); nothing was done."
        ) from error
    except Exception as error:  # recorded and logged with its traceback by run_job_now
        if postgres_unreachable(error):
            raise  # nothing could be recorded: the group says what is wrong
        raise click.ClickException(
            f"{name} failed: {type(error).__name__}: {error} (recorded; see `jobs status`)."
        ) from error
    click.echo(f"{name}: {run.summary}")
    if run.outcome == Outcome.FAILED:
        raise click.ClickException(f"{name} failed (recorded; see `jobs status`).")


@jobs_cli.command("status")
def status_command() -> None:
    """The last run of each job; exits 1 when a job needs attention (a run died, or no
    success within twice its interval)."""
    moment = clock.now()
    attention = 0
    for name in sorted(registered_jobs()):
        settle_dead_runs(name)
        with db.engine.connect() as connection:
            history = job_history(connection, name)
        problem = needs_attention(history, interval(name, moment), moment)
        click.echo(_status_line(name, history))
        if problem:
            attention += 1
            click.echo(f"    ATTENTION: {problem}")
    if attention:
        sys.exit(1)


def _status_line(name: str, history: JobHistory) -> str:
    last = history.last
    if last is None:
        return f"{name:<28} never run"
    took = (
        f"{(last.finished_at - last.started_at).total_seconds():.0f} s" if last.finished_at else "-"
    )
    success = (
        f"last success {_utc(history.last_success_at)}"
        if history.last_success_at
        else "never succeeded"
    )
    return (
        f"{name:<28} {last.outcome:<10} {_utc(last.started_at)}  took {took:<6} "
        f"{success}  {last.summary}"
    )


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
