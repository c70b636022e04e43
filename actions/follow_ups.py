"""What follows a matter's answer: its 一件事 bundles and its related matters (证照联动 "1+N")."""
from __future__ import annotations

from typing import Optional

from rasa_sdk.executor import CollectingDispatcher

from knowledge.views import MatterView

from bot.texts.catalog import Fragments, matter_button

MAX_RELATED = 5  # one message, a few buttons: more would drown the answer


def offer_follow_ups(dispatcher: CollectingDispatcher, f: Fragments, matter: MatterView,
                     seen_bundle: Optional[str] = None) -> None:
    """After a matter's list or overview: its 一件事 bundles (unless just seen), then its related matters."""
    bundles = [b for b in matter.bundles if b.code != seen_bundle]
    if bundles:
        dispatcher.utter_message(response="utter_bundle_offer", matter_name=matter.name,
                                 bundles=f("list_separator").join(b.name for b in bundles),
                                 buttons=[matter_button(b.code, b.name) for b in bundles])
    if matter.related:
        # 证照联动 "1+N": what the catalog says goes with this matter; one message, a few buttons.
        dispatcher.utter_message(response="utter_related", matter_name=matter.name,
                                 buttons=[matter_button(r.code, r.name) for r in matter.related[:MAX_RELATED]])
