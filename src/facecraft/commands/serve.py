"""``facecraft serve``: run the HTTP API and the Maker portal; its job workers run each build and render in a
process of its own (``Settings.workers`` at once)."""

from __future__ import annotations

import argparse
from pathlib import Path

from facecraft.commands._help import example


def register(sub: argparse._SubParsersAction) -> None:  # noqa: SLF001
    """Add ``serve`` to the top-level parser."""
    parser = sub.add_parser("serve", help="run the API server and the Maker portal",
                            **example("facecraft serve", "facecraft serve --port 8080 --stock faces/stock"))
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="data directory (default: FACECRAFT_DATA_DIR)"
    )
    parser.add_argument(
        "--stock", type=Path, default=None, help="install the Face bundles in this folder as stock Faces"
    )
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from facecraft.service.app import create_app
    from facecraft.service.db import Database
    from facecraft.service.keys import create_key, list_keys
    from facecraft.service.settings import load_settings

    settings = load_settings(args.data_dir)
    if settings.allow_private_urls and args.host not in ("127.0.0.1", "localhost", "::1"):
        print("warning: allow_private_urls is on and the server is reachable from the network: any key")
        print("         holder can make it fetch URLs on your private network.")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    db.migrate()
    with db.session() as session:
        if not list_keys(session, include_revoked=False) and not settings.api_keys:
            _, plain = create_key(session, name="first key (facecraft serve)")
            print(f"No API key yet: created one. Sign in to the portal with:\n  {plain}")
    db.dispose()
    if args.stock is not None:
        from facecraft.service.stock import install_stock_faces

        added = install_stock_faces(args.stock, settings=settings)
        print(f"stock Faces installed: {len(added)}")
    host = "localhost" if args.host in ("0.0.0.0", "::") else args.host
    print(f"facecraft portal: http://{host}:{args.port}/  (data in {settings.data_dir})", flush=True)
    # A long keep-alive: under a busy worker the event loop can be late, and a short one races clients.
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info", timeout_keep_alive=30)
    return 0
