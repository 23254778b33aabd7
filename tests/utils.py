"""Test helpers shared across the suite (import as ``from tests.utils import ...``)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TESTDATA = Path(os.environ.get("FACECRAFT_TESTDATA", REPO.parent / "shared" / "testdata"))


def testdata_path(*parts: str) -> Path:
    """Path of a real recording in ../shared/testdata; skips the test when it is missing."""
    path = TESTDATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"test recording missing: {path}")
    return path


testdata_path.__test__ = False  # its name starts with "test": keep pytest from collecting it


def free_port() -> int:
    """A TCP port that was free a moment ago on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def missing_dependency(message: str) -> None:
    """Skip the test for a system dependency that is not installed here; fail on CI, whose setup
    installs it, so that a broken install step cannot hide behind skips."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


# A GRID corpus sentence (16 kHz) and its words: the engine's and perform's render tests speak it.
GRID = ("speech", "grid_id2_vcd_swwp2s_16k.wav")
GRID_TEXT = "set white with p two soon"
