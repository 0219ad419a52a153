"""What pages make once and keep per process under the key of everything it is made from."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class Kept(Generic[T]):
    """The latest ``size`` things made, each under its key, the least recently used dropped.

    Only for what is a pure function of its key: the key must hold everything the thing
    is made from, so that a change to any of it is another key and a kept thing is never
    stale (nothing is ever told to forget one; old keys are never asked for again and age
    out). See ``app.journal.viewing.Cards``, ``app.journal.journal_page``, ``app.navigation``
    and ``app.security.csrf_tokens``.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._kept: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()  # gthread workers' threads share what is kept

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        """What is kept under ``key``, or what ``make()`` makes (then kept)."""
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
                return kept
        made = make()
        with self._lock:
            self._kept[key] = made
            if len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return made
