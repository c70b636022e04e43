"""好差评 (ratings) and 办不成事 (complaint intake).

Ratings: `action_ask_rating` asks on goodbye or when the web server reports the person idle (EXTERNAL_idle),
once per session and only after the bot answered something; `action_rate` stores the score (kind "bot", or
"human" after a helper, see action_handoff_returned) through actions/feedback_writes.py, then `rating_comment_form` takes
an optional comment; a low score asks what went wrong and offers a helper (reason low_rating).

Complaints: `complaint_form` takes the matter (unless known), what happened and a contact number;
`action_complaint_submit` stores the complaint (actions/feedback_writes.py: kept even when the web server is down),
gives its reference number and the hall's commitment time from the catalog, and opens a ticket for a helper.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.limits import clean_text
from bot.privacy import mask_personal_data

from . import catalog_access
from .feedback_writes import attach_ticket, save_comment, save_complaint, save_rating
from .hall_help import ActionComplaintInfo
from .handoff import (HandoffUnavailable, _intent, announce, matter_of, normalise_phone, offline_notice,
                      session_events, ticket_body)
from .rating_question import BOT, LOW, ask_rating, rating_buttons, score_from
from bot.texts.catalog import Fragments

logger = logging.getLogger(__name__)

# Messages that are not a question the bot answered (a rating is asked only after a real answer).
NOT_QUESTIONS = {"greet", "goodbye", "thank", "affirm", "deny", "rate", "session_start", "out_of_scope",
                 "ask_capabilities", "nlu_fallback", "EXTERNAL_idle", "EXTERNAL_handoff_returned",
                 "EXTERNAL_handoff_closed"}
COMPLAINT_SLOTS = ("complaint_matter", "complaint_detail", "complaint_phone", "complaint_opening")
MAX_COMMENT = 1000
MAX_DETAIL = 2000

def answered_something(tracker: Tracker) -> bool:
    """In this session, the person asked something (not just hello/bye) and the bot replied after it."""
    asked = False
    for event in session_events(tracker):
        if event.get("event") == "user" and _intent(event) not in NOT_QUESTIONS:
            asked = True
        elif asked and event.get("event") == "bot":
            return True
    return False


def _channel(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or "rest"


def _clean(value: Any, limit: int) -> Optional[str]:
    text = value if isinstance(value, str) else ""
    if text.strip().startswith("/"):  # a button payload is not what the person wrote
        return None
    return clean_text(text, limit) or None


# ---- 好差评 ---------------------------------------------------------------------------------------


class ActionAskRating(Action):
    """Goodbye or idle: ask for a rating once per session, after a real answer and never during a handoff."""

    def name(self) -> Text:
        return "action_ask_rating"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        idle = (tracker.latest_message.get("intent") or {}).get("name") == "EXTERNAL_idle"
        eligible = (not tracker.get_slot("rating_asked") and tracker.get_slot("handoff_ticket") is None
                    and answered_something(tracker))
        if eligible:
            return ask_rating(dispatcher, domain, "utter_ask_rating_idle" if idle else "utter_ask_rating_goodbye", BOT)
        if not idle:
            dispatcher.utter_message(response="utter_goodbye")
        return []


class ActionRate(Action):
    """A tap on a rating button (or the words typed): stored at once; the comment is optional."""

    def name(self) -> Text:
        return "action_rate"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        score = score_from(tracker.get_slot("rating_score"), tracker.latest_message.get("text"), domain)
        events = [SlotSet("rating_score", None)]
        if score is None:
            dispatcher.utter_message(response="utter_rating_unclear", buttons=rating_buttons(domain))
            return events + [SlotSet("rating_pending", False)]
        kind = tracker.get_slot("rating_kind") or BOT
        channel, sender, matter = _channel(tracker), tracker.sender_id, tracker.get_slot("matter")
        rating_id = await save_rating(channel, sender, score, kind, matter)
        logger.info("rating %s kind=%s score=%d", rating_id, kind, score)
        return events + [SlotSet("rating_id", float(rating_id) if rating_id else None),
                         SlotSet("rating_low", score <= LOW), SlotSet("rating_asked", True),
                         SlotSet("rating_kind", None), SlotSet("rating_pending", True)]


class ActionAskRatingComment(Action):
    """The comment question of rating_comment_form: after a low score, what went wrong."""

    def name(self) -> Text:
        return "action_ask_rating_comment"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        response = "utter_ask_rating_problem" if tracker.get_slot("rating_low") else "utter_ask_rating_comment"
        dispatcher.utter_message(response=response,
                                 buttons=[{"title": Fragments(domain)("rating_skip"), "payload": "/deny"}])
        return []


class ValidateRatingCommentForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_rating_comment_form"

    def validate_rating_comment(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: Dict[Text, Any]) -> Dict[Text, Any]:
        return {"rating_comment": _clean(value, MAX_COMMENT)}


class ActionRatingComment(Action):
    """After the comment (or skipping it): thanks; after a low score, the offer of a helper."""

    def name(self) -> Text:
        return "action_rating_comment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        comment, rating_id = tracker.get_slot("rating_comment"), tracker.get_slot("rating_id")
        if comment and rating_id:
            channel, sender = _channel(tracker), tracker.sender_id
            await save_comment(int(rating_id), channel, sender, comment)
        events = [SlotSet("rating_comment", None), SlotSet("rating_pending", False), SlotSet("rating_id", None)]
        if tracker.get_slot("rating_low"):
            fragments = Fragments(domain)
            dispatcher.utter_message(response="utter_rating_offer_helper", buttons=[
                {"title": fragments("handoff_offer_yes"), "payload": "/affirm"},
                {"title": fragments("handoff_offer_no"), "payload": "/deny"},
            ])
            # Accepting runs action_handoff, which takes this reason (the low_rating hook).
            return events + [SlotSet("handoff_reason", "low_rating"), SlotSet("handoff_offered", True)]
        dispatcher.utter_message(response="utter_rating_thanks" if comment else "utter_rating_thanks_no_comment")
        return events + [SlotSet("rating_low", False), SlotSet("handoff_offered", False)]


class ActionRatingDone(Action):
    """The helper offered after a low rating was declined."""

    def name(self) -> Text:
        return "action_rating_done"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        dispatcher.utter_message(response="utter_rating_offer_declined")
        return [SlotSet("handoff_reason", None), SlotSet("handoff_offered", False), SlotSet("rating_low", False)]


# ---- 办不成事 -------------------------------------------------------------------------------------


def _matter_entity(tracker: Tracker) -> Optional[str]:
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "matter" and isinstance(entity.get("value"), str):
            return entity["value"]
    return None


def _matter_name(code: Optional[str]) -> Optional[str]:
    try:
        matter = catalog_access.catalog().matter(code) if code else None
    except Exception:
        logger.exception("catalog lookup failed for %s", code)
        return None
    return matter.name if matter else None


class ActionComplaintStart(Action):
    """办不成事: say what happens next; the matter of the conversation (or named now) is not asked again."""

    def name(self) -> Text:
        return "action_complaint_start"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        fragments = Fragments(domain)
        hall = catalog_access.catalog().hall()
        dispatcher.utter_message(response="utter_complaint_intro", place=fragments.place(hall.complaint_place))
        events = [SlotSet(name, None) for name in COMPLAINT_SLOTS]
        events.append(SlotSet("complaint_opening", _clean(tracker.latest_message.get("text"), MAX_DETAIL)))
        code = _matter_entity(tracker) or tracker.get_slot("matter")
        name = _matter_name(code)
        if name:
            events += [SlotSet("matter", code), SlotSet("complaint_matter", name)]
        return events


class ValidateComplaintForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_complaint_form"

    def validate_complaint_matter(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: Dict[Text, Any]) -> Dict[Text, Any]:
        text = _clean(value, 200)
        code = _matter_entity(tracker)
        name = _matter_name(code)
        if name:
            return {"complaint_matter": name, "matter": code}
        return {"complaint_matter": text}

    def validate_complaint_detail(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: Dict[Text, Any]) -> Dict[Text, Any]:
        return {"complaint_detail": _clean(value, MAX_DETAIL)}

    def validate_complaint_phone(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: Dict[Text, Any]) -> Dict[Text, Any]:
        phone = normalise_phone(value if isinstance(value, str) else "")
        if phone is None:
            dispatcher.utter_message(response="utter_handoff_invalid_phone")
        return {"complaint_phone": phone}


class ActionComplaintSubmit(Action):
    """Store the complaint (reference number), tell the commitment time, hand it to a helper."""

    def name(self) -> Text:
        return "action_complaint_submit"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        fragments = Fragments(domain)
        reset = [SlotSet(name, None) for name in COMPLAINT_SLOTS]
        opening, detail = tracker.get_slot("complaint_opening"), tracker.get_slot("complaint_detail") or ""
        phone, named = tracker.get_slot("complaint_phone"), tracker.get_slot("complaint_matter")
        matter = matter_of(tracker)
        text = "\n".join(part for part in (opening, detail) if part)
        channel, sender = _channel(tracker), tracker.sender_id
        try:
            complaint = await save_complaint(channel, sender, text, phone or "", matter.code if matter else None,
                                             None if matter else named)
        except Exception:
            logger.exception("complaint of %s could not be stored", mask_personal_data(sender))
            return ActionComplaintInfo().run(dispatcher, tracker, domain) + reset
        logger.info("complaint %s stored for %s", complaint.reference, mask_personal_data(sender))

        hall = catalog_access.catalog().hall()
        if hall.complaint_reply_days:
            dispatcher.utter_message(response="utter_complaint_recorded", reference=complaint.reference,
                                     days=hall.complaint_reply_days, phone=phone)
        else:
            dispatcher.utter_message(response="utter_complaint_recorded_no_days", reference=complaint.reference,
                                     phone=phone)
        matter_label = matter.name if matter else (named or fragments("handoff_no_matter"))
        problem = fragments("complaint_problem", reference=complaint.reference, matter=matter_label, detail=text)
        try:
            ticket = await catalog_access.handoff().open_ticket(
                ticket_body(tracker, domain, "complain", matter, problem, phone))
            await attach_ticket(complaint.id, int(ticket["ticket_id"]))
            events = reset + [SlotSet("handoff_ticket", float(ticket["ticket_id"])),
                              SlotSet("handoff_offered", False), SlotSet("handoff_reason", None)]
            if ticket.get("status") == "collecting":
                # Out of hours or nobody on duty: the complaint is the message, the number is the callback.
                offline_notice(dispatcher, ticket)
                await catalog_access.handoff().leave_message(int(ticket["ticket_id"]), problem, phone)
                dispatcher.utter_message(response="utter_complaint_callback", phone=phone)
                return events
            return events + announce(dispatcher, ticket)
        except HandoffUnavailable as exc:
            logger.warning("complaint %s: no ticket (%s); staff see it in the complaint list",
                           complaint.reference, mask_personal_data(str(exc)))
            dispatcher.utter_message(response="utter_complaint_callback", phone=phone)
            return reset


class ActionComplaintCancel(Action):
    """The person bailed out of the complaint form ("算了")."""

    def name(self) -> Text:
        return "action_complaint_cancel"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        hall = catalog_access.catalog().hall()
        dispatcher.utter_message(response="utter_complaint_cancelled",
                                 place=Fragments(domain).place(hall.complaint_place))
        return [SlotSet(name, None) for name in COMPLAINT_SLOTS]
