"""Load generators for the benchmarks: ``wrk`` when installed, else a small asyncio client.

Both keep ``connections`` requests in flight against one server on loopback for
``duration`` seconds and count the answers. Each request names its own Host
header, cycling through ``hosts``: Python's resolver cannot resolve
``*.localhost``, so we always connect to 127.0.0.1 and say the host. Extra
``headers`` (a session cookie, say) go on every request.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LoadResult:
    requests_per_second: float
    requests: int
    failures: int  # non-2xx answers, socket errors and timeouts
    p99_ms: float | None = None  # the 99th percentile of latency (wrk's; None from the fallback)


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_load(
    use_wrk: bool,
    port: int,
    path: str,
    hosts: list[str],
    duration: float,
    connections: int,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """Load ``http://127.0.0.1:port/path`` with the chosen generator."""
    if use_wrk:
        return run_wrk(port, path, hosts, duration, connections, headers=headers)
    return asyncio.run(run_python_load(port, path, hosts, duration, connections, headers))


# --- wrk ---------------------------------------------------------------------------------------

_WRK_SCRIPT = """
local hosts = {%s}
local extra = {%s}
local counter = 0
request = function()
  counter = counter + 1
  local headers = {["Host"] = hosts[(counter %% #hosts) + 1]}
  for name, value in pairs(extra) do headers[name] = value end
  return wrk.format("GET", "%s", headers)
end
"""


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_wrk(
    port: int,
    path: str,
    hosts: list[str],
    duration: float,
    connections: int,
    threads: int = 2,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        extra = ", ".join(
            f"[{_lua_string(name)}] = {_lua_string(value)}"
            for name, value in (headers or {}).items()
        )
        script.write(_WRK_SCRIPT % (", ".join(_lua_string(host) for host in hosts), extra, path))
    try:
        output = subprocess.run(
            [
                *("wrk", "--latency", "--threads", str(threads), "--connections", str(connections)),
                *("--duration", f"{max(1, round(duration))}s", "--script", script.name),
                f"http://127.0.0.1:{port}{path}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        Path(script.name).unlink()
    return _parse_wrk(output)


_WRK_SOCKET_ERRORS = r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
_WRK_P99 = r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$"  # in --latency's distribution
_MILLISECONDS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _parse_wrk(output: str) -> LoadResult:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rate is None or total is None:
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    failures = 0
    if match := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        failures += int(match.group(1))
    if match := re.search(_WRK_SOCKET_ERRORS, output):
        failures += sum(int(count) for count in match.groups())
    p99 = re.search(_WRK_P99, output, re.MULTILINE)
    p99_ms = float(p99.group(1)) * _MILLISECONDS[p99.group(2)] if p99 else None
    return LoadResult(float(rate.group(1)), int(total.group(1)), failures, p99_ms)


# --- Python fallback ---------------------------------------------------------------------------


async def run_python_load(
    port: int,
    path: str,
    hosts: list[str],
    duration: float,
    connections: int,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    requests = itertools.cycle(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}User-Agent: lj-bench\r\n\r\n".encode()
        for host in hosts
    )
    counts = {"ok": 0, "failed": 0}
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(
        *(_one_connection(port, requests, deadline, counts) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    total = counts["ok"] + counts["failed"]
    return LoadResult(total / elapsed, total, counts["failed"])


async def _one_connection(
    port: int, requests: itertools.cycle[bytes], deadline: float, counts: dict[str, int]
) -> None:
    """Send requests one after another, reconnecting whenever the server closes."""
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.perf_counter() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            writer.write(next(requests))
            status, keep_alive = await _read_response(reader)
        except (OSError, asyncio.IncompleteReadError):
            counts["failed"] += 1
            writer = None
            continue
        counts["ok" if 200 <= status < 300 else "failed"] += 1
        if not keep_alive:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status_line, *header_lines = head.split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in header_lines if line)
    }
    await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers.get("connection", "").lower() != "close"
