"""The Flask class the service runs on: Flask, with one per-call question answered once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from weakref import WeakSet

from flask import Flask


class LearningJournalsFlask(Flask):
    """Flask, remembering which functions need no wrapping to run synchronously.

    Flask passes every view, before-, after- and teardown-request function and error
    handler through ``ensure_sync`` each time it calls one: about twenty times a request,
    each an ``inspect.iscoroutinefunction`` of five Python calls, with the same answer
    every time. Flask documents ``ensure_sync`` as the method to override; this one keeps
    the functions found synchronous in a weak set (a function made per call, e.g. by
    ``copy_current_request_context``, is not kept alive by it) and asks Flask about any
    other function, so an ``async def`` view is still wrapped as Flask wraps it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._synchronous: WeakSet[Callable[..., Any]] = WeakSet()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            if func in self._synchronous:
                return func
            runnable = super().ensure_sync(func)
            if runnable is func:
                self._synchronous.add(func)
            return runnable
        except TypeError:  # not weakly referenceable or not hashable: ask Flask every time
            return super().ensure_sync(func)
