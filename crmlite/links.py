"""Absolute links to crmlite: the one place that decides the address people reach it at.

Links that leave the page (e-mails, the calendar feed, the embeddable web form) must point
where people reach crmlite, not wherever a request happened to come in:

- ``PUBLIC_URL`` when it is set, inside a request or not;
- else, inside a request, the request's own root: its scheme and host as the proxy saw them
  (TRUSTED_PROXIES) and checked against TRUSTED_HOSTS;
- else (the track runner, commands) there is no address to use: ``PublicUrlMissing`` says
  to set PUBLIC_URL, instead of a link to nowhere or an e-mail without its unsubscribe link.

Services ask here rather than reading the request themselves.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, request


class PublicUrlMissing(RuntimeError):
    """A link is needed outside a request and PUBLIC_URL is not set."""

    def __init__(self) -> None:
        super().__init__(
            "Set PUBLIC_URL to the address people reach crmlite at, e.g. "
            "PUBLIC_URL=https://crm.example.com: links sent from here (e-mails, the calendar "
            "feed) point there."
        )


def base_url() -> str:
    """Where people reach crmlite, without a trailing slash (see the module's rules)."""
    configured = (current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    if configured:
        return configured
    if has_request_context():
        return request.url_root.rstrip("/")
    raise PublicUrlMissing


def absolute_url(endpoint: str, *, base: str | None = None, **values: Any) -> str:
    """The absolute address of one of our endpoints, at ``base`` (by default ``base_url()``)."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return (base if base is not None else base_url()).rstrip("/") + path
