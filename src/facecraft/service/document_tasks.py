"""The part of a knowledge document's processing that reads untrusted bytes: run in a child process with
a memory and time budget (``facecraft.service.isolation``), never in the API process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from facecraft.knowledge import chunk_text, detect_kind, extract_text

__all__ = ["extract_document_task", "PASSAGE_TOKENS"]

PASSAGE_TOKENS = 120


def extract_document_task(payload: dict[str, Any], send: Any) -> dict[str, Any]:
    """Detect the kind, extract the text, cut it into passages and write them to ``payload["out"]``."""
    path = Path(payload["path"])
    with open(path, "rb") as fh:
        head = fh.read(8192)
    kind = detect_kind(head, file_name=payload.get("file_name") or "", content_type=payload.get("content_type") or "")
    text = extract_text(path, kind=kind)
    chunks = chunk_text(text, target_tokens=PASSAGE_TOKENS, document_id=payload["document_id"],
                        document_name=payload.get("document_name") or "")
    out = Path(payload["out"])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps([c.to_dict() for c in chunks], ensure_ascii=False), encoding="utf-8")
    tmp.replace(out)
    return {"kind": kind, "chars": len(text), "chunks": len(chunks)}
