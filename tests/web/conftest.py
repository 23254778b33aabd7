"""Fixtures of the portal's browser tests: the real server on a free port, and headless Chromium.

Chromium is Debian's ``/usr/bin/chromium`` (installed by scripts/browser_deps.sh), driven by
Playwright with ``executable_path`` and a fresh user-data-dir: nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.web.portal import Portal, chromium_context, require_browser, served

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """The real app served by ``facecraft serve`` with a temp data dir and a fresh key."""
    require_browser()  # no server for tests that would skip anyway
    data_dir = tmp_path_factory.mktemp("portal-data")
    # the dev clips carry no consent statement
    with served(data_dir, {"FACECRAFT_ALLOW_CONSENT_ATTESTATION": "true"}) as running:
        yield running


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Headless Debian Chromium with a fresh profile; skips when the browser is not installed."""
    with chromium_context(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture()
def page_errors() -> list[str]:
    """Uncaught exceptions of the page's scripts (filled by the ``page`` fixture)."""
    return []


@pytest.fixture()
def page(browser_context: BrowserContext, page_errors: list[str]) -> Iterator[Page]:
    """A new tab with a 20 s default wait; uncaught script errors go to ``page_errors``."""
    tab = browser_context.new_page()
    tab.set_default_timeout(20_000)
    tab.on("pageerror", lambda exc: page_errors.append(str(exc)))
    try:
        yield tab
    finally:
        tab.close()
