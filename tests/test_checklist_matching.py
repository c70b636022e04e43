"""一次性告知单: the checklist ticks the material a person means, on every situation list of the most-asked matters.

The matters are the ten most asked in bench/data/eval_questions.jsonl (ties at the tenth place included); every
combination of their situation answers gives one list, and each list is read as knowledge.checklist reads it
for actions/guide.py (names in shown order, the catalog's material synonyms, general = required).
"""
from __future__ import annotations

import collections
import itertools
import json

import pytest

from conftest import REPO_ROOT
from knowledge import open_catalog
from knowledge.checklist import read_checklist
from knowledge.situations import load_situation_words

SYNONYMS = load_situation_words().material_synonyms

# What people say → the material they mean, per matter (asserted on every list that holds that material).
MEANT = {
    "SCJG-GT-SL": {  # 个体工商户设立登记
        "我有身份证": "经营者身份证",
        "代理人身份证有了": "代理人身份证",
        "家里人的身份证": "参加经营的其他家庭成员身份证",
        "家庭成员身份证": "参加经营的其他家庭成员身份证",
        "户口本": "家庭成员关系证明（户口簿或结婚证）",
        "委托书带了": "经营者签署的委托书",
        "申请书": "《个体工商户登记（备案）申请书》",
    },
    "SCJG-QY-SL": {  # 公司设立登记
        "我有身份证": "股东（发起人）的主体资格文件或自然人身份证明",
        "代理人的身份证": "代理人身份证",
        "章程": "公司章程",
        "申请书": "《公司登记（备案）申请书》",
        "委托书": "《指定代表或者共同委托代理人授权委托书》",
        "验资证明": "验资证明",
    },
    "GJJ-TQ": {  # 住房公积金提取
        "我有身份证": "本人居民身份证",
        "银行卡": "本人银行卡",
        "申请表": "住房公积金提取申请表",
        "租房合同": "住房租赁合同",
        "退休证": "退休证明",
        "还款明细": "银行出具的还款明细",
    },
    "BDC-ZY": {  # 不动产转移登记（二手房买卖）
        "我有身份证": "买卖双方（含共同登记人）的居民身份证",
        "身份证": "买卖双方（含共同登记人）的居民身份证",
        "房本": "不动产权证书（或房屋所有权证、国有土地使用证）",
        "不动产权证书": "不动产权证书（或房屋所有权证、国有土地使用证）",
        "配偶的身份证": "卖方配偶的居民身份证",
        "卖方配偶身份证": "卖方配偶的居民身份证",
        "代理人身份证": "代理人的居民身份证",
        "委托书": "授权委托书",
        "买卖合同": "存量房买卖合同",
        "完税凭证": "契税等税费完税凭证（或减免税证明）",
        "买方的结婚证": "买方的结婚证",
        "卖方结婚证": "卖方的结婚证",
        "离婚证": "离婚证和离婚协议（或法院判决书、调解书），丧偶的提供配偶死亡证明",
    },
    "RSJ-TX": {  # 退休
        "我有身份证": "本人居民身份证",
        "社保卡": "社会保障卡",
        "档案": "本人人事档案",
        "申领表": "基本养老保险待遇申领表",
    },
    "GAJ-CRJ-HZ": {  # 普通护照签发
        "我有身份证": "本人居民身份证",
        "监护人身份证": "监护人的居民身份证",
        "照片": "出入境证件照片",
        "旧护照": "原护照",
        "户口本": "监护关系证明（出生医学证明或户口簿等）",
        "申请表": "中国公民出入境证件申请表",
    },
    "MZJ-HY-JH": {  # 内地居民结婚登记
        "我有身份证": "本人居民身份证（双方各带本人的）",
        "照片": "双方近期2寸半身免冠合影照片",
        "合影": "双方近期2寸半身免冠合影照片",
        "军人婚姻登记证明": "军人身份证件和部队出具的《军人婚姻登记证明》",
    },
    "SCJG-SP-JY": {  # 食品经营许可
        "营业执照": "营业执照或其他主体资格证明文件",
        "许可证正副本": "食品经营许可证正本、副本",
        "委托书": "授权委托书",
        "代理人身份证": "代理人身份证明",
        "规章制度": "保证食品安全的规章制度目录清单",
    },
    "RSJ-SBK-BH": {  # 社会保障卡补领、换领
        "我有身份证": "本人居民身份证",
        "身份证": "本人居民身份证",
        "代办人的身份证": "代办人的居民身份证",
        "旧社保卡": "原社会保障卡",
        "社保卡": "原社会保障卡",
    },
    "RSJ-SY-DJ": {  # 失业登记
        "我有身份证": "本人居民身份证或社会保障卡",
        "社保卡": "本人居民身份证或社会保障卡",
        "银行卡": "已启用金融功能的社会保障卡或本人银行账户",
        "解除劳动关系证明": "单位出具的解除或终止劳动关系证明",
    },
    "GAJ-SFZ-HL": {  # 居民身份证换领、补领
        "户口本": "居民户口簿",
        "我有身份证": "原居民身份证",
        "旧身份证": "原居民身份证",
        "监护人身份证": "监护人的居民身份证",
    },
}


