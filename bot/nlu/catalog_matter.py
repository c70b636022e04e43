"""CatalogMatterExtractor: recognises matters from the catalog itself, at run time.

Nothing about matters is learnt at training time: the component reads the catalog when the Rasa server
loads the model, so a matter added to the catalog (and loaded) is recognised after a restart, without
retraining. For every message it

- ranks matters and bundles with `knowledge.MatterSearch` (words, character and syllable pairs, BM25, then
  closeness in meaning) and puts the ranking in the message as `matter_candidates` (code, name, kind, score)
  for the actions, with the verdict on it as `matter_verdict` (knowledge/verdict.py: fit, ambiguous, none or
  not_in_catalog — then the matter asked about and the related catalog matters to offer);
- finds where the best candidate is named, with a spaCy PhraseMatcher (blank `zh`, jieba segmenter) over
  the catalog's names, aliases and keywords, and adds a `matter` entity for that span, valued with the code.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.settings import Settings
from knowledge import Candidate, MatterSearch, open_catalog
from knowledge.text import normalize

logger = logging.getLogger(__name__)

CANDIDATES = "matter_candidates"
VERDICT = "matter_verdict"
ENTITY = "matter"


class _CatalogIndex:
    """Search ranking and phrase spans over one snapshot of the catalog."""

    def __init__(self, top: int):
        import spacy
        from spacy.matcher import PhraseMatcher

        settings = Settings.from_env()
        catalog = open_catalog(settings.database_url, city=settings.catalog_city)
        terms = catalog.terms()
        self.top = top
        # Words (BM25) and closeness in meaning (knowledge/rerank.py); also teaches jieba the terms.
        self.search = MatterSearch.from_catalog(catalog)
        self.nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
        self.matcher = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        phrases: Dict[str, set] = {}
        for _, code, _, _, text in terms:
            phrases.setdefault(code, set()).add(normalize(text))
        for code, texts in phrases.items():
            self.matcher.add(code, [self.nlp.make_doc(t) for t in sorted(texts)])
        logger.info("catalog matter index: %d matters and bundles, %d terms", len(phrases), len(terms))

    def spans(self, text: str) -> Dict[str, tuple]:
        """Longest span naming each code, as (start, end) character offsets in `text`."""
        doc = self.nlp.make_doc(text)
        found: Dict[str, tuple] = {}
        for match_id, start, end in self.matcher(doc):
            code = self.nlp.vocab.strings[match_id]
            span = doc[start:end]
            current = found.get(code)
            if current is None or span.end_char - span.start_char > current[1] - current[0]:
                found[code] = (span.start_char, span.end_char)
        return found


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class CatalogMatterExtractor(GraphComponent, EntityExtractorMixin):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"top": 3}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["spacy", "jieba"]

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "CatalogMatterExtractor":
        return cls(config)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "CatalogMatterExtractor":
        """Loaded to serve messages (not to train): the index is built in the background right away, so the
        first message does not wait for the catalog and the sentence encoder (a few seconds)."""
        component = cls.create(config, model_storage, resource, execution_context)
        threading.Thread(target=component._warm_up, name="catalog-index", daemon=True).start()
        return component

    def __init__(self, config: Dict[Text, Any]) -> None:
        self._top = int(config.get("top", 3))
        self._index: Optional[_CatalogIndex] = None
        self._lock = threading.Lock()

    def _warm_up(self) -> None:
        try:
            self._catalog_index()
        except Exception:  # the first message will try again and report it
            logger.exception("could not build the catalog matter index in the background")

    def _catalog_index(self) -> _CatalogIndex:
        # Built on first use, not at load: training never needs the catalog.
        with self._lock:
            if self._index is None:
                self._index = _CatalogIndex(self._top)
            return self._index

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if not text.strip() or text.startswith("/"):
                continue
            index = self._catalog_index()
            verdict = index.search.judge(text, top=self._top)
            candidates = list(verdict.candidates)
            message.set(CANDIDATES, [c.as_dict() for c in candidates], add_to_output=True)
            message.set(VERDICT, verdict.as_dict(), add_to_output=True)
            # A matter the catalog lacks is named by no catalog entity: its neighbour must not become "the" matter.
            entity = self._entity(index, text, candidates) if verdict.kind != "not_in_catalog" else None
            if entity:
                message.set(ENTITIES, message.get(ENTITIES, []) + [entity], add_to_output=True)
        return messages

    def _entity(self, index: _CatalogIndex, text: str, candidates: List[Candidate]) -> Optional[Dict]:
        if not candidates:
            return None
        normalized = normalize(text)
        if normalized != text:
            # Without ChineseTextNormalizer ahead in the pipeline, offsets would not fit the text.
            return None
        span = index.spans(normalized).get(candidates[0].code)
        if span is None:
            return None
        entity = {"entity": ENTITY, "start": span[0], "end": span[1], "value": candidates[0].code}
        return self.add_extractor_name([entity])[0]
