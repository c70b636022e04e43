"""情形引导 and 一次性告知单 matching in knowledge/ (no Rasa): which questions change the list, free-text
answers, checklist positions and names, and the catalog check of situation_words.yml."""
from pathlib import Path

import pytest
import yaml

from support.catalog import matter_codes
from knowledge import open_catalog
from knowledge.checklist import read_checklist
from knowledge.loader import CATALOG_DIR, read_catalog
from knowledge.schema import CatalogError
from knowledge.situations import (load_situation_words, match_answers, match_situation, next_question,
                                  option_by_number, parse_situation_words, pending_questions,
                                  situation_word_issues, valid_answers)

WORDS = load_situation_words()


@pytest.fixture(scope="module")
def catalog():
    return open_catalog("sqlite://")  # the in-memory copy read from the catalog files


@pytest.fixture(scope="module")
def individual(catalog):
    return catalog.matter("SCJG-GT-SL")  # 个体工商户设立登记: form, agent, prior


@pytest.fixture(scope="module")
def company(catalog):
    return catalog.matter("SCJG-QY-SL")  # 公司设立登记: company_type, agent


# ---- which questions are asked ----------------------------------------------------------------------

def test_only_questions_that_change_the_list_are_asked_in_catalog_order(individual):
    assert [s.code for s in pending_questions(individual, {})] == ["form", "agent", "prior"]
    assert next_question(individual, {"form": "family"}).code == "agent"
    assert next_question(individual, {"form": "family", "agent": "self", "prior": "no"}) is None


def _names(matter, answers):
    return [(m.name, conditional) for m, conditional in matter.materials_for(answers)]


def test_a_question_is_asked_exactly_when_its_answer_changes_the_list(catalog):
    """Over the whole catalog and every partial answer along the way: an asked question has options giving
    different lists; an unanswered question not asked gives the same list whatever the answer."""
    checked = 0
    for code in matter_codes(catalog):
        matter = catalog.matter(code)
        answers = {}
        while True:
            pending = {s.code for s in pending_questions(matter, answers)}
            for situation in matter.situations:
                if situation.code in answers:
                    continue
                lists = {tuple(m for m, _ in _names(matter, {**answers, situation.code: option}))
                         for option, _ in situation.options}
                assert (len(lists) > 1) == (situation.code in pending), (code, situation.code, answers)
                checked += 1
            question = next_question(matter, answers)
            if question is None:
                break
            answers[question.code] = question.options[-1][0]
        # Done: only materials the catalog marks conditional without a situation ("如有") stay conditional.
        assert all(not conditional or not m.when for m, conditional in matter.materials_for(answers)), code
    assert checked > 150


def test_answers_of_another_matter_are_kept_only_where_they_mean_the_same(individual, company):
    answers = {"agent": "agent", "company_type": "llc"}
    assert valid_answers(individual, answers) == {"agent": "agent"}
    assert valid_answers(company, answers) == answers
    assert valid_answers(company, {"agent": "nonsense"}) == {}


# ---- free-text answers ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("我是帮我爸办的", {"agent": "agent"}),
    ("帮我爸办营业执照要带啥", {"agent": "agent"}),
    ("不对，是委托别人办的", {"agent": "agent"}),
    ("不是本人办", {"agent": "agent"}),
    ("我自己去", {"agent": "self"}),
    ("经营者本人办理", {"agent": "self"}),
    ("个人开的", {"form": "individual"}),
    ("夫妻店，两口子一起干", {"form": "family"}),
    ("我一个人开，我自己去办", {"form": "individual", "agent": "self"}),
    ("不涉及", {"prior": "no"}),
    ("個人開的", {"form": "individual"}),
])
def test_free_text_answers(individual, text, expected):
    assert match_answers(individual, text, WORDS) == expected


@pytest.mark.parametrize("text", ["", "   ", "营业执照要带什么", "😀😀", "<script>alert(1)</script>",
                                  "' OR 1=1 --", "在哪办", "x" * 5000])
def test_text_that_answers_nothing_gives_no_answer(individual, text):
    assert match_answers(individual, text, WORDS) == {}


def test_a_phrase_after_a_negation_does_not_count(individual):
    agent = next(s for s in individual.situations if s.code == "agent")
    assert match_situation(agent, "本人办理", WORDS) == "self"
    assert match_situation(agent, "不是本人办理", WORDS) == "agent"


