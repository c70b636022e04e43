"""People talking to a scaled stack (several Rasa processes, PostgreSQL tracker store): on our page (POST
/api/chat) or through the proxy (Rasa's REST channel), and what PostgreSQL's tracker store holds of them."""
from __future__ import annotations

import json
from typing import Dict, List, Tuple

import aiohttp
from sqlalchemy import create_engine, text

TURN_TIMEOUT = aiohttp.ClientTimeout(total=90)
# Five turns of one person: a matter, a follow-up on it, the place, thanks.
FIVE_TURNS = ["你好", "公积金提取要带什么", "那要多久？", "在哪里办", "谢谢"]


async def page_turn(session: aiohttp.ClientSession, web_url: str, sender: str, message: str) -> List[str]:
    """One turn on our page; the texts of the answer (an error status fails the caller)."""
    async with session.post(f"{web_url}/api/chat", json={"sender": sender, "message": message},
                            timeout=TURN_TIMEOUT) as resp:
        body = await resp.json()
        assert resp.status == 200, f"{resp.status} {body}"
    return [m["text"] for m in body["messages"] if m.get("text")]


async def rest_turn(session: aiohttp.ClientSession, rasa_url: str, sender: str, message: str) -> List[str]:
    """One turn through Rasa's REST channel, as a standard client sends it (to the proxy)."""
    async with session.post(f"{rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": message},
                            timeout=TURN_TIMEOUT) as resp:
        assert resp.status == 200, f"{resp.status} {await resp.text()}"
        body = await resp.json(content_type=None)
    return [m["text"] for m in body if m.get("text")]


def stored_turns(tracker_url: str, senders: List[str]) -> Dict[str, List[Tuple[str, List[str]]]]:
    """sender -> [(what the person said, [the bot's texts after it])] from the tracker store, in stored order."""
    engine = create_engine(tracker_url)
    turns: Dict[str, List[Tuple[str, List[str]]]] = {sender: [] for sender in senders}
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT sender_id, type_name, data FROM events WHERE sender_id = ANY(:senders) "
                     "AND type_name IN ('user', 'bot') ORDER BY id"), {"senders": senders})
            for sender, kind, data in rows:
                said = json.loads(data).get("text")
                if kind == "user":
                    turns[sender].append((said, []))
                elif said and turns[sender]:
                    turns[sender][-1][1].append(said)
    finally:
        engine.dispose()
    return turns


def assert_nothing_lost_or_reordered(tracker_url: str, heard: Dict[str, List[Tuple[str, List[str]]]]) -> None:
    """What each person said and was told, turn by turn, is exactly what the tracker store holds: every
    message once, in order, each answer after its own question."""
    stored = stored_turns(tracker_url, list(heard))
    for sender, turns in heard.items():
        assert stored[sender] == turns, f"{sender}: stored {stored[sender]!r}\n heard {turns!r}"


def listens(pid: int, port: int) -> bool:
    """Whether this process holds a listening socket on this port (processes sharing a port by SO_REUSEPORT
    answer the same health URL, so that cannot tell which one is up)."""
    import os

    inodes = set()
    with open("/proc/net/tcp") as table:
        for line in list(table)[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:  # 0A = LISTEN
                inodes.add(fields[9])
    try:
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    return any(link == f"socket:[{inode}]" for link in links for inode in inodes)
