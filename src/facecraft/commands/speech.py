"""CLI command group 'speech': ``facecraft tts``.

``facecraft tts "text" -o out.wav [--voice ...] [--timings out.json]`` synthesises with a stock voice
(``speech.voices``; or an OpenAI-compatible endpoint with ``--url``), optionally adapts the result toward a
Face's ``voice.json``, and writes the phone and word timings as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from facecraft.commands._help import example

__all__ = ["register", "timings_dict"]


def register(sub: argparse._SubParsersAction) -> None:  # noqa: SLF001
    """Add this group's commands to the top-level parser."""
    p = sub.add_parser(
        "tts",
        help="synthesise speech with phone timings",
        description="Synthesise text to a WAV (a stock voice: joe-us by default), with phone and word "
                    "timings.",
        **example('facecraft tts "Hello there." -o hello.wav --timings hello.json',
                  'facecraft tts "Hello there." -o hello.wav --voice ada-us'),
    )
    p.add_argument("text", help="text to speak (several sentences are streamed one by one)")
    p.add_argument("-o", "--out", required=True, type=Path, help="output WAV file")
    p.add_argument("--voice", default=None,
                   help="a stock voice (default: joe-us; `facecraft voices` lists them) or a Piper .onnx "
                   "path; with --url, the endpoint's voice name")
    p.add_argument("--timings", type=Path, default=None, help="write phones and words with times to this JSON")
    p.add_argument("--adapt-to", type=Path, default=None, metavar="VOICE_JSON",
                   help="adapt the voice toward this profile (a Face's voice.json)")
    p.add_argument("--strength", type=float, default=1.0, help="adaptation strength 0..1 (default 1)")
    p.add_argument("--url", default=None, help="OpenAI-compatible TTS base URL instead of the embedded Piper")
    p.add_argument("--model", default="tts-1", help="model name for --url (default tts-1)")
    p.add_argument("--api-key", default=None, help="key for --url (default: $FACECRAFT_TTS_API_KEY)")
    p.set_defaults(handler=run_tts)


def timings_dict(text: str, sample_rate: int, alignment: Any) -> dict[str, Any]:
    """JSON-ready phones (with their visemes) and words of an utterance."""
    from facecraft.speech.visemes import phone_to_viseme

    return {
        "text": text,
        "sample_rate": sample_rate,
        "duration_s": round(alignment.duration_s, 4),
        "source": alignment.source,
        "phones": [
            {"symbol": p.symbol, "start": round(p.start, 4), "end": round(p.end, 4),
             "viseme": phone_to_viseme(p.symbol)}
            for p in alignment.phones
        ],
        "words": [{"text": w.text, "start": round(w.start, 4), "end": round(w.end, 4)} for w in alignment.words],
    }


def run_tts(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from facecraft.errors import InputError
    from facecraft.media import write_wav
    from facecraft.speech.text import split_sentences
    from facecraft.speech.tts import OpenAITTS, PiperTTS, TTSBackend

    backend: TTSBackend
    if args.url:
        key = args.api_key or os.environ.get("FACECRAFT_TTS_API_KEY")
        backend = OpenAITTS(args.url, key, args.model, args.voice or "alloy")
    elif args.voice and args.voice.endswith(".onnx"):
        backend = PiperTTS(args.voice)
    else:
        from facecraft.speech.voices import tts_for

        backend = tts_for(args.voice)
    target = None
    if args.adapt_to is not None:
        from facecraft.speech.voice import VoiceProfile

        try:
            target = VoiceProfile.from_dict(json.loads(args.adapt_to.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read the voice profile {args.adapt_to}: {exc}") from exc

    chunks = []
    with tqdm(total=max(1, len(split_sentences(args.text))), unit="sentence", disable=None) as bar:
        for chunk in backend.stream(args.text):
            chunks.append(chunk)
            bar.update(1)
    samples, rate, alignment = backend.join(chunks)
    if target is not None:
        from facecraft.speech.voice import adapt_voice

        samples = adapt_voice(samples, rate, target, strength=args.strength)  # same length: alignment holds
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_wav(args.out, samples, rate)
    if args.timings is not None:
        args.timings.parent.mkdir(parents=True, exist_ok=True)
        args.timings.write_text(json.dumps(timings_dict(args.text, rate, alignment), ensure_ascii=False, indent=1))
    print(f"{args.out}: {alignment.duration_s:.2f} s, {len(chunks)} sentence(s), {len(alignment.phones)} phones")
    return 0
