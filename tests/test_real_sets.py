"""The real-question sets (bench/data/real_dev.jsonl, real_test.jsonl): well formed, labels valid, split rule kept.

Checks format only; it never prints or compares the test set's contents with anything else.
"""
from __future__ import annotations

import json

import pytest

from bench.real_codes import codes
from bench.real_split import DEV, TEST, split_of

ASPECTS = {"ask_materials", "ask_conditions", "ask_procedure", "ask_time_limit", "ask_fee", "ask_location",
           "ask_online", "ask_hours", "ask_policy_amount", "other"}
KEYS = {"id", "text", "source", "matters", "wanted", "aspects", "other_city", "year"}


def _rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def sets():
    return {"dev": _rows(DEV), "test": _rows(TEST)}


def test_every_line_parses_and_is_complete(sets):
    valid = codes()
    for name, rows in sets.items():
        assert rows, f"{name} set is empty"
        for row in rows:
            assert set(row) == KEYS, row
            assert isinstance(row["text"], str) and row["text"].strip(), row
            assert row["source"].startswith(("http://", "https://")), row
            assert isinstance(row["matters"], list), row
            assert all(code in valid for code in row["matters"]), row
            assert len(set(row["matters"])) == len(row["matters"]), row
            assert isinstance(row["wanted"], str) and row["wanted"].strip(), row
            assert row["aspects"] and all(a in ASPECTS for a in row["aspects"]), row
            assert isinstance(row["other_city"], bool), row
            assert row["year"] is None or (isinstance(row["year"], int) and 1950 <= row["year"] <= 2049), row


def test_no_duplicates_and_no_text_in_both_sets(sets):
    dev = [row["text"] for row in sets["dev"]]
    test = [row["text"] for row in sets["test"]]
    assert len(dev) == len(set(dev))
    assert len(test) == len(set(test))
    assert not set(dev) & set(test)
    ids = [row["id"] for row in sets["dev"] + sets["test"]]
    assert len(ids) == len(set(ids))


def test_split_rule_holds_for_every_line(sets):
    for name, rows in sets.items():
        for row in rows:
            assert split_of(row["text"]) == name, row["id"]
