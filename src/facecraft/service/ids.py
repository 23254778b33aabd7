"""Short prefixed ids (``r…`` Face, ``v…`` video, ``u…`` upload, ``j…`` job, ``k…`` key) and share tokens."""

from __future__ import annotations

import secrets

__all__ = ["new_id", "new_token"]


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(5)


def new_token() -> str:
    """An unguessable capability token for media URLs that browsers fetch without a header."""
    return secrets.token_urlsafe(18)
