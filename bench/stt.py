"""Speech recognition benchmark: word error rate and latency of the recognisers the project ships.

    .venv/bin/python bench/stt.py [--out bench/results/stt.json] [--voices joe-us,ada-us,...] [--limit N]

Two sets of utterances:

- **recorded**: the real recordings with known transcripts in ../shared/testdata/speech (JFK, a LibriVox
  reading, a GRID sentence; see its SOURCES.md);
- **questions**: the conversational questions of ``bench/data/stt_questions.txt``, spoken by several stock
  voices (``speech.voices``: Piper's joe-us as shipped and voice-shifted stock voices built on it, the way a
  Face's adapted voice is made, plus Debian flite voices where flite is installed) — what a caller asks.

Per recogniser: corpus WER (jiwer, after ``speech.asr.normalise_words``) with substitutions, deletions and
insertions, WER per set and per voice, latency per utterance (wall seconds: median, p95), the real-time
factor (processing / audio seconds, wall and CPU) and the first call's extra cost (model loading). Wall time
on the shared 2-core development machine is noisy: compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from _common import REPO, TESTDATA, machine_info, stt_questions, write_result
from facecraft.media import read_audio
from facecraft.speech.asr import (
    LIVE_WINDOW_S,
    ASRBackend,
    PocketSphinxASR,
    WhisperASR,
    normalise_words,
    wer_measures,
)
from facecraft.speech.voices import get_voice, tts_for, voice_available

SPEECH = TESTDATA / "speech"
RECORDED = (
    ("jfk", "whisper_jfk.flac", "whisper_jfk.txt"),
    ("librivox", "pocketsphinx_librivox_0870.wav", "pocketsphinx_librivox_0870.txt"),
    ("grid", "grid_id2_vcd_swwp2s_16k.wav", "grid_id2_vcd_swwp2s_16k.txt"),
)
DEFAULT_VOICES = "joe-us,ada-us,sam-us,grace-us,rms-us,slt-us"
RECOGNISERS: dict[str, Any] = {
    "whisper_tiny_en": lambda: WhisperASR(beam_size=1),
    "whisper_tiny_en_beam5": lambda: WhisperASR(beam_size=5),
    # what a live conversation runs (speech.remote.make_stt): words only, no fallback, a 15 s encoder window
    "whisper_tiny_en_live": lambda: WhisperASR(beam_size=1, word_timings=False, window_s=LIVE_WINDOW_S),
    # the same in Whisper's full 30 s window (the live recogniser before the short window)
    "whisper_tiny_en_live_30s": lambda: WhisperASR(beam_size=1, word_timings=False),
    "pocketsphinx": PocketSphinxASR,
}

log = logging.getLogger("bench.stt")



def utterances(voices: list[str], limit: int | None) -> list[dict[str, Any]]:
    """Every utterance: set, voice, reference text, samples and rate."""
    items: list[dict[str, Any]] = []
    for key, audio_name, text_name in RECORDED:
        if not (SPEECH / audio_name).exists():
            log.warning("%s missing: the recorded set is skipped (no ../shared/testdata)", SPEECH / audio_name)
            break
        audio = read_audio(SPEECH / audio_name)
        items.append({"set": "recorded", "voice": key, "reference": (SPEECH / text_name).read_text().strip(),
                      "samples": audio.samples, "rate": audio.sample_rate})
    texts = stt_questions()[:limit]
    for name in voices:
        voice = get_voice(name)
        if not voice_available(voice):
            log.warning("voice %s is not available here (flite missing): skipped", name)
            continue
        tts = tts_for(voice, deterministic=True)
        for text in texts:
            samples, rate, _ = tts.synthesize(text)
            # a caller's turn reaches the recogniser with a little silence either side (the VAD's padding)
            pad = np.zeros(int(0.3 * rate), dtype=np.float32)
            items.append({"set": "questions", "voice": voice.voice_id, "reference": text,
                          "samples": np.concatenate([pad, samples, pad]), "rate": rate})
    return items


def run_recogniser(name: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    c0, w0 = time.process_time(), time.perf_counter()
    asr: ASRBackend = RECOGNISERS[name]()
    # the first call loads the model: timed apart, on a short utterance, then excluded from the latencies
    warm = items[-1]
    asr.transcribe(warm["samples"], warm["rate"])
    first_call_s = time.perf_counter() - w0
    rows = []
    for item in items:
        c1, w1 = time.process_time(), time.perf_counter()
        try:
            text = asr.transcribe(item["samples"], item["rate"]).text
        except Exception as exc:  # noqa: BLE001 - a failure is a result of the bench, kept with its reason
            log.warning("%s failed on %r: %s", name, item["reference"], exc)
            text = ""
        wall, cpu = time.perf_counter() - w1, time.process_time() - c1
        audio_s = item["samples"].size / item["rate"]
        rows.append({"set": item["set"], "voice": item["voice"], "reference": item["reference"], "text": text,
                     "audio_s": round(audio_s, 3), "wall_s": round(wall, 4), "cpu_s": round(cpu, 4),
                     "wer": wer_measures([item["reference"]], [text])["wer"]})
    return {"first_call_s": round(first_call_s, 3), "total_cpu_s": round(time.process_time() - c0, 2),
            "utterances": rows, **summary(rows)}


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    walls = np.array([r["wall_s"] for r in rows])
    audio = sum(r["audio_s"] for r in rows)
    out: dict[str, Any] = {
        **wer_measures([r["reference"] for r in rows], [r["text"] for r in rows]),
        "latency_p50_s": float(np.median(walls)),
        "latency_p95_s": float(np.percentile(walls, 95)),
        "rtf_wall": float(walls.sum() / audio),
        "rtf_cpu": float(sum(r["cpu_s"] for r in rows) / audio),
        "sentences_exact": sum(normalise_words(r["reference"]) == normalise_words(r["text"]) for r in rows),
        "sentences": len(rows),
    }
    for key in ("set", "voice"):
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            groups.setdefault(r[key], []).append(r)
        out[f"wer_by_{key}"] = {g: round(wer_measures([r["reference"] for r in rs], [r["text"] for r in rs])["wer"], 4)
                                for g, rs in groups.items()}
    questions_only = [r for r in rows if r["set"] == "questions"]
    if questions_only:
        q = np.array([r["wall_s"] for r in questions_only])
        out["questions_latency_p50_s"] = float(np.median(q))
        out["questions_latency_p95_s"] = float(np.percentile(q, 95))
    return out


def print_table(results: dict[str, dict[str, Any]]) -> None:
    header = (f"{'recogniser':24} {'WER':>6} {'WER rec':>8} {'WER q':>6} {'S/D/I':>10} {'p50 s':>6} "
              f"{'p95 s':>6} {'q p50':>6} {'RTF':>5} {'RTFcpu':>6} {'load s':>6}")
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        by_set = r["wer_by_set"]
        sdi = f"{r['substitutions']}/{r['deletions']}/{r['insertions']}"
        print(f"{name:24} {r['wer']:6.3f} {by_set.get('recorded', float('nan')):8.3f} "
              f"{by_set.get('questions', float('nan')):6.3f} {sdi:>10} {r['latency_p50_s']:6.3f} "
              f"{r['latency_p95_s']:6.3f} {r.get('questions_latency_p50_s', float('nan')):6.3f} "
              f"{r['rtf_wall']:5.2f} {r['rtf_cpu']:6.2f} {r['first_call_s']:6.2f}")
    print()
    for name, r in results.items():
        print(f"{name}: WER by voice " + ", ".join(f"{v} {w:.3f}" for v, w in r["wer_by_voice"].items()))
    print()
    for name, r in results.items():
        for row in r["utterances"]:
            if row["wer"] > 0:
                print(f"  {name:22} {row['voice']:10} {row['wer']:.2f}  {row['reference'][:60]!r} "
                      f"-> {row['text'][:60]!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "stt.json"))
    parser.add_argument("--voices", default=DEFAULT_VOICES, help="stock voices speaking the questions")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--recognisers", default=",".join(RECOGNISERS))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    items = utterances([v for v in args.voices.split(",") if v], args.limit)
    print(f"{len(items)} utterances, {sum(i['samples'].size / i['rate'] for i in items):.1f} s of audio",
          file=sys.stderr)
    results = {name: run_recogniser(name, items) for name in args.recognisers.split(",")}
    print_table(results)
    default = min(("whisper_tiny_en", "pocketsphinx"), key=lambda n: results[n]["wer"]) \
        if {"whisper_tiny_en", "pocketsphinx"} <= set(results) else None
    write_result(Path(args.out), {
        "machine": machine_info(faster_whisper=version("faster-whisper"), ctranslate2=version("ctranslate2"),
                                pocketsphinx=version("pocketsphinx"), jiwer=version("jiwer"),
                                timing="wall seconds per utterance on the shared machine (noisy); CPU in rtf_cpu"),
        "voices": args.voices.split(","),
        "default": default,
        "default_reason": ("lowest corpus WER of the two embedded recognisers; latency must also stay below "
                           "the turn budget (questions_latency_p50_s)"),
        "recognisers": results,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
