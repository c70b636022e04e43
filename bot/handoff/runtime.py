"""The handoff inside the web server: the SQL service plus live pushes, the channel router and Rasa's API.

Every change is written to SQL first, then pushed; pushes are best effort (clients catch up from SQL).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Dict, Iterable, List, Optional, Tuple

from bot.clients.handoff import HandoffClient
from bot.clients.rasa import RasaClient, RasaUnavailable, normalise_messages
from bot.privacy import mask_personal_data
from bot.texts import DomainTexts

from . import models as m
from .bus import LiveEvents
from .hub import ConsoleHub, PersonHub
from .router import HandoffRouter, HttpChannelSender, WebChannelSender, message_frame
from bot.limits import clean_text
from .records import ClaimResult, HandoffError, HelperInfo, MessageInfo, NoteInfo, TicketInfo, mask_sender
from .service import HandoffService
from .sql import SqlThread

logger = logging.getLogger(__name__)

# Responses the web server renders itself (the bot is paused while they are needed).
HANDOFF_TEXTS = (
    "utter_handoff_position",
    "utter_handoff_claimed",
    "utter_handoff_serving",
    "utter_handoff_transferred_queue",
    "utter_handoff_transferred_helper",
    "utter_handoff_returned",
    "utter_handoff_closed_notice",
)
RESUME_RETRY_SECONDS = 2.0
RESTART_PAYLOADS = ("/restart", "/session_start")


def iso(value) -> Optional[str]:
    return value.isoformat() + "Z" if value is not None else None


def ticket_frame(t: TicketInfo, new: bool = False) -> dict:
    """A ticket as consoles see it: the person's id masked, no transcript (that is fetched on demand)."""
    return {
        "id": t.id, "status": t.status, "mode": t.mode, "reason": t.reason, "offline_reason": t.offline_reason,
        "channel": t.channel, "person": mask_sender(t.sender), "queue": t.queue_code, "queue_name": t.queue_name,
        "priority": t.priority, "priority_label": t.priority_label, "matter": t.matter_name,
        "helper_id": t.helper_id, "helper_name": t.helper_name, "helper_staff_no": t.helper_staff_no,
        "created_at": iso(t.created_at), "queued_at": iso(t.queued_at), "claimed_at": iso(t.claimed_at),
        "closed_at": iso(t.closed_at), "resolution": t.resolution, "position": t.position,
        "callback": t.mode == m.CALLBACK, "new": new,
    }


def console_message(message: MessageInfo) -> dict:
    return {"id": message.id, "author": message.author, "text": message.text, "name": message.helper_name,
            "staff_no": message.helper_staff_no, "at": iso(message.created_at)}


def note_frame(note: NoteInfo) -> dict:
    return {"id": note.id, "name": note.helper_name, "text": note.text, "at": iso(note.created_at)}


