"""帮办代办: hand the person to a human helper, with the context, through the web server's handoff API.

- `action_handoff`: on request_human, complain (办不成事, the problem is recorded), an accepted offer after two
  misunderstandings, a 帮办代办 matter, or a low rating (another action sets the slot `handoff_reason` to
  "low_rating" and returns FollowupAction("action_handoff")). It opens a ticket over HTTP (localhost + secret),
  says "已为您转接，前面还有 N 位…" and pauses the conversation: the bot stays silent until a helper hands back.
  Out of hours or with nobody on duty it says so at once and runs `handoff_message_form` (message + callback).
- `action_not_understood`: the answer for low-confidence messages; the second misunderstanding in a row
  offers a person.
- `action_handoff_returned`: the bot's message when a helper hands back or closes, then the 好差评 question
  about the human help (answered through actions/feedback.py, stored on the ticket).
"""
from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ConversationPaused, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.clients.handoff import HandoffUnavailable
from bot.privacy import mask_personal_data

from . import catalog_access
from .answer import ActionAnswer
from .hall_help import ActionComplaintInfo, ActionHumanHelp
from .rating_question import HUMAN, ask_rating
from bot.texts.catalog import ASPECTS, Fragments

logger = logging.getLogger(__name__)

MAX_TRANSCRIPT = 200
ASSISTED_FLAG = "帮办代办"
OFFER_AFTER = 2  # misunderstandings in a row
_MOBILE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0[1-9]\d{1,2}\d{7,8}$")


def _intent(event: Dict[str, Any]) -> Optional[str]:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def session_events(tracker: Tracker) -> List[Dict[str, Any]]:
    events = list(tracker.events)
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "session_started":
            return events[index:]
    return events


def _button_titles(event: Dict[str, Any]) -> Dict[str, str]:
    """payload → title of the buttons a bot message offered."""
    buttons = (event.get("data") or {}).get("buttons") or []
    return {b["payload"]: b["title"] for b in buttons
            if isinstance(b, dict) and isinstance(b.get("payload"), str) and isinstance(b.get("title"), str)}


def transcript(tracker: Tracker) -> List[Dict[str, Any]]:
    """What was said in this session, for the helper: the person's texts (intent kept) and the bot's.

    A tapped button reads as the button the person saw ("个人经营", button: true), never as its payload."""
    lines = []
    offered: Dict[str, str] = {}
    for event in session_events(tracker):
        kind = event.get("event")
        if kind == "user" and event.get("text"):
            text = event["text"]
            tapped = offered.get(text) if text.startswith("/") else None
            line = {"who": "person", "text": tapped or text, "intent": _intent(event), "at": event.get("timestamp")}
            if text.startswith("/"):
                line["button"] = True
            lines.append(line)
        elif kind == "bot":
            offered.update(_button_titles(event))
            if event.get("text"):
                lines.append({"who": "bot", "text": event["text"], "at": event.get("timestamp")})
    return lines[-MAX_TRANSCRIPT:]


def situation(tracker: Tracker) -> Optional[dict]:
    """Situation answers collected so far (slots named situation*), if the domain has any."""
    found = {}
    for name, value in (tracker.slots or {}).items():
        if name.startswith("situation") and value not in (None, "", [], {}):
            if isinstance(value, dict):
                found.update({str(k): str(v) for k, v in value.items()})
            else:
                found[name] = str(value)
    return found or None


def summary(tracker: Tracker, fragments: Fragments, matter_name: Optional[str], reason: str) -> str:
    asked = []
    for event in session_events(tracker):
        intent = _intent(event) if event.get("event") == "user" else None
        aspect = intent[4:] if intent and intent.startswith("ask_") else None
        if aspect in ASPECTS and aspect not in asked:
            asked.append(aspect)
    aspects = fragments("list_separator").join(fragments.aspect_label(a) for a in asked) \
        if asked else fragments("handoff_no_aspects")
    return fragments("handoff_summary", matter=matter_name or fragments("handoff_no_matter"), aspects=aspects,
                     reason=fragments(f"handoff_reason_{reason}"))


