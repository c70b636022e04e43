"""Writes var/jieba/catalog.txt, a jieba user dictionary of every matter name, alias and keyword, so that
the JiebaTokenizer keeps them whole. A build output (git-ignored); `make` regenerates it when the catalog
changes. Recognising matters does not depend on it (see bot/nlu/catalog_matter.py); it only sharpens the
word features the intent classifier sees.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from knowledge.loader import CATALOG_DIR, read_catalog
from knowledge.text import normalize

REPO_ROOT = Path(__file__).resolve().parents[2]


def jieba_dictionary(directory: Path) -> str:
    records = read_catalog(directory)
    texts = []
    for target in list(records.matters) + list(records.bundles):
        texts.extend([target.name] + target.aliases + target.keywords)
    words = sorted({normalize(t) for t in texts if len(normalize(t)) >= 2 and " " not in normalize(t)})
    return "".join(f"{word} 20000 n\n" for word in words)


def write_if_changed(path: Path, content: str) -> bool:
    """Leaves an unchanged file untouched so make and rasa do not retrain for nothing."""
    if path.exists() and path.read_text(encoding="utf-8") == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog-dir", type=Path, default=CATALOG_DIR)
    parser.add_argument("--root", type=Path, default=REPO_ROOT)
    args = parser.parse_args(argv)
    content = jieba_dictionary(args.catalog_dir)
    changed = write_if_changed(args.root / "var" / "jieba" / "catalog.txt", content)
    print(f"jieba catalog dictionary {'written' if changed else 'unchanged'}: {content.count(chr(10))} words")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
