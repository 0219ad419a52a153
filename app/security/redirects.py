"""Where a page may send a person next: only to a path on this host, never to another site."""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

# Percent-decoding rounds tried before giving up: anything still encoded after this
# many rounds is refused rather than guessed at.
_DECODING_ROUNDS = 4


def _as_a_browser_reads_it(target: str) -> str:
    """``target`` without control characters and whitespace, which browsers drop from
    a URL (``/\\t/evil.example`` is followed as ``//evil.example``)."""
    return "".join(
        ch for ch in target if not (unicodedata.category(ch).startswith("C") or ch.isspace())
    )


def _is_path_on_this_host(url: str) -> bool:
    # Browsers read a backslash as a slash, so "/\\evil" is "//evil": another host.
    if not url.startswith("/") or url.startswith("//") or "\\" in url:
        return False
    parts = urlsplit(url)
    # A "." or ".." segment is resolved away by the browser: "/.//evil.example" is followed
    # as "//evil.example". Our own pages never send one (browsers remove them before asking).
    has_dot_segment = any(segment in {".", ".."} for segment in parts.path.split("/"))
    return not parts.scheme and not parts.netloc and not has_dot_segment


def _decodings(url: str) -> list[str]:
    """``url`` and each further percent-decoding of it, until nothing changes."""
    seen = [url]
    for _ in range(_DECODING_ROUNDS):
        decoded = _as_a_browser_reads_it(unquote(seen[-1]))
        if decoded == seen[-1]:
            return seen
        seen.append(decoded)
    return []  # still encoded after every round: refuse


def local_path(target: str | None) -> str | None:
    """``target`` as a path on this host, or None when it could lead anywhere else.

    Checked as a browser would read it, and again after each percent-decoding, so
    that neither ``%2F%2F``, ``%5C`` nor their double encodings reach another host.
    """
    if not target:
        return None
    cleaned = _as_a_browser_reads_it(target)
    decodings = _decodings(cleaned)
    if not decodings or not all(_is_path_on_this_host(form) for form in decodings):
        return None
    return cleaned
