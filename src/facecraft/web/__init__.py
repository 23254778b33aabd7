"""facecraft.web: the Maker portal, static HTML/JS/CSS served by ``facecraft.service``.

There is no build step: the service serves ``STATIC_DIR/index.html`` at ``/`` and the rest of
``STATIC_DIR`` under ``/static/``. The pages talk to the public ``/v2`` API only, with the
``x-api-key`` the user signs in with, so the portal needs nothing the API does not offer.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["STATIC_DIR", "INDEX_HTML"]

STATIC_DIR: Path = Path(__file__).resolve().parent / "static"
INDEX_HTML: Path = STATIC_DIR / "index.html"
