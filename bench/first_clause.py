"""A PAL reply's first clause: how many of the LLM's tokens it waits for and what its first audio costs.

The stock PAL's embedded LLM answers the caller questions of ``bench/data/stt_questions.txt`` (the turns of
``bench/conversation.py``); each streamed answer is replayed, token by token, through ``ReplyAssembler``'s
rules twice: ``old`` (a sentence ends at the space after its stop, a first clause only at a comma) and
``new`` (``eager_first``: the first sentence ends at its full stop, a long one with no comma is cut before
a phrase word). Per answer: the tokens written before the first clause goes to the voice (one more, the
answer's end, where the whole answer is one sentence), the clause, and the CPU time (``time.thread_time``:
the load barely moves it) of its first piece of speech in the stock Face's voice (Piper, then the WORLD
shift of the first part, as a live session does it: ``FaceVoice.pieces``). The slow-LLM rule (a clause of
any length 0.3 s after the first token) is left out of both: it depends on the machine's speed.

``saved_ms`` per answer = fewer tokens x the token time given by ``--token-ms`` (default: 35 ms; bench/llm.py
measured 36 tokens/s, 28 ms, alone at load 2; the rate measured here is printed, load-dependent) + the
first piece's CPU saved. Where the new rule cuts inside a sentence, ``gap_ms``: how long the rest of the
sentence (its remaining tokens, then all of its speech's CPU) would come after the first part has played
(0: in time; the renderer plays late speech after a silence).

    python bench/first_clause.py [--voice ada-us] [--token-ms 35] [--out FILE]
"""

from __future__ import annotations

import _session_env  # noqa: F401  # isort: skip  (first: the session's thread settings before libraries load)
import argparse
import asyncio
import os
import statistics
import time
from typing import Any

from _common import REPO, machine_info, stt_questions, write_result


def first_clause(pieces: list[str], eager: bool) -> tuple[str, int]:
    """The first clause ``ReplyAssembler`` sends to the voice and the tokens written until then."""
    from facecraft.conversation.pal_pipeline import ReplyAssembler

    assembler = ReplyAssembler(short_clause_after_s=None, eager_first=eager)
    for k, piece in enumerate(pieces):
        assembler._text += piece  # noqa: SLF001 - its cutting rule alone, token by token
        cut = assembler._sentence_end()  # noqa: SLF001
        if cut is not None:
            return assembler._text[:cut].strip(), k + 1  # noqa: SLF001
    return "".join(pieces).strip(), len(pieces) + 1  # said at the answer's end (its end token)


def spoken(voice: Any, text: str, reply_start: bool) -> tuple[float, float]:
    """(seconds of speech, CPU ms) of all of ``text`` in the voice."""
    started = time.thread_time()
    pieces = list(voice.pieces(text, reply_start=reply_start))
    return sum(p.samples.size / p.sample_rate for p in pieces), 1000 * (time.thread_time() - started)


def first_piece_cpu_ms(voice: Any, text: str) -> float:
    started = time.thread_time()
    next(voice.pieces(text, reply_start=True), None)
    return 1000 * (time.thread_time() - started)


