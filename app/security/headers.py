"""Security headers on every response."""

from __future__ import annotations

from flask import Flask, Response, request

# No inline script or style anywhere: everything comes from /static.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def _by_name(*headers: tuple[str, str]) -> dict[str, tuple[str, str]]:
    return {name.lower(): (name, value) for name, value in headers}


# Every response's, unless the view set its own; by lower-case name.
_HEADERS = _by_name(
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Permissions-Policy", "geolocation=(), microphone=()"),
    # Pages, JSON, redirects and error pages may show children's details: no cache keeps
    # them. Responses that may be kept say so themselves (photos: private; static files:
    # no-cache, revalidated).
    ("Cache-Control", "no-store"),
)
_HEADERS_OVER_HTTPS = {
    **_HEADERS,
    **_by_name(("Strict-Transport-Security", "max-age=31536000; includeSubDomains")),
}


def _add_security_headers(response: Response) -> Response:
    # One pass over the response's own headers, rather than a case-insensitive search of
    # them for each header added: this runs for every response.
    present = {name.lower() for name, _value in response.headers}
    wanted = _HEADERS_OVER_HTTPS if request.is_secure else _HEADERS
    response.headers.extend([header for key, header in wanted.items() if key not in present])
    return response


def install_security_headers(app: Flask) -> None:
    app.after_request(_add_security_headers)
