"""What `action_answer` adds to a single-aspect answer (issue #16): several aspects in one message, policy
amounts and standards, and questions that name another place or an earlier year.

- `answer_order`: the aspects asked, in order ("流程是怎样的？一般要多久？" → procedure, time_limit), from the
  `aspects` the NLU component AspectCueDetector put in the parse; one aspect otherwise.
- `answer_policy_amount`: subsidy levels, benefit standards, reimbursement ratios, tax rates — the catalog does
  not hold them (amounts follow current policy), so the bot names the matter, says so and where to ask; a fee
  or tax the catalog does record (with its basis) is given.
- `note_elsewhere`: "北京…", "2021年…" — the answer is for this hall, today, and the bot says so once.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from knowledge.elsewhere import find_elsewhere
from knowledge.text import normalize
from knowledge.views import HallView, MatterView

from bot.texts.catalog import Fragments

POLICY_AMOUNT = "policy_amount"
POLICY_INTENT = "ask_policy_amount"
HUMAN_PAYLOAD = "/request_human"


def answer_order(tracker: Tracker, aspect: str) -> List[str]:
    """The aspects to answer, in the order asked; `aspect` (DIET's) alone unless the parse lists several."""
    listed = tracker.latest_message.get("aspects") or []
    order = [intent[4:] for intent in listed if isinstance(intent, str) and intent.startswith("ask_")]
    if len(order) < 2 or aspect not in order:
        return [aspect]
    return list(dict.fromkeys(order))


def tidy_buttons(messages: List[Dict[str, Any]], answered: List[str]) -> None:
    """Several answers in one reply: buttons only under the last one, without the aspects just answered."""
    if not messages:
        return
    for message in messages[:-1]:
        message["buttons"] = []
    done = {f"/ask_{aspect}{{" for aspect in answered}
    messages[-1]["buttons"] = [b for b in messages[-1].get("buttons") or []
                               if not any(str(b.get("payload", "")).startswith(p) for p in done)]


def human_button(f: Fragments) -> Dict[str, str]:
    return {"title": f("button_human"), "payload": HUMAN_PAYLOAD}


def answer_policy_amount(dispatcher: CollectingDispatcher, f: Fragments, matter: MatterView, place: str,
                         phone: str, buttons: List[Dict[str, str]]) -> None:
    buttons = buttons + [human_button(f)]
    if matter.fee_amount:  # the one amount the catalog records, with its legal basis
        basis = f("fee_basis", basis=matter.fee_basis) if matter.fee_basis else ""
        dispatcher.utter_message(response="utter_policy_amount_recorded", matter_name=matter.name,
                                 fee=f("fee_amount", amount=matter.fee_amount, basis=basis), place=place,
                                 phone=phone, buttons=buttons)
        return
    dispatcher.utter_message(response="utter_policy_amount", matter_name=matter.name, place=place, phone=phone,
                             buttons=buttons)


def policy_amount_without_matter(dispatcher: CollectingDispatcher, f: Fragments, hall: HallView) -> None:
    dispatcher.utter_message(response="utter_policy_amount_no_matter", phone=hall.phone or f("unknown"),
                             buttons=[human_button(f)])


def own_texts(hall: HallView) -> List[str]:
    return [hall.city or "", hall.name or "", hall.address or ""]


def note_elsewhere(dispatcher: CollectingDispatcher, tracker: Tracker, hall: HallView) -> Optional[str]:
    """Says once, before the answer, that it is this hall's (current) rules; the response's name, or None."""
    text = normalize(tracker.latest_message.get("text") or "")
    found = find_elsewhere(text, own_texts(hall))
    if found is None:
        return None
    if found.place and found.year:
        response = "utter_elsewhere_place_year"
    elif found.place:
        response = "utter_elsewhere_place"
    else:
        response = "utter_elsewhere_year"
    dispatcher.utter_message(response=response, place=found.place or "", year=found.year or "")
    return response
