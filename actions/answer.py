"""Answers any aspect of a matter from the catalog, or asks which matter is meant."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from knowledge.views import BundleView, MatterView

from . import catalog_access, guide, understanding
from .follow_ups import offer_follow_ups
from bot.texts.catalog import ASPECTS, Fragments, hall_values, matter_button
from .resolve import resolve
from .unknown_matter import say_not_in_catalog

logger = logging.getLogger(__name__)

INTENT_ASPECT = {f"ask_{aspect}": aspect for aspect in ASPECTS}
INTENT_ASPECT[understanding.POLICY_INTENT] = understanding.POLICY_AMOUNT
OVERVIEW = "overview"
# Answers after which a matter's bundles and related matters are offered (not after "在哪办", "多久");
# the materials list offers them itself, after the situation questions (actions/guide.py).
FOLLOW_UP_ASPECTS = (OVERVIEW,)


def requested_aspect(tracker: Tracker) -> str:
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    if intent in INTENT_ASPECT:
        return INTENT_ASPECT[intent]
    if intent == "choose_matter":
        return tracker.get_slot("aspect") or OVERVIEW
    return OVERVIEW


class ActionAnswer(Action):
    def name(self) -> Text:
        return "action_answer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        fragments = Fragments(domain)
        catalog = catalog_access.catalog()
        aspect = requested_aspect(tracker)
        resolution = resolve(tracker, catalog)
        logger.info("aspect=%s resolution=%s code=%s", aspect, resolution.kind, resolution.code)

        if resolution.kind == "ambiguous":
            dispatcher.utter_message(response="utter_clarify_matter",
                                     buttons=[matter_button(c.code, c.name) for c in resolution.candidates])
            return [SlotSet("aspect", aspect)]
        if resolution.kind == "bundle":
            understanding.note_elsewhere(dispatcher, tracker, catalog.hall())
            self._answer_bundle(dispatcher, fragments, catalog.bundle(resolution.code))
            return [SlotSet("bundle", resolution.code), SlotSet("aspect", aspect)]
        if resolution.kind == "none":
            return self._without_matter(dispatcher, tracker, fragments, aspect)
        if resolution.kind == "not_in_catalog":  # a matter the catalog lacks: no neighbour's facts
            return say_not_in_catalog(dispatcher, fragments, resolution, aspect)

        matter = catalog.matter(resolution.code)
        understanding.note_elsewhere(dispatcher, tracker, catalog.hall())
        aspects = understanding.answer_order(tracker, aspect)
        if len(aspects) > 1:
            return self._answer_several(dispatcher, tracker, fragments, matter, aspects)
        if aspect == "materials":  # the list for the person's situation (情形引导), then the checklist
            return [SlotSet("aspect", aspect)] + guide.materials(dispatcher, tracker, fragments, matter)
        self._answer(dispatcher, fragments, matter, aspect)
        if aspect in FOLLOW_UP_ASPECTS:
            offer_follow_ups(dispatcher, fragments, matter, seen_bundle=tracker.get_slot("bundle"))
        return [SlotSet("matter", matter.code), SlotSet("aspect", aspect)]

    def _answer_several(self, dispatcher: CollectingDispatcher, tracker: Tracker, f: Fragments, matter: MatterView,
                        aspects: List[str]) -> List[Dict]:
        """Two or more aspects in one message: each answer, in the order asked. When the material list must
        wait for situation questions, the other answers come first and the questions last."""
        if "materials" in aspects and guide.list_needs_questions(tracker, matter):
            aspects = [a for a in aspects if a != "materials"] + ["materials"]
        events: List[Dict] = [SlotSet("matter", matter.code)]
        answers = []  # this action's own answers (the material list keeps its follow-ups and checklist offer)
        for aspect in aspects:
            if aspect == "materials":
                events += guide.materials(dispatcher, tracker, f, matter)
            else:
                first = len(dispatcher.messages)
                self._answer(dispatcher, f, matter, aspect)
                answers += dispatcher.messages[first:]
        understanding.tidy_buttons(answers, aspects)
        return [SlotSet("aspect", aspects[-1])] + events

    def _answer_bundle(self, dispatcher: CollectingDispatcher, f: Fragments, bundle: BundleView) -> None:
        materials = f.bundle_material_lines(bundle)
        dispatcher.utter_message(response="utter_bundle", bundle_name=bundle.name, count=len(bundle.members),
                                 members=f.bundle_members(bundle), intro=f.bundle_intro(bundle),
                                 material_count=len(materials), materials="\n".join(materials),
                                 place=f.place(bundle.place), time_limit=f.bundle_time(bundle),
                                 buttons=[matter_button(m.code, m.name) for m in bundle.members])

    def _without_matter(self, dispatcher, tracker, fragments, aspect) -> List[Dict]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if aspect == understanding.POLICY_AMOUNT:
            understanding.policy_amount_without_matter(dispatcher, fragments, catalog_access.catalog().hall())
            return [SlotSet("aspect", aspect)]
        if aspect in ("hours", "location"):
            hall = catalog_access.catalog().hall()
            response = "utter_hall_hours" if aspect == "hours" else "utter_hall_location"
            dispatcher.utter_message(response=response, **hall_values(hall, fragments))
            return []
        if intent == "out_of_scope":
            dispatcher.utter_message(response="utter_out_of_scope")
            return []
        if aspect == OVERVIEW and intent != "inform_matter":
            dispatcher.utter_message(response="utter_default")
            return []
        dispatcher.utter_message(response="utter_ask_matter")
        return [SlotSet("aspect", aspect)]

    def _answer(self, dispatcher: CollectingDispatcher, f: Fragments, matter: MatterView, aspect: str) -> None:
        name, place = matter.name, f.place(matter.place)
        hall = catalog_access.catalog().hall()
        phone = matter.contact_phone or hall.phone or f("unknown")
        buttons = f.aspect_buttons(matter.code, skip=aspect)

        def say_unknown() -> None:
            dispatcher.utter_message(response="utter_unknown_fact", matter_name=name, place=place, phone=phone,
                                     aspect_label=f.aspect_label(aspect), buttons=buttons)

        if aspect == "conditions":
            dispatcher.utter_message(response="utter_conditions", matter_name=name,
                                     conditions=f.numbered(list(matter.conditions)), buttons=buttons)
        elif aspect == "procedure":
            dispatcher.utter_message(response="utter_procedure", matter_name=name, steps=f.steps(matter),
                                     visits=f.visits(matter.visits), buttons=buttons)
        elif aspect == "time_limit":
            time_limit = f.time_limit(matter)
            if time_limit is None:
                say_unknown()
            else:
                dispatcher.utter_message(response="utter_time_limit", matter_name=name, time_limit=time_limit,
                                         buttons=buttons)
        elif aspect == "fee":
            fee = f.fee(matter)
            if fee is None:
                say_unknown()
            else:
                dispatcher.utter_message(response="utter_fee", matter_name=name, fee=fee, buttons=buttons)
        elif aspect == "location":
            dispatcher.utter_message(response="utter_location", matter_name=name, place=place,
                                     hours=matter.hours or hall.hours, phone=phone, buttons=buttons)
        elif aspect == "online":
            dispatcher.utter_message(response="utter_online", matter_name=name, online=f.online(matter),
                                     buttons=buttons)
        elif aspect == understanding.POLICY_AMOUNT:
            understanding.answer_policy_amount(dispatcher, f, matter, place, phone, buttons)
        elif aspect == "hours":
            dispatcher.utter_message(response="utter_hours", matter_name=name, hours=matter.hours or hall.hours,
                                     place=place, buttons=buttons)
        else:
            dispatcher.utter_message(response="utter_matter_overview", matter_name=name,
                                     overview=f.overview(matter), buttons=buttons)

