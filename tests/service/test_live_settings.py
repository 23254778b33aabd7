"""Settings of live conversations: the cap and STUN/TURN servers, from the environment as a deployment sets
them; bad values are a clear configuration error."""

from __future__ import annotations

from pathlib import Path

import pytest

from facecraft.errors import InputError
from facecraft.service.settings import Settings, load_settings


def test_defaults_need_no_ice_server(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)
    assert settings.ice_servers == [] and settings.max_conversations == 3


def test_ice_servers_and_cap_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACECRAFT_ICE_SERVERS", '[{"urls": "stun:stun.example.org:3478"}, '
                       '{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]')
    monkeypatch.setenv("FACECRAFT_MAX_CONVERSATIONS", "5")
    settings = load_settings(tmp_path)
    assert settings.max_conversations == 5
    assert [s.as_dict() for s in settings.ice_servers] == [
        {"urls": "stun:stun.example.org:3478"},
        {"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"},
    ]


@pytest.mark.parametrize(("name", "value", "words"), [
    ("FACECRAFT_ICE_SERVERS", '[{"urls": "http://stun.example.org"}]', "stun:"),
    ("FACECRAFT_ICE_SERVERS", '[{"url": "stun:x"}]', "ice_servers"),
    ("FACECRAFT_ICE_SERVERS", "stun:x", "ice_servers"),
    ("FACECRAFT_MAX_CONVERSATIONS", "0", "max_conversations"),
])
def test_bad_live_settings_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                     words: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(InputError, match=words):
        load_settings(tmp_path)
