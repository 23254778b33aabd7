"""facecraft.service: the Tavus-v2-compatible HTTP API, durable jobs, storage, webhooks and auth.

``create_app(Settings(...))`` builds the FastAPI app; ``facecraft serve`` runs it with uvicorn.
"""

from __future__ import annotations

from facecraft.service.app import create_app
from facecraft.service.settings import Settings

__all__ = ["create_app", "Settings"]
