"""``python -m facecraft.models``: check every model file and print the table of MODELS.md's columns."""

from __future__ import annotations

import sys

from facecraft.models import MODELS, measure


def main() -> int:
    bad = 0
    print("| name | file | size | sha256 | origin |")
    print("|---|---|---|---|---|")
    for model in MODELS.values():
        path = model.locate()
        sha, size = measure(path) if path.exists() else ("missing", 0)
        ok = sha == model.sha256 and size == model.size
        bad += not ok
        flag = "" if ok else " **MISMATCH**"
        print(f"| {model.name} | {model.path} | {size:,} | `{sha}`{flag} | {model.origin} |")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
