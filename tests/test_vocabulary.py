"""The parser's vocabulary (knowledge/catalog/parsing_words.yml): read into the matchers, validated by the check."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from knowledge import checklist, situations, text
from knowledge.loader import CATALOG_DIR
from knowledge.vocabulary import VOCABULARY_FILE, parse_vocabulary, read_vocabulary

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_the_real_file_is_valid_and_is_what_the_matchers_use():
    vocabulary, issues = read_vocabulary()
    assert issues == []
    assert "请问" in text.STOP_WORDS and "周末" in text.STOP_WORDS  # stop words and hall-time words
    assert "的" in text.STOP_CHARS and "一条龙" in text.BUNDLE_CUES
    assert checklist.read_checklist("都没有", ["身份证"]).nothing
    assert checklist.read_checklist("全都有", ["身份证"]).everything
    assert checklist.read_checklist("我已经有身份证了", ["身份证", "户口簿"]).have == {1}
    assert situations.NEGATIONS == vocabulary.negation_chars and "不" in situations.NEGATIONS
    assert situations._CORRECTION_HEAD.sub("", "不对其实是个体户") == "个体户"


def test_a_trainer_adds_a_word_and_it_is_read():
    data = yaml.safe_load(VOCABULARY_FILE.read_text(encoding="utf-8"))
    data["bundle_cues"].append("打包办")
    data["checklist"]["nothing"].append("一样没有")
    vocabulary, issues = parse_vocabulary(data)
    assert issues == [] and "打包办" in vocabulary.bundle_cues and "一样没有" in vocabulary.checklist_nothing


def test_problems_name_the_entry_and_the_rest_is_kept():
    data = yaml.safe_load(VOCABULARY_FILE.read_text(encoding="utf-8"))
    data["checklist"]["everything"] = []
    data["bundle_cues"].append("一起办")  # twice
    data["situations"]["negation_chars"] = 3
    data["stop_word"] = ["typo"]
    vocabulary, issues = parse_vocabulary(data)
    messages = [str(i) for i in issues]
    assert any("checklist.everything" in m and "non-empty list" in m for m in messages)
    assert any("bundle_cues" in m and "一起办" in m for m in messages)
    assert any("situations.negation_chars" in m for m in messages)
    assert any("stop_word" in m and "unknown entry" in m for m in messages)
    assert vocabulary.checklist_everything == () and "请问" in vocabulary.stop_words


def test_the_catalog_check_fails_on_a_broken_vocabulary(tmp_path):
    target = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, target)
    data = yaml.safe_load((target / VOCABULARY_FILE.name).read_text(encoding="utf-8"))
    data["checklist"]["fillers"] = "我有"
    (target / VOCABULARY_FILE.name).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "knowledge", "check", "--catalog-dir", str(target)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "parsing_words.yml" in result.stderr and "checklist.fillers" in result.stderr
