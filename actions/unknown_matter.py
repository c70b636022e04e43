"""A matter the catalog lacks (Resolution "not_in_catalog", knowledge/verdict.py): say so plainly, offer at most
three genuinely related catalog matters, the hall's phone and 转人工 — and state no fact of any other matter."""
from __future__ import annotations

from typing import Dict, List

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from knowledge.verdict import MAX_RELATED

from . import catalog_access
from bot.texts.catalog import Fragments, matter_button
from .resolve import Resolution


def say_not_in_catalog(dispatcher: CollectingDispatcher, fragments: Fragments, resolution: Resolution,
                       aspect: str) -> List[Dict]:
    hall = catalog_access.catalog().hall()
    related = resolution.candidates[:MAX_RELATED]
    buttons = [matter_button(c.code, c.name) for c in related]
    buttons.append({"title": fragments("handoff_offer_yes"), "payload": "/request_human"})
    values = {"phone": hall.phone or fragments("unknown"),
              "related": fragments("not_in_catalog_related") if related else ""}
    if resolution.missing:
        dispatcher.utter_message(response="utter_matter_not_in_catalog", missing=resolution.missing,
                                 buttons=buttons, **values)
    else:
        dispatcher.utter_message(response="utter_matter_not_in_catalog_unnamed", buttons=buttons, **values)
    # The conversation's matter is not what the person asks about now: "要多久" next must not answer for it.
    return [SlotSet("matter", None), SlotSet("aspect", aspect)]
