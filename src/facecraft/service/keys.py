"""API keys: created once, shown once, stored as SHA-256 hashes.

Keys are long random strings, so a fast hash is enough (no password-style slow hash needed).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from facecraft.errors import InputError
from facecraft.service.ids import new_id
from facecraft.service.models import ApiKey, utcnow

__all__ = ["KeyInfo", "create_key", "list_keys", "revoke_key", "lookup_key", "ensure_key", "hash_key"]


@dataclass(frozen=True)
class KeyInfo:
    id: str
    name: str
    prefix: str
    created_at: datetime
    revoked: bool


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.id, row.name, row.prefix, row.created_at, row.revoked_at is not None)


def create_key(session: Session, *, name: str = "") -> tuple[KeyInfo, str]:
    """Make a new key; returns its info and the plain key (the only time it is known)."""
    plain = "fc_" + secrets.token_urlsafe(24)
    row = ApiKey(id=new_id("k"), name=name, prefix=plain[:8], key_hash=hash_key(plain))
    session.add(row)
    session.flush()
    return _info(row), plain


def ensure_key(session: Session, plain: str, *, name: str = "configured") -> None:
    """Register a key given in the settings (idempotent)."""
    if session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(plain))) is None:
        session.add(ApiKey(id=new_id("k"), name=name, prefix=plain[:8], key_hash=hash_key(plain)))
        session.flush()


def list_keys(session: Session, *, include_revoked: bool = True) -> list[KeyInfo]:
    query = select(ApiKey).order_by(ApiKey.created_at)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return [_info(r) for r in session.scalars(query)]


def revoke_key(session: Session, key_id_or_prefix: str) -> KeyInfo:
    rows = [
        r
        for r in session.scalars(select(ApiKey))
        if key_id_or_prefix in (r.id, r.prefix) or hash_key(key_id_or_prefix) == r.key_hash
    ]
    if len(rows) != 1:
        raise InputError(f"no single key matches {key_id_or_prefix!r}")
    rows[0].revoked_at = rows[0].revoked_at or utcnow()
    return _info(rows[0])


def lookup_key(session: Session, plain: str) -> ApiKey | None:
    """The active key row for a plain key, or None."""
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(plain)))
    return row if row is not None and row.revoked_at is None else None
