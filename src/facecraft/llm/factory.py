"""The LLM a PAL asks for: its ``layers.llm`` (or the server's defaults) turned into a backend.

``base_url`` set (on the PAL, else in the server settings): :class:`~facecraft.llm.remote.RemoteLLM`;
otherwise the embedded model it names (vendor model names and none mean the default embedded model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from facecraft.llm.catalog import embedded_model
from facecraft.llm.types import ChatLLM, GenerationOptions

__all__ = ["LLMDefaults", "make_llm", "generation_options"]


@dataclass(frozen=True)
class LLMDefaults:
    """Server-wide settings (``FACECRAFT_LLM_*``) used where a PAL gives none."""

    base_url: str | None = None
    api_key: str | None = None
    model: str | None = None
    threads: int = 2
    first_token_timeout_s: float = 20.0
    stall_timeout_s: float = 10.0


def make_llm(llm_layer: dict[str, Any] | None, defaults: LLMDefaults | None = None) -> ChatLLM:
    layer = llm_layer or {}
    defaults = defaults or LLMDefaults()
    base_url = layer.get("base_url") or defaults.base_url
    if base_url:
        from facecraft.llm.remote import RemoteLLM

        same_server = not layer.get("base_url")
        return RemoteLLM(
            base_url,
            model=layer.get("model") or defaults.model,
            api_key=layer.get("api_key") or (defaults.api_key if same_server else None),
            headers={str(k): str(v) for k, v in (layer.get("headers") or {}).items()},
        )
    from facecraft.llm.local import LocalLLM

    return LocalLLM(embedded_model(layer.get("model") or defaults.model), threads=defaults.threads)


def generation_options(llm_layer: dict[str, Any] | None, defaults: LLMDefaults | None = None,
                       **overrides: Any) -> GenerationOptions:
    """Options of a PAL's requests: its tools and extra_body, the server's timeouts."""
    layer = llm_layer or {}
    defaults = defaults or LLMDefaults()
    values: dict[str, Any] = {
        "tools": tuple(layer.get("tools") or ()),
        "extra_body": dict(layer.get("extra_body") or {}),
        "first_token_timeout_s": defaults.first_token_timeout_s,
        "stall_timeout_s": defaults.stall_timeout_s,
    }
    values.update(overrides)
    return GenerationOptions(**values)
