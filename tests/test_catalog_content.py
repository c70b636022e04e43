"""The shipped catalog: it loads, covers what the hall is asked about, and every matter is complete."""
import pytest

from knowledge.loader import read_catalog

RECORDS = read_catalog()
MATTERS = {m.code: m for m in RECORDS.matters}

# The matters the bureau's work report names, plus frequent resident-department matters.
REQUIRED = {
    "SCJG-QY-SL": "企业设立登记", "SCJG-GT-SL": "个体工商户设立登记", "SCJG-QY-BG": "企业变更登记",
    "SCJG-QY-ZX": "企业注销（一般）", "SCJG-QY-JYZX": "企业简易注销", "SCJG-XY-BA": "歇业备案",
    "SCJG-GZQ": "个转企", "GAJ-YZ-KZ": "印章刻制", "SWJ-FP-SL": "发票申领", "RSJ-DW-CB": "单位参保登记",
    "GJJ-DW-JC": "公积金单位缴存登记", "SCJG-SP-JY": "食品经营许可", "SPJ-JS-ZG": "教师资格认定",
    "SPJ-DY-YSZ": "道路运输证", "SPJ-TZ-HZ": "企业投资项目核准", "SPJ-TZ-BA": "企业投资项目备案",
    "SPJ-ZF-XMJYS": "项目建议书审批", "SPJ-ZF-KYBG": "可行性研究报告审批", "SPJ-ZF-CBSJ": "初步设计审批",
    "SPJ-JZ-SGXK": "施工许可（分阶段）", "ZJJ-JG-BA": "竣工验收备案", "XYB-XF": "信用修复",
    "BDC-ZY": "不动产转移登记", "GJJ-TQ": "公积金提取", "RSJ-SBK-BH": "社保卡补换", "GAJ-HJ-CS": "新生儿出生登记",
    "MZJ-HY-JH": "结婚登记",
}


def test_catalog_has_at_least_120_matters_and_the_required_ones():
    assert len(MATTERS) >= 120
    assert sorted(set(REQUIRED) - set(MATTERS)) == []


# The departments of the hall (DESIGN.md §1): each must have matters citizens can ask about.
DEPARTMENTS = ["SPJ", "SCJG", "SWJ", "BDC", "YBJ", "RSJ", "GAJ", "MZJ", "JTJ", "TYJ", "GJJ", "JYJ", "SFJ", "WJJ",
               "NYJ", "CZJ", "SLJ", "HBJ", "ZJJ"]


def test_every_department_and_zone_of_the_hall_has_matters():
    by_department = {d: [m for m in MATTERS.values() if m.department == d] for d in DEPARTMENTS}
    assert [d for d, matters in by_department.items() if not matters] == []
    zones = {l.code for l in RECORDS.locations} - {"2F-SQ", "2F-BBC", "2F-ZZ", "2F-KJ"}  # service areas, no matters
    assert sorted(zones - {m.location for m in MATTERS.values()}) == []


SEED_BUNDLES = ["企业开办", "企业准营（餐饮）", "员工录用", "涉企不动产登记", "企业简易注销", "新生儿出生", "灵活就业",
                "公民婚育", "扶残助困", "军人退役", "二手房转移登记及水电气联动过户", "企业职工退休", "公民身后"]


def test_all_13_bundles_of_the_seed_with_merged_materials_and_a_place():
    names = {b.name: b for b in RECORDS.bundles}
    for seed_name in SEED_BUNDLES:
        bundle = names.get(f"{seed_name}一件事")
        assert bundle is not None, seed_name
        assert bundle.location and bundle.materials and len(bundle.aliases) >= 5
        material_names = [m.name for m in bundle.materials]
        assert len(material_names) == len(set(material_names)), f"{seed_name}: shared items once"
        needed_by = {code for m in bundle.materials for code in m.matters}
        assert needed_by <= set(bundle.members)


def test_construction_permit_can_be_applied_for_in_stages():
    permit = MATTERS["SPJ-JZ-SGXK"]
    assert permit.situations, "施工许可 must distinguish 整体 and 分阶段 application"


@pytest.mark.parametrize("code", sorted(MATTERS))
def test_every_matter_is_complete(code):
    m = MATTERS[code]
    assert m.conditions and m.materials and len(m.steps) >= 2 and m.basis
    assert m.location and m.department and m.source_refs and m.as_of
    assert len(m.aliases) >= 5, "citizens' own words for the matter"
    assert m.fee_free is not None or m.fee_amount is None
    for material in m.materials:
        if not material.required:
            assert material.when_text, f"{material.name}: a conditional material must say when it applies"
    situation_codes = {s.code for s in m.situations}
    used = {key for material in m.materials for key in (material.when or {})}
    assert used <= situation_codes