class HandoffRuntime:
    def __init__(self, service: HandoffService, texts: DomainTexts, rasa: Optional[RasaClient],
                 handoff_client: Optional[HandoffClient] = None, channel_urls: Optional[Dict[str, str]] = None,
                 sql: Optional[SqlThread] = None, bus=None):
        self.service = service
        # Every SQL call of this process goes through the one SQL thread (bot/handoff/sql.py).
        self.db = (sql or SqlThread()).wrap(service)
        self.config = service.config
        self.texts = texts
        self.rasa = rasa
        self.person_hub = PersonHub()
        self.console_hub = ConsoleHub()
        # Every push goes through it: to this process's sockets, or to every web process's (PUBSUB_URL).
        self.live = LiveEvents(self.person_hub, self.console_hub, bus)
        self.live.on_console_left = self._console_left_elsewhere
        self.router = HandoffRouter(self.person_message)
        self.router.register("web", WebChannelSender(self.live.to_person))
        # Channels in other processes: derived by bot.run (e.g. WeChat in Rasa), overridden by handoff.yml.
        urls = dict(channel_urls or {})
        urls.update({name: options.get("deliver_url") for name, options in self.config.channels.items()})
        for name, url in urls.items():
            if url and handoff_client is not None:
                self.router.register(name, HttpChannelSender(handoff_client, str(url)))
        self._pushed_positions: Dict[int, Tuple[int, int]] = {}
        self._resuming: set = set()
        self._task: Optional[asyncio.Task] = None
        self.stopping = False  # consoles closed by a restart stay on duty (they reconnect at once)
        self.idle = None  # bot.handoff.idle.IdleWatcher, set by the web app (the rating question when idle)

    # -- life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.live.start()
        self._task = asyncio.get_running_loop().create_task(self._resume_loop())

    async def stop(self) -> None:
        self.stopping = True
        if self.idle is not None:
            await self.idle.stop()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.live.stop()
        await self.person_hub.close_all()
        await self.console_hub.close_all()

    async def _console_left_elsewhere(self, helper_id: int) -> None:
        if not self.stopping and self.console_hub.helper_connected(helper_id):
            await self.db.set_on_duty(helper_id, self.config.on_duty_grace_seconds)

    async def _resume_loop(self) -> None:
        """Hand-backs whose Rasa call failed (Rasa restarting) are retried until Rasa confirms."""
        while True:
            await asyncio.sleep(RESUME_RETRY_SECONDS)
            try:
                for ticket in await self.db.pending_resumes():
                    await self.resume_bot(ticket, quiet=True)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("resume retry failed")

    # -- the person's state ----------------------------------------------------------------------

    def person_state(self, info: Optional[TicketInfo]) -> Optional[dict]:
        if info is None or not info.routed:
            return None
        if info.status == m.WAITING:
            return {"status": "waiting", "position": info.position, "minutes": info.minutes,
                    "queue": info.queue_name,
                    "text": self.texts.render("utter_handoff_position", position=info.position or 0,
                                              minutes=info.minutes or 1)}
        return {"status": "active", "helper": info.helper_name, "staff_no": info.helper_staff_no,
                "text": self.texts.render("utter_handoff_serving", helper_name=info.helper_name or "",
                                          staff_no=info.helper_staff_no or "")}

    async def state_for(self, channel: str, sender: str) -> Optional[dict]:
        return self.person_state(await self.db.routed_ticket(channel, sender))

    async def _push_state(self, info: TicketInfo) -> None:
        await self.router.state(info.channel, info.sender, self.person_state(info))

    async def _notice(self, info: TicketInfo, response: str, **values) -> Optional[MessageInfo]:
        text = self.texts.render(response, **values)
        if not text:
            return None
        message = await self.db.add_notice(info.id, text)
        await self.router.outgoing(info.channel, info.sender, message)
        await self.live.to_consoles({"type": "message", "ticket_id": info.id, "message": console_message(message)},
                                    info.queue_code, info.helper_id)
        return message

    async def push_positions(self, queue_codes: Iterable[Optional[str]]) -> None:
        """Tell every live waiting person whose position or estimate changed. With several web processes this
        one does not know what the others pushed last, so it tells everyone waiting in the queue."""
        for code in {c for c in queue_codes if c}:
            for info in await self.db.waiting_positions(code):
                now = (info.position, info.minutes)
                if self._pushed_positions.get(info.id) != now or self.live.bus.shared:
                    self._pushed_positions[info.id] = now
                    await self._push_state(info)

    async def _publish_ticket(self, info: TicketInfo, new: bool = False, also: Iterable[int] = ()) -> None:
        await self.live.to_consoles({"type": "ticket", "ticket": ticket_frame(info, new=new)},
                                    info.queue_code, info.helper_id, also=also)

    # -- from the action server (internal API) ---------------------------------------------------

    async def request(self, channel: str, sender: str, reason: str, matter: Optional[str], situation: Optional[dict],
                      summary: str, transcript: list, problem: Optional[str],
                      callback_phone: Optional[str] = None) -> TicketInfo:
        if not self.router.supports(channel):
            raise HandoffError("unsupported_channel")
        info = await self.db.request(channel, sender, reason, matter, situation, summary, transcript, problem,
                                    callback_phone=callback_phone)
        logger.info("handoff ticket=%s person=%s reason=%s queue=%s status=%s", info.id, mask_sender(sender),
                    info.reason, info.queue_code, info.status)
        if info.status == m.WAITING:
            await self._publish_ticket(info, new=True)
            if info.position is not None:
                self._pushed_positions[info.id] = (info.position, info.minutes)
            await self._push_state(info)  # the page's status line (the bot's reply says the same once)
            await self.push_positions([info.queue_code])
        return info

    async def leave_message(self, ticket_id: int, message: str, phone: str) -> TicketInfo:
        info = await self.db.leave_message(ticket_id, message, phone)
        logger.info("handoff ticket=%s message left, callback %s", info.id, mask_personal_data(phone))
        await self._publish_ticket(info, new=True)
        return info

    def hours_text(self, queue_code: str) -> str:
        return self.config.hours_for(queue_code).description

    # -- from the person (channel layer) ---------------------------------------------------------

    async def person_message(self, channel: str, sender: str, text: str) -> Optional[dict]:
        info = await self.db.routed_ticket(channel, sender)
        if info is None:
            pending = await self.db.pending_resume_for(channel, sender)
            if pending is not None:
                await self.resume_bot(pending)
            return None
        stripped = text.strip()
        if stripped.startswith("/"):
            command = stripped.split("{", 1)[0].strip()
            if command in RESTART_PAYLOADS:
                cancelled = await self.db.cancel_by_person(channel, sender)
                if cancelled is not None:
                    logger.info("handoff ticket=%s cancelled by the person", cancelled.id)
                    await self._publish_ticket(cancelled, also=[cancelled.helper_id] if cancelled.helper_id else ())
                    await self.push_positions([cancelled.queue_code])
                    await self.resume_bot(cancelled)
                return None  # the restart itself goes to Rasa
            # Button payloads and the page's opening /greet are for the bot, not the helper: say where things are.
            state = self.person_state(info)
            return {"messages": [{"text": state["text"], "buttons": [], "image": None}] if state else [],
                    "state": state}
        message = await self.db.add_person_message(info.id, text)
        await self.live.to_consoles({"type": "message", "ticket_id": info.id, "message": console_message(message)},
                                    info.queue_code, info.helper_id)
        return {"messages": [], "state": self.person_state(info)}

    async def person_typing(self, channel: str, sender: str) -> None:
        info = await self.db.routed_ticket(channel, sender)
        if info is not None and info.status == m.ACTIVE:
            await self.live.to_consoles({"type": "typing", "ticket_id": info.id, "who": "person"},
                                        info.queue_code, info.helper_id)

    # -- from a helper (console) -----------------------------------------------------------------

    async def helper_message(self, helper: HelperInfo, ticket_id: int, text: str) -> MessageInfo:
        message, info = await self.db.add_helper_message(ticket_id, helper, text)
        await self.router.outgoing(info.channel, info.sender, message)
        await self.live.to_consoles({"type": "message", "ticket_id": info.id, "message": console_message(message)},
                                    info.queue_code, info.helper_id)
        return message

    async def helper_typing(self, helper: HelperInfo, ticket_id: int) -> None:
        info = await self.db.ticket(ticket_id, helper)
        if info is not None and info.status == m.ACTIVE and info.helper_id == helper.id:
            await self.router.typing(info.channel, info.sender)

    async def claim(self, helper: HelperInfo, ticket_id: int) -> ClaimResult:
        result = await self.db.claim(ticket_id, helper)
        if not result.won:
            return result
        info = result.ticket
        logger.info("handoff ticket=%s claimed by helper %s", info.id, helper.id)
        self._pushed_positions.pop(info.id, None)
        await self._notice(info, "utter_handoff_claimed", helper_name=helper.display_name, staff_no=helper.staff_no)
        await self._push_state(info)
        if info.mode == m.CALLBACK and self.rasa is not None:
            # The person left a message earlier and kept talking to the bot: from now on the helper answers.
            try:
                await self.rasa.pause(info.sender)
            except RasaUnavailable as exc:
                logger.warning("could not pause Rasa for ticket %s: %s", info.id, exc)
        await self._publish_ticket(info)
        await self.push_positions([info.queue_code])
        return result

    async def transfer_to_queue(self, helper: HelperInfo, ticket_id: int, queue_code: str) -> TicketInfo:
        before = await self.db.ticket(ticket_id, helper)
        if before is None:
            raise HandoffError("not_found")
        info = await self.db.transfer_to_queue(ticket_id, helper, queue_code)
        self._pushed_positions.pop(info.id, None)
        if info.mode == m.LIVE:
            await self._notice(info, "utter_handoff_transferred_queue", queue_name=info.queue_name,
                               position=info.position or 0, minutes=info.minutes or 1)
            self._pushed_positions[info.id] = (info.position, info.minutes)
            await self._push_state(info)
        await self._publish_ticket(info, new=True, also=[i for i in (before.helper_id, helper.id) if i])
        await self.push_positions([before.queue_code, info.queue_code])
        return info

    async def transfer_to_helper(self, helper: HelperInfo, ticket_id: int, target_id: int) -> TicketInfo:
        before = await self.db.ticket(ticket_id, helper)
        if before is None:
            raise HandoffError("not_found")
        info = await self.db.transfer_to_helper(ticket_id, helper, target_id)
        self._pushed_positions.pop(info.id, None)
        await self._notice(info, "utter_handoff_transferred_helper", helper_name=info.helper_name or "",
                           staff_no=info.helper_staff_no or "")
        await self._push_state(info)
        if before.mode == m.CALLBACK and before.status == m.WAITING and self.rasa is not None:
            try:
                await self.rasa.pause(info.sender)
            except RasaUnavailable as exc:
                logger.warning("could not pause Rasa for ticket %s: %s", info.id, exc)
        await self._publish_ticket(info, new=True, also=[i for i in (before.helper_id, helper.id, target_id) if i])
        await self.push_positions([before.queue_code])
        return info

    async def close(self, helper: HelperInfo, ticket_id: int, resolution: str, handback: bool) -> TicketInfo:
        before = await self.db.ticket(ticket_id, helper)
        if before is None:
            raise HandoffError("not_found")
        info = await self.db.close(ticket_id, helper, resolution, handback)
        logger.info("handoff ticket=%s %s by helper %s (%s)", info.id, "handed back" if handback else "closed",
                    helper.id, resolution)
        self._pushed_positions.pop(info.id, None)
        await self.router.state(info.channel, info.sender, None)
        await self._publish_ticket(info, also=[i for i in (before.helper_id,) if i])
        await self.push_positions([info.queue_code])
        if info.resume_pending:
            await self.resume_bot(info)
        return info

    async def add_note(self, helper: HelperInfo, ticket_id: int, text: str) -> NoteInfo:
        note = await self.db.add_note(ticket_id, helper, text)
        info = await self.db.ticket(ticket_id)
        await self.live.to_consoles({"type": "note", "ticket_id": ticket_id, "note": note_frame(note)},
                                    info.queue_code, info.helper_id)
        return note

    # -- back to the bot -------------------------------------------------------------------------

    async def resume_bot(self, info: TicketInfo, quiet: bool = False) -> bool:
        """Resume the person's Rasa conversation; the bot's own message tells them (once)."""
        if info.id in self._resuming:
            return False
        self._resuming.add(info.id)
        try:
            if self.rasa is None:
                raise RasaUnavailable("no Rasa configured")
            raw = await self.rasa.resume(info.sender, info.resume_intent)
        except RasaUnavailable as exc:
            log = logger.debug if quiet else logger.warning
            log("could not resume Rasa for ticket %s (will retry): %s", info.id, exc)
            if info.resume_intent and not quiet:
                # Tell the person now, in the web server's words; the later resume stays silent.
                response = ("utter_handoff_returned" if info.resume_intent == "EXTERNAL_handoff_returned"
                            else "utter_handoff_closed_notice")
                await self.db.clear_resume_intent(info.id)
                await self._notice(info, response)
            return False
        finally:
            self._resuming.discard(info.id)
        if not await self.db.mark_resumed(info.id):
            return True
        try:
            messages = normalise_messages(raw)
        except RasaUnavailable:
            messages = []
        if info.resume_intent and not any(m.get("text") or m.get("buttons") for m in messages):
            # Rasa resumed but its action server did not answer: tell the person in the web server's words.
            response = ("utter_handoff_returned" if info.resume_intent == "EXTERNAL_handoff_returned"
                        else "utter_handoff_closed_notice")
            await self._notice(info, response)
        for item in messages:
            text = item.get("text") or ""
            if not text and not item.get("buttons"):
                continue
            stored = await self.db.add_notice(info.id, text, author=m.BOT,
                                             extra={"buttons": item["buttons"]} if item.get("buttons") else None)
            await self.router.outgoing(info.channel, info.sender, stored)
        logger.info("handoff ticket=%s: bot resumed for the person", info.id)
        return True

    # -- catch-up for pages ----------------------------------------------------------------------

    async def person_frames_after(self, channel: str, sender: str, after_id: int) -> List[dict]:
        return [message_frame(msg) for msg in await self.db.person_messages_after(channel, sender, after_id)]


def clean_person_text(text: str) -> str:
    return clean_text(text, 1000)
