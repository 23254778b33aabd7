"""CLI command ``facecraft voices``: the stock voices a photo Face (or ``facecraft tts``) can use."""

from __future__ import annotations

import argparse
import json

from facecraft.commands._help import example


def register(sub: argparse._SubParsersAction) -> None:  # noqa: SLF001
    """Add ``voices`` to the top-level parser."""
    p = sub.add_parser("voices", help="list the stock voices",
                       description="List the stock voices: give one as --voice to `faces create --image` "
                                   "or `tts`, or as voice_name to POST /v2/faces.",
                       **example("facecraft voices", "facecraft voices --json"))
    p.add_argument("--json", action="store_true", help="print the voices as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from facecraft.speech.voices import list_voices

    voices = list_voices()
    if args.json:
        print(json.dumps([v.public() for v in voices], indent=2))
        return 0
    for v in voices:
        missing = "" if v.public()["available"] else "  (needs Debian's flite: not installed)"
        print(f"{v.voice_id:<13} {v.gender:<6} {v.accent:<8} {v.engine:<5}  {v.description}{missing}")
    return 0
