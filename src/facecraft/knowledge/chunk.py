"""Cutting a document's text into passages a retriever can rank and an LLM prompt can hold.

A passage is a run of whole sentences of about ``target_tokens`` tokens, never crossing a paragraph
boundary unless the paragraph is short; a sentence longer than a passage is cut at word boundaries.
Small passages rank well (BM25 favours focused text) and let the per-turn token budget take several
of them instead of one long one.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Chunk", "chunk_text", "estimate_tokens", "load_passages"]

# End of a sentence: ., ! or ? (optionally closing quotes/brackets), then space and a capital, digit or quote.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_PARAGRAPHS = re.compile(r"\n\s*\n")


def estimate_tokens(text: str) -> int:
    """Tokens of ``text`` for a BPE tokenizer of an English LLM: about 4 characters each (an estimate;
    the pipeline may pass the model's own counter where it matters)."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


@dataclass(frozen=True)
class Chunk:
    text: str
    tokens: int
    index: int  # position in its document
    document_id: str = ""
    document_name: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"text": self.text, "tokens": self.tokens, "index": self.index}


def load_passages(path: Path | str, *, document_id: str = "", document_name: str = "") -> list[Chunk]:
    """The passages a document's processing wrote (a JSON list of :meth:`Chunk.to_dict`)."""
    items = json.loads(Path(path).read_text(encoding="utf-8"))
    return [Chunk(str(i["text"]), int(i["tokens"]), int(i["index"]), document_id, document_name) for i in items]


def _sentences(paragraph: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(paragraph.replace("\n", " ")) if s.strip()]


def _split_long(sentence: str, max_tokens: int) -> list[str]:
    words, pieces, current = sentence.split(), [], []  # type: list[str], list[str], list[str]
    for word in words:
        if current and estimate_tokens(" ".join([*current, word])) > max_tokens:
            pieces.append(" ".join(current))
            current = []
        current.append(word[: max_tokens * 4])  # a "word" of megabytes (no spaces) is cut too
    if current:
        pieces.append(" ".join(current))
    return pieces


def chunk_text(
    text: str, *, target_tokens: int = 120, document_id: str = "", document_name: str = ""
) -> list[Chunk]:
    """Passages of whole sentences, each at most ``target_tokens`` (estimated) long."""
    if target_tokens < 8:
        raise ValueError("target_tokens must be at least 8")
    chunks: list[Chunk] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            body = " ".join(current)
            chunks.append(Chunk(body, estimate_tokens(body), len(chunks), document_id, document_name))
            current.clear()

    for paragraph in _PARAGRAPHS.split(text):
        sentences: list[str] = []
        for sentence in _sentences(paragraph):
            sentences.extend(_split_long(sentence, target_tokens) if estimate_tokens(sentence) > target_tokens
                             else [sentence])
        if not sentences:
            continue
        # A new paragraph starts a new passage unless the current one is still short (headings, lines).
        if current and estimate_tokens(" ".join(current)) >= target_tokens // 2:
            flush()
        for sentence in sentences:
            if current and estimate_tokens(" ".join([*current, sentence])) > target_tokens:
                flush()
            current.append(sentence)
    flush()
    return chunks
