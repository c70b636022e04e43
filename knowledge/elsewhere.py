"""Questions that name another place or an earlier year ("北京公积金提取条件", "2021年低保标准").

The catalog describes one hall, today. Citizens copy questions from search engines and name another city
or an old year in front; the bot still answers for its own hall, and must say so once rather than let the
answer pass for another city's rules. `find_elsewhere` tells what a question names:

- a place: a province, Hong Kong, Macao, Taiwan, or one of the larger cities below (with or without 省/市);
  a name that is part of the hall's own city or address is not "elsewhere". County-level names are not
  listed (a generic "X市/X县" pattern caught words like 跨市 and 超市), so those questions get no note;
- a year: a four-digit year from 1990 to last year (this year's and later rules are what the hall applies),
  not followed by a unit ("补贴2000元" is an amount).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Iterable, Optional

PROVINCES = (
    "北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 海南 四川 贵州 "
    "云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门"
).split()

CITIES = (
    # Hebei
    "石家庄 唐山 秦皇岛 邯郸 邢台 保定 张家口 承德 沧州 廊坊 衡水 雄安 定州 辛集 "
    # provincial capitals and other large cities
    "太原 呼和浩特 包头 鄂尔多斯 沈阳 大连 鞍山 长春 吉林市 哈尔滨 大庆 齐齐哈尔 南京 苏州 无锡 常州 南通 徐州 扬州 "
    "杭州 宁波 温州 绍兴 嘉兴 金华 台州 湖州 合肥 芜湖 福州 厦门 泉州 南昌 赣州 济南 青岛 烟台 潍坊 临沂 淄博 济宁 威海 "
    "郑州 洛阳 新乡 南阳 武汉 宜昌 襄阳 长沙 株洲 岳阳 广州 深圳 东莞 佛山 珠海 惠州 汕头 江门 湛江 南宁 桂林 "
    "柳州 海口 三亚 成都 绵阳 宜宾 贵阳 遵义 昆明 大理 拉萨 西安 咸阳 宝鸡 兰州 西宁 银川 乌鲁木齐 喀什"
).split()

_YEAR = re.compile(r"(?<!\d)(199\d|20\d\d)(?![\d元块万千百多人个次号米平分%％])")


@dataclass(frozen=True)
class Elsewhere:
    place: Optional[str] = None  # as written in the question ("北京", "绍兴市")
    year: Optional[int] = None


def _own(name: str, own_texts: Iterable[str]) -> bool:
    stem = name.rstrip("省市县")
    return any(stem and stem in text for text in own_texts)


def find_place(text: str, own_texts: Iterable[str] = ()) -> Optional[str]:
    own = [t for t in own_texts if t]
    for name in sorted(PROVINCES + CITIES, key=len, reverse=True):
        index = text.find(name)
        if index >= 0 and not _own(name, own):
            suffix = text[index + len(name):index + len(name) + 1]
            return name + suffix if suffix in ("省", "市") and not name.endswith("市") else name
    return None


def find_year(text: str, today: Optional[date] = None) -> Optional[int]:
    this_year = (today or date.today()).year
    for match in _YEAR.finditer(text):
        year = int(match.group(1))
        if 1990 <= year < this_year:
            return year
    return None


def find_elsewhere(text: str, own_texts: Iterable[str] = (), today: Optional[date] = None) -> Optional[Elsewhere]:
    """What another place or an earlier year the question names, or None when it names neither."""
    if not text or text.startswith("/"):
        return None
    place, year = find_place(text, own_texts), find_year(text, today)
    return Elsewhere(place, year) if place or year else None
