"""The valid labels of the real sets: the catalog's matter and bundle codes, read from the YAML files."""
from __future__ import annotations

from pathlib import Path

import yaml

CATALOG = Path(__file__).resolve().parent.parent / "knowledge" / "catalog"


def codes() -> set[str]:
    found: set[str] = set()
    for path in sorted((CATALOG / "matters").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        items = data if isinstance(data, list) else data.get("matters", [])
        found.update(item["code"] for item in items)
    bundles = yaml.safe_load((CATALOG / "bundles.yml").read_text(encoding="utf-8"))
    found.update(item["code"] for item in bundles["bundles"])
    return found
