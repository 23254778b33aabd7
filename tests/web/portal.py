"""Helpers of the portal's browser tests: start the real server, make keys, number screenshots.

The server is the real ``facecraft serve`` in a subprocess (its own data dir and SQLite file, a
key from ``facecraft keys create``), so the browser talks to exactly what a user runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tests.utils import REPO, missing_dependency

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

CHROMIUM = Path(os.environ.get("FACECRAFT_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = REPO / "test-artifacts" / "portal"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@dataclass(frozen=True)
class Portal:
    """A running server: where it listens and the API key made for the test."""

    base_url: str
    key: str
    data_dir: Path
    log_path: Path

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def facecraft_command() -> list[str]:
    """The ``facecraft`` CLI of this interpreter's environment."""
    exe = Path(sys.executable).with_name("facecraft")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "facecraft.cli"]


def require_browser() -> None:
    """Skip the calling test when Debian's chromium or the playwright driver is not installed.

    Under CI (``CI`` set) a missing browser fails instead: ``make test`` installs it, so a skip there
    would hide a broken install step.
    """
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} missing: run scripts/browser_deps.sh"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "playwright missing: pip install -e '.[dev]'"
    if missing:
        missing_dependency(missing)


@contextmanager
def chromium_context(
    profile: Path, *, extra_args: tuple[str, ...] = (), viewport: tuple[int, int] = (1280, 900)
) -> Iterator[BrowserContext]:
    """Headless Debian Chromium on a fresh ``profile`` (removed afterwards); skips without the browser."""
    require_browser()
    from playwright import sync_api

    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=[*CHROMIUM_ARGS, *extra_args],
            viewport={"width": viewport[0], "height": viewport[1]},
        )
        try:
            yield context
        finally:
            context.close()
    shutil.rmtree(profile, ignore_errors=True)


def create_key(data_dir: Path, env: dict[str, str]) -> str:
    """A new API key of ``data_dir``: the last line that ``facecraft keys create`` prints."""
    done = subprocess.run(
        [*facecraft_command(), "keys", "create", "--data-dir", str(data_dir)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert done.returncode == 0, f"facecraft keys create failed:\n{done.stdout}\n{done.stderr}"
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    assert lines, "facecraft keys create printed no key"
    return lines[-1]


@contextmanager
def served(data_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[Portal]:
    """``facecraft serve`` on a free loopback port over ``data_dir`` with a fresh key; the caller's
    ``FACECRAFT_*`` variables are dropped, ``extra_env`` added. Stopped (then killed) on exit."""
    from tests.utils import free_port

    env = {k: v for k, v in os.environ.items() if not k.startswith("FACECRAFT_")}
    env["FACECRAFT_DATA_DIR"] = str(data_dir)
    env.update(extra_env or {})
    key = create_key(data_dir, env)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = data_dir / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*facecraft_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=data_dir,
        )
    try:
        wait_until_up(base_url, proc, log_path)
        yield Portal(base_url=base_url, key=key, data_dir=data_dir, log_path=log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def wait_until_up(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout_s: float = 60.0) -> None:
    """Block until the server answers ``/openapi.json``; fail with its log if it exits or hangs."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"facecraft serve exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/openapi.json", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"facecraft serve did not answer within {timeout_s:.0f} s:\n{log_path.read_text()[-4000:]}")


class Shots:
    """Numbered screenshots of one test's steps: test-artifacts/portal/<prefix>NN-step.png."""

    def __init__(self, page: Page, prefix: str = "") -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob(f"{prefix}[0-9][0-9]-*.png"):
            old.unlink()  # screenshots of an earlier run of this test
        self.page = page
        self.prefix = prefix
        self.n = 0

    def __call__(self, step: str) -> Path:
        self.n += 1
        path = ARTIFACTS / f"{self.prefix}{self.n:02d}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path
