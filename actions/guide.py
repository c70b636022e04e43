"""情形引导 and 一次性告知单: the material list for the person's own situation, then what is still missing.

- `materials()` is action_answer's materials answer: when some material depends on an unanswered situation
  question, it activates `situation_form` (an ActiveLoop event: the loop runs next); otherwise it gives the list.
- `situation_form` has one required slot, `situation_answer`, asked by `action_ask_situation_answer` as long
  as a question that changes the list is open (`validate_situation_form.required_slots`). The answers live
  in the dict slot `situation_answers` for the matter in `guide_matter`.
- A message with another aspect, 转人工 etc. is not mapped to `situation_answer` (`not_intent` in the
  domain), so the form is rejected and rules (data/rules/guide.yml) leave it and answer the message.
- "不对，是个体户" in or after the form moves to that matter, keeping the answers that mean the same there.
- `action_checklist` reads what the person has (positions or names) and says exactly what is missing, with
  the link to the printable notice (PUBLIC_URL + knowledge.notice.notice_path) — only while the checklist is
  open (`checklist_open`: the bot's last words were the list's offer or a checklist reply); after another
  answer it offers the list again instead of reading the words against an old list.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from knowledge.checklist import read_checklist
from knowledge.notice import notice_path
from knowledge.situations import (corrected_matter, load_situation_words, match_answers, next_question,
                                  pending_questions, situation_summary, valid_answers)
from knowledge.views import MatterView

from . import catalog_access
from .follow_ups import offer_follow_ups
from bot.texts.catalog import Fragments
from .resolve import resolve

logger = logging.getLogger(__name__)

SITUATION_FORM = "situation_form"
ANSWER_SLOT = "situation_answer"
ANSWERS_SLOT = "situation_answers"
MATTER_SLOT = "guide_matter"
OPTION_ENTITY = "situation_option"
REQUESTED_SLOT = "requested_slot"
# A reply that names another matter may move the questions to it ("不对，是个体户").
SWITCH_INTENTS = {"change_answer", "inform_situation", "inform_matter"}


def _intent(tracker: Tracker) -> Optional[str]:
    return (tracker.latest_message.get("intent") or {}).get("name")


def _free_text(text: Optional[str]) -> str:
    return "" if not text or text.startswith("/") else text  # a button payload is not the person's words


def _user_texts(tracker: Tracker) -> List[str]:
    """The person's words for this request: the latest message and, after a button, the question before it."""
    texts = [_free_text(tracker.latest_message.get("text"))]
    if _intent(tracker) == "choose_matter" or not texts[0]:
        users = [e for e in tracker.events if e.get("event") == "user"]
        if len(users) >= 2:
            texts.append(_free_text(users[-2].get("text")))
    return [t for t in texts if t]


def hints(tracker: Tracker, matter: MatterView) -> Dict[str, str]:
    """Answers the person already gave in their own words ("帮我爸办营业执照要带啥" → agent: agent)."""
    words = load_situation_words()
    found: Dict[str, str] = {}
    for text in reversed(_user_texts(tracker)):  # the latest words win
        found.update(match_answers(matter, text, words))
    return found


def stored_answers(tracker: Tracker, matter: MatterView) -> Dict[str, str]:
    if tracker.get_slot(MATTER_SLOT) != matter.code:
        return {}
    raw = tracker.get_slot(ANSWERS_SLOT)
    return valid_answers(matter, raw if isinstance(raw, dict) else {})