async def answers(texts: list[str]) -> tuple[list[list[str]], float]:
    """Each question's answer as streamed pieces, and the median seconds between two pieces."""
    from facecraft.conversation.llm import pal_instruction
    from facecraft.llm.local import LocalLLM
    from facecraft.llm.types import GenerationOptions
    from facecraft.service.stock_pals import STOCK_PALS

    pal = STOCK_PALS[0]
    system = {"role": "system", "content": pal_instruction(pal.system_prompt, pal.context)}
    llm = LocalLLM()
    await llm.prefill([system])
    out, gaps = [], []
    for text in texts:
        pieces, last = [], None
        async for delta in llm.stream([system, {"role": "user", "content": text}],
                                      GenerationOptions(first_token_timeout_s=300, stall_timeout_s=300)):
            if delta.text:
                now = time.perf_counter()
                if last is not None:
                    gaps.append(now - last)
                last = now
                pieces.append(delta.text)
        out.append(pieces)
    await llm.aclose()
    return out, statistics.median(gaps)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--voice", default="ada-us", help="the stock PAL's Face's voice (WORLD-shifted)")
    ap.add_argument("--token-ms", type=float, default=35.0, help="token time for saved_ms (a quiet machine's)")
    ap.add_argument("--passes", type=int, default=3, help="CPU timings per clause (median)")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "first_clause.json"))
    args = ap.parse_args()
    from facecraft.conversation.echo import FaceVoice
    from facecraft.speech.voices import tts_for

    load = os.getloadavg()
    texts = stt_questions()
    streamed, gap_s = asyncio.run(answers(texts))
    voice = FaceVoice(tts_for(args.voice), None)
    first_piece_cpu_ms(voice, "Hello there.")  # Piper loaded
    rows = []
    for question, pieces in zip(texts, streamed, strict=True):
        row: dict[str, Any] = {"question": question, "answer": "".join(pieces).strip()}
        for side, eager in (("old", False), ("new", True)):
            clause, tokens = first_clause(pieces, eager)
            cpu = statistics.median(first_piece_cpu_ms(voice, clause) for _ in range(args.passes))
            row.update({f"{side}_clause": clause, f"{side}_tokens": tokens, f"{side}_cpu_ms": round(cpu, 1)})
        row["saved_ms"] = round((row["old_tokens"] - row["new_tokens"]) * args.token_ms
                                + row["old_cpu_ms"] - row["new_cpu_ms"], 1)
        if row["new_clause"] != row["old_clause"] and row["old_clause"].startswith(row["new_clause"]):
            # a cut inside the sentence: is the rest of it ready before the first part has played? (the LLM
            # writes the rest once released at the first audio, then the voice says it)
            rest = row["old_clause"][len(row["new_clause"]):].strip()
            plays_s, _ = spoken(voice, row["new_clause"], True)
            _, rest_cpu = spoken(voice, rest, False)
            ready_ms = (row["old_tokens"] - row["new_tokens"]) * args.token_ms + rest_cpu
            row.update(rest=rest, first_part_plays_ms=round(1000 * plays_s), rest_ready_ms=round(ready_ms),
                       gap_ms=round(max(0.0, ready_ms - 1000 * plays_s)))
        rows.append(row)
        print(f"{row['old_tokens']:3d} -> {row['new_tokens']:3d} tokens, {row['old_cpu_ms']:6.0f} -> "
              f"{row['new_cpu_ms']:6.0f} ms CPU, saved {row['saved_ms']:6.0f} ms | {row['old_clause']!r} -> "
              f"{row['new_clause']!r}" + (f" gap {row['gap_ms']} ms" if 'gap_ms' in row else ''), flush=True)
    summary = {
        "token_ms_measured_p50": round(1000 * gap_s, 1), "token_ms_assumed": args.token_ms,
        "old_tokens_p50": statistics.median(r["old_tokens"] for r in rows),
        "new_tokens_p50": statistics.median(r["new_tokens"] for r in rows),
        "old_cpu_ms_p50": round(statistics.median(r["old_cpu_ms"] for r in rows), 1),
        "new_cpu_ms_p50": round(statistics.median(r["new_cpu_ms"] for r in rows), 1),
        "saved_ms_p50": round(statistics.median(r["saved_ms"] for r in rows), 1),
        "saved_ms_mean": round(statistics.mean(r["saved_ms"] for r in rows), 1),
        "answers_changed": sum(r["old_clause"] != r["new_clause"] for r in rows),
        "cut_inside_sentence": sum("gap_ms" in r for r in rows),
        "cuts_with_a_gap": sum(r.get("gap_ms", 0) > 0 for r in rows),
    }
    print(f"\nfirst clause, old -> new rules ({len(rows)} answers; load before {load[0]:.1f}, "
          f"after {os.getloadavg()[0]:.1f})")
    for key, value in summary.items():
        print(f"{key:24} {value:>8}")
    write_result(args.out, {"bench": "first_clause", "voice": args.voice,
                            "machine": machine_info(load_average_before=[round(x, 2) for x in load]),
                            **summary, "answers": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