def most_asked(limit: int = 10) -> list:
    """The matters asked about most in the evaluation questions; ties at the last place all count."""
    catalog = open_catalog("sqlite://")
    counts = collections.Counter()
    for line in (REPO_ROOT / "bench" / "data" / "eval_questions.jsonl").read_text(encoding="utf-8").splitlines():
        matter = json.loads(line).get("matter")
        for code in matter if isinstance(matter, list) else [matter]:
            if code and catalog.matter(code) is not None:  # bundles have no checklist of their own
                counts[code] += 1
    ranked = counts.most_common()
    cutoff = ranked[limit - 1][1]
    return [code for code, n in ranked if n >= cutoff]


@pytest.fixture(scope="module")
def catalog():
    return open_catalog("sqlite://")


def situation_lists(matter):
    """Every list the person can be shown: one per combination of situation answers."""
    for options in itertools.product(*[[code for code, _ in s.options] for s in matter.situations]):
        answers = dict(zip([s.code for s in matter.situations], options))
        yield answers, [material for material, _ in matter.materials_for(answers)]


def read(text, listed):
    return read_checklist(text, [m.name for m in listed], SYNONYMS, general=[m.required for m in listed])


def test_the_ten_most_asked_matters_are_all_covered():
    asked = most_asked()
    assert len(asked) >= 10
    assert set(asked) <= set(MEANT), set(asked) - set(MEANT)


@pytest.mark.parametrize("code", sorted(MEANT))
def test_a_word_ticks_the_material_it_means_on_every_list(catalog, code):
    matter = catalog.matter(code)
    checked = collections.Counter()
    for answers, listed in situation_lists(matter):
        names = [m.name for m in listed]
        for text, meant in MEANT[code].items():
            if meant not in names:
                continue
            answer = read(text, listed)
            assert answer.have == {names.index(meant) + 1}, (text, answers, [names[p - 1] for p in answer.have])
            assert answer.unknown == []
            checked[text] += 1
    assert set(checked) == set(MEANT[code]), "some expectation matched no list"


@pytest.mark.parametrize("code", sorted(MEANT))
def test_each_material_named_in_full_ticks_only_itself(catalog, code):
    for answers, listed in situation_lists(catalog.matter(code)):
        for position, material in enumerate(listed, 1):
            assert read(f"我有{material.name}", listed).have == {position}, (material.name, answers)


def test_second_hand_house_id_card_goes_to_both_parties_not_the_sellers_spouse(catalog):
    matter = catalog.matter("BDC-ZY")
    answers = {"agent": "self", "seller_marital": "married", "mortgage": "none", "buyer": "one"}
    listed = [material for material, _ in matter.materials_for(answers)]
    names = [m.name for m in listed]
    both, spouse, deed = (names.index(n) + 1 for n in ("买卖双方（含共同登记人）的居民身份证", "卖方配偶的居民身份证",
                                                       "不动产权证书（或房屋所有权证、国有土地使用证）"))
    assert read("我有身份证", listed).have == {both}
    assert read("我有身份证和不动产权证书", listed).have == {both, deed}
    assert read("身份证和配偶的身份证都有", listed).have == {both, spouse}


def test_positions_and_names_together_on_a_real_list(catalog):
    listed = [m for m, _ in catalog.matter("GJJ-TQ").materials_for({"reason": "rent"})]
    answer = read("1、2，还有租房合同", listed)
    assert [listed[p - 1].name for p in sorted(answer.have)] == ["本人居民身份证", "本人银行卡", "住房租赁合同"]
    assert read("我有驾驶证", listed).have == set()


def test_a_quantity_is_not_a_position(catalog):
    listed = [m for m, _ in catalog.matter("MZJ-HY-JH").materials_for({"military": "no"})]
    assert read("2寸合影照片带了3张", listed).have == {3}
    assert read("2、3", listed).have == {2, 3}
