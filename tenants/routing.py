"""Resolving a request's host to a setting, once, before any view runs."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, abort, current_app, g, request

from tenants.binding import bind, unbind
from tenants.registry import active_setting_by_slug, install_settings_snapshot
from tenants.slugs import SLUG_PATTERN

# Endpoints that also answer on the bare domain; every other endpoint exists
# only on a setting's subdomain.
BARE_DOMAIN_ENDPOINTS = frozenset({"home.index", "static"})
# Endpoints for probes, Prometheus and Caddy (app/ops): they answer on any host,
# outside every setting, and never use a session.
ANY_HOST_ENDPOINTS = frozenset({"ops.healthz", "ops.readyz", "ops.metrics", "ops.caddy_ask"})


class NotOurHost(LookupError):
    """The host is neither the bare domain nor one label below it."""


def slug_for_host(host: str, base_domain: str) -> str | None:
    """The slug a host names, or None for the bare domain.

    ``sunnyside.localhost:5000`` → ``"sunnyside"``; ``localhost`` → None;
    anything else (other domains, deeper subdomains, bad labels) → ``NotOurHost``.
    """
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.rstrip(".").lower()
    if name == base_domain:
        return None
    label, dot, rest = name.partition(".")
    if not dot or rest != base_domain or not SLUG_PATTERN.fullmatch(label):
        raise NotOurHost(host)
    return label


def setting_url(slug: str, path: str) -> str:
    """An absolute URL on a setting's subdomain, for emails and the CLI."""
    return _public_url(f"{slug}.", path)


def bare_domain_url(path: str = "/") -> str:
    """An absolute URL on the bare domain (the landing page), e.g. from an unknown subdomain."""
    return _public_url("", path)


def _public_url(subdomain: str, path: str) -> str:
    """Built on ``PUBLIC_URL``, never on the request's Host header (which a client
    chooses) nor on a guessed port."""
    scheme, bare_domain = current_app.config["LJ"].PUBLIC_URL.split("://", 1)
    return f"{scheme}://{subdomain}{bare_domain}{path}"


@dataclass(frozen=True)
class RequestedHost:
    """What the request's host names: the bare domain, one of its subdomains, or nothing of ours."""

    ours: bool
    slug: str | None  # None: the bare domain (or not ours)


_REQUESTED_HOST = "lj.requested_host"


def requested_host() -> RequestedHost:
    """The request's host, read once per request: by the session store, which opens before
    any before-request step, and by routing. Only routing asks the registry, in its step,
    where a database outage is answered by the error pages."""
    found = request.environ.get(_REQUESTED_HOST)
    if found is None:
        try:
            slug = slug_for_host(request.host, current_app.config["LJ"].BASE_DOMAIN)
        except NotOurHost:
            found = RequestedHost(ours=False, slug=None)
        else:
            found = RequestedHost(ours=True, slug=slug)
        request.environ[_REQUESTED_HOST] = found
    return found


def _resolve_setting_for_request() -> None:
    endpoint = request.endpoint
    # The stylesheet too: an unknown subdomain's 404 page must look like the service's.
    if endpoint in ANY_HOST_ENDPOINTS or endpoint == "static":
        g.setting = None
        g.setting_token = bind(None)
        return
    host = requested_host()
    if not host.ours:
        abort(404)
    setting = None if host.slug is None else active_setting_by_slug(host.slug)
    if host.slug is not None and setting is None:
        abort(404)
    if setting is None and endpoint not in BARE_DOMAIN_ENDPOINTS:
        abort(404)
    g.setting = setting
    g.setting_token = bind(setting)


def _unbind_after_request(_error: BaseException | None) -> None:
    token = g.pop("setting_token", None)
    if token is not None:
        unbind(token)


def install_routing(app: Flask) -> None:
    """Resolve the setting before every other before-request hook of ``app``."""
    install_settings_snapshot(app)
    app.before_request_funcs.setdefault(None, []).insert(0, _resolve_setting_for_request)
    app.teardown_request(_unbind_after_request)