def _payload_answer(tracker: Tracker, matter: MatterView) -> Dict[str, str]:
    """A situation button's payload: /inform_situation{"situation_option": "agent:agent"}."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == OPTION_ENTITY and isinstance(entity.get("value"), str):
            situation, _, option = entity["value"].partition(":")
            return valid_answers(matter, {situation: option})
    return {}


_terms: Dict[str, Any] = {"catalog": None, "terms": []}


def _catalog_terms(catalog) -> list:
    # Read once per catalog object (the action server keeps one for its life).
    if _terms["catalog"] is not catalog:
        _terms.update(catalog=catalog, terms=catalog.terms())
    return _terms["terms"]


def _named_matter(tracker: Tracker, current: MatterView) -> Optional[MatterView]:
    """Another matter the message clearly names: "不对，是个体户", a payload, or a recognised name."""
    catalog = catalog_access.catalog()
    code = corrected_matter(_free_text(tracker.latest_message.get("text")), _catalog_terms(catalog))
    if code and code != current.code:
        return catalog.matter(code)
    resolution = resolve(tracker, catalog)
    if resolution.kind != "matter" or resolution.from_context or resolution.code == current.code:
        return None
    named = any(e.get("entity") == "matter" and e.get("value") == resolution.code
                for e in tracker.latest_message.get("entities") or [])
    return catalog.matter(resolution.code) if named else None


@dataclass
class Reading:
    kind: str  # "answer" | "switch" | "restart" | "stay" (not understood: asked again)
    matter: MatterView
    answers: Dict[str, str]


def read_reply(tracker: Tracker, matter: MatterView, answers: Dict[str, str]) -> Reading:
    """What the person's reply does to the situation answers of `matter`."""
    asked = next_question(matter, answers)
    text = _free_text(tracker.latest_message.get("text"))
    found = _payload_answer(tracker, matter) or match_answers(matter, text, load_situation_words(),
                                                              asked=asked.code if asked else None)
    if found:
        return Reading("answer", matter, {**answers, **found})
    intent = _intent(tracker)
    if intent in SWITCH_INTENTS:
        other = _named_matter(tracker, matter)
        if other is not None:
            carried = {**valid_answers(other, answers), **hints(tracker, other)}
            return Reading("switch", other, carried)
    if intent == "change_answer":
        return Reading("restart", matter, {})
    return Reading("stay", matter, answers)


# ---- the list, and the offer to check it ----------------------------------------------------------

def public_url() -> str:
    return catalog_access.settings().public_url


def show_list(dispatcher: CollectingDispatcher, tracker: Tracker, fragments: Fragments, matter: MatterView,
              answers: Dict[str, str]) -> None:
    lines = fragments.material_lines(matter, answers)
    common = dict(matter_name=matter.name, count=len(lines), materials="\n".join(lines),
                  place=fragments.place(matter.place), buttons=fragments.aspect_buttons(matter.code, skip="materials"))
    summary = situation_summary(matter, answers)
    if summary:
        dispatcher.utter_message(response="utter_materials_for_situation",
                                 situation=fragments("situation_separator").join(summary), **common)
    else:
        dispatcher.utter_message(response="utter_materials", **common)
    offer_follow_ups(dispatcher, fragments, matter, seen_bundle=tracker.get_slot("bundle"))
    items = [{"index": i, "name": material.name} for i, (material, _) in enumerate(matter.materials_for(answers), 1)]
    # The web page shows this as checkboxes; other channels show the text and take typed numbers.
    dispatcher.utter_message(response="utter_checklist_offer", json_message={"checklist": {
        "items": items, "label": fragments("checklist_label"), "submit": fragments("checklist_submit"),
        "none": fragments("checklist_none")}})


def begin(dispatcher: CollectingDispatcher, tracker: Tracker, fragments: Fragments, matter: MatterView,
          answers: Dict[str, str]) -> List[Dict[Text, Any]]:
    """Ask the open questions (situation_form runs next), or give the list."""
    answers = valid_answers(matter, answers)
    events = [SlotSet("matter", matter.code), SlotSet(MATTER_SLOT, matter.code), SlotSet(ANSWERS_SLOT, answers),
              SlotSet(ANSWER_SLOT, None)]
    pending = pending_questions(matter, answers)
    if pending:
        questions = fragments("one_question") if len(pending) == 1 else fragments("some_questions", count=len(pending))
        dispatcher.utter_message(response="utter_situation_intro", matter_name=matter.name, questions=questions)
        # requested_slot cleared first, so the form does not read this message as the answer to a question.
        return events + [SlotSet(REQUESTED_SLOT, None), ActiveLoop(SITUATION_FORM)]
    show_list(dispatcher, tracker, fragments, matter, answers)
    return events


