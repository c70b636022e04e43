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


def test_catalog_has_at_least_30_matters_and_the_required_ones():
    assert len(MATTERS) >= 30
    assert sorted(set(REQUIRED) - set(MATTERS)) == []


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
