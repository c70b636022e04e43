"""Append labelled real questions to the real sets, each to the file its split rule names (bench/real_split.py).

Input (stdin or a file), one question a line, fields separated by " || ":
    text || source url || codes (space separated, "-" = catalog lacks it) || wanted || aspects (space separated) [|| flags]
flags (optional, space separated): "city" = names another city or region; "year=2021" overrides the year found in
the text (the default is the first 19xx/20xx in it, or null). Lines starting with "#" are ignored.
The text is kept exactly as given (copied verbatim from the source page). Refuses the whole batch on any error.
"""
from __future__ import annotations

import json
import re
import sys
import urllib.parse

from bench.real_split import DEV, TEST, path_of

ASPECTS = {"ask_materials", "ask_conditions", "ask_procedure", "ask_time_limit", "ask_fee", "ask_location",
           "ask_online", "ask_hours", "ask_policy_amount", "other"}
YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20[0-4]\d)(?!\d)")


def catalog_codes() -> set[str]:
    from bench.real_codes import codes
    return codes()


def read(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> int:
    src = open(sys.argv[1], encoding="utf-8") if len(sys.argv) > 1 else sys.stdin
    codes = catalog_codes()
    existing = read(DEV) + read(TEST)
    seen = {row["text"] for row in existing}
    next_id = max((int(row["id"][1:]) for row in existing), default=0) + 1
    rows, errors = [], []
    for n, raw in enumerate(src, 1):
        raw = raw.rstrip("\n")
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in raw.split(" || ")]
        if len(parts) not in (5, 6):
            errors.append(f"line {n}: {len(parts)} fields: {raw}")
            continue
        text, url, code_s, wanted, aspect_s = parts[:5]
        flags = parts[5].split() if len(parts) == 6 else []
        text = raw.split(" || ")[0]  # verbatim, spaces included
        matters = [] if code_s == "-" else code_s.split()
        aspects = aspect_s.split()
        bad = [c for c in matters if c not in codes] + [a for a in aspects if a not in ASPECTS]
        if bad or not aspects or not wanted or not url.startswith("http"):
            errors.append(f"line {n}: bad {bad or 'aspects/wanted/url'}: {raw}")
            continue
        if text in seen:
            print(f"skip duplicate: {text}", file=sys.stderr)
            continue
        decoded = urllib.parse.unquote(url)
        if "/go/" in decoded and decoded.endswith(".html"):
            slug = decoded.rsplit("/go/", 1)[1][: -len(".html")]
            if slug != text:
                errors.append(f"line {n}: text differs from the page's address {slug!r}: {text!r}")
                continue
        year = None
        for flag in flags:
            if flag.startswith("year="):
                year = None if flag[5:] == "null" else int(flag[5:])
        if not any(f.startswith("year=") for f in flags):
            found = YEAR.search(text)
            year = int(found.group(1)) if found else None
        seen.add(text)
        rows.append({"id": f"r{next_id:04d}", "text": text, "source": url, "matters": matters, "wanted": wanted,
                     "aspects": aspects, "other_city": "city" in flags, "year": year})
        next_id += 1
    if errors:
        print("\n".join(errors), file=sys.stderr)
        print(f"{len(errors)} errors; nothing written", file=sys.stderr)
        return 1
    counts = {"dev": 0, "test": 0}
    for row in rows:
        path = path_of(row["text"])
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        counts["dev" if path == DEV else "test"] += 1
    total = len(read(DEV)) + len(read(TEST))
    print(f"added {len(rows)} (dev {counts['dev']}, test {counts['test']}); total {total}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
