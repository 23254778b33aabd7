"""llama.cpp's own OpenAI-compatible HTTP server with an embedded model, on a loopback port.

``python -m facecraft.llm.server --port 8090 [--api-key KEY]`` serves ``/v1/chat/completions`` (and
``/v1/models``, ``/health``) until it is stopped. It is what the tests and ``bench/llm.py`` point the
URL upgrade at, and a way to share one loaded model between several local processes.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from facecraft.llm.catalog import DEFAULT_MODEL, EMBEDDED_MODELS, embedded_model
from facecraft.llm.gguf import gguf_path
from facecraft.llm.local import server_params

__all__ = ["main"]

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m facecraft.llm.server", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="loopback port to listen on")
    parser.add_argument("--model", default=DEFAULT_MODEL, choices=sorted(EMBEDDED_MODELS))
    parser.add_argument("--api-key", default=None, help="require this bearer key (default: a random one is "
                        "NOT set: any local process may call it)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx", type=int, default=4096)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    import xllamacpp

    params = server_params(gguf_path(embedded_model(args.model)), threads=args.threads, n_ctx=args.ctx,
                           port=args.port, api_key=args.api_key or "")
    if not args.api_key:
        params.api_keys = []
    params.model_alias = args.model
    server = xllamacpp.Server(params)
    print(f"listening on {server.listening_address}", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    del server
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
