"""The domain-text service: every sentence a person reads is a `domain.yml` response, read here and nowhere else.

`DomainTexts.load(path)` reads the domain's responses once per process (cached by path); an action builds one
from the domain Rasa hands it (`DomainTexts.of(domain)`), the same parsing either way. `render(name, **values)`
never raises (a missing response or variable is logged and left empty: a person must still get an answer);
`template(name)` raises KeyError, for code that must not go on without its sentence. `bot.texts.catalog.Fragments`
phrases catalog facts with the `utter_fragment_*` responses.
"""
from __future__ import annotations

import functools
import logging
import string
from pathlib import Path
from typing import Any, Dict, List, Mapping

import yaml

logger = logging.getLogger(__name__)


class _Blank(dict):
    def __missing__(self, key):
        logger.error("domain text variable %r missing", key)
        return ""


def _domain_files(path: Path) -> List[Path]:
    if path.is_file():
        return [path]
    # Rasa also accepts a domain split over a folder (domain/ next to domain.yml).
    folder = path if path.is_dir() else path.with_suffix("")
    if folder.is_dir():
        return sorted(p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml"))
    return []


def _first_texts(responses: Any) -> Dict[str, str]:
    """Each response name -> the text of its first variation meant for every channel (else its first)."""
    texts: Dict[str, str] = {}
    if not isinstance(responses, Mapping):
        return texts
    for name, variations in responses.items():
        if not isinstance(variations, list):
            continue
        candidates = [v for v in variations if isinstance(v, dict) and isinstance(v.get("text"), str)]
        generic = [v for v in candidates if not v.get("channel")]
        chosen = (generic or candidates or [None])[0]
        if chosen is not None:
            texts[str(name)] = chosen["text"]
    return texts


class DomainTexts:
    def __init__(self, texts: Mapping[str, str]):
        self._texts = dict(texts)

    @classmethod
    def of(cls, domain: Mapping[str, Any]) -> "DomainTexts":
        """From a domain as a mapping (what Rasa hands an action)."""
        return cls(_first_texts(domain.get("responses") if isinstance(domain, Mapping) else None))

    @staticmethod
    @functools.lru_cache(maxsize=8)
    def load(domain_path: Path) -> "DomainTexts":
        """From the domain file(s), once per process and path; never raises (a broken file is logged)."""
        texts: Dict[str, str] = {}
        files = _domain_files(Path(domain_path))
        if not files:
            logger.warning("No domain found at %s; citizen-facing texts will be empty", domain_path)
        for file in files:
            try:
                data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError) as exc:
                logger.error("Cannot read responses from %s: %s", file, exc)
                continue
            texts.update(_first_texts(data.get("responses") if isinstance(data, dict) else None))
        return DomainTexts(texts)

    def __contains__(self, name: str) -> bool:
        return name in self._texts

    def names(self) -> List[str]:
        return list(self._texts)

    def template(self, name: str) -> str:
        """The raw text of a response; KeyError when the domain lacks it."""
        try:
            return self._texts[name]
        except KeyError:
            raise KeyError(f"domain has no response {name}") from None

    def render(self, name: str, **values: Any) -> str:
        """The response with its variables filled; missing pieces are logged and left empty."""
        template = self._texts.get(name)
        if template is None:
            logger.error("Domain response %r is missing; using an empty text", name)
            return ""
        if not values and "{" not in template:
            return template
        try:
            return string.Formatter().vformat(template, (), _Blank(values))
        except (IndexError, ValueError, AttributeError) as exc:
            logger.error("Domain response %r cannot be filled: %s", name, exc)
            return template

    def require(self, names: List[str]) -> None:
        """Log (once, at start-up) each of these responses the domain lacks."""
        for name in names:
            if name not in self._texts:
                logger.error("domain response %s is missing: people would see an empty line", name)
