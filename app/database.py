"""Pooled database connections: checked without a round trip, recycled after a while.

A connection the server closed while it sat in the pool (PostgreSQL restarted, its
backend terminated, a proxy's idle timeout) has the end of its stream, or the server's
last error, waiting on its socket; a healthy idle connection has nothing to read. So
at checkout one poll of the socket, not a ``SELECT 1`` round trip (``pool_pre_ping``,
which every request paid), tells the pool to connect afresh before any statement of
the request has run. A connection that dies silently (a network path gone, nothing
delivered) is not seen by the poll: ``pool_recycle`` replaces connections after half
an hour (``app.config.POOL_RECYCLE_SECONDS``), and a statement that fails on one anyway
is the 503 page, after which SQLAlchemy drops every connection of the pool as old as it.
"""

from __future__ import annotations

import select

from flask import Flask
from psycopg import Connection as PsycopgConnection
from psycopg.pq import ConnStatus
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from app.extensions import db


def closed_by_server(connection: PsycopgConnection) -> bool:
    """Has the server ended this idle connection? (No round trip: one poll of its socket.)"""
    if connection.closed or connection.pgconn.status != ConnStatus.OK:
        return True
    readable = select.poll()
    readable.register(connection.pgconn.socket, select.POLLIN)
    return bool(readable.poll(0))


def _replace_if_closed_by_server(
    dbapi_connection: PsycopgConnection,
    _record: ConnectionPoolEntry,
    _proxy: PoolProxiedConnection,
) -> None:
    if closed_by_server(dbapi_connection):
        raise DisconnectionError("the server closed this pooled connection")  # pool reconnects


def install_connection_checks(app: Flask) -> None:
    with app.app_context():
        event.listen(db.engine, "checkout", _replace_if_closed_by_server)
