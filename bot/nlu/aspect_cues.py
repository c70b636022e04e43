"""AspectCueDetector: which aspects one message asks about, in the order asked ("流程是怎样的？一般要多久？").

DIET gives one intent per message. Citizens often ask two things at once — "要带什么材料，多久能办好",
"身份证到期换证流程及费用", "怎么开，需要哪些材料" — and expect both answers. This component runs after DIET and
looks for unmistakable cue phrases of each aspect in the text (a clause separator is not needed: "流程及费用"
is two questions too). When it finds at least two aspects and DIET's intent is one of them, it puts the
ordered list of intents in the parse output as `aspects`; `action_answer` then answers each, in that order.

One decision for near-miss pairs: when a message holds exactly one cue and DIET chose another aspect (or read
it as naming a matter, a situation or checklist positions), the cue's aspect becomes the intent: DIET's words
and char n-grams are swayed by the rest of the sentence ("…许可证办理需要什么材料" read as procedure), a cue
such as "什么材料" or "审批期限" is not. Not for the fee/policy-amount pair and not over ask_online (see
cue_decision). And a bare number of three or more digits (a phone number typed in a form) is never read as
checklist positions (see not_positions).

The cues are deliberately narrower than the soft features of data/nlu/aspect_cues.yml: here a match decides
that a second answer is given, so a phrase that also occurs in questions about something else ("网上申请要多久"
asks how long, not whether it can be done online) is not a cue. Measured on the real dev set and the
synthetic sets with `python -m bench.aspects` (see BENCHMARKS.md).
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Pattern, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

ASPECTS_KEY = "aspects"
# The intent DIET chose where a single unmistakable cue named another aspect (see cue_decision).
OVERRULED_KEY = "aspect_overruled"

# intent -> cue pattern. Longer matches win over shorter overlapping ones of another aspect
# ("补贴标准是多少" is a policy amount, not a fee; "办理时间是几点" is hours, not a time limit).
CUES: Dict[str, str] = {
    "ask_materials": r"(带|拿|准备|提供|提交)(些)?(什么|啥|哪些|哪几样)(材料|资料|证件|证明|东西)?"
                     r"|(什么|哪些|啥)(材料|资料|证件|证明材料)|手续(材料|资料)|材料(清单|有哪些|是什么)|所需(材料|资料|证件)"
                     r"|需要(的)?(材料|资料)|(申请|办理)?(材料|资料)(和|及|、)|(和|及|、)(所需)?(材料|资料|证件)|表格下载",
    "ask_procedure": r"(怎么|咋|如何|怎样)(办理?|弄|申请|开|补办?|领取?|换|报销|提取|注销|登记|上|交|缴|落户|迁|转|取|退|报)"
                     r"|(办理|申请|报销|注销|提取|领取|登记|过户)?(流程|步骤)|(和|及|、)程序|程序(是|有|怎么)"
                     r"|(什么|哪些)手续|(和|及|、)手续",
    "ask_conditions": r"(什么|哪些|啥)(条件|要求)|(条件|资格)(是|有|及|和|、)|(申请|办理|领取|提取|落户|入户|报考|认定)条件"
                      r"|(能不能|可不可以)(申请|办理?|领取?)|(可以|能)(申请|办理?|领取?)吗|够(不够)?(条件|资格)"
                      r"|缴费年限|(交|缴)(满|够)?多少年|认定(标准|要件)|要件",
    "ask_time_limit": r"(多久|多长时间|(?<!好)几天|多少天|几个工作日|多少个工作日|时限|期限)|(和|及|、)(办理)?时间",
    # Not 住院费用 and the like: what a hospital charges is no fee of the hall.
    "ask_fee": r"((?<![月年领补贴])多少钱|(?<!住院)(?<!医疗)(?<!看病)(?<!治疗)费用|收费|收不收费|要钱吗|工本费|花多少)",
    # Not a bare 地址: it is part of matter names (住所/地址变更登记).
    "ask_location": r"(在哪|去哪|哪里办|哪儿办|哪个部门|几楼|哪个窗口|地址在哪|地址是)",
    "ask_online": r"(网上|线上|手机上|app|小程序|掌上)(能|可以)?(办|办理|申请)(吗|么|不)|(能不能|可以|能)(在)?(网上|线上|手机上)办"
                  r"|网办|网上办理入口|(网上|线上|手机上)(?=(办理|申请)?(流程|步骤))",
    "ask_hours": r"(几点(上班|下班|开门|关门)?|上班时间|办公时间|周六|周日|周末|节假日)",
    "ask_policy_amount": r"(补贴|补助|救助金|抚恤金|津贴|养老金|失业金|待遇)(标准|多少钱|多少(?![天年]|个?工作日|个月)|是多少|有多少)"
                         r"|有(没有)?(补贴|补助)|(交费|缴费)多少钱|(和|及|、)(补贴|补助|待遇|发放)?标准|(报销比例|能报多少|报销多少|税率|发放标准|领多少|能领几个月|每月多少|一个月多少)",
}


def _compile(cues: Dict[str, str]) -> List[Tuple[str, Pattern]]:
    return [(intent, re.compile(pattern, re.IGNORECASE)) for intent, pattern in cues.items()]


_PATTERNS = _compile(CUES)


def cue_spans(text: str) -> List[Tuple[int, int, str]]:
    """(start, end, intent) cue matches in text order; a match inside a longer one of another aspect is dropped
    ("补贴标准" is not a fee), while partly overlapping ones both count ("怎么报销比例多少": procedure, amount)."""
    found = [(m.start(), m.end(), intent) for intent, pattern in _PATTERNS for m in pattern.finditer(text)
             if m.end() > m.start()]
    found.sort(key=lambda s: (-(s[1] - s[0]), s[0]))
    kept: List[Tuple[int, int, str]] = []
    for start, end, intent in found:
        if not any(s <= start and end <= e for s, e, _ in kept):
            kept.append((start, end, intent))
    return sorted(kept)


def _cued(text: str) -> List[str]:
    ordered: List[str] = []
    for _, _, found in cue_spans(text):
        if found not in ordered:
            ordered.append(found)
    return ordered


def asked_aspects(text: str, intent: Optional[str]) -> List[str]:
    """The aspect intents asked, in order, when the message asks about two or more of them; else []."""
    if not intent or intent not in CUES or not text or text.startswith("/"):
        return []
    ordered = _cued(text)
    if len(ordered) < 2 or intent not in ordered:
        return []
    return ordered


# Intents a single cue may overrule: the aspects, and messages DIET read as naming a matter, a situation or
# checklist positions ("2021年…" is no checklist reply). Not ask_online: online questions use procedure and
# place words ("网上怎么弄", "在哪个网站申请").
_OVERRULED = (set(CUES) - {"ask_online"}) | {"inform_matter", "inform_situation", "inform_have"}
# Near-miss pairs told apart by the subject, not by a phrase: "多少钱" is a fee for a licence and a policy
# amount for a tax or a contribution; DIET, which sees the words around it, decides.
_SUBJECT_PAIRS = {frozenset({"ask_fee", "ask_policy_amount"})}


def cue_decision(text: str, intent: Optional[str]) -> Optional[str]:
    """The aspect named by the message's only cue where DIET chose another intent it may overrule, or the first of
    several cued aspects where DIET read no aspect at all ("…流程及费用" as a situation); else None.

    Measured on the real dev set and both synthetic sets with three models (python -m bench.aspects): between
    +1.3 and +5 points of aspect accuracy on each (BENCHMARKS.md)."""
    if not intent or intent not in _OVERRULED or not text or text.startswith("/"):
        return None
    cued = _cued(text)
    if len(cued) >= 2 and intent not in CUES:
        return cued[0]
    if len(cued) != 1 or cued[0] == intent or frozenset({intent, cued[0]}) in _SUBJECT_PAIRS:
        return None
    return cued[0]


# A bare number of three or more digits (a phone number, a year, 12345) is no checklist reply: positions are one-
# or two-digit numbers (data/nlu/README.md).
_BARE_LONG_NUMBER = re.compile(r"^[\s\-+()（）]*\d{3,}[\d\s\-+()（）]*$")


def not_positions(text: str, ranking: List[Dict[str, Any]]) -> Optional[str]:
    """For a message DIET read as checklist positions: the next intent of the ranking when it is a bare long number."""
    if not _BARE_LONG_NUMBER.match(text or "") or any(len(run) <= 2 for run in re.findall(r"\d+", text)):
        return None
    return next((entry.get("name") for entry in ranking if entry.get("name") != "inform_have"), None)


def overrule(message: Message, aspect: str) -> None:
    """Put the decided intent first with DIET's top confidence (the two swap places and confidences), so that
    FallbackClassifier's threshold and ambiguity tests see what they saw before."""
    top = dict(message.get(INTENT) or {})
    ranking = [dict(entry) for entry in message.get(INTENT_RANKING_KEY) or []]
    cued = next((entry for entry in ranking if entry.get("name") == aspect), None)
    if cued is not None and ranking and ranking[0].get("name") == top.get("name"):
        ranking[0]["confidence"], cued["confidence"] = cued.get("confidence"), ranking[0].get("confidence")
        ranking.sort(key=lambda entry: -(entry.get("confidence") or 0.0))
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
    message.set(INTENT, {"name": aspect, "confidence": top.get("confidence")}, add_to_output=True)
    message.set(OVERRULED_KEY, top.get("name"), add_to_output=True)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class AspectCueDetector(GraphComponent):
    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "AspectCueDetector":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = (message.get(INTENT) or {}).get("name")
            decided = cue_decision(message.get(TEXT) or "", intent)
            if intent == "inform_have":
                decided = decided or not_positions(message.get(TEXT) or "", message.get(INTENT_RANKING_KEY) or [])
            if decided:
                overrule(message, decided)
                intent = decided
            aspects = asked_aspects(message.get(TEXT) or "", intent)
            if aspects:
                message.set(ASPECTS_KEY, aspects, add_to_output=True)
        return messages
