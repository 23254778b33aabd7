"""How much the embedded LLM, still writing its answer, slows a PAL reply's first audio (Piper + voice).

In a PAL's turn the first clause of the answer goes to the voice while llama.cpp goes on writing the rest
with all its threads; on a 2-core machine both fight for the CPU. This bench times, in pairs run back to
back (the machine is shared: only ratios within a pair mean much), the wall time from a reply's first
sentence to its first piece of speech (``FaceVoice.pieces``: Piper, then the first part's voice step, as a
live session does it) in three conditions:

- ``alone``: nothing else runs in this process (what a paused LLM leaves);
- ``llm``: the LLM streams a long answer meanwhile, with ``--threads`` threads for prompt and generation;
- ``llm_gen1``: the same with one generation thread (the prompt still read with ``--threads``).

Per condition it also reports the LLM's tokens per second while it runs alone (``--tokens`` pieces).

    python bench/reply_contention.py [--voice ada-us] [--pairs 6] [--threads 2] [--out FILE]
"""

from __future__ import annotations

import _session_env  # noqa: F401  # isort: skip  (first: the session's thread settings before libraries load)
import argparse
import asyncio
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _common import REPO, machine_info, write_result

SENTENCES = ("My name is Eileen.", "The museum opens tomorrow at 10:00 AM.", "I'm doing well, thank you!")
STORY = "Tell me a long bedtime story about a little fox who visits the moon."


def first_piece_s(voice: Any, text: str) -> float:
    started = time.perf_counter()
    next(voice.pieces(text, reply_start=True), None)
    return time.perf_counter() - started


async def llm_rate(llm: Any, messages: list[dict[str, str]], tokens: int) -> float:
    """Tokens per second of an answer streamed alone (after its first token)."""
    from facecraft.llm.types import GenerationOptions

    first, n = None, 0
    async for delta in llm.stream(messages, GenerationOptions(max_tokens=tokens, stop=(), first_token_timeout_s=120)):
        if delta.text:
            first = first or time.perf_counter()
            n += 1
    return (n - 1) / max(time.perf_counter() - (first or time.perf_counter()), 1e-6)


async def during_llm(llm: Any, messages: list[dict[str, str]], voice: Any, text: str,
                     executor: ThreadPoolExecutor) -> float:
    """The first piece's wall time while the LLM streams (started after the LLM's first token)."""
    from facecraft.llm.types import GenerationOptions

    started = asyncio.Event()
    stop = asyncio.Event()

    async def run() -> None:
        options = GenerationOptions(max_tokens=400, stop=(), first_token_timeout_s=120)
        async for _ in llm.stream(messages, options):
            started.set()
            if stop.is_set():
                break

    task = asyncio.create_task(run())
    await started.wait()
    await asyncio.sleep(0.1)
    took = await asyncio.get_running_loop().run_in_executor(executor, first_piece_s, voice, text)
    stop.set()
    await task
    return took


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    from facecraft.conversation.echo import FaceVoice
    from facecraft.conversation.llm import pal_instruction
    from facecraft.llm.local import LocalLLM
    from facecraft.service.stock_pals import STOCK_PALS
    from facecraft.speech.voices import tts_for

    pal = STOCK_PALS[0]
    messages = [{"role": "system", "content": pal_instruction(pal.system_prompt, pal.context)},
                {"role": "user", "content": STORY}]
    executor = ThreadPoolExecutor(2)
    voice = FaceVoice(tts_for(args.voice), None)
    for text in SENTENCES:  # Piper loaded, the adaptation pace warmed
        first_piece_s(voice, text)
    llms = {"llm": LocalLLM(threads=args.threads),
            "llm_gen1": LocalLLM(threads=args.threads, gen_threads=1)}
    for llm in llms.values():
        llm.load()
    rows: dict[str, list[float]] = {"alone": [], **{k: [] for k in llms}}
    rates = {k: [] for k in llms}
    for k in range(args.pairs):
        text = SENTENCES[k % len(SENTENCES)]
        rows["alone"].append(first_piece_s(voice, text))
        for name, llm in llms.items():
            rows[name].append(await during_llm(llm, messages, voice, text, executor))
            rates[name].append(await llm_rate(llm, messages, args.tokens))
        print(f"pair {k + 1} ({os.getloadavg()[0]:.1f} load): " + "  ".join(
            f"{n} {1000 * v[-1]:.0f} ms" for n, v in rows.items()), flush=True)
    out: dict[str, Any] = {}
    for name, values in rows.items():
        out[f"{name}_first_piece_ms_p50"] = round(1000 * statistics.median(values), 1)
        out[f"{name}_vs_alone_p50"] = round(statistics.median(
            v / a for v, a in zip(values, rows["alone"], strict=True)), 2)
    for name, values in rates.items():
        out[f"{name}_tokens_per_s_p50"] = round(statistics.median(values), 1)
    return {"raw_ms": {n: [round(1000 * v, 1) for v in vs] for n, vs in rows.items()},
            "raw_tokens_per_s": {n: [round(v, 1) for v in vs] for n, vs in rates.items()}, **out}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--voice", default="ada-us", help="the stock voice (ada-us: the stock PAL's, WORLD-shifted)")
    ap.add_argument("--pairs", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=40, help="pieces streamed for the tokens-per-second figure")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "reply_contention.json"))
    args = ap.parse_args()
    load = os.getloadavg()
    result = asyncio.run(bench(args))
    print(f"\nfirst reply audio vs the LLM writing on (load before {load[0]:.1f}, after {os.getloadavg()[0]:.1f})")
    for key, value in result.items():
        if not key.startswith("raw"):
            print(f"{key:34} {value:>8}")
    write_result(args.out, {"bench": "reply_contention", "voice": args.voice, "threads": args.threads,
                            "machine": machine_info(load_average_before=[round(x, 2) for x in load]), **result})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
