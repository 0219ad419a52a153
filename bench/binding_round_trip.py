"""What the schema binding's round trip costs in CPU, and what sending it with the first
statement would: this process's and its PostgreSQL server process's CPU per transaction.

    .venv/bin/python bench/binding_round_trip.py      # ~20 s; DATABASE_URL or 127.0.0.1:5432

Three ways to run a transaction of one bound ``SELECT``, taking turns (7 rounds of 1,000,
least CPU of the rounds, ``/proc/<pid>/schedstat`` for the server process):

- as served (``tenants.binding.begin_bound_to``): ``BEGIN; SET LOCAL`` as one query, waited
  for, then the statement (prepared by psycopg after five runs), then ``COMMIT``;
- pipelined: ``BEGIN``, ``SET LOCAL`` and the statement in one psycopg pipeline (one wait
  fewer), then ``COMMIT``;
- prepended: the three as one simple query, the statement's parameters written in by
  psycopg's ``ClientCursor`` (one wait fewer, no prepared statement), then ``COMMIT``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres").replace(
    "+psycopg", ""
)
SCHEMA = "bench_binding_round_trip"
BIND = f'SET LOCAL search_path TO "{SCHEMA}"'.encode()
STATEMENT = "SELECT full_name FROM users WHERE id > %s ORDER BY id LIMIT 1"


def as_served(connection: psycopg.Connection) -> None:
    connection.pgconn.exec_(b"BEGIN; " + BIND)
    connection.execute(STATEMENT, (0,)).fetchone()
    connection.commit()


def pipelined(connection: psycopg.Connection) -> None:
    cursor = connection.cursor()
    with connection.pipeline() as pipeline:
        for command in (b"BEGIN", BIND):
            # Given to libpq directly, so psycopg sees the transaction begun and sends no
            # BEGIN (and no sync) of its own; None: psycopg checks the result and drops it.
            connection.pgconn.send_query_params(command, None)
            pipeline.result_queue.append(None)
        cursor.execute(STATEMENT, (0,))
    cursor.fetchone()
    connection.commit()


def prepended(connection: psycopg.Connection) -> None:  # an autocommit connection
    cursor = psycopg.ClientCursor(connection)
    cursor.execute(b"BEGIN; " + BIND + b"; " + STATEMENT.encode(), (0,))
    cursor.nextset()
    cursor.nextset()
    cursor.fetchone()
    connection.pgconn.exec_(b"COMMIT")


WAYS: dict[str, tuple[Callable[[psycopg.Connection], None], bool]] = {
    "as served: BEGIN; SET LOCAL waited for, then the statement": (as_served, False),
    "pipelined: BEGIN, SET LOCAL and the statement in one pipeline": (pipelined, False),
    "prepended: the three as one simple query (parameters written in)": (prepended, True),
}


def on_cpu_ns(pid: int) -> int:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def main(transactions: int = 1000, rounds: int = 7) -> None:
    with psycopg.connect(URL, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
        admin.execute(f'CREATE SCHEMA "{SCHEMA}"')
        admin.execute(f'CREATE TABLE "{SCHEMA}".users (id serial PRIMARY KEY, full_name text)')
        rows = "SELECT g::text FROM generate_series(1, 100) g"
        admin.execute(f'INSERT INTO "{SCHEMA}".users (full_name) {rows}')
        try:
            connections = {
                label: psycopg.connect(URL, autocommit=autocommit)
                for label, (_, autocommit) in WAYS.items()
            }
            least = {label: (float("inf"), float("inf")) for label in WAYS}
            for label, (way, _) in WAYS.items():
                for _ in range(200):  # warm up: the statement prepared where it is
                    way(connections[label])
            for _ in range(rounds):
                for label, (way, _) in WAYS.items():
                    connection = connections[label]
                    pid = connection.info.backend_pid
                    process, server = time.process_time(), on_cpu_ns(pid)
                    for _ in range(transactions):
                        way(connection)
                    process = (time.process_time() - process) / transactions * 1e6
                    server = (on_cpu_ns(pid) - server) / transactions / 1e3
                    least[label] = (min(least[label][0], process), min(least[label][1], server))
            for connection in connections.values():
                connection.close()
        finally:
            admin.execute(f'DROP SCHEMA "{SCHEMA}" CASCADE')
    print(f"CPU per transaction, us (least of {rounds} rounds of {transactions}):")
    print(f"  {'client':>7} {'server':>7} {'both':>7}")
    for label, (process, server) in least.items():
        print(f"  {process:7.1f} {server:7.1f} {process + server:7.1f}  {label}")


if __name__ == "__main__":
    main()