def normalise_phone(text: str) -> Optional[str]:
    """A callback number as digits (11-digit mobile, or landline with area code), or None."""
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", text or "") if ch.isdigit() or ch == "+")
    if _MOBILE.match(digits):
        return digits[-11:]
    if _LANDLINE.match(digits):
        return digits
    return None


def matter_of(tracker: Tracker):
    """The catalog view of the conversation's matter, or None (the catalog is optional here)."""
    code = tracker.get_slot("matter")
    try:
        return catalog_access.catalog().matter(code) if code else None
    except Exception:
        logger.exception("catalog lookup failed for %s", code)
        return None


def ticket_body(tracker: Tracker, domain: Dict[Text, Any], reason: str, matter, problem: Optional[str],
                callback_phone: Optional[str] = None) -> dict:
    """What the helper gets: channel, person, matter, situation, summary, transcript (and a complaint)."""
    return {
        "channel": tracker.get_latest_input_channel() or "",
        "sender": tracker.sender_id,
        "reason": reason,
        "matter": matter.code if matter else None,
        "situation": situation(tracker),
        "summary": summary(tracker, Fragments(domain), matter.name if matter else None, reason),
        "transcript": transcript(tracker),
        "problem": problem,
        "callback_phone": callback_phone,
    }


def announce(dispatcher: CollectingDispatcher, ticket: dict) -> List[Dict]:
    """Tell the person where their live ticket stands; the conversation pauses while a helper has it."""
    if ticket.get("status") == "waiting" and ticket.get("mode") == "callback":
        dispatcher.utter_message(response="utter_handoff_message_already", hours=ticket.get("hours"))
        return []
    if ticket.get("status") == "active":
        dispatcher.utter_message(response="utter_handoff_serving", helper_name=ticket.get("helper_name") or "",
                                 staff_no=ticket.get("staff_no") or "")
    else:
        dispatcher.utter_message(response="utter_handoff_queued", position=ticket.get("position") or 0,
                                 minutes=ticket.get("minutes") or 1, queue_name=ticket.get("queue_name"))
    return [ConversationPaused()]


def offline_notice(dispatcher: CollectingDispatcher, ticket: dict) -> None:
    """Out of hours or nobody on duty: said at once."""
    if ticket.get("offline_reason") == "no_helper":
        dispatcher.utter_message(response="utter_handoff_no_helper", queue_name=ticket.get("queue_name"))
    else:
        dispatcher.utter_message(response="utter_handoff_out_of_hours", hours=ticket.get("hours"))


class ActionHandoff(Action):
    def name(self) -> Text:
        return "action_handoff"

    def _reason(self, tracker: Tracker, flags: tuple) -> str:
        forced = tracker.get_slot("handoff_reason")
        if forced in ("low_rating", "fallback", "complain", "assisted", "request_human"):
            return forced
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == "complain":
            return "complain"
        if tracker.get_slot("handoff_offered"):
            return "fallback"
        if ASSISTED_FLAG in flags:
            return "assisted"
        return "request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        matter = matter_of(tracker)
        reason = self._reason(tracker, matter.flags if matter else ())
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        problem = tracker.latest_message.get("text") if intent == "complain" else None
        reset = [SlotSet("handoff_offered", False), SlotSet("handoff_reason", None), SlotSet("misunderstood", 0.0)]
        try:
            ticket = await catalog_access.handoff().open_ticket(ticket_body(tracker, domain, reason, matter, problem))
        except HandoffUnavailable as exc:
            logger.warning("handoff unavailable for %s (%s): pointing to the help desk",
                           mask_personal_data(tracker.sender_id), mask_personal_data(str(exc)))
            if exc.status == 422:  # a channel that cannot receive a helper's messages (plain REST): say so
                dispatcher.utter_message(response="utter_handoff_no_push")
            fallback = ActionComplaintInfo() if reason == "complain" else ActionHumanHelp()
            return fallback.run(dispatcher, tracker, domain) + reset

        logger.info("handoff ticket=%s status=%s queue=%s", ticket.get("ticket_id"), ticket.get("status"),
                    ticket.get("queue"))
        events = [SlotSet("handoff_ticket", float(ticket["ticket_id"]))] + reset
        if reason == "complain":
            dispatcher.utter_message(response="utter_handoff_complaint_recorded")
        if ticket.get("status") == "collecting":
            offline_notice(dispatcher, ticket)
            return events + [FollowupAction("handoff_message_form")]
        return events + announce(dispatcher, ticket)


class ValidateHandoffMessageForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_handoff_message_form"

    def validate_handoff_message(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: Dict[Text, Any]) -> Dict[Text, Any]:
        text = value.strip() if isinstance(value, str) else ""
        return {"handoff_message": text[:2000] or None}

    def validate_callback_phone(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: Dict[Text, Any]) -> Dict[Text, Any]:
        phone = normalise_phone(value if isinstance(value, str) else "")
        if phone is None:
            dispatcher.utter_message(response="utter_handoff_invalid_phone")
        return {"callback_phone": phone}


class ActionHandoffLeaveMessage(Action):
    def name(self) -> Text:
        return "action_handoff_leave_message"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        ticket_id = tracker.get_slot("handoff_ticket")
        message, phone = tracker.get_slot("handoff_message"), tracker.get_slot("callback_phone")
        # The number and message live on the ticket; the tracker forgets them.
        events = [SlotSet("handoff_message", None), SlotSet("callback_phone", None)]
        try:
            if ticket_id is None:
                raise HandoffUnavailable("no ticket")
            await catalog_access.handoff().leave_message(int(ticket_id), message, phone)
        except HandoffUnavailable as exc:
            logger.warning("could not leave the message: %s", mask_personal_data(str(exc)))
            dispatcher.utter_message(response="utter_handoff_unavailable")
            return ActionHumanHelp().run(dispatcher, tracker, domain) + events
        dispatcher.utter_message(response="utter_handoff_message_taken", phone=phone)
        return events


class ActionHandoffReturned(Action):
    """The bot's first words after a helper: hand-back or close, then the 好差评 question about the help."""

    def name(self) -> Text:
        return "action_handoff_returned"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        response = "utter_handoff_closed_notice" if intent == "EXTERNAL_handoff_closed" else "utter_handoff_returned"
        dispatcher.utter_message(response=response)
        return [SlotSet("handoff_ticket", None)] + ask_rating(dispatcher, domain, "utter_ask_rating_human", HUMAN)


def _misunderstood_before(tracker: Tracker) -> int:
    """The count this action stored in the previous user turn, if it ran there; else 0."""
    events = list(tracker.events)
    users = [i for i, e in enumerate(events) if e.get("event") == "user"]
    if len(users) < 2:
        return 0
    start, end = users[-2], users[-1]
    for event in events[start:end]:
        if event.get("event") == "slot" and event.get("name") == "misunderstood":
            return int(event.get("value") or 0)
    return 0


class ActionNotUnderstood(Action):
    """A low-confidence message: answer it if it names a matter; the second miss in a row offers a person."""

    def name(self) -> Text:
        return "action_not_understood"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        inner = CollectingDispatcher()
        events = ActionAnswer().run(inner, tracker, domain)
        missed = [m.get("response") for m in inner.messages] == ["utter_default"]
        if not missed:
            dispatcher.messages.extend(inner.messages)
            return events + [SlotSet("misunderstood", 0.0), SlotSet("handoff_offered", False)]
        count = _misunderstood_before(tracker) + 1
        if count < OFFER_AFTER:
            dispatcher.messages.extend(inner.messages)
            return events + [SlotSet("misunderstood", float(count)), SlotSet("handoff_offered", False)]
        fragments = Fragments(domain)
        dispatcher.utter_message(response="utter_handoff_offer", buttons=[
            {"title": fragments("handoff_offer_yes"), "payload": "/request_human"},
            {"title": fragments("handoff_offer_no"), "payload": "/deny"},
        ])
        return events + [SlotSet("misunderstood", 0.0), SlotSet("handoff_offered", True)]
