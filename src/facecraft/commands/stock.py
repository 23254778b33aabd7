"""CLI command group ``facecraft stock``: build the stock Faces facecraft ships, add stock Faces to a
server's data dir, list the catalogue."""

from __future__ import annotations

import argparse
from pathlib import Path

from facecraft.commands._help import example

DEFAULT_OUT = Path("faces") / "stock"


def register(sub: argparse._SubParsersAction) -> None:  # noqa: SLF001
    """Add ``stock build|add|list`` to the top-level parser."""
    p = sub.add_parser("stock", help="stock Faces: build the shipped ones, add your own",
                       **example("facecraft stock build", "facecraft stock add faces/stock --data-dir data"))
    ssub = p.add_subparsers(dest="stock_command", metavar="ACTION")

    b = ssub.add_parser("build", help="build the stock Faces and their preview clips (once; kept after)",
                        description="Build each stock Face from its public-domain photo (shipped inside an "
                                    "installed package, checked by sha256) with its preview clip. Faces "
                                    "already built from the same photo and voice are kept.",
                        **example("facecraft stock build",
                                  "facecraft stock build --out faces/stock --only grace-hopper"))
    b.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"stock folder (default: ./{DEFAULT_OUT})")
    b.add_argument("--only", action="append", metavar="KEY", help="build only this stock Face (repeatable)")
    b.add_argument("--no-progress", action="store_true", help="no progress display")
    b.set_defaults(handler=build)

    a = ssub.add_parser("add", help="install Faces as stock (system) Faces of a server's data dir",
                        description="Install a Face bundle folder, a .face file, a stock folder, or a folder "
                                    "of these as stock Faces: every API key sees them (face_type=system). "
                                    "A Face already installed is kept; a rebuilt one replaces it.",
                        **example("facecraft stock add faces/stock",
                                  "facecraft stock add my-face.face --data-dir data"))
    a.add_argument("source", metavar="BUNDLE|DIR", type=Path, help="bundle, .face file, or folder of them")
    a.add_argument("--data-dir", type=Path, default=None, help="data directory (default: FACECRAFT_DATA_DIR)")
    a.set_defaults(handler=add)

    li = ssub.add_parser("list", help="the stock Faces facecraft ships, with their origin and licence",
                         **example("facecraft stock list"))
    li.set_defaults(handler=list_)
    p.set_defaults(handler=lambda args: p.print_help() or 2)


def build(args: argparse.Namespace) -> int:
    from facecraft.commands._progress import PercentBar
    from facecraft.service.stock import build_stock_faces

    with PercentBar("building", enabled=not args.no_progress, width=18) as progress:
        faces = build_stock_faces(args.out, keys=args.only, progress=progress, on_step=progress.write)
    for face in faces:
        print(f"{face.name}: bundle {face.bundle}")
        print(f"{face.name}: sample video {face.preview}")
    return 0


def add(args: argparse.Namespace) -> int:
    from facecraft.service.settings import load_settings
    from facecraft.service.stock import install_stock_faces

    settings = load_settings(args.data_dir)
    changed = install_stock_faces(args.source, settings=settings)
    print(f"stock Faces added or updated: {len(changed)} (data in {settings.data_dir})")
    for face_id in changed:
        print(face_id)
    return 0


def list_(args: argparse.Namespace) -> int:
    from facecraft.faces.stock import STOCK_SOURCES

    for s in STOCK_SOURCES:
        print(f"{s.key}  {s.name}  (voice {s.voice})")
        print(f"  photo    {s.package}: {s.path}  sha256 {s.sha256}")
        print(f"  origin   {s.origin}")
        print(f"  licence  {s.licence}")
    return 0
