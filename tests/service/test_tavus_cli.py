"""The vendor's own CLI (``tavus`` from ``tavus-cli``, pinned in the dev extras) is a real client of the
PAL routes: pointed at a real server by ``TAVUS_PUBLIC_API_BASE_URL``, ``tavus pal create|list|get|patch|
delete`` work unchanged, and a refusal reaches it as a 400 with our error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.helpers import LiveServer, live_server, make_settings, new_key

TAVUS = Path(sys.executable).with_name("tavus")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str, Path]]:
    home = tmp_path_factory.mktemp("tavus-home")
    settings = make_settings(tmp_path_factory.mktemp("tavus-data"), run_worker=False)
    key = new_key(settings, "tavus-cli")
    with live_server(settings) as server:
        yield server, key, home


def _tavus(served: tuple[LiveServer, str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    server, key, home = served
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAVUS_")}
    # HOME elsewhere: no keyring or .env of this machine is read; the key comes from TAVUS_API_KEY.
    env.update(TAVUS_PUBLIC_API_BASE_URL=f"{server.url}/v2", TAVUS_API_KEY=key, HOME=str(home))
    return subprocess.run([str(TAVUS), *args], env=env, cwd=home, capture_output=True, text=True, timeout=120)


def test_the_vendor_cli_manages_pals(served: tuple[LiveServer, str, Path]) -> None:
    assert TAVUS.is_file(), "tavus-cli is a dev dependency: make install"
    created = _tavus(served, "pal", "create", "--system-prompt", "You are Ada, a museum guide.", "--name", "Ada",
                     "--greeting", "Hello, I'm Ada.")
    assert created.returncode == 0, created.stderr
    pal = json.loads(created.stdout)
    pal_id = pal["pal_id"]
    assert pal["pal_name"] == "Ada" and pal["greeting"] == "Hello, I'm Ada."

    listed = _tavus(served, "pal", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert pal_id in {p["pal_id"] for p in json.loads(listed.stdout)["data"]}

    patched = _tavus(served, "pal", "patch", pal_id, "--path", "/pal_name", "--value", "Ada Lovelace")
    assert patched.returncode == 0, patched.stderr
    assert json.loads(patched.stdout)["pal_name"] == "Ada Lovelace"
    got = _tavus(served, "pal", "get", pal_id)
    assert got.returncode == 0 and json.loads(got.stdout)["pal_name"] == "Ada Lovelace"

    refused = _tavus(served, "pal", "patch", pal_id, "--path", "/layers/llm/model", "--value", "gpt-7")
    assert refused.returncode != 0 and "failed with 400" in refused.stdout + refused.stderr

    deleted = _tavus(served, "pal", "delete", pal_id)
    assert deleted.returncode == 0, deleted.stderr
    assert _tavus(served, "pal", "get", pal_id).returncode != 0