def test_label_pieces_shared_by_options_say_nothing(catalog):
    # 义务教育入学: two options start with 本市户口; only the rest of the label tells them apart.
    matter = next(catalog.matter(c) for c in matter_codes(catalog)
                  if any(s.code == "hukou" and s.label_of("local_rent") for s in catalog.matter(c).situations))
    hukou = next(s for s in matter.situations if s.code == "hukou")
    assert match_situation(hukou, "本市户口", WORDS) is None
    assert match_situation(hukou, "本市户口，租房住的", WORDS) == "local_rent"


def test_option_numbers_answer_only_the_question_just_asked(individual):
    form = next(s for s in individual.situations if s.code == "form")
    assert option_by_number(form, "2") == "family"
    assert option_by_number(form, "第一个") == "individual"
    assert option_by_number(form, "3") is None
    assert match_answers(individual, "2", WORDS, asked="form") == {"form": "family"}
    assert match_answers(individual, "2", WORDS, asked="agent") == {"agent": "agent"}
    assert match_answers(individual, "2", WORDS) == {}


# ---- checklist --------------------------------------------------------------------------------------

NAMES = ["《个体工商户登记（备案）申请书》", "经营者身份证", "经营场所使用相关文件", "家庭成员关系证明（户口簿或结婚证）",
         "住所使用权证明（产权证明或租赁合同）", "经营者签署的委托书"]


@pytest.mark.parametrize("text, have", [
    ("1、3、4", {1, 3, 4}),
    ("1 3 4", {1, 3, 4}),
    ("1,3，4", {1, 3, 4}),
    ("第1和第3项", {1, 3}),
    ("第一、三项", {1, 3}),
    ("第二项和第四项有了", {2, 4}),
    ("我有身份证和租房合同", {2, 5}),
    ("我有户口本", {4}),
    ("申请书、委托书", {1, 6}),
    ("身份证，还有第3项", {2, 3}),
])
def test_checklist_reads_positions_and_names(text, have):
    answer = read_checklist(text, NAMES, WORDS.material_synonyms)
    assert answer.have == have
    assert answer.unknown == []


def test_checklist_reports_what_it_could_not_place():
    answer = read_checklist("我有身份证和驾驶证，还有9", NAMES, WORDS.material_synonyms)
    assert answer.have == {2}
    assert answer.unknown == ["9", "驾驶证"]


@pytest.mark.parametrize("text, nothing, everything", [("都没有", True, False), ("一个都没有！", True, False),
                                                      ("都有了", False, True), ("全都有啊", False, True)])
def test_checklist_nothing_or_everything(text, nothing, everything):
    answer = read_checklist(text, NAMES, WORDS.material_synonyms)
    assert (answer.nothing, answer.everything, answer.have) == (nothing, everything, set())
    assert answer.understood


@pytest.mark.parametrize("text", ["", "😀", "<b>x</b>", "'; DROP TABLE matters; --", "好的", "x" * 100000])
def test_checklist_bad_input_ticks_nothing(text):
    answer = read_checklist(text, NAMES, WORDS.material_synonyms)
    assert answer.have == set() and not answer.understood


# ---- the words file and its check -------------------------------------------------------------------

def test_the_words_file_passes_the_catalog_check():
    read_catalog(CATALOG_DIR)  # raises CatalogError on any problem, including situation_words.yml


def _copy_catalog(tmp_path: Path, words: dict) -> Path:
    import shutil

    target = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, target)
    (target / "situation_words.yml").write_text(yaml.safe_dump(words, allow_unicode=True), encoding="utf-8")
    return target


def test_catalog_check_rejects_unknown_codes_and_phrases_that_answer_two_options(tmp_path):
    words = {"situation_words": {"agent": {"self": ["本人"], "agent": ["本人办"], "nobody": ["谁"]},
                                 "no_such_question": {"x": ["y"]}},
             "material_synonyms": [["户口本"]]}
    with pytest.raises(CatalogError) as error:
        read_catalog(_copy_catalog(tmp_path, words))
    text = str(error.value)
    assert "no_such_question" in text and "no matter has this situation" in text
    assert "agent.nobody" in text
    assert "material_synonyms[0]" in text
    words["situation_words"] = {"agent": {"self": ["本人"], "agent": ["本人"]}}
    words["material_synonyms"] = []
    with pytest.raises(CatalogError) as error:
        read_catalog(_copy_catalog(tmp_path / "2", words))
    assert "also answers" in str(error.value)


def test_words_structure_errors_name_the_entry():
    words, issues = parse_situation_words({"situation_words": {"agent": {"self": "本人"}}})
    assert words.words == {} and "agent.self" in str(issues[0])
    _, issues = parse_situation_words(["not", "a", "mapping"])
    assert issues
    assert situation_word_issues(words, []) == []
