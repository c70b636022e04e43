"""Counts for the README section on the real-question sets: sizes, share labelled [], aspects, matters, cities, years.

For the locked test set only aggregate counts are printed (sizes and label distributions), never its lines.
Run: python -m bench.real_stats
"""
from __future__ import annotations

import json
from collections import Counter

from bench.real_split import DEV, TEST


def rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def summary(name, data):
    n = len(data)
    empty = sum(1 for r in data if not r["matters"])
    multi = sum(1 for r in data if len(r["matters"]) > 1)
    aspects = Counter(a for r in data for a in r["aspects"])
    two = sum(1 for r in data if len(r["aspects"]) > 1)
    city = sum(1 for r in data if r["other_city"])
    year = sum(1 for r in data if r["year"] is not None)
    prefixes = Counter((r["matters"][0].split("-")[0] if r["matters"] else "[]") for r in data)
    print(f"## {name}: {n} lines")
    print(f"- labelled [] (catalog lacks the matter): {empty} ({100 * empty / n:.1f}%)")
    print(f"- more than one acceptable code: {multi}; more than one aspect: {two}")
    print(f"- names another city/region: {city} ({100 * city / n:.1f}%); names a year: {year} ({100 * year / n:.1f}%)")
    print("- aspects: " + ", ".join(f"{a} {c}" for a, c in aspects.most_common()))
    print("- first code's department: " + ", ".join(f"{p} {c}" for p, c in prefixes.most_common()))
    print()


def main():
    dev, test = rows(DEV), rows(TEST)
    summary("dev", dev)
    summary("test", test)
    summary("both", dev + test)
    codes = Counter(c for r in dev + test for c in r["matters"])
    print(f"distinct codes used (both sets): {len(codes)}")
    print("most frequent codes (both sets): " + ", ".join(f"{c} {n}" for c, n in codes.most_common(15)))
    hosts = Counter(r["source"].split("/")[2] for r in dev + test)
    print(f"distinct source hosts: {len(hosts)}; largest: " + ", ".join(f"{h} {n}" for h, n in hosts.most_common(6)))


if __name__ == "__main__":
    main()
