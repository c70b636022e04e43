"""Catalog coverage of the real questions, and the mechanical relabelling of the locked test set.

Coverage (issue #12, item 3) = the share of real DEV questions about government matters whose wanted matter is in
the catalog.  Every line of the real sets is a question about a government matter (the collection skipped
everything else, see bench/data/README.md), so the denominator is every dev line; a line counts as covered when
its `matters` label is not empty (a catalog matter or 一件事 bundle fits).  Lines labelled [] are listed by their
`wanted` name, most frequent first (the same grouping as bench/real_gaps.py), and a [] line whose `wanted` equals a
catalog matter's name or alias exactly is flagged: it only needs relabelling.

    python -m bench.real_coverage                 # dev coverage and the missing matters (dev only)
    python -m bench.real_coverage --relabel-test  # locked test set: mechanical relabelling, counts only

--relabel-test sets `matters` of a test line labelled [] to [code] when its `wanted` string equals the name or an
alias of exactly one catalog matter.  It never prints or compares a question's text (`text` is not read), only
counts, so the locked set is not studied.  It also counts (without changing them) the [] lines whose `wanted` would
match one matter once qualifiers in brackets are dropped on both sides, for the lead to decide on a wider rule.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import yaml

from bench.real_codes import CATALOG
from bench.real_gaps import base_name
from bench.real_split import DEV, TEST


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def catalog_names() -> dict[str, set[str]]:
    """Each matter name and alias -> the codes it belongs to (an alias of two matters names no single one)."""
    found: dict[str, set[str]] = {}
    for path in sorted((CATALOG / "matters").glob("*.yml")):
        for matter in yaml.safe_load(path.read_text(encoding="utf-8"))["matters"]:
            for name in [matter["name"], *(matter.get("aliases") or [])]:
                found.setdefault(name, set()).add(matter["code"])
    return found


def exact_code(wanted: str, names: dict[str, set[str]]) -> str | None:
    codes = names.get(wanted, set())
    return next(iter(codes)) if len(codes) == 1 else None


def base_names(names: dict[str, set[str]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for name, codes in names.items():
        found.setdefault(base_name(name), set()).update(codes)
    return found


def coverage(rows: list[dict]) -> tuple[int, int]:
    return sum(1 for row in rows if row["matters"]), len(rows)


def report_dev() -> None:
    rows = load(DEV)
    covered, total = coverage(rows)
    print(f"dev coverage: {covered}/{total} = {100 * covered / total:.1f}% "
          f"(questions whose wanted matter the catalog holds)")
    names = catalog_names()
    missing = [row for row in rows if not row["matters"]]
    counts = Counter(base_name(row["wanted"]) for row in missing)
    ids: dict[str, list[str]] = {}
    for row in missing:
        ids.setdefault(base_name(row["wanted"]), []).append(row["id"])
    print(f"missing ({len(missing)} questions, {len(counts)} matters), most frequent first:")
    for base, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {count}  {base}  [{', '.join(ids[base])}]")
    relabel = [(row["id"], exact_code(row["wanted"], names)) for row in missing]
    relabel = [(rid, code) for rid, code in relabel if code]
    if relabel:
        print("labelled [] but the wanted name is a catalog name/alias: " + ", ".join(f"{i}->{c}" for i, c in relabel))


def relabel_test() -> None:
    """Only `matters` and `wanted` of each test line are looked at; the file is rewritten line by line."""
    names = catalog_names()
    bases = base_names(names)
    lines = TEST.read_text(encoding="utf-8").splitlines()
    changed = wider = 0
    out = []
    for line in lines:
        row = json.loads(line) if line.strip() else None
        if row is not None and not row["matters"]:
            code = exact_code(row["wanted"], names)
            if code:
                row["matters"] = [code]
                line = json.dumps(row, ensure_ascii=False)
                changed += 1
            elif exact_code(base_name(row["wanted"]), bases):
                wider += 1
        out.append(line)
    TEST.write_text("\n".join(out) + "\n", encoding="utf-8")
    rows = load(TEST)
    covered, total = coverage(rows)
    print(f"test lines relabelled: {changed}; test coverage now {covered}/{total} = {100 * covered / total:.1f}%")
    print(f"[] test lines left whose wanted name matches one matter without bracketed qualifiers (not changed): {wider}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--relabel-test", action="store_true", help="relabel the locked test set mechanically")
    args = parser.parse_args(argv)
    if args.relabel_test:
        relabel_test()
    else:
        report_dev()


if __name__ == "__main__":
    main()
