"""The LLMs facecraft runs itself: names a PAL may give as ``layers.llm.model`` and the model files.

Each embedded model is a GGUF file that a set of PyPI "part" wheels ship in byte chunks (see MODELS.md:
the parts are registered in ``facecraft.models`` and the joined file's sha256 here). The default is
chosen by ``bench/llm.py`` (answer quality on the fixed prompts, time to first token on this CPU).
"""

from __future__ import annotations

from dataclasses import dataclass

from facecraft.errors import InputError

__all__ = ["EmbeddedModel", "EMBEDDED_MODELS", "DEFAULT_MODEL", "embedded_model", "is_vendor_alias"]


@dataclass(frozen=True)
class EmbeddedModel:
    name: str  # what a PAL names as layers.llm.model
    description: str
    parts: tuple[str, ...]  # facecraft.models registry keys, joined in this order
    sha256: str  # of the joined GGUF file
    size: int  # bytes of the joined file
    chat_format: str = "chatml"


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {m.name: m for m in (
    EmbeddedModel(
        name="facecraft-qwen2.5-0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (about 38 tokens/s and 0.2 s to the first token "
        "with a cached prompt on 2 CPU cores)",
        parts=tuple(f"qwen25_05b_part{i}" for i in range(1, 7)),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
    ),
)}

DEFAULT_MODEL = "facecraft-qwen2.5-0.5b"

# Model names the vendor's clients send by default (``tavus-cli`` writes ``tavus-gemma-4`` into every
# full-pipeline PAL): without a base_url they mean "the platform's own model", which here is the default.
_VENDOR_PREFIX = "tavus-"


def is_vendor_alias(name: str) -> bool:
    return name.lower().startswith(_VENDOR_PREFIX)


def embedded_model(name: str | None) -> EmbeddedModel:
    """The embedded model for ``name`` (None or a vendor alias: the default); InputError if unknown."""
    if name is None or is_vendor_alias(name):
        return EMBEDDED_MODELS[DEFAULT_MODEL]
    if name not in EMBEDDED_MODELS:
        raise InputError(f"{name!r} is not an embedded model; give a base_url for an OpenAI-compatible "
                         f"endpoint, or one of {', '.join(EMBEDDED_MODELS)}")
    return EMBEDDED_MODELS[name]
