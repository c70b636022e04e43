"""Where to find a person: the hall's help desk and its 办不成事 window, from the catalog."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from . import catalog_access
from bot.texts.catalog import Fragments


class _HallPlaceReply:
    """Shared run(); not an Action itself, because rasa_sdk registers every Action subclass."""

    response = ""
    place_attribute = ""

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        fragments = Fragments(domain)
        hall = catalog_access.catalog().hall()
        dispatcher.utter_message(response=self.response, place=fragments.place(getattr(hall, self.place_attribute)),
                                 phone=hall.phone or fragments("unknown"), hours=hall.hours)
        return []


class ActionHumanHelp(_HallPlaceReply, Action):
    response, place_attribute = "utter_human_help", "help_place"

    def name(self) -> Text:
        return "action_human_help"


class ActionComplaintInfo(_HallPlaceReply, Action):
    response, place_attribute = "utter_complaint_info", "complaint_place"

    def name(self) -> Text:
        return "action_complaint_info"
