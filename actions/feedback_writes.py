"""The one write path of 好差评 ratings and 办不成事 complaints from the action server.

Every write goes to the web server's internal handoff API (HandoffClient), which owns the handoff database.
The fallback lives here and nowhere else: when the web server cannot be reached (restarting, or down), the
rating, comment or complaint is written straight into the handoff database (FeedbackStore), so a person's
complaint is never lost and keeps its reference number; staff see it in the complaint list
(`python -m bot.console complaints`) even without a ticket.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

from bot.clients.handoff import HandoffUnavailable
from bot.privacy import mask_personal_data

from . import catalog_access

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class Complaint:
    id: int
    reference: str


def _fell_back(what: str, exc: HandoffUnavailable) -> None:
    logger.warning("%s via the handoff API failed (%s): stored directly", what, mask_personal_data(str(exc)))


async def save_rating(channel: str, sender: str, score: int, kind: str, matter: Optional[str]) -> Optional[int]:
    """Store a score (kind "bot", or "human" on the person's recent ticket); the rating's id, None if lost."""
    try:
        return (await catalog_access.handoff().rate(channel, sender, score, None, kind, matter)).get("rating_id")
    except HandoffUnavailable as exc:
        _fell_back("rating", exc)
    try:
        store = catalog_access.feedback_store()
        info = (store.rate_human_help(channel, sender, score) if kind == "human"
                else store.add_rating(kind, channel, sender, score, matter_code=matter))
        return info.id
    except Exception:
        logger.exception("rating could not be stored")
        return None


async def save_comment(rating_id: int, channel: str, sender: str, comment: str) -> None:
    try:
        await catalog_access.handoff().comment(rating_id, channel, sender, comment)
        return
    except HandoffUnavailable as exc:
        _fell_back("rating comment", exc)
    try:
        catalog_access.feedback_store().set_comment(rating_id, channel, sender, comment)
    except Exception:
        logger.exception("rating comment could not be stored")


async def save_complaint(channel: str, sender: str, detail: str, phone: str, matter_code: Optional[str],
                         matter_text: Optional[str]) -> Complaint:
    """Store a complaint under its reference number; raises when it could be stored nowhere."""
    try:
        data = await catalog_access.handoff().complaint(channel, sender, detail, phone, matter_code, matter_text)
        return Complaint(int(data["complaint_id"]), str(data["reference"]))
    except HandoffUnavailable as exc:
        _fell_back("complaint", exc)
    info = catalog_access.feedback_store().add_complaint(channel, sender, detail, phone, matter_code, matter_text)
    return Complaint(info.id, info.reference)


async def attach_ticket(complaint_id: int, ticket_id: int) -> None:
    """The helper's ticket for a complaint (only called after the web server opened that ticket)."""
    try:
        await catalog_access.handoff().attach_complaint(complaint_id, ticket_id)
    except HandoffUnavailable as exc:
        _fell_back("complaint's ticket", exc)
        catalog_access.feedback_store().attach_ticket(complaint_id, ticket_id)
