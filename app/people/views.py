"""People pages: children, staff, parents and the links between them."""

from __future__ import annotations

from flask import Blueprint

from app.people import models  # noqa: F401  (the tables must be known before any schema is built)

bp = Blueprint("people", __name__, url_prefix="/people", template_folder="templates")
