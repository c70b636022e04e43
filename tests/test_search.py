"""Matter search on the real catalog, and the `python -m knowledge search` command-line contract."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge import Catalog, MatterSearch, make_engine
from knowledge.loader import load

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('search') / 'catalog.sqlite3'}")
    load(engine)
    return Catalog(engine)


@pytest.fixture(scope="module")
def search(catalog):
    return MatterSearch.from_catalog(catalog)


@pytest.mark.parametrize("question, code", [
    ("房子卖了过户要啥手续", "BDC-ZY"),
    ("公积金怎么取", "GJJ-TQ"),
    ("孩子上户口", "GAJ-HJ-CS"),
    ("开个小卖部要办照吗", "SCJG-GT-SL"),
    ("营业执找丢了", "SCJG-YYZZ-BH"),          # typo
    ("北京公积金提取多久到账", "GJJ-TQ"),        # another city in front
    ("身份证丢了怎么办", "GAJ-SFZ-HL"),
    ("结婚登记要带什么", "MZJ-HY-JH"),
    ("教师资格证认定", "SPJ-JS-ZG"),
    ("社保卡丢了", "RSJ-SBK-BH"),
    ("失业金怎么领", "RSJ-SY-DJ"),
    ("变更法人", "SCJG-QY-BG"),
    ("个体户怎么注销", "SCJG-GT-ZX"),
    ("开饭店要办啥证", "YJS-QYZY-CY"),
    ("饭店卫生许可证怎么办", "SCJG-SP-JY"),
    ("ＧＪＪ公积金提取", "GJJ-TQ"),              # full-width letters
])
def test_colloquial_questions_find_their_matter_first(search, question, code):
    assert search.search(question, top=3)[0].code == code


@pytest.mark.parametrize("question", [
    "周六上班吗", "在几楼", "那要多久？", "你好", "要带什么材料", "😀😀😀", "'; DROP TABLE matter; --",
    "hello, what is this", "", "   ",
])
def test_questions_without_a_matter_get_none(search, question):
    assert search.search(question) == []


def test_a_name_shared_by_several_matters_ranks_them_close(search):
    first, second = search.search("营业执照", top=3)[:2]
    assert {first.code, second.code} == {"SCJG-GT-SL", "SCJG-QY-SL"}
    assert second.score == first.score  # tied: the bot asks which one


def test_huge_input_is_searched_without_error(search):
    # A word repeated names the housing fund but no one matter of it (words alone pick 提取, meaning 缴存).
    assert search.search("公积金" * 2000, top=3)[0].code.startswith("GJJ-")


def test_closeness_in_meaning_reorders_the_words_ranking(catalog, search):
    # The words "公积金" and "房" point to the housing-fund loan; paying rent is a withdrawal.
    question = "公积金能拿来付房租吗"
    words_only = MatterSearch.from_catalog(catalog, dense=False)
    assert words_only.search(question)[0].code == "GJJ-DK"
    best = search.search(question)[0]
    assert best.code == "GJJ-TQ"
    assert 0.0 < best.dense <= 1.0 and best.lexical is not None
    assert {"lexical", "dense"} <= set(best.as_dict())


def test_the_encoder_can_be_switched_off(catalog, monkeypatch):
    monkeypatch.setenv("MATTER_ENCODER", "off")
    words_only = MatterSearch.from_catalog(catalog)
    assert words_only.dense is None
    [best] = words_only.search("公积金怎么取", top=1)
    assert best.code == "GJJ-TQ" and best.dense is None and "dense" not in best.as_dict()


def test_dense_vectors_are_computed_once_per_catalog(catalog, search, monkeypatch):
    from knowledge import encoder

    def fail(texts):
        if len(texts) > 1:
            raise AssertionError("the catalog's texts were encoded again")
        return original(texts)

    original = encoder.encode
    monkeypatch.setattr(encoder, "encode", fail)
    again = MatterSearch.from_catalog(catalog)
    assert again.search("公积金怎么取")[0].code == "GJJ-TQ"


def test_reranking_adds_at_most_a_few_milliseconds(catalog, search):
    import time

    words_only = MatterSearch.from_catalog(catalog, dense=False)
    questions = [f"第{i}次问：我想问一下公积金贷款买房要带哪些材料" for i in range(30)]
    medians = []
    for attempt in range(3):  # the best of three runs: other processes share these cores
        extra = []
        for question in questions:
            # CPU time of this process: other sessions share the cores, wall-clock time measures them too.
            started = time.process_time()
            words_only.search(question + str(attempt))
            middle = time.process_time()
            search.search(question + str(attempt))
            extra.append((time.process_time() - middle) - (middle - started))
        medians.append(sorted(extra)[len(extra) // 2])
    assert min(medians) < 0.010  # BENCHMARKS.md has p50/p99 from bench.recognition


def run_cli(*args, stdin=""):
    return subprocess.run([sys.executable, "-m", "knowledge", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=120, check=True).stdout


def test_cli_prints_ranked_candidates_as_json(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    run_cli("--database-url", url, "load")
    result = json.loads(run_cli("--database-url", url, "search", "公积金怎么取", "--top", "3", "--json"))
    assert 1 <= len(result) <= 3
    assert set(result[0]) >= {"code", "name", "score"}
    assert result[0]["code"] == "GJJ-TQ"
    assert result == sorted(result, key=lambda c: -c["score"])


def test_cli_batch_prints_one_json_line_per_question(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    run_cli("--database-url", url, "load")
    lines = run_cli("--database-url", url, "search", "--batch", "--top", "3",
                    stdin="孩子上户口\n周六上班吗\n").strip().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["question"] == "孩子上户口" and first["candidates"][0]["code"] == "GAJ-HJ-CS"
    assert second["candidates"] == []


def test_every_name_and_keyword_keeps_its_meaning_once_stop_words_are_cut():
    from knowledge.loader import read_catalog
    from knowledge.text import normalize, segments

    records = read_catalog()
    terms = [t for target in list(records.matters) + list(records.bundles) for t in [target.name] + target.keywords]
    assert [t for t in terms if len("".join(segments(normalize(t)))) < 2] == []


def test_aspect_words_of_an_alias_do_not_pull_a_question_to_its_matter(search):
    # "网吧许可证办下来要多久" is an alias of the internet-cafe licence; "办下来" says when, not what.
    assert search.search("房子的证办下来多久能卖", top=3)[0].code == "BDC-ZY"


@pytest.mark.parametrize("question, code", [
    ("买房子交契税要带什么", "SWJ-FCJY"),     # not the enterprise's property taxes
    ("单位上班的怎么办退休", "RSJ-TX"),       # not the 机关事业单位 retirement
    ("事业单位怎么办退休", "RSJ-JGSY-TX"),    # its case named: it ranks first
    ("社保卡丢了去哪补", "RSJ-SBK-BH"),
])
def test_a_matter_for_one_case_ranks_first_only_when_the_case_is_named(search, question, code):
    assert search.search(question, top=3)[0].code == code


def test_case_words_rank_a_matter_lower_only_when_no_word_is_in_the_question():
    terms = [("matter", "A", "甲", "alias", "房子契税"), ("matter", "B", "乙", "alias", "房子契税")]
    plain = MatterSearch(terms, case_words={"B": ("企业",)})
    assert plain.scores("房子契税谁出")["B"] < plain.scores("房子契税谁出")["A"]
    assert plain.scores("企业房子契税谁出")["B"] == pytest.approx(plain.scores("企业房子契税谁出")["A"])


def test_the_case_words_file_names_known_matters_only():
    import yaml

    from knowledge.cases import CASE_WORDS_FILE, parse_case_words
    from knowledge.loader import read_catalog

    records = read_catalog()
    codes = [t.code for t in list(records.matters) + list(records.bundles)]
    words, issues = parse_case_words(yaml.safe_load(CASE_WORDS_FILE.read_text(encoding="utf-8")), codes)
    assert issues == [] and words
    _, issues = parse_case_words({"case_words": {"XX-NONE": ["企业"], codes[0]: []}}, codes)
    assert [i.record for i in issues] == ["XX-NONE", codes[0]]