def materials(dispatcher: CollectingDispatcher, tracker: Tracker, fragments: Fragments,
              matter: MatterView) -> List[Dict[Text, Any]]:
    """action_answer's answer to "what do I bring": the questions first when the list depends on them."""
    answers = {**stored_answers(tracker, matter), **hints(tracker, matter)}
    return begin(dispatcher, tracker, fragments, matter, answers)


def list_needs_questions(tracker: Tracker, matter: MatterView) -> bool:
    """Whether `materials()` would ask situation questions before the list (rather than give it now)."""
    answers = valid_answers(matter, {**stored_answers(tracker, matter), **hints(tracker, matter)})
    return bool(pending_questions(matter, answers))


def _current_matter(tracker: Tracker) -> Optional[MatterView]:
    code = tracker.get_slot("matter")
    return catalog_access.catalog().matter(code) if code else None


# ---- situation_form ---------------------------------------------------------------------------------

class ValidateSituationForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_situation_form"

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: Dict[Text, Any]) -> List[Text]:
        matter = _current_matter(tracker)
        if matter is not None and next_question(matter, stored_answers(tracker, matter)) is not None:
            return [ANSWER_SLOT]
        return []

    def _reading(self, tracker: Tracker) -> Optional[Reading]:
        matter = _current_matter(tracker)
        if matter is None:
            return None
        return read_reply(tracker, matter, stored_answers(tracker, matter))

    def validate_situation_answer(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: Dict[Text, Any]) -> Dict[Text, Any]:
        reading = self._reading(tracker)
        if reading is None:
            return {ANSWER_SLOT: None}
        logger.info("situation reply: %s %s", reading.kind, reading.answers)
        if reading.kind == "switch":
            dispatcher.utter_message(response="utter_situation_matter_changed", matter_name=reading.matter.name)
        elif reading.kind == "restart":
            dispatcher.utter_message(response="utter_situation_restart")
        elif reading.kind == "stay":
            dispatcher.utter_message(response="utter_situation_not_matched")
        return {ANSWER_SLOT: None, ANSWERS_SLOT: reading.answers, "matter": reading.matter.code,
                MATTER_SLOT: reading.matter.code}


class ActionAskSituationAnswer(Action):
    """Asks the first open question that changes the list, with the catalog's options as buttons."""

    def name(self) -> Text:
        return "action_ask_situation_answer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        matter = _current_matter(tracker)
        question = next_question(matter, stored_answers(tracker, matter)) if matter else None
        if question is not None:
            buttons = [{"title": label, "payload": f'/inform_situation{{"{OPTION_ENTITY}":"{question.code}:{code}"}}'}
                       for code, label in question.options]
            dispatcher.utter_message(response="utter_ask_situation", question=question.question, buttons=buttons)
        return []


class ActionSituationList(Action):
    """The complete list once the questions are answered (situation_form is done)."""

    def name(self) -> Text:
        return "action_situation_list"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        matter = _current_matter(tracker)
        if matter is None:
            dispatcher.utter_message(response="utter_ask_matter")
            return []
        show_list(dispatcher, tracker, Fragments(domain), matter, stored_answers(tracker, matter))
        return []


