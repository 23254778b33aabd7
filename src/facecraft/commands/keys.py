"""``facecraft keys create|list|revoke``: manage the API keys of a data dir."""

from __future__ import annotations

import argparse
from pathlib import Path

from facecraft.commands._help import example


def register(sub: argparse._SubParsersAction) -> None:  # noqa: SLF001
    """Add ``keys`` and its subcommands to the top-level parser."""
    parser = sub.add_parser("keys", help="create, list or revoke API keys",
                            **example("facecraft keys create --name laptop", "facecraft keys list"))
    keys_sub = parser.add_subparsers(dest="keys_command", metavar="ACTION")

    create = keys_sub.add_parser("create", help="make a new key; it is printed alone on the last line",
                                 **example("facecraft keys create --name laptop --data-dir data"))
    create.add_argument("--name", default="", help="a label for the key")
    _data_dir(create)
    create.set_defaults(handler=_create)

    listing = keys_sub.add_parser("list", help="list keys (ids and prefixes; keys are stored hashed)",
                                  **example("facecraft keys list --data-dir data"))
    _data_dir(listing)
    listing.set_defaults(handler=_list)

    revoke = keys_sub.add_parser("revoke", help="revoke a key by id, prefix or the key itself",
                                 **example("facecraft keys revoke k1234abcd --data-dir data"))
    revoke.add_argument("key", help="key id (k…), prefix, or the key")
    _data_dir(revoke)
    revoke.set_defaults(handler=_revoke)


def _data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="data directory (default: FACECRAFT_DATA_DIR)"
    )


def _open(args: argparse.Namespace):  # noqa: ANN202
    from facecraft.service.db import Database
    from facecraft.service.settings import load_settings

    settings = load_settings(args.data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    db.migrate()
    return db


def _create(args: argparse.Namespace) -> int:
    from facecraft.service.keys import create_key

    db = _open(args)
    with db.session() as session:
        info, plain = create_key(session, name=args.name)
    print(f"created key {info.id} ({info.name or 'no name'}); store it now, it is not shown again:")
    print(plain)
    return 0


def _list(args: argparse.Namespace) -> int:
    from facecraft.service.keys import list_keys

    db = _open(args)
    with db.session() as session:
        keys = list_keys(session)
    for info in keys:
        state = "revoked" if info.revoked else "active"
        print(f"{info.id}  {info.prefix}…  {state:7s}  {info.created_at:%Y-%m-%d %H:%M}  {info.name}")
    if not keys:
        print("no keys yet: facecraft keys create")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from facecraft.service.keys import revoke_key

    db = _open(args)
    with db.session() as session:
        info = revoke_key(session, args.key)
    print(f"revoked {info.id} ({info.prefix}…)")
    return 0
