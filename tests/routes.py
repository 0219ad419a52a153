"""Every route of the app with its URL parts filled in, for tests that walk them all."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

from flask import Flask
from flask_wtf import FlaskForm
from wtforms.fields.core import UnboundField

from tests.helpers.journal import Journal, observe_with_a_photo

_PART = re.compile(r"<(?:(?P<converter>\w+)(?:\((?P<options>[^)]*)\))?:)?(?P<name>\w+)>")


@dataclass(frozen=True)
class Route:
    """One rule of the URL map: its pattern, methods and the kind of each URL part."""

    rule: str
    endpoint: str
    methods: tuple[str, ...]
    parts: dict[str, str]  # name -> "id", "text" or the first choice of an ``any``

    def path(self, values: dict[str, str]) -> str:
        return _PART.sub(lambda part: values[part["name"]], self.rule)

    def path_with(self, ids: dict[str, str], **spoilt: str) -> str:
        """The path with real ids (``ids`` by part name, else 1), ``x`` for text, the first
        choice of an ``any``, and ``spoilt`` values in place of those parts."""
        good = {
            name: ids.get(name, "1") if kind == "id" else "x" if kind == "text" else kind
            for name, kind in self.parts.items()
        }
        return self.path({**good, **spoilt})


def app_routes(app: Flask) -> list[Route]:
    """The app's own routes (not static files, nor the tests' probe), sorted by rule."""
    routes = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if rule.endpoint == "static" or rule.endpoint.startswith("probe."):
            continue
        parts = {}
        for match in _PART.finditer(rule.rule):
            converter, options = match["converter"], match["options"]
            parts[match["name"]] = (
                "id"
                if converter == "id"
                else options.split(",")[0].strip()
                if converter == "any"
                else "text"
            )
        methods = tuple(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
        routes.append(Route(rule.rule, rule.endpoint, methods, parts))
    return routes


def real_ids(app: Flask, family: Journal) -> dict[str, str]:
    """Ids of rows in ``family``'s setting, by URL part name: child A, a published
    observation of A with a photo, the member of staff, parent A."""
    observation_id, photo_id = observe_with_a_photo(app, family, "Ada built a tower.")
    return {
        "child_id": str(family.child_a_id),
        "observation_id": str(observation_id),
        "photo_id": str(photo_id),
        "user_id": str(family.staff_id),
        "parent_id": str(family.parent_a_id),
    }


def app_forms() -> list[type[FlaskForm]]:
    """Every Flask-WTF form class of the app (subclasses of subclasses too)."""
    forms, todo = [], [FlaskForm]
    while todo:
        form = todo.pop()
        todo.extend(form.__subclasses__())
        if form.__module__.startswith("app."):
            forms.append(form)
    return forms


def form_fields(form: type[FlaskForm]) -> dict[str, UnboundField]:
    """The fields a form class declares (its own and inherited), by name."""
    return {
        name: field for name, field in inspect.getmembers(form) if isinstance(field, UnboundField)
    }
