"""The embedded LLM's part of a PAL turn under each thread setting: time to first token and to the first clause.

In a live turn the prompt's prefix (system instruction, greeting, earlier turns) is cached and llama.cpp reads
only the caller's new words, then writes the answer while the Face's listening frames are rendered and
VP8-encoded beside it on the same two cores (and, on the shared development machine, other people's work).
llama.cpp's threads wait for each other at every step of its graph: a thread that loses its core holds the
others. This bench runs the bench conversation's questions, with the stock PAL's prompt, through one
``LocalLLM`` per setting (``--configs``, ``threads/gen_threads``), the settings taking turns within each
round so that each round's figures saw about the same load. Per setting: ``first_token_ms`` (request -> first
piece), ``clause_ms`` (request -> ``--clause`` pieces, about a first clause), ``ms_per_token`` between them,
medians, and the same divided by the first setting's figure of the same question and round (``*_vs_first``).
A setting named ``T/G:bare`` warms the cache without the opening of the caller's turn (``LocalLLM.prefill``
adds it: the chat template's user header), as before it did: ``--configs 2/2,2/2:bare`` times what it saves.
With ``--listening`` an echo session of the stock Face is connected to an aiortc client meanwhile (its
listening render, VP8 encode and packets: what runs beside the LLM in a session). The process runs with a
session's environment (``manager.SESSION_THREADS``, e.g. ``GOMP_SPINCOUNT``) where the caller's sets none: to
time libgomp's own default, run it with ``GOMP_SPINCOUNT=300000``.

    python bench/llm_turn.py [--configs 2/2,2/1,1/1] [--rounds 4] [--listening] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import REPO, machine_info, stt_questions, write_result
from facecraft.conversation.manager import SESSION_THREADS

for _name, _value in SESSION_THREADS.items():  # as in a live session, before libgomp is loaded
    os.environ.setdefault(_name, _value)




async def one(llm: Any, prefix: list[dict[str, str]], question: str, clause: int,
              bare: bool = False) -> tuple[float, float, float]:
    """(first token s, ``clause`` pieces s, CPU s of this process meanwhile) of the answer to ``question``
    after ``prefix`` was warmed (``bare``: without the opening of the caller's turn)."""
    from facecraft.llm.types import GenerationOptions

    if bare:
        async for _ in llm.stream(prefix, GenerationOptions(max_tokens=1, stop=(), first_token_timeout_s=600)):
            pass
    else:
        await llm.prefill(prefix)  # as LLMWarmFrame does once the Face stopped speaking
    options = GenerationOptions(max_tokens=clause, stop=(), first_token_timeout_s=120, stall_timeout_s=120)
    t0, cpu0 = time.perf_counter(), time.process_time()
    first = last = None
    async for delta in llm.stream([*prefix, {"role": "user", "content": question}], options):
        if delta.text:
            last = time.perf_counter()
            first = first or last
    assert first is not None and last is not None
    return first - t0, last - t0, time.process_time() - cpu0


async def listening(work: Path) -> Any:
    """An echo session of the stock Face with a client connected (None if the Face is not built)."""
    from conversation import stock_bundle, stock_pal
    from facecraft.conversation import SessionManager, SessionSpec
    from facecraft.conversation.client import LiveClient

    _, face_key = stock_pal()
    bundle = stock_bundle(face_key, work)
    manager = SessionManager(1, lambda e: None)
    spec = SessionSpec(conversation_id="llm-turn", bundle_dir=bundle, voice=None, mode="echo",
                       max_call_duration_s=3600, participant_left_timeout_s=60, participant_absent_timeout_s=600,
                       ice_servers=())
    await manager.start(spec)
    client = LiveClient(lambda o: manager.offer("llm-turn", o["sdp"], o["type"]), keep_images=False)
    await client.connect()
    await client.wait_frames(1, timeout=60)
    return manager, client


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    from conversation import stock_pal
    from facecraft.conversation.llm import pal_instruction
    from facecraft.llm.local import LocalLLM

    pal, _ = stock_pal()
    prefix = [{"role": "system", "content": pal_instruction(pal["system_prompt"], pal["context"])},
              {"role": "assistant", "content": pal["greeting"] or "Hello!"}]
    configs = args.configs.split(",")
    llms: dict[str, LocalLLM] = {}
    for name in configs:
        threads, gen = (int(x) for x in name.split(":")[0].split("/"))
        llms[name] = LocalLLM(threads=threads, gen_threads=gen)
        llms[name].load()
    qs = stt_questions()[:args.questions]
    for llm in llms.values():  # each model's first request pays for its first allocation
        await one(llm, prefix, qs[0], args.clause)
    bare = {name: name.endswith(":bare") for name in configs}
    side = await listening(args.work) if args.listening else None
    rows: dict[str, list[tuple[float, float, float]]] = {n: [] for n in configs}
    loads = []
    try:
        for r in range(args.rounds):
            for q, question in enumerate(qs):
                k = r * len(qs) + q
                for name in configs[k % len(configs):] + configs[:k % len(configs)]:
                    rows[name].append(await one(llms[name], prefix, question, args.clause, bare[name]))
                loads.append(os.getloadavg()[0])
            print(f"round {r + 1} (load {loads[-1]:.1f}): " + "  ".join(
                f"{n} {1000 * statistics.median(x[0] for x in v[-len(qs):]):.0f}/"
                f"{1000 * statistics.median(x[1] for x in v[-len(qs):]):.0f} ms" for n, v in rows.items()), flush=True)
    finally:
        if side is not None:
            await side[1].close()
            await side[0].close()
        for llm in llms.values():
            await llm.aclose()
    base = rows[configs[0]]
    out: dict[str, Any] = {"load_p50": round(statistics.median(loads), 2)}
    for name, values in rows.items():
        per_token = [(c - f) / max(1, args.clause - 1) for f, c, _ in values]
        out[name] = {
            "first_token_ms_p50": round(1000 * statistics.median(r[0] for r in values), 1),
            "clause_ms_p50": round(1000 * statistics.median(r[1] for r in values), 1),
            "ms_per_token_p50": round(1000 * statistics.median(per_token), 1),
            # CPU of the whole process (llama.cpp's threads: computing and spinning at its barriers) per wall
            "cpu_per_wall_p50": round(statistics.median(u / c for _, c, u in values), 2),
            "first_token_vs_first_p50": round(statistics.median(r[0] / b[0] for r, b in zip(values, base)), 2),
            "clause_vs_first_p50": round(statistics.median(r[1] / b[1] for r, b in zip(values, base)), 2),
            "raw_ms": [[round(1000 * x) for x in r] for r in values]}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default="2/2,2/1,1/1",
                    help="comma-separated threads/gen_threads settings; the first is the baseline")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--questions", type=int, default=4)
    ap.add_argument("--clause", type=int, default=8, help="pieces of the answer timed (about a first clause)")
    ap.add_argument("--listening", action="store_true", help="a connected echo session renders beside the LLM")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "facecraft-bench-conversation")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "llm_turn.json")
    args = ap.parse_args()
    load_before = os.getloadavg()
    result = asyncio.run(bench(args))
    print(f"\nembedded LLM, a turn's answer (load before {load_before[0]:.1f}, during p50 {result['load_p50']})")
    print(f"{'setting':12} {'first token':>12} {'clause':>9} {'ms/token':>9} {'cpu/wall':>9} {'1st vs base':>12} "
          f"{'clause vs':>10}")
    for name, r in result.items():
        if isinstance(r, dict):
            print(f"{name:12} {r['first_token_ms_p50']:>12} {r['clause_ms_p50']:>9} {r['ms_per_token_p50']:>9} "
                  f"{r['cpu_per_wall_p50']:>9} "
                  f"{r['first_token_vs_first_p50']:>12} {r['clause_vs_first_p50']:>10}")
    write_result(args.out, {"bench": "llm_turn", "configs": args.configs, "rounds": args.rounds,
                            "env": {k: os.environ[k] for k in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY") if k in os.environ},
                            "clause": args.clause, "listening": args.listening,
                            "machine": machine_info(load_average_before=[round(x, 2) for x in load_before]),
                            **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
