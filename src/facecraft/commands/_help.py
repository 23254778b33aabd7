"""What every command's ``--help`` ends with: examples of its use."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["example"]


def example(*lines: str) -> dict[str, Any]:
    """``add_parser`` keyword arguments that end the command's help with these example command lines."""
    return {
        "epilog": "examples:\n" + "\n".join(f"  {line}" for line in lines),
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }
