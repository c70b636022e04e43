"""Read citizen-facing sentences from the Rasa domain, so none live in Python."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict

import yaml

logger = logging.getLogger(__name__)


def _domain_files(path: Path):
    if path.is_file():
        return [path]
    # Rasa also accepts a domain split over a folder (domain/ next to domain.yml).
    folder = path if path.is_dir() else path.with_suffix("")
    if folder.is_dir():
        return sorted(p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml"))
    return []


def load_response_texts(domain_path: Path) -> Dict[str, str]:
    """Map each response name to the text of its first variation; never raises."""
    texts: Dict[str, str] = {}
    files = _domain_files(Path(domain_path))
    if not files:
        logger.warning("No domain found at %s; citizen-facing fallback texts will be empty", domain_path)
    for file in files:
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            logger.error("Cannot read responses from %s: %s", file, exc)
            continue
        responses = data.get("responses") if isinstance(data, dict) else None
        if not isinstance(responses, dict):
            continue
        for name, variations in responses.items():
            if not isinstance(variations, list):
                continue
            # Prefer a variation meant for every channel over a channel-specific one.
            candidates = [v for v in variations if isinstance(v, dict) and isinstance(v.get("text"), str)]
            generic = [v for v in candidates if not v.get("channel")]
            chosen = (generic or candidates or [None])[0]
            if chosen is not None:
                texts[str(name)] = chosen["text"]
    return texts


def response_text(texts: Dict[str, str], name: str) -> str:
    text = texts.get(name)
    if text is None:
        logger.error("Domain response %r is missing; using an empty text", name)
        return ""
    return text
