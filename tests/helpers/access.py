"""The access matrix: what one request of a role observed, said the same way for every feature.

A feature's access test lists its cells (a request and the outcome it should meet) for each
role, and ``wrong_cells`` asks them in order and says which met another outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

from tests.helpers.clients import HostClient, is_signed_out, post_form


def access_outcome(response) -> str:
    """What an access-matrix cell observed: sign in, 403, 404, allowed, or broken (a bug)."""
    if is_signed_out(response):
        return "sign in"
    if response.status_code in (403, 404):
        return str(response.status_code)
    if response.status_code >= 500 or response.status_code in (400, 401, 405):
        return f"broken {response.status_code}"
    return "allowed"


@dataclass(frozen=True)
class Cell:
    """One request of the matrix, what it is (for the message), and the outcome it should meet."""

    method: str
    path: str
    what: str
    expected: str
    data: tuple[tuple[str, str], ...] = ()  # a POST's fields, beside its CSRF token


class RouteLike(Protocol):
    method: str
    path: str  # with ``{name}`` fields the target's ids fill in


R = TypeVar("R", bound=RouteLike)


def route_cells(
    routes: Iterable[tuple[str, R]],
    ids: Mapping[str, Mapping[str, object]],
    targets: Callable[[R], Iterable[str]],
    expected: Callable[[str, R, str], str],
) -> list[Cell]:
    """A cell for each named route, in the order given, and each of its targets (own,
    other, foreign, ...): the path filled with that target's ids, and the outcome
    ``expected(name, route, target)`` says."""
    return [
        Cell(
            route.method,
            route.path.format(**ids[target]),
            f"{name}, {target}",
            expected(name, route, target),
        )
        for name, route in routes
        for target in targets(route)
    ]


def wrong_cells(client: HostClient, cells: Iterable[Cell]) -> list[str]:
    """Ask each cell's request in turn (a POST as the page's own form would send it) and
    say each one whose outcome is not the expected one."""
    wrong = []
    for cell in cells:
        response = (
            client.get(cell.path)
            if cell.method == "GET"
            else post_form(client, cell.path, dict(cell.data))
        )
        got = access_outcome(response)
        if got != cell.expected:
            wrong.append(
                f"{cell.method} {cell.path} ({cell.what}): {got}, expected {cell.expected}"
            )
    return wrong
