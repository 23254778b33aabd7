"""``facecraft worker``: run job workers alone (no HTTP), e.g. on another machine that shares the database
and the data directory with a ``facecraft serve`` started with ``FACECRAFT_RUN_WORKER=false``."""

from __future__ import annotations

import argparse
from pathlib import Path

from facecraft.commands._help import example


def register(sub: argparse._SubParsersAction) -> None:  # noqa: SLF001
    """Add ``worker`` to the top-level parser."""
    parser = sub.add_parser(
        "worker", help="run job workers (builds and renders) without the API",
        **example("facecraft worker --data-dir /srv/facecraft --jobs 2"),
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="data directory (default: FACECRAFT_DATA_DIR)"
    )
    parser.add_argument("--jobs", type=int, default=None, help="jobs at once (default: FACECRAFT_WORKERS)")
    parser.set_defaults(handler=_worker)


def _worker(args: argparse.Namespace) -> int:
    import logging
    import signal

    from facecraft.service.runtime import Runtime
    from facecraft.service.settings import load_settings

    settings = load_settings(args.data_dir)
    if args.jobs is not None:
        settings = settings.model_copy(update={"workers": max(1, args.jobs)})
    logging.getLogger("facecraft").setLevel(logging.INFO)
    runtime = Runtime.open(settings)
    pool = runtime.workers
    signal.signal(signal.SIGTERM, lambda *_: pool.request_stop())
    print(f"facecraft worker: {pool.count} job(s) at once (data in {settings.data_dir})", flush=True)
    try:
        pool.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        runtime.close()
    return 0
