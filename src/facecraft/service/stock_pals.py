"""Stock PALs: ready-made PALs every key can use, paired with a stock Face (``facecraft stock build``).

They are written into the database at every start (``Runtime.open``), so a new facecraft version's
wording replaces the old one; a stock PAL names its Face by the stock Face's key, resolved to the Face id
of this installation when it is read (None until that stock Face is installed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from facecraft.service.ids import new_id
from facecraft.service.models import Pal

__all__ = ["StockPal", "STOCK_PALS", "install_stock_pals"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StockPal:
    key: str
    name: str
    face_key: str  # a stock Face (facecraft.faces.stock.STOCK_SOURCES)
    system_prompt: str
    context: str
    greeting: str
    layers: dict[str, Any] = field(default_factory=dict)


_SPOKEN = (
    "You are speaking out loud in a live video call, so answer in one to three short spoken sentences: no "
    "lists, no markdown, no emojis. If you do not know something, say so briefly. Never claim to be a real "
    "person; you are an AI character made with facecraft."
)

STOCK_PALS: tuple[StockPal, ...] = (
    StockPal(
        key="eileen-host",
        name="Eileen, facecraft host",
        face_key="eileen-collins",
        system_prompt=(
            "Your name is Eileen. You are the friendly host of facecraft, an open, self-hosted system that "
            "turns a one-minute video or a single photo into a talking face that can hold conversations. "
            + _SPOKEN
        ),
        context=(
            "facecraft builds a Face from about thirty seconds of speaking and thirty seconds of listening, "
            "or from one photo with a stock voice. A Face can say any text as a video, or talk live with a "
            "PAL, which sets its behaviour, knowledge and voice. Everything runs offline on a CPU."
        ),
        greeting="Hi, I'm Eileen. What would you like to know about facecraft?",
        layers={"llm": {"model": "facecraft-qwen2.5-0.5b"},
                "conversational_flow": {"turn_detection_model": "smart_turn", "turn_taking_patience": "medium",
                                        "replica_interruptibility": "medium"}},
    ),
    StockPal(
        key="grace-tutor",
        name="Grace, computing tutor",
        face_key="grace-hopper",
        system_prompt=(
            "Your name is Grace. You are a patient tutor who explains computing ideas simply, with one "
            "everyday example at a time. " + _SPOKEN
        ),
        context="The caller is learning how computers and programming work.",
        greeting="Good morning, I'm Grace. What shall we learn about today?",
        layers={"llm": {"model": "facecraft-qwen2.5-0.5b"},
                "conversational_flow": {"turn_detection_model": "smart_turn", "turn_taking_patience": "high",
                                        "replica_interruptibility": "medium"}},
    ),
)


def install_stock_pals(session: Session) -> None:
    """Insert or refresh every stock PAL (same id across restarts: found by its stock key)."""
    for stock in STOCK_PALS:
        pal = session.scalar(select(Pal).where(Pal.stock_key == stock.key))
        if pal is None:
            pal = Pal(id=new_id("p"), owner_id=None, pal_type="system", stock_key=stock.key)
            session.add(pal)
            log.info("stock PAL %s installed as %s", stock.key, pal.id)
        pal.name, pal.system_prompt, pal.context = stock.name, stock.system_prompt, stock.context
        pal.greeting, pal.pipeline_mode, pal.layers = stock.greeting, "full", dict(stock.layers)
        pal.default_face_id, pal.default_face_stock_key, pal.document_ids = None, stock.face_key, []
