"""BM25 retrieval over passages (``bm25s``, English stop words, Snowball stemming).

A conversation builds one :class:`KnowledgeBase` at its start from the passages of its PAL's documents
(indexing thousands of passages takes milliseconds) and calls :meth:`KnowledgeBase.search` on each turn
with what the caller said: the best-scoring passages that fit the token budget, best first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from facecraft.knowledge.chunk import Chunk, estimate_tokens

__all__ = ["Hit", "KnowledgeBase", "format_hits"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float


def _stemmer():  # noqa: ANN202 - snowballstemmer's class is untyped
    import snowballstemmer

    return snowballstemmer.stemmer("english")


class KnowledgeBase:
    """Passages indexed for ranking; immutable once built (build a new one when documents change)."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        import bm25s

        self.chunks = list(chunks)
        self._stem = _stemmer()
        self._retriever = None
        if self.chunks:
            tokens = bm25s.tokenize(
                [c.text for c in self.chunks], stopwords="en", stemmer=self._stem, show_progress=False
            )
            self._retriever = bm25s.BM25()
            self._retriever.index(tokens, show_progress=False)

    def __len__(self) -> int:
        return len(self.chunks)

    def search(
        self,
        query: str,
        *,
        budget_tokens: int = 400,
        max_chunks: int = 4,
        count_tokens: Callable[[str], int] = estimate_tokens,
    ) -> list[Hit]:
        """The passages most relevant to ``query`` whose total size fits ``budget_tokens``, best first.

        Passages that share no word with the query (score 0) are never returned; a passage larger than
        what is left of the budget is skipped for a smaller, lower-ranked one.
        """
        import bm25s

        if self._retriever is None or budget_tokens <= 0 or max_chunks <= 0 or not query.strip():
            return []
        query_tokens = bm25s.tokenize(
            [query], stopwords="en", stemmer=self._stem, return_ids=False, show_progress=False
        )
        if not query_tokens or not query_tokens[0]:
            return []
        k = min(len(self.chunks), max(max_chunks * 4, 10))
        ids, scores = self._retriever.retrieve(query_tokens, k=k, show_progress=False)
        hits: list[Hit] = []
        left = budget_tokens
        for idx, score in zip(ids[0], scores[0]):
            if score <= 0 or len(hits) >= max_chunks:
                break
            chunk = self.chunks[int(idx)]
            size = count_tokens(chunk.text)
            if size <= left:
                hits.append(Hit(chunk, float(score)))
                left -= size
        return hits


def format_hits(hits: Sequence[Hit]) -> str:
    """The passages as one block of text for the LLM's context (empty when there are none)."""
    if not hits:
        return ""
    return "\n".join(f"- {hit.chunk.text}" for hit in hits)
