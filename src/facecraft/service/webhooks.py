"""Signed webhooks to ``callback_url``: JSON POST with ``X-Facecraft-Signature: sha256=<hex HMAC>``, retried.

Deliveries run on small daemon threads so a slow receiver never holds up the job worker.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from typing import Any

import httpx

from facecraft.errors import FacecraftError
from facecraft.service.fetch import check_url

__all__ = ["SIGNATURE_HEADER", "sign", "WebhookSender"]

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Facecraft-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """Posts payloads with exponential backoff (``backoff_s * 2**n``) for up to ``attempts`` tries."""

    def __init__(self, *, secret: str, attempts: int, backoff_s: float, allow_private: bool) -> None:
        self.secret = secret
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self.allow_private = allow_private
        self._threads: list[threading.Thread] = []

    def send(self, url: str | None, payload: dict[str, Any]) -> None:
        if not url:
            return
        thread = threading.Thread(target=self.deliver, args=(url, payload), name="webhook", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def deliver(self, url: str, payload: dict[str, Any]) -> bool:
        """Deliver now (blocking); True when the receiver answered 2xx."""
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, body)}
        for attempt in range(self.attempts):
            try:
                check_url(url, allow_private=self.allow_private)
                resp = httpx.post(url, content=body, headers=headers, timeout=10.0, trust_env=False)
                if resp.is_success:
                    return True
                log.warning("webhook %s answered %d (attempt %d)", url, resp.status_code, attempt + 1)
            except (httpx.HTTPError, FacecraftError) as exc:
                log.warning("webhook %s failed (attempt %d): %s", url, attempt + 1, exc)
            if attempt + 1 < self.attempts:
                time.sleep(self.backoff_s * 2**attempt)
        log.error("webhook %s gave up after %d attempts", url, self.attempts)
        return False

    def join(self, timeout: float = 5.0) -> None:
        for thread in list(self._threads):
            thread.join(timeout)
