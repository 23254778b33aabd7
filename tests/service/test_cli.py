"""``facecraft keys`` against a real data dir; the key printed by ``create`` authenticates."""

from __future__ import annotations

from pathlib import Path

import pytest

from facecraft.cli import main
from facecraft.service.db import Database
from facecraft.service.keys import lookup_key
from facecraft.service.settings import Settings


def test_keys_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--name", "laptop", "--data-dir", str(tmp_path)]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("fc_") and " " not in key

    db = Database(Settings(data_dir=tmp_path, _env_file=None).db_url)
    with db.session() as session:
        row = lookup_key(session, key)
        assert row is not None and row.key_hash != key  # stored hashed
        key_id = row.id

    assert main(["keys", "list", "--data-dir", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert key_id in listing and "laptop" in listing and key not in listing

    assert main(["keys", "revoke", key_id, "--data-dir", str(tmp_path)]) == 0
    with db.session() as session:
        assert lookup_key(session, key) is None
    assert main(["keys", "revoke", "nope", "--data-dir", str(tmp_path)]) == 2
    db.dispose()


def test_bad_configuration_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FACECRAFT_PUBLIC_URL", "ftp://example.com")
    assert main(["keys", "list", "--data-dir", str(tmp_path)]) == 2
    assert "error [invalid_input]: bad facecraft configuration" in capsys.readouterr().err
