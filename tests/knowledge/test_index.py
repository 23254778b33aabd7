"""Passages and BM25 retrieval: passages are whole sentences within their size; a question finds the
passage that answers it; the result never exceeds the token budget or the chunk count; a question
sharing no word with the documents finds nothing; hostile text (one word of a megabyte) is cut."""

from __future__ import annotations

from facecraft.knowledge import KnowledgeBase, chunk_text, estimate_tokens, format_hits
from tests.knowledge.docs import MUSEUM_FACTS

FILLER = [f"Room {n} shows minerals, fossils and old maps of the valley." for n in range(60)]


def _kb(target: int = 40) -> KnowledgeBase:
    text = "\n\n".join([" ".join(FILLER[:30]), *MUSEUM_FACTS, " ".join(FILLER[30:])])
    return KnowledgeBase(chunk_text(text, target_tokens=target, document_id="d1", document_name="facts"))


def test_passages_are_whole_sentences_within_the_target() -> None:
    chunks = chunk_text(" ".join(FILLER), target_tokens=40)
    assert len(chunks) > 5 and all(c.tokens <= 40 for c in chunks)
    assert all(c.text.endswith(".") for c in chunks)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    huge = chunk_text("x" * 1_000_000 + " end.", target_tokens=50)
    assert all(c.tokens <= 50 for c in huge)


def test_the_answering_passage_ranks_first() -> None:
    kb = _kb()
    for question, words in [("How much does an adult ticket cost?", "twelve dollars"),
                            ("When does the museum open?", "nine in the morning"),
                            ("Can I borrow a wheelchair?", "Wheelchairs"),
                            ("What does the cafe serve?", "carrot cake")]:
        hits = kb.search(question, budget_tokens=200)
        assert hits and words in hits[0].chunk.text, (question, [h.chunk.text for h in hits])
        assert hits[0].chunk.document_id == "d1"


def test_the_budget_and_count_are_never_exceeded() -> None:
    kb = _kb()
    for budget in (10, 40, 100, 400):
        hits = kb.search("museum minerals fossils maps tickets", budget_tokens=budget, max_chunks=3)
        assert sum(estimate_tokens(h.chunk.text) for h in hits) <= budget and len(hits) <= 3
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert kb.search("anything", budget_tokens=0) == []
    assert "- " in format_hits(kb.search("cafe", budget_tokens=100)) and format_hits([]) == ""


def test_unrelated_or_empty_questions_find_nothing() -> None:
    kb = _kb()
    assert kb.search("quantum chromodynamics lattice") == []
    assert kb.search("   ") == [] and kb.search("the and of") == []  # stop words only
    assert KnowledgeBase([]).search("tickets") == []
