"""``facecraft talk BUNDLE``: talk through a Face on a local call page (echo mode, no API server)."""

from __future__ import annotations

import argparse
from pathlib import Path

from facecraft.commands._help import example


def register(sub: argparse._SubParsersAction) -> None:  # noqa: SLF001
    """Add ``talk`` to the top-level parser."""
    parser = sub.add_parser(
        "talk", help="a local call page for one Face: type text, the Face says it live",
        **example("facecraft talk faces/obama", "facecraft talk faces/obama --port 8090 --voice en_US-amy"))
    parser.add_argument("bundle", type=Path, help="a built Face bundle folder")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8090, help="port (default 8090)")
    parser.add_argument("--voice", default=None, help="a stock voice (default: the Face's own)")
    parser.add_argument("--size", type=int, default=512, help="the video is SIZE x SIZE (default 512)")
    parser.add_argument("--greeting", default=None, help="what the Face says when you join")
    parser.set_defaults(handler=_talk)


def _talk(args: argparse.Namespace) -> int:
    import uvicorn

    from facecraft.conversation.talk import talk_app
    from facecraft.errors import InputError

    if not args.bundle.is_dir():
        raise InputError(f"{args.bundle} is not a Face bundle folder (build one with: facecraft faces create)")
    if not 64 <= args.size <= 1080:
        raise InputError(f"--size must be within 64..1080, got {args.size}")
    print(f"loading {args.bundle} ...", flush=True)
    app = talk_app(args.bundle, voice=args.voice, size=args.size, greeting=args.greeting)
    print(f"facecraft talk: open http://{args.host}:{args.port}/ and press Join (Ctrl+C ends)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