class ActionChangeSituation(Action):
    """After the list: "不对，是委托别人办的", "改一下", "不对，是个体户" redo the list (asking again if needed)."""

    def name(self) -> Text:
        return "action_change_situation"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        fragments = Fragments(domain)
        matter = _current_matter(tracker)
        if matter is None:
            dispatcher.utter_message(response="utter_ask_matter")
            return []
        reading = read_reply(tracker, matter, stored_answers(tracker, matter))
        if reading.kind == "switch":
            dispatcher.utter_message(response="utter_situation_matter_changed", matter_name=reading.matter.name)
        elif reading.kind == "answer":
            summary = situation_summary(matter, reading.answers)
            dispatcher.utter_message(response="utter_situation_changed",
                                     situation=fragments("situation_separator").join(summary))
        elif not matter.situations:
            dispatcher.utter_message(response="utter_situation_no_questions", matter_name=matter.name)
            return []
        else:
            dispatcher.utter_message(response="utter_situation_restart")
            reading = Reading("restart", matter, {})
        return begin(dispatcher, tracker, fragments, reading.matter, reading.answers)


# ---- 一次性告知单 -------------------------------------------------------------------------------------

# The bot's words that leave the checklist open: the list's offer, and the checklist's own replies.
CHECKLIST_RESPONSES = {"utter_checklist_offer", "utter_checklist_missing", "utter_checklist_complete",
                       "utter_checklist_not_understood"}


def checklist_open(tracker: Tracker) -> bool:
    """Is the person still answering the list's checklist? Only while the bot's last words before this message
    were the list's offer or a checklist reply: once anything else was answered (那要多久？), it is closed."""
    events = list(tracker.events)
    users = [i for i, e in enumerate(events) if e.get("event") == "user"]
    for event in reversed(events[:users[-1]] if users else events):
        if event.get("event") == "bot":
            return (event.get("metadata") or {}).get("utter_action") in CHECKLIST_RESPONSES
    return False


class ActionChecklist(Action):
    """What is still missing from the list shown, from "1、3、4" or "我有身份证和租房合同"."""

    def name(self) -> Text:
        return "action_checklist"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        fragments = Fragments(domain)
        matter = _current_matter(tracker)
        if matter is None:
            dispatcher.utter_message(response="utter_checklist_no_list")
            return []
        if not checklist_open(tracker):
            # The conversation moved on since the list: these words are not read as a checklist answer.
            logger.info("checklist closed for matter=%s; the list is offered again", matter.code)
            dispatcher.utter_message(response="utter_checklist_closed", matter_name=matter.name,
                                     buttons=[{"title": fragments("button_materials"),
                                               "payload": f'/ask_materials{{"matter":"{matter.code}"}}'}])
            return []
        answers = stored_answers(tracker, matter)
        listed = [material for material, _ in matter.materials_for(answers)]
        text = tracker.latest_message.get("text") or ""
        reading = read_checklist(text, [m.name for m in listed], load_situation_words().material_synonyms,
                                 general=[m.required for m in listed])
        if reading.nothing:
            reading.have.clear()
        elif reading.everything:
            reading.have.update(range(1, len(listed) + 1))
        elif not reading.have:
            dispatcher.utter_message(response="utter_checklist_not_understood", count=len(listed))
            return []
        have = sorted(reading.have)
        url = public_url() + notice_path(matter.code, answers, have)
        unknown = fragments("checklist_unknown", items=fragments("list_separator").join(reading.unknown)) \
            if reading.unknown else ""
        lines = fragments.material_lines(matter, answers)
        missing = [line for position, line in enumerate(lines, 1) if position not in reading.have]
        logger.info("checklist matter=%s have=%s missing=%d", matter.code, have, len(missing))
        if not missing:
            dispatcher.utter_message(response="utter_checklist_complete", count=len(lines),
                                     place=fragments.place(matter.place), unknown=unknown, notice_url=url)
            return []
        have_names = fragments("list_separator").join(listed[p - 1].name for p in have) or \
            fragments("checklist_nothing")
        dispatcher.utter_message(response="utter_checklist_missing", have=have_names, count=len(missing),
                                 missing="\n".join(missing), unknown=unknown, notice_url=url)
        return []
