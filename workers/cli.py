"""The operator's job commands: ``flask --app wsgi jobs list`` and ``jobs run NAME``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from workers.jobs import JobAlreadyRunning, UnknownJob, registered_jobs, run_job_now
from workers.schedule import WHEN

jobs_cli = AppGroup("jobs", help="List the scheduled jobs, or run one now.")


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
    """Run the job NAME now, in this process, and print its summary."""
    try:
        summary = run_job_now(name)
    except UnknownJob as error:
        known = ", ".join(sorted(registered_jobs())) or "none"
        raise click.ClickException(f"No job '{name}'. Registered jobs: {known}.") from error
    except JobAlreadyRunning as error:
        raise click.ClickException(
            f"Job '{name}' is running elsewhere (its lock is held); nothing was done."
        ) from error
    click.echo(f"{name}: {summary}")
