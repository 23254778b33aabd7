"""facecraft.service: the Tavus-v2-compatible HTTP API, durable jobs in worker processes, storage,
webhooks and auth.

``create_app(Settings(...))`` builds the FastAPI app; ``facecraft serve`` runs it with uvicorn and its job
workers, ``facecraft worker`` runs a worker alone. Names are imported on first use, so that a job process
importing ``facecraft.service.jobrun`` does not load the web stack.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"create_app": "app", "Settings": "settings"}

__all__ = ["create_app", "Settings"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'facecraft.service' has no attribute {name!r}")
    return getattr(importlib.import_module(f"facecraft.service.{module}"), name)
