import pytest

from bot.privacy import mask_personal_data


@pytest.mark.parametrize(
    "text, expected",
    [
        ("130102199001011234", "130*************34"),
        ("13010219900101123X", "130*************3X"),
        ("13010219900101123x", "130*************3x"),
        ("130102900101123", "130**********23"),  # old 15-digit ID
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("+86 13812345678", "+86138****5678"),
        ("１３８１２３４５６７８", "１３８****５６７８"),  # full-width digits from a Chinese keyboard
        ("6222021234567890123", "***************0123"),  # bank card
        ("0311-87654321", "0311******21"),
        ("zhang.san@example.com", "z***@example.com"),
        ("我叫张三", "我叫张*"),
        ("姓名：欧阳娜娜", "姓名：欧***"),
    ],
)
def test_masks_personal_data(text, expected):
    assert mask_personal_data(text) == expected


def test_masks_inside_a_sentence_and_keeps_the_rest():
    text = "我叫李四，身份证130102199001011234，电话13812345678，想办公积金提取"
    masked = mask_personal_data(text)
    assert masked == "我叫李*，身份证130*************34，电话138****5678，想办公积金提取"
    for secret in ("李四", "199001011234", "12345678"):
        assert secret not in masked


def test_leaves_ordinary_text_and_short_numbers_alone():
    for text in [
        "开饭店要办哪些证，需要带什么材料",
        "窗口12号，3楼，工作日5天内办结",
        "事项编码000131128000",  # a 12-digit matter code is not a phone number
        "2023年营业执照",
        "sender-abc_12345678",
    ]:
        assert mask_personal_data(text) == text


def test_does_not_take_part_of_a_longer_number_for_a_phone():
    # 13 digits: neither a phone (11), an ID (15/18) nor a card (16-19).
    assert mask_personal_data("a1381234567812b") == "a1381234567812b"


@pytest.mark.parametrize("value, expected", [(None, ""), ("", ""), (12345, "12345")])
def test_accepts_anything(value, expected):
    assert mask_personal_data(value) == expected


def test_every_digit_of_an_id_in_the_middle_is_masked():
    masked = mask_personal_data("ID:110105198512123456;")
    assert masked == "ID:110*************56;"


@pytest.mark.parametrize("text, hidden", [
    ("我是欧阳娜娜", "阳娜娜"),
    ("联系人：欧阳娜娜", "阳娜娜"),
    ("申请人李四想问", "四"),
    ("身份证 130102 19900101 1234", "19900101"),
    ("130102-19900101-123X", "19900101"),
    ("银行卡6222 0212 3456 7890 123", "0212 3456"),
])
def test_masks_names_after_more_cues_and_numbers_typed_with_separators(text, hidden):
    masked = mask_personal_data(text)
    assert hidden not in masked and masked != text


def test_a_name_only_field_keeps_its_first_character():
    from bot.privacy import mask_name

    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name(" 张三 ") == "张*"
    assert mask_name(None) == "" and mask_name("") == ""
