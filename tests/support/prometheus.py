"""A strict reader of the Prometheus text exposition format (0.0.4), for tests of /metrics: what Prometheus
would refuse, this refuses (bad names, unquoted or badly escaped label values, samples before their TYPE or
split from their family, non-cumulative histogram buckets)."""
from __future__ import annotations

import math
import re
from typing import Dict, Tuple

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
SAMPLE_RE = re.compile(rf"^({NAME})(?:\{{(.*)\}})? (\S+)(?: (-?\d+))?$")
PAIR_RE = re.compile(rf'\s*({LABEL})="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)')
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count")}


def _labels(text: str) -> Tuple[Tuple[str, str], ...]:
    pairs, pos = [], 0
    while pos < len(text):
        match = PAIR_RE.match(text, pos)
        if match is None:
            raise ValueError(f"bad labels: {{{text}}}")
        value = match.group(2).replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        pairs.append((match.group(1), value))
        pos = match.end()
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError(f"repeated label in {{{text}}}")
    return tuple(sorted(pairs))


def _value(text: str) -> float:
    if text in ("+Inf", "-Inf", "NaN"):
        return {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}[text]
    if not re.fullmatch(r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", text):
        raise ValueError(f"bad sample value {text!r}")
    return float(text)


def _family_of(sample: str, families: Dict[str, dict]) -> str:
    for name, family in families.items():
        for suffix in SUFFIXES.get(family["type"], ("",)):
            if sample == name + suffix:
                return name
    raise ValueError(f"sample {sample} before its # TYPE line")


def parse_exposition(text: str) -> Dict[str, dict]:
    """family name -> {"type", "help", "samples": {(sample name, sorted label pairs): value}}."""
    if not text.endswith("\n"):
        raise ValueError("the exposition must end with a line feed")
    families: Dict[str, dict] = {}
    current = None
    for line in text.split("\n")[:-1]:
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not re.fullmatch(NAME, name):
                    raise ValueError(f"bad metric name {name!r}")
                family = families.setdefault(name, {"type": "untyped", "help": None, "samples": {}, "typed": False})
                if parts[1] == "TYPE":
                    kind = parts[3] if len(parts) > 3 else ""
                    if kind not in TYPES or family["typed"] or family["samples"]:
                        raise ValueError(f"bad or late TYPE line: {line}")
                    family["type"], family["typed"] = kind, True
                elif family["help"] is not None:
                    raise ValueError(f"second HELP for {name}")
                else:
                    family["help"] = parts[3] if len(parts) > 3 else ""
                current = name
            continue
        match = SAMPLE_RE.match(line)
        if match is None:
            raise ValueError(f"bad sample line: {line!r}")
        sample, labels, value = match.group(1), _labels(match.group(2) or ""), _value(match.group(3))
        name = _family_of(sample, families)
        if name != current:
            raise ValueError(f"samples of {name} are not together")
        key = (sample, labels)
        if key in families[name]["samples"]:
            raise ValueError(f"repeated sample {key}")
        families[name]["samples"][key] = value
    for name, family in families.items():
        if family["type"] == "histogram":
            _check_histogram(name, family["samples"])
    return families


def _check_histogram(name: str, samples: dict) -> None:
    series: Dict[tuple, list] = {}
    for (sample, labels), value in samples.items():
        if sample == f"{name}_bucket":
            le = dict(labels)["le"]
            rest = tuple(p for p in labels if p[0] != "le")
            series.setdefault(rest, []).append((_value(le), value))
    for rest, buckets in series.items():
        buckets.sort()
        counts = [count for _, count in buckets]
        if buckets[-1][0] != math.inf or counts != sorted(counts):
            raise ValueError(f"{name}{dict(rest)}: buckets must be cumulative and end with le=+Inf")
        if samples.get((f"{name}_count", rest)) != counts[-1] or (f"{name}_sum", rest) not in samples:
            raise ValueError(f"{name}{dict(rest)}: _count must equal the +Inf bucket, and _sum must be there")
