"""The PAL's LLM: answer quality on a fixed set of conversational turns, and how fast the answers come.

    .venv/bin/python bench/llm.py [--out bench/results/llm.json] [--base-url URL --api-key KEY --model M]

The turns (``bench/data/llm_prompts.json``) are asked of a museum-guide PAL the way a conversation asks
them: the PAL's system prompt and context are prefilled once (the cached prefix), each turn sends the
prefix, the passages that ``facecraft.knowledge`` retrieves for the question from
``bench/data/llm_museum.md`` (BM25, 200-token budget) and the question. Per turn: time to the first
token, tokens per second (streamed pieces; llama.cpp streams one token per piece), the answer (printed)
and whether it holds an expected word (or avoids a forbidden one). Per model: load time and the cold
time to first token (the same prefix, not prefilled). Every embedded model of ``facecraft.llm.catalog``
is run, plus an OpenAI-compatible endpoint when ``--base-url`` is given.

Speeds on a shared machine are noisy: compare models within one run; the integrator re-runs on a quiet one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any

from _common import REPO, machine_info, write_result
from facecraft.conversation.llm import pal_instruction
from facecraft.knowledge import KnowledgeBase, chunk_text, extract_text, format_hits
from facecraft.llm.catalog import DEFAULT_MODEL, EMBEDDED_MODELS
from facecraft.llm.local import LocalLLM
from facecraft.llm.remote import RemoteLLM
from facecraft.llm.types import ChatLLM, GenerationOptions

PROMPTS = REPO / "bench" / "data" / "llm_prompts.json"
KNOWLEDGE_BUDGET = 200


def passes(turn: dict[str, Any], answer: str) -> bool:
    text = answer.lower()
    if "expect_any" in turn and not any(word in text for word in turn["expect_any"]):
        return False
    return not any(word in text for word in turn.get("expect_none", ()))


async def timed_answer(llm: ChatLLM, messages: list[dict[str, Any]], options: GenerationOptions
                       ) -> tuple[float, float, int, str]:
    """(seconds to the first token, total seconds, pieces, answer)."""
    started, first, pieces, parts = time.perf_counter(), None, 0, []
    async for delta in llm.stream(messages, options):
        if delta.text:
            first = first if first is not None else time.perf_counter() - started
            pieces += 1
            parts.append(delta.text)
    total = time.perf_counter() - started
    return (first if first is not None else total), total, pieces, "".join(parts).strip()


async def bench_model(label: str, llm: ChatLLM, spec: dict[str, Any], kb: KnowledgeBase) -> dict[str, Any]:
    system = {"role": "system", "content": pal_instruction(spec["pal"]["system_prompt"], spec["pal"]["context"])}
    options = GenerationOptions(first_token_timeout_s=600, stall_timeout_s=120)
    row: dict[str, Any] = {"model": label}
    started = time.perf_counter()
    if isinstance(llm, LocalLLM):
        await asyncio.to_thread(llm.load)
        row["load_s"] = time.perf_counter() - started
    # Cold: the whole prefix processed in the turn (what a session without prefill would pay).
    cold, _, _, _ = await timed_answer(llm, [system, {"role": "user", "content": "Hello!"}], options)
    row["cold_ttft_s"] = cold
    # A different prefix in between, so that the prefill below really processes the PAL's prompt.
    await timed_answer(llm, [{"role": "system", "content": "You are a helpful assistant."},
                             {"role": "user", "content": "Hi"}], GenerationOptions(max_tokens=1))
    started = time.perf_counter()
    await llm.prefill([system])
    row["prefill_s"] = time.perf_counter() - started
    turns = []
    for turn in spec["turns"]:
        messages = [system]
        hits = kb.search(turn["question"], budget_tokens=KNOWLEDGE_BUDGET) if turn["kind"] == "knowledge" else []
        if hits:
            messages.append({"role": "system", "content": "Facts you may use:\n" + format_hits(hits)})
        messages.append({"role": "user", "content": turn["question"]})
        ttft, total, pieces, answer = await timed_answer(llm, messages, options)
        gen_s = max(total - ttft, 1e-6)
        turns.append({
            "id": turn["id"], "kind": turn["kind"], "question": turn["question"], "answer": answer,
            "passed": passes(turn, answer), "ttft_s": ttft, "total_s": total, "tokens": pieces,
            "tokens_per_s": (pieces - 1) / gen_s if pieces > 1 else 0.0, "knowledge_chunks": len(hits),
        })
        print(f"[{label}] {turn['id']:>9}: {ttft:5.2f} s  {'ok ' if turns[-1]['passed'] else 'BAD'}  {answer}",
              file=sys.stderr)
    row["turns"] = turns
    row["passed"] = sum(t["passed"] for t in turns)
    row["ttft_cached_p50_s"] = statistics.median(t["ttft_s"] for t in turns)
    row["ttft_cached_max_s"] = max(t["ttft_s"] for t in turns)
    row["tokens_per_s_p50"] = statistics.median(t["tokens_per_s"] for t in turns if t["tokens"] > 1)
    await llm.aclose()
    return row


def print_table(rows: list[dict[str, Any]], n_turns: int) -> None:
    print(f"\n{'model':<34} {'load s':>7} {'cold TTFT':>10} {'cached TTFT p50':>16} {'max':>6} {'tok/s':>6} "
          f"{'right':>6}")
    for r in rows:
        if "error" in r:
            print(f"{r['model']:<34} error: {r['error']}")
            continue
        print(f"{r['model']:<34} {r.get('load_s', float('nan')):7.1f} {r['cold_ttft_s']:10.2f} "
              f"{r['ttft_cached_p50_s']:16.2f} {r['ttft_cached_max_s']:6.2f} {r['tokens_per_s_p50']:6.1f} "
              f"{r['passed']:>3}/{n_turns}")
    print()
    for r in rows:
        for t in r.get("turns", []):
            print(f"{r['model']} | {t['question']}\n    -> {t['answer']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "llm.json"))
    parser.add_argument("--base-url", default=None, help="also bench an OpenAI-compatible endpoint")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--model", default=None, help="the endpoint's model name")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    spec = json.loads(PROMPTS.read_text(encoding="utf-8"))
    document = REPO / spec["document"]
    kb = KnowledgeBase(chunk_text(extract_text(document, kind="md"), target_tokens=40))
    backends: list[tuple[str, Any]] = [
        (name, lambda name=name: LocalLLM(name, threads=args.threads)) for name in EMBEDDED_MODELS
    ]
    if args.base_url:
        backends.append((f"{args.model or 'default'} at {args.base_url}",
                         lambda: RemoteLLM(args.base_url, model=args.model, api_key=args.api_key)))
    rows = []
    for label, make in backends:
        try:
            rows.append(asyncio.run(bench_model(label, make(), spec, kb)))
        except Exception as exc:  # noqa: BLE001 - reported in the table and the JSON
            rows.append({"model": label, "error": f"{type(exc).__name__}: {exc}"})
    print_table(rows, len(spec["turns"]))
    write_result(args.out, {
        "machine": machine_info(threads=args.threads),
        "default_model": DEFAULT_MODEL,
        "knowledge_budget_tokens": KNOWLEDGE_BUDGET,
        "models": rows,
    })
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
