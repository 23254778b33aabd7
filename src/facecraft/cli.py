"""The ``facecraft`` command.

Each command group lives in ``facecraft.commands.<name>`` and exposes ``register(subparsers)``; heavy
imports happen inside the command handlers so that ``facecraft --help`` stays fast. A
``FacecraftError`` is printed as ``error [id]: sentence`` with exit code 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from facecraft import __version__
from facecraft.errors import FacecraftError

COMMAND_MODULES = ("check", "faces", "speech", "audio", "render", "voices", "stock", "serve", "worker", "keys",
                   "talk")


def build_parser() -> argparse.ArgumentParser:
    from facecraft.commands._help import example

    parser = argparse.ArgumentParser(
        prog="facecraft",
        description="Talking Faces from a one-minute video or a photo: build, render, serve. "
                    "`facecraft COMMAND --help` shows each command's options and examples.",
        **example("facecraft stock build",
                  'facecraft say faces/stock/eileen-collins/r1234abcd "Hello!" -o hi.mp4',
                  "facecraft faces create --video clip.mp4 --name Alex",
                  "facecraft serve --stock faces/stock"),
    )
    parser.add_argument("--version", action="version", version=f"facecraft {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"facecraft.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if argv is None and args.verbose < 2:  # the installed command, not a test calling main([...])
        from facecraft.commands._quiet import filter_native_logs

        filter_native_logs()
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except FacecraftError as exc:
        print(f"error [{exc.error_id}]: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
