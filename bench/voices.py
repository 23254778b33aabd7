"""Every stock voice, measured: pitch, pace and how well the project's recogniser understands it.

    .venv/bin/python bench/voices.py [--out bench/results/voices.json] [--voices ada-us,slt-us]

Each voice (``speech.voices``) reads the fixed sentences in ``bench/data/voice_sentences.txt`` one by
one, deterministically (Piper's sampling noise off). Per voice: F0 median and quartiles and the
speaking rate in syllables per second of speech (``speech.voice.profile_voice`` over all its
sentences), words per minute over the whole audio, the word error rate of ``speech.asr``'s
PocketSphinx on the sentences (one transcript per sentence, WER over all words), and the difference
in WER points from the unmodified voice (``joe-us``). Target: every voice within 5 WER points of
``joe-us``. Synthesis time is wall time on a shared machine (noisy).
"""

from __future__ import annotations

import argparse
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from _common import REPO, machine_info, write_result
from facecraft.speech.asr import PocketSphinxASR, word_error_rate
from facecraft.speech.voice import profile_voice
from facecraft.speech.voices import DEFAULT_VOICE_ID, get_voice, list_voices, tts_for, voice_available

SENTENCES = REPO / "bench" / "data" / "voice_sentences.txt"
WER_MARGIN_POINTS = 5.0


def read_sentences(path: Path = SENTENCES) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


def measure(voice_id: str, sentences: list[str], asr: PocketSphinxASR) -> dict[str, Any]:
    voice = get_voice(voice_id)
    tts = tts_for(voice, deterministic=True)
    audio: list[np.ndarray] = []
    hypotheses: list[str] = []
    rate = 0
    synth_s = 0.0
    phones = 0
    for sentence in sentences:
        t0 = time.perf_counter()
        samples, rate, alignment = tts.synthesize(sentence)
        synth_s += time.perf_counter() - t0
        phones += len(alignment.phones)
        audio.append(samples)
        hypotheses.append(asr.transcribe(samples, rate).text)
    joined = np.concatenate(audio)
    seconds = joined.size / rate
    profile = profile_voice(joined, rate)
    words = sum(len(s.split()) for s in sentences)
    return {
        "voice_id": voice.voice_id,
        "gender": voice.gender,
        "engine": voice.engine,
        "description": voice.description,
        "f0_median_hz": round(profile.f0_median_hz, 1),
        "f0_q25_hz": round(profile.f0_q25_hz, 1),
        "f0_q75_hz": round(profile.f0_q75_hz, 1),
        "syllables_per_s": round(profile.speaking_rate_sps, 2),
        "words_per_min": round(60.0 * words / seconds, 1),
        "audio_s": round(seconds, 2),
        "phones": phones,
        "wer": round(word_error_rate(" ".join(sentences), " ".join(hypotheses)), 4),
        "synthesis_rtf": round(synth_s / seconds, 3),
        "hypotheses": hypotheses,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "voices.json"))
    parser.add_argument("--voices", default=None, help="comma-separated voice ids (default: all)")
    args = parser.parse_args(argv)
    sentences = read_sentences()
    wanted = args.voices.split(",") if args.voices else [v.voice_id for v in list_voices()]
    if DEFAULT_VOICE_ID not in wanted:
        wanted.insert(0, DEFAULT_VOICE_ID)
    asr = PocketSphinxASR()
    rows: list[dict[str, Any]] = []
    for voice_id in wanted:
        if not voice_available(get_voice(voice_id)):
            print(f"{voice_id}: not available on this machine (flite missing?)", file=sys.stderr)
            continue
        t0 = time.perf_counter()
        rows.append(measure(voice_id, sentences, asr))
        print(f"{voice_id}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    base = next(r for r in rows if r["voice_id"] == DEFAULT_VOICE_ID)
    for row in rows:
        row["wer_points_vs_joe"] = round(100.0 * (row["wer"] - base["wer"]), 1)
        row["within_target"] = row["wer_points_vs_joe"] <= WER_MARGIN_POINTS
    print(f"\n{len(sentences)} sentences, {sum(len(s.split()) for s in sentences)} words; "
          f"target: WER within {WER_MARGIN_POINTS:.0f} points of {DEFAULT_VOICE_ID}")
    header = f"{'voice':<13} {'gender':<6} {'engine':<6} {'F0 med':>7} {'F0 IQR':>13} {'syl/s':>6} " \
             f"{'wpm':>6} {'WER %':>6} {'vs joe':>7} {'ok':>3}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['voice_id']:<13} {r['gender']:<6} {r['engine']:<6} {r['f0_median_hz']:>7.1f} "
              f"{r['f0_q25_hz']:>6.0f}-{r['f0_q75_hz']:<6.0f} {r['syllables_per_s']:>6.2f} "
              f"{r['words_per_min']:>6.1f} {100 * r['wer']:>6.1f} {r['wer_points_vs_joe']:>+7.1f} "
              f"{'yes' if r['within_target'] else 'NO':>3}")
    write_result(args.out, {
        "machine": machine_info(piper_tts=version("piper-tts"), pocketsphinx=version("pocketsphinx"),
                                pyworld=version("pyworld")),
        "sentences": str(SENTENCES.relative_to(REPO)),
        "n_sentences": len(sentences),
        "wer_margin_points": WER_MARGIN_POINTS,
        "voices": rows,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
