"""The Origin allow-list: which browser pages may open a signaling socket."""

from __future__ import annotations

from urllib.parse import urlsplit

ANY_ORIGIN = "*"


def origin_allowed(origin: str | None, host: str, allowed: tuple[str, ...]) -> bool:
    """True for non-browser clients (no Origin), the server's own pages, and listed origins.

    `host` is the request's Host header; `allowed` holds origins like "https://example.org"
    (scheme://host[:port], compared case-insensitively) or "*" for any.
    """
    if origin is None or ANY_ORIGIN in allowed:
        return True
    origin = origin.strip().lower().rstrip("/")
    if origin in (a.strip().lower().rstrip("/") for a in allowed):
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc == host.lower()
