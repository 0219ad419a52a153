"""Endpoints for the machines around the service: probes, Prometheus and Caddy.

They answer on any host (the bare domain, a setting's subdomain, or the
loopback address a probe uses), outside any setting and without a session:
``tenants.routing`` lets them through before resolving a setting.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from app.ops.health import readiness
from app.ops.internal import from_allowed_address, require_allowed_address
from app.ops.metrics import metrics_page
from tenants.registry import setting_by_slug
from tenants.routing import NotOurHost, slug_for_host

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is alive and answering: no dependency is asked."""
    return _no_store(jsonify(status="alive"))


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """200 when every part the service needs is there, else 503; JSON either way."""
    results = readiness()
    show_private = from_allowed_address()
    checks = {
        name: {
            "ok": result.ok,
            "detail": result.detail,
            **({"private": result.private} if show_private and result.private else {}),
        }
        for name, result in results.items()
    }
    ready = all(result.ok for result in results.values())
    body = jsonify(status="ready" if ready else "not ready", checks=checks)
    return _no_store(body), 200 if ready else 503


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus's scrape, for the operator's addresses only (403 for anyone else)."""
    require_allowed_address()
    return metrics_page()


@bp.get("/_caddy/ask")
def caddy_ask() -> tuple[str, int]:
    """Caddy's on-demand TLS question: may it get a certificate for ``?domain=``?

    Yes (200) for the bare domain and for the subdomain of a setting the registry
    knows (suspended ones too: their pages still answer); no (404) for anything
    else, so nobody can make us request certificates for invented names.
    """
    require_allowed_address()
    domain = request.args.get("domain", "")
    try:
        slug = slug_for_host(domain, current_app.config["LJ"].BASE_DOMAIN)
    except NotOurHost:
        return "", 404
    if slug is not None and setting_by_slug(slug) is None:
        return "", 404
    return "", 200


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
