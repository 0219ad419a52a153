"""Refusing forms sent from another site, even a sibling subdomain of ours.

Each setting is a subdomain of one base domain, so to a browser every other
setting is the *same site*: SameSite=Lax cookies go along with a form posted
from ``other.<base domain>`` to ``sunnyside.<base domain>``. The CSRF token
stops a forged form in itself; this check is a second lock that needs no
secret: a browser names the page a request comes from in ``Origin`` (or, when
it leaves that out, ``Referer``), and a change is accepted only from this very
host. A request naming neither (a script, an old browser) is left to the CSRF
token alone.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, request
from flask_wtf.csrf import CSRFError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class SentFromAnotherSite(CSRFError):
    """A form posted from another site's page (its error page says so in these words)."""

    description = "This form was sent from another site, so nothing was changed."


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _sent_from() -> str | None:
    """The origin the browser says the request comes from, or None if it does not say.

    ``Origin: null`` (a sandboxed frame, a redirect from another site) is an origin
    that is never ours."""
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin.strip().lower()
    referrer = request.headers.get("Referer")
    return _origin_of(referrer) if referrer else None


def refuse_requests_from_other_sites() -> None:
    if request.method in SAFE_METHODS:
        return
    sent_from = _sent_from()
    if sent_from is not None and sent_from != _origin_of(request.host_url):
        raise SentFromAnotherSite()


def install_same_origin_check(app: Flask) -> None:
    app.before_request(refuse_requests_from_other_sites)
