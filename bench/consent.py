"""Consent checks, measured: the thresholds of ``faces.identity`` and ``faces.consent``.

1. Identity (consent clip vs training footage): dlib face embeddings of two stretches of every clip in
   ``../shared/testdata/video`` and ``corpus/``. Same-person pairs: the two stretches of one clip, and two
   different recordings of one person (Obama appears in three); different-person pairs: every pair of
   people. Reports the distance distributions, the false accept / false reject rates at the threshold in
   use and the equal error rate.
2. Statement: the consent statement spoken by Piper (clean, with noise, after a few seconds of other
   speech) against the openings of every clip (none says it): recognised-word coverage of each.

Prints a table and writes ``bench/results/consent.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info  # noqa: E402
from facecraft import media  # noqa: E402
from facecraft.faces.consent import MIN_COVERAGE, STATEMENT, match_statement, recognise_opening  # noqa: E402
from facecraft.faces.identity import SAME_PERSON_DISTANCE, clip_identity, embedding_distance  # noqa: E402

TESTDATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"


def person(path: Path) -> str:
    """Who a clip shows: one person per clip, except the named recordings of one person."""
    for name in ("Obama", "Trump"):
        if name.lower() in path.name.lower():
            return name
    return path.stem


def clips() -> list[Path]:
    found = sorted((TESTDATA / "video").glob("*.mp4")) + sorted((TESTDATA / "corpus").glob("*.mp4"))
    return [p for p in found if not p.name.endswith("_muxed.mp4")]  # the same footage as its unmuxed twin


def rates(same: list[float], different: list[float], threshold: float) -> tuple[float, float]:
    frr = float(np.mean([d > threshold for d in same])) if same else 0.0
    far = float(np.mean([d <= threshold for d in different])) if different else 0.0
    return far, frr


def equal_error(same: list[float], different: list[float]) -> tuple[float, float]:
    """(equal error rate, the threshold where false accepts and false rejects cross)."""
    grid = []
    for t in np.linspace(0.2, 1.0, 161):
        far, frr = rates(same, different, float(t))
        grid.append((abs(far - frr), max(far, frr), float(t)))
    _, eer, at = min(grid)
    return eer, at


def identity_bench() -> dict:
    stretches: dict[Path, list[np.ndarray]] = {}
    for clip in clips():
        dur = media.probe(clip).duration_s
        half = min(10.0, dur / 2)
        parts = [
            clip_identity(clip, start_s=0.0, end_s=half),
            clip_identity(clip, start_s=half, end_s=2 * half),
        ]
        embs = [p.embedding for p in parts if p.embedding is not None]
        print(f"  {clip.name:45s} faces {[p.faces for p in parts]}", flush=True)
        if embs:
            stretches[clip] = embs
    same, different, same_pairs = [], [], []
    for clip, embs in stretches.items():
        if len(embs) == 2:
            same.append(embedding_distance(embs[0], embs[1]))
            same_pairs.append(("stretches", clip.name, round(same[-1], 3)))
    for a, b in itertools.combinations(stretches, 2):
        d = embedding_distance(stretches[a][0], stretches[b][0])
        if person(a) == person(b):
            same.append(d)
            same_pairs.append(("recordings", f"{a.name} / {b.name}", round(d, 3)))
        else:
            different.append(d)
    far, frr = rates(same, different, SAME_PERSON_DISTANCE)
    eer, at = equal_error(same, different)
    return {
        "clips": len(stretches),
        "same_pairs": len(same),
        "different_pairs": len(different),
        "same_distance": {"median": float(np.median(same)), "max": float(np.max(same))},
        "different_distance": {"median": float(np.median(different)), "min": float(np.min(different))},
        "threshold": SAME_PERSON_DISTANCE,
        "false_accept_rate": far,
        "false_reject_rate": frr,
        "equal_error_rate": eer,
        "eer_threshold": at,
        "same_person_pairs": same_pairs,
    }


def statement_bench() -> dict:
    from facecraft.speech.tts import PiperTTS

    tts = PiperTTS()
    rng = np.random.default_rng(0)
    positives = []
    for name in ("Jordan Lee", "Maria Gonzalez", "Wei Chen"):
        speech, sr, _ = tts.synthesize(STATEMENT.replace("[FULL NAME]", name))
        lead, _, _ = tts.synthesize("Hello. Let me start by reading the statement.")
        variants = {
            "clean": speech,
            "noise -30 dB": speech + 0.01 * rng.standard_normal(len(speech)).astype(np.float32),
            "after other speech": np.concatenate([lead, np.zeros(sr // 2, np.float32), speech]),
        }
        for what, samples in variants.items():
            match = match_statement(recognise_opening(samples, sr))
            positives.append(
                {"name": name, "variant": what, "coverage": round(match.coverage, 3), "span": match.span}
            )
    negatives = []
    for clip in sorted((TESTDATA / "video").glob("*.mp4")) + sorted((TESTDATA / "corpus").glob("*.mp4")):
        try:
            audio = media.read_audio(clip, sample_rate=16000, max_s=45)
        except Exception:  # noqa: BLE001 - a clip without audio says nothing
            continue
        match = match_statement(recognise_opening(audio.samples, 16000))
        negatives.append({"clip": clip.name, "coverage": round(match.coverage, 3)})
    pos = [p["coverage"] for p in positives]
    neg = [n["coverage"] for n in negatives]
    return {
        "threshold": MIN_COVERAGE,
        "positives": positives,
        "negatives_max": max(neg),
        "negatives": negatives,
        "accepted_positives": float(np.mean([c >= MIN_COVERAGE for c in pos])),
        "accepted_negatives": float(np.mean([c >= MIN_COVERAGE for c in neg])),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "consent.json")
    args = parser.parse_args()
    t0 = time.time()
    print("identity: embeddings per clip")
    identity = identity_bench()
    print("statement: recognition of the consent statement")
    statement = statement_bench()
    print()
    print(
        f"identity  clips {identity['clips']}, same pairs {identity['same_pairs']}, "
        f"different pairs {identity['different_pairs']}"
    )
    print(
        f"          same distance median {identity['same_distance']['median']:.3f} max "
        f"{identity['same_distance']['max']:.3f}; different median "
        f"{identity['different_distance']['median']:.3f} min {identity['different_distance']['min']:.3f}"
    )
    print(
        f"          at threshold {identity['threshold']:.2f}: FAR {identity['false_accept_rate']:.3f} "
        f"FRR {identity['false_reject_rate']:.3f}; EER {identity['equal_error_rate']:.3f} at "
        f"{identity['eer_threshold']:.3f}"
    )
    print(
        f"statement threshold {statement['threshold']:.2f}: positives accepted "
        f"{statement['accepted_positives']:.0%} ({[p['coverage'] for p in statement['positives']]}), "
        f"negatives accepted {statement['accepted_negatives']:.0%} (max {statement['negatives_max']:.2f})"
    )
    result = {
        "machine": machine_info(),
        "seconds": round(time.time() - t0, 1),
        "identity": identity,
        "statement": statement,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
