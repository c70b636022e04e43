"""ChineseTextNormalizer: the first NLU step, so every later one sees one form of the text.

Traditional characters become simplified (營業執照 → 营业执照) and full-width forms half-width (ＡＰＰ → app),
for the training examples and for every message. Only the NLU's working copy changes: the tracker keeps
what the person typed.

It also cuts every message to `MESSAGE_MAX_CHARS` before any later component reads it, whatever channel it
came through (our channels cut and tell the person first; this is the guard no channel can bypass):
DIET's attention grows with the square of the length. `message_cut` in the parse data gives the original length.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.limits import MESSAGE_MAX_CHARS, cut_message
from knowledge.text import normalize

MESSAGE_CUT = "message_cut"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class ChineseTextNormalizer(GraphComponent):
    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "ChineseTextNormalizer":
        return cls()

    @staticmethod
    def _normalize(message: Message) -> None:
        text = message.get(TEXT)
        if not isinstance(text, str) or not text:
            return
        text, was_cut = cut_message(text, MESSAGE_MAX_CHARS)
        if was_cut:
            message.set(MESSAGE_CUT, {"original_length": len(message.get(TEXT))}, add_to_output=True)
        # Payloads ("/intent{...}") carry codes and JSON that must stay exactly as sent.
        message.set(TEXT, text if text.startswith("/") else normalize(text))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._normalize(example)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._normalize(message)
        return messages
