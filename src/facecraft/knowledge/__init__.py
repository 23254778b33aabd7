"""Knowledge for PALs: documents turned into text, cut into chunks, and searched per turn.

A leaf package (it knows nothing of faces, speech or HTTP): ``extract_text`` reads txt, md, pdf and
html; ``chunk_text`` cuts the text into passages of a few sentences; ``KnowledgeBase`` ranks passages
with BM25 (``bm25s``) and ``KnowledgeBase.search`` returns the most relevant ones that fit a token
budget, which is what the conversation pipeline puts into the LLM's context on each turn.
"""

from facecraft.knowledge.chunk import Chunk, chunk_text, estimate_tokens, load_passages
from facecraft.knowledge.extract import (
    DOCUMENT_KINDS,
    DocumentError,
    ExtractLimits,
    detect_kind,
    extract_text,
)
from facecraft.knowledge.index import Hit, KnowledgeBase, format_hits

__all__ = [
    "Chunk",
    "chunk_text",
    "estimate_tokens",
    "load_passages",
    "DOCUMENT_KINDS",
    "DocumentError",
    "ExtractLimits",
    "detect_kind",
    "extract_text",
    "Hit",
    "KnowledgeBase",
    "format_hits",
]
