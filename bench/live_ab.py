"""Echo first audio on the wire, two versions of the code side by side under the same load.

``bench/live.py``'s latency figures swing 2x between identical runs on a shared, loaded 2-core machine.
This bench runs two sessions of the same Face at once, one on the code under ``--against`` (a ``src``
folder: e.g. ``git archive main src | tar -x -C /tmp/main``) and one on this checkout's, each judged by its
own aiortc client; the same sentence is echoed to each in turn (the order alternating), and the first
audible packet after each echo is timed as ``bench/live.py`` does. Each pair of echoes saw about the same
load, so ``paired_ms_p50`` (against minus this, per sentence) is what the change is worth there.

    python bench/live_ab.py --against /tmp/main/src [--bundle DIR] [--rounds 20] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

from _common import REPO, TESTDATA, live_bundle, machine_info, write_result
from facecraft.conversation import SessionManager
from live import SENTENCES, _connect, _echo, _p, _spec

SIDES = ("against", "this")


async def bench(bundle: Path, against: Path, rounds: int, size: int) -> dict[str, Any]:
    managers: dict[str, SessionManager] = {}
    clients: dict[str, Any] = {}
    heard: dict[str, list[float]] = {side: [] for side in SIDES}
    paired: list[float] = []
    saved = os.environ.get("PYTHONPATH")
    try:
        for side in SIDES:  # each session process imports the code its PYTHONPATH names first
            os.environ["PYTHONPATH"] = str(against) if side == "against" else str(REPO / "src")
            managers[side] = SessionManager(1, lambda e: None)
            await managers[side].start(_spec(bundle, side, size))
            clients[side], _ = await _connect(managers[side], side)
        await asyncio.sleep(6.0)  # each session measures its voice mapping at the start
        for k in range(rounds):
            text = SENTENCES[k % len(SENTENCES)]
            got: dict[str, float] = {}
            for side in (SIDES if k % 2 == 0 else SIDES[::-1]):
                client, inference = clients[side], f"{side}-{k}"
                t = time.monotonic()
                client.send({**_echo(text), "properties": {"text": text, "inference_id": inference}})
                await client.wait_event("conversation.replica.stopped_speaking", 30,
                                        where=lambda e, i=inference: e["inference_id"] == i)
                sound = client.first_sound(t)
                if sound is not None:
                    got[side] = (sound - t) * 1000
                    heard[side].append(got[side])
                await asyncio.sleep(0.3)
            if len(got) == 2:
                paired.append(got["against"] - got["this"])
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
        for client in clients.values():
            await client.close()
        for manager in managers.values():
            await manager.close()
    return {"against": str(against), "rounds": rounds,
            **{f"echo_first_audio_ms_p50_{side}": _p(heard[side], 50) for side in SIDES},
            **{f"echo_first_audio_ms_p95_{side}": _p(heard[side], 95) for side in SIDES},
            "paired_ms_p50": _p(paired, 50), "paired_ms_p25": _p(paired, 25), "paired_ms_p75": _p(paired, 75),
            "samples": {**{side: heard[side] for side in SIDES}, "paired": paired}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--against", type=Path, required=True, help="the src folder of the code to compare with")
    ap.add_argument("--bundle", type=Path, help="a built Face bundle (default: build one from --video)")
    ap.add_argument("--video", type=Path, default=TESTDATA / "video" / "styletalk_Obama_clip2_muxed.mp4")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=20, help="sentences echoed to each session")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "live_ab.json")
    args = ap.parse_args()
    if not (args.against / "facecraft" / "__init__.py").is_file():
        ap.error(f"{args.against} is not a src folder with the facecraft package in it")
    bundle = live_bundle(args.bundle, args.video, "bench live")
    load_before = os.getloadavg()
    result = asyncio.run(bench(bundle, args.against.resolve(), args.rounds, args.size))
    load_after = os.getloadavg()
    print(f"\necho text -> first audible packet, two sessions side by side, load average {load_before[0]:.1f} "
          f"before, {load_after[0]:.1f} after")
    for key, value in result.items():
        if isinstance(value, (int, float)) or value is None:
            print(f"{key:34} {value if value is not None else '-':>10}")
    write_result(args.out, {"bench": "live_ab", "size": args.size, "bundle": str(bundle),
                            "machine": machine_info(load_average_before=[round(x, 2) for x in load_before],
                                                    load_average_after=[round(x, 2) for x in load_after]),
                            **result})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
