"""Seeded fuzzing of every public input over the real stack: no 5xx, and the bot still answers afterwards.

2,000+ inputs: our page's /api/chat and Rasa's REST channel get malformed bodies (most inputs, cheap to refuse)
and hostile or odd messages that go through NLU, the dialogue and the actions.
"""
from __future__ import annotations

import asyncio
import json
import random
import secrets

import aiohttp
import pytest

from support.stack import web_sender

SEED = 20261207
INPUTS = 2000
TURNS = 260  # of them, messages that reach Rasa (the rest are refused at the door)
CONCURRENCY = 12

ODD_TEXTS = [
    "", " ", "\n\t", "😀😀😀", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "'; DROP TABLE events; --",
    "1 OR 1=1", "{{7*7}}", "${jndi:ldap://x}", "%s%s%s%n", "../../etc/passwd", "\u202e反向文字", "\x00\x01\x02",
    "null", "[]", "/greet", "/choose_matter{\"matter\": \"NOPE\"}", "/choose_matter{broken", "/inform_have{\"x\":",
    "１２３４", "2021", "二级", "1、3、4", "转人工", "再见", "營業執照", "办不成事", "\ud800", "A" * 2000, "字" * 1500,
]


def odd_message(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.5:
        return rng.choice(ODD_TEXTS)
    if kind < 0.8:  # random code points, including astral and control characters
        return "".join(chr(rng.choice([rng.randint(0x20, 0x7e), rng.randint(0x4e00, 0x9fff), rng.randint(0, 0x1ffff)]))
                       for _ in range(rng.randint(1, 60)))
    return rng.choice(ODD_TEXTS) + "公积金提取要带什么" + rng.choice(ODD_TEXTS)


def malformed_body(rng: random.Random) -> bytes:
    depth = rng.randint(1, 20_000)
    choices = [
        b"", b"[]", b"null", b"1", b'"x"', b"{", b"{}", b'{"sender": 1, "message": "x"}', b'{"message": null}',
        b'{"sender": "' + b"s" * rng.randint(0, 300) + b'", "message": 5}',
        b'{"sender": "abcdefgh1234", "message": ' + b"[" * depth + b"]" * depth + b"}",
        bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200))),
        b'{"sender": "abcdefgh1234", "message": "x", "metadata": [1, 2]}',
        json.dumps({"sender": "x" * rng.randint(0, 80), "message": {"a": [1, {"b": None}]}}).encode(),
    ]
    return rng.choice(choices)


async def post(session, url, body: bytes, statuses: list) -> None:
    try:
        async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as resp:
            await resp.read()
            statuses.append((url, resp.status))
    except aiohttp.ClientError as exc:  # a refused oversized body may close the connection: not a 5xx
        statuses.append((url, type(exc).__name__))


@pytest.mark.asyncio
async def test_two_thousand_hostile_inputs_give_no_5xx_and_the_bot_still_answers(live_stack):
    rng = random.Random(SEED)
    chat_url = f"{live_stack.web_url}/api/chat"
    rest_url = f"{live_stack.rasa_url}/webhooks/rest/webhook"
    jobs = []
    shared_page_sender = web_sender()
    for number in range(INPUTS):
        url = chat_url if number % 2 else rest_url
        if number < TURNS:
            fresh = rng.random() < 0.7
            if url == chat_url:  # our page only takes the ids it issued
                sender = web_sender() if fresh else shared_page_sender
            else:
                sender = "fuzz" + secrets.token_hex(6) if fresh else "fuzz-shared-0001"
            body = json.dumps({"sender": sender, "message": odd_message(rng)}).encode()
        else:
            body = malformed_body(rng)
        jobs.append((url, body))
    rng.shuffle(jobs)

    statuses: list = []
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(url: str, body: bytes) -> None:
        async with gate:
            await post(session, url, body, statuses)

    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(one(url, body) for url, body in jobs))

    assert len(statuses) == INPUTS
    server_errors = [(url, status) for url, status in statuses if isinstance(status, int) and status >= 500]
    assert not server_errors, f"{len(server_errors)} 5xx, e.g. {server_errors[:5]}"
    broken = [s for s in statuses if not isinstance(s[1], int)]
    assert len(broken) <= INPUTS // 100, f"connections broken: {broken[:5]}"
    assert sum(1 for _, status in statuses if status == 200) >= TURNS // 2

    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.post(chat_url, json={"sender": web_sender(), "message": "公积金提取要带什么"}) as resp:
            assert resp.status == 200
            messages = (await resp.json())["messages"]
    assert any("公积金" in (m["text"] or "") for m in messages), messages
