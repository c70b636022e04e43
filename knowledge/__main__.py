"""Command line: load, check and search the catalog.

    python -m knowledge load [--database-url URL]
    python -m knowledge check [--facts]
    python -m knowledge search "公积金怎么取" --top 3 --json
    python -m knowledge search --batch --top 3 < questions.txt
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .db import make_engine
from .environment import catalog_env
from .facts import check_facts
from .loader import CATALOG_DIR, load, read_catalog
from . import open_catalog
from .schema import CatalogError
from .search import MatterSearch


def _print_candidates(candidates, as_json: bool, question: str) -> None:
    if as_json:
        print(json.dumps([c.as_dict() for c in candidates], ensure_ascii=False))
        return
    print(question)
    for c in candidates:
        print(f"  {c.score:7.2f}  {c.code:<16} {c.name}")
    if not candidates:
        print("  (no matter)")


def main(argv=None) -> int:
    # The common options are accepted before or after the command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database-url", default=argparse.SUPPRESS,
                        help="default: $DATABASE_URL or var/catalog.sqlite3")
    common.add_argument("--catalog-dir", type=Path, default=argparse.SUPPRESS)
    parser = argparse.ArgumentParser(prog="python -m knowledge", description=__doc__, parents=[common],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("load", parents=[common], help="validate the catalog files and load them into the database")
    check = sub.add_parser("check", parents=[common], help="validate the catalog files only")
    check.add_argument("--facts", action="store_true",
                       help="also check that every legal fact is verified against instruments.yml (knowledge.facts)")
    search = sub.add_parser("search", parents=[common], help="rank matters for a question")
    search.add_argument("question", nargs="?")
    search.add_argument("--top", type=int, default=3)
    search.add_argument("--json", action="store_true")
    search.add_argument("--batch", action="store_true", help="one question per line on stdin, one JSON line each")
    args = parser.parse_args(argv)
    env_url, city = catalog_env()
    url = getattr(args, "database_url", None) or env_url
    catalog_dir = getattr(args, "catalog_dir", CATALOG_DIR)

    try:
        if args.command == "check":
            records = read_catalog(catalog_dir, city)
            situated = sum(1 for m in records.matters if m.situations)
            print(f"catalog ok: {len(records.matters)} matters ({situated} with situations), "
                  f"{len(records.bundles)} bundles")
            if args.facts:
                report = check_facts(records)
                print("\n".join(report.lines()))
                return 0 if report.ok else 1
        elif args.command == "load":
            records = load(make_engine(url), catalog_dir, city)
            print(f"loaded {len(records.matters)} matters, {len(records.bundles)} bundles into {_safe(url)}")
        else:
            searcher = MatterSearch.from_catalog(open_catalog(url, city=city))
            if args.batch:
                for line in sys.stdin:
                    candidates = searcher.search(line.strip(), top=args.top)
                    print(json.dumps({"question": line.strip(), "candidates": [c.as_dict() for c in candidates]},
                                     ensure_ascii=False), flush=True)
            elif args.question is None:
                parser.error("search needs a question or --batch")
            else:
                _print_candidates(searcher.search(args.question, top=args.top), args.json, args.question)
    except CatalogError as error:
        print(f"catalog invalid ({len(error.issues)} problems):", file=sys.stderr)
        for issue in error.issues:
            print(f"  {issue}", file=sys.stderr)
        return 1
    return 0


def _safe(url: str) -> str:
    # Never print a database password.
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


if __name__ == "__main__":
    sys.exit(main())
