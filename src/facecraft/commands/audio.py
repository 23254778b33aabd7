"""CLI commands ``facecraft align`` and ``facecraft transcribe``: timings and words of a recording.

Any audio or video file PyAV can decode is accepted (``facecraft.media.read_audio``). ``align`` shows
what the engine will animate: words and ARPAbet phones with their times.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from facecraft.commands._help import example


def register(sub: argparse._SubParsersAction) -> None:  # noqa: SLF001
    """Add ``align`` and ``transcribe`` to the top-level parser."""
    p = sub.add_parser(
        "align",
        help="word and phone timings of a recording (forced alignment)",
        description="Align a transcript to a recording and print word and phone timings. Without "
        "--text the speech is recognised first; if that fails, phones come from phone-loop decoding.",
        **example('facecraft align speech.wav --text "Hello there."', "facecraft align speech.wav --json"),
    )
    p.add_argument("audio", metavar="AUDIO", help="audio or video file")
    p.add_argument("--text", help="what is said in the recording (default: recognise it)")
    p.add_argument("--json", action="store_true", help="print the alignment as JSON")
    p.add_argument("--phones", action="store_true", help="also list the phones (text output)")
    p.set_defaults(handler=run_align)

    t = sub.add_parser(
        "transcribe",
        help="recognise the speech in a recording",
        description="Recognise the speech in a recording: offline PocketSphinx by default, or an "
        "OpenAI-compatible /v1/audio/transcriptions endpoint with --url.",
        **example("facecraft transcribe speech.wav", "facecraft transcribe clip.mp4 --json"),
    )
    t.add_argument("audio", metavar="AUDIO", help="audio or video file")
    t.add_argument("--json", action="store_true", help="print text and word timings as JSON")
    t.add_argument("--url", help="base URL of an OpenAI-compatible server (e.g. https://api.openai.com)")
    t.add_argument("--api-key", help="API key for --url")
    t.add_argument("--model", default="whisper-1", help="model name for --url (default: whisper-1)")
    t.set_defaults(handler=run_transcribe)


def _read(path: str) -> tuple[Any, int]:
    from facecraft.audio import RATE
    from facecraft.media import read_audio

    audio = read_audio(path, sample_rate=RATE, mono=True)
    return audio.samples, audio.sample_rate


def run_align(args: argparse.Namespace) -> int:
    from facecraft.errors import InputError
    from facecraft.speech.align import align_audio

    if args.text is not None and not args.text.strip():
        raise InputError("--text is empty: leave it out to recognise the speech instead")
    samples, rate = _read(args.audio)
    result = align_audio(samples, rate, args.text)
    if args.json:
        print(json.dumps(asdict(result), indent=2))
        return 0
    print(f"{args.audio}  ({result.duration_s:.2f} s, {result.source})")
    for w in result.words:
        print(f"  {w.start:7.3f} {w.end:7.3f}  {w.text}")
    if args.phones or not result.words:
        print("phones:")
        for p in result.phones:
            print(f"  {p.start:7.3f} {p.end:7.3f}  {p.symbol}")
    return 0


def run_transcribe(args: argparse.Namespace) -> int:
    from facecraft.speech.asr import OpenAIASR, PocketSphinxASR

    samples, rate = _read(args.audio)
    backend = OpenAIASR(args.url, args.api_key, args.model) if args.url else PocketSphinxASR()
    transcript = backend.transcribe(samples, rate)
    if args.json:
        print(json.dumps(asdict(transcript), indent=2))
    else:
        print(transcript.text)
    return 0
