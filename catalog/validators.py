"""Poster URLs the site may point a visitor's browser at: http(s) on a public host, no credentials.

A stored `ftp://`, `javascript:`, a private address (the visitor's router, a cloud metadata service) or
`user:pass@host` is refused on input (model, admin, API, importer) and never rendered (issue 17).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".localdomain")


def poster_url_problem(url: str) -> str | None:
    """Why `url` may not be a poster, or None if it may."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
        parts.port  # noqa: B018 (raises ValueError on a port out of range)
    except ValueError:
        return "Enter a valid URL."
    if parts.scheme not in {"http", "https"}:
        return "A poster URL must start with http:// or https://."
    if parts.username is not None or parts.password is not None:
        return "A poster URL may not carry a user name or password."
    if not host:
        return "A poster URL needs a host."
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if host == "localhost" or host.endswith(PRIVATE_SUFFIXES) or "." not in host:
            return "A poster URL must name a public host."
        return None
    if not address.is_global or address.is_multicast:
        return "A poster URL must name a public host, not a private or reserved address."
    return None


def validate_poster_url(url: str) -> None:
    if url and (problem := poster_url_problem(url)):
        raise ValidationError(problem, code="poster_url")


def is_displayable_poster(url: str) -> bool:
    return bool(url) and poster_url_problem(url) is None
