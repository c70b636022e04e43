"""Console security against the real web server: no access without login (every endpoint and the WebSocket),
CSRF on every POST, session cookies, login throttling, a helper sees only their queues, racing claims."""
from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest

from bot.settings import Settings
from bot.web import create_app
from support.handoff import Console, Person, add_helper, new_sender, open_ticket

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def accounts(catalog_database_url):
    return {
        "qykb": add_helper(catalog_database_url, ["qykb"], name="王企"),
        "qykb2": add_helper(catalog_database_url, ["qykb"], name="赵企"),
        "minsheng": add_helper(catalog_database_url, ["minsheng"], name="钱民"),
        "boss": add_helper(catalog_database_url, supervisor=True, name="李主任"),
        "throttled": add_helper(catalog_database_url, ["zonghe"], name="孙综"),
    }


def console_routes():
    """Every console route of the real application (so a new endpoint cannot escape these tests)."""
    app = create_app(Settings.from_env({}))
    routes = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith("/console") and route.method != "HEAD":
            routes.add((route.method, path))
    return sorted(routes)


PUBLIC = {("GET", "/console/login"), ("POST", "/console/login"), ("GET", "/console/static")}


def concrete(path: str, ticket_id: int) -> str:
    return path.replace("{ticket_id}", str(ticket_id))


async def on_duty(live_stack, account) -> Console:
    """A helper with an open console (so tickets of their queue wait live)."""
    console = Console(live_stack.web_url)
    assert await console.login(account) == 200
    await console.connect()
    return console


async def test_every_console_endpoint_refuses_without_a_session(live_stack, accounts):
    person = new_sender()
    duty = await on_duty(live_stack, accounts["qykb2"])
    ticket = await open_ticket(live_stack.settings, person, matter="SCJG-QY-SL")
    await duty.close()
    routes = [r for r in console_routes() if r not in PUBLIC]
    assert len(routes) >= 18, routes  # the list really comes from the app
    assert ("GET", "/console/ws") in routes
    for cookie in (None, "forged-session-token", ""):
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            if cookie is not None:
                jar.update_cookies({"sqfd_console": cookie}, response_url=aiohttp.client.URL(live_stack.web_url))
            for method, path in routes:
                url = live_stack.web_url + concrete(path, ticket["ticket_id"])
                if path == "/console/ws":
                    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                        await session.ws_connect(url)
                    assert refused.value.status == 401
                    continue
                async with session.request(method, url, allow_redirects=False, json={"text": "x"}) as resp:
                    body = await resp.text()
                    if method == "GET" and not path.startswith("/console/api/") and "partials" not in path:
                        assert resp.status == 302 and resp.headers["Location"] == "/console/login", (path, resp.status)
                    else:
                        assert resp.status == 401, (method, path, resp.status)
                    assert person[:4] + "****" not in body and "SCJG" not in body
    # Nothing was done by those calls.
    boss = Console(live_stack.web_url)
    try:
        await boss.login(accounts["boss"])
        data = await (await boss.get(f"/console/api/tickets/{ticket['ticket_id']}")).json()
        assert data["ticket"]["status"] == "waiting" and data["messages"] == [] and data["notes"] == []
        await boss.post_form(f"/console/tickets/{ticket['ticket_id']}/close", {"resolution": "other"})
    finally:
        await boss.close()


async def test_posts_need_the_csrf_token_and_the_socket_our_origin(live_stack, accounts):
    console = await on_duty(live_stack, accounts["qykb"])
    ticket = await open_ticket(live_stack.settings, new_sender(), matter="SCJG-QY-SL")
    try:
        assert console.csrf
        path = f"/console/tickets/{ticket['ticket_id']}"
        for csrf in ("", "wrong-token"):
            assert (await console.post_json(f"{path}/claim", csrf=csrf))[0] == 403
            assert (await console.post_form(f"{path}/notes", {"text": "x"}, csrf=csrf)).status == 403
        status, data = await console.post_json(f"{path}/claim")
        assert status == 200 and data["won"]

        evil = {"Origin": "http://evil.example"}
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await console.session.ws_connect(f"{live_stack.web_url}/console/ws", headers=evil)
        assert refused.value.status == 403
        async with console.session.post(f"{live_stack.web_url}{path}/messages", json={"text": "x"},
                                        headers={**evil, "X-CSRF-Token": console.csrf}) as resp:
            assert resp.status == 403

        # Logging out ends the session: the open socket is closed at its next ping, and the cookie is dead.
        socket = console.socket
        resp = await console.post_form("/console/logout", {})
        assert resp.status == 303 and resp.headers["Location"] == "/console/login"
        await socket.send({"type": "ping"})
        await asyncio.wait_for(socket.closed.wait(), 10)
        assert socket.ws.close_code == 4401
        assert (await console.get("/console/api/lists")).status == 401
    finally:
        await console.close()


async def test_login_cookie_flags_wrong_password_and_throttling(live_stack, accounts):
    account = accounts["throttled"]
    login_url = f"{live_stack.web_url}/console/login"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:

        async def attempt(password: str, token_override=None, username=None):
            session.cookie_jar.clear(lambda c: c.key == "sqfd_console")
            async with session.get(login_url) as resp:
                token = re.search(r'name="login_token" value="([^"]+)"', await resp.text()).group(1)
            form = {"login_token": token if token_override is None else token_override,
                    "username": username or account["username"], "password": password}
            async with session.post(login_url, data=form, allow_redirects=False) as resp:
                return resp.status, resp.headers.getall("Set-Cookie", [])

        status, _ = await attempt(account["password"], token_override="")
        assert status == 403  # the login form's own token is required
        status, cookies = await attempt("wrong password!")
        assert status == 401 and not any(c.startswith("sqfd_console=") for c in cookies)
        status, cookies = await attempt(account["password"])
        assert status == 303
        cookie = next(c for c in cookies if c.startswith("sqfd_console="))
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
        assert "Max-Age" not in cookie  # ends with the browser; the server expires it too
        for _ in range(5):
            assert (await attempt("wrong password!"))[0] == 401
        assert (await attempt(account["password"]))[0] == 429  # even the right one, for a while
        assert (await attempt(account["password"], username=account["username"] + " "))[0] == 429
        assert (await attempt(account["password"], username=account["username"].upper()))[0] == 429


async def test_a_helper_sees_only_their_queues_and_a_supervisor_all(live_stack, accounts):
    consoles = {name: Console(live_stack.web_url) for name in ("qykb", "minsheng", "boss")}
    try:
        sockets = {}
        for name, console in consoles.items():
            await console.login(accounts[name])
            sockets[name] = await console.connect()
        sender = new_sender()
        ticket = await open_ticket(live_stack.settings, sender, matter="GJJ-TQ")  # 住房公积金提取 -> 民生
        assert ticket["queue"] == "minsheng"
        tid = ticket["ticket_id"]
        for name in ("minsheng", "boss"):
            await sockets[name].wait_for(lambda f: f["type"] == "ticket" and f["ticket"]["id"] == tid)
        other = consoles["qykb"]
        for path in (f"/console/tickets/{tid}", f"/console/api/tickets/{tid}",
                     f"/console/api/tickets/{tid}/materials"):
            assert (await other.get(path)).status == 404
        assert (await other.post_json(f"/console/tickets/{tid}/claim"))[0] == 404
        assert (await other.post_form(f"/console/tickets/{tid}/notes", {"text": "偷看"})).status == 303
        lists = await (await other.get("/console/api/lists")).json()
        assert tid not in [t["id"] for group in ("waiting", "mine", "others", "closed") for t in lists[group]]
        await asyncio.sleep(0.3)
        assert not sockets["qykb"].matching(lambda f: f.get("ticket", {}).get("id") == tid)
        boss_lists = await (await consoles["boss"].get("/console/api/lists")).json()
        assert tid in [t["id"] for t in boss_lists["waiting"]]
        notes = (await (await consoles["boss"].get(f"/console/api/tickets/{tid}")).json())["notes"]
        assert notes == []  # the other queue's helper could not write a note either
        await consoles["boss"].post_form(f"/console/tickets/{tid}/close", {"resolution": "other"})
    finally:
        for console in consoles.values():
            await console.close()


async def test_two_helpers_racing_to_claim_never_both_win(live_stack, accounts):
    first, second = await on_duty(live_stack, accounts["qykb"]), await on_duty(live_stack, accounts["qykb2"])
    try:
        tickets = [await open_ticket(live_stack.settings, new_sender(), matter="SCJG-GT-SL") for _ in range(8)]
        for ticket in tickets:
            path = f"/console/tickets/{ticket['ticket_id']}/claim"
            (s1, d1), (s2, d2) = await asyncio.gather(first.post_json(path), second.post_json(path))
            assert sorted([s1, s2]) == [200, 409], (s1, s2)
            winner = first if s1 == 200 else second
            data = await (await winner.get(f"/console/api/tickets/{ticket['ticket_id']}")).json()
            assert data["ticket"]["status"] == "active"
            assert data["ticket"]["helper_name"] == ("王企" if winner is first else "赵企")
            notices = [m for m in data["messages"] if m["author"] == "notice"]
            assert len(notices) == 1  # the person is told once, about the winner
    finally:
        await first.close()
        await second.close()


async def test_person_markup_is_text_in_the_console(live_stack, accounts):
    """Markup from a person reaches the console escaped (server HTML) and as JSON text (live)."""
    console, person = await on_duty(live_stack, accounts["qykb"]), Person(live_stack.web_url)
    attack = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    try:
        board = console.socket
        ticket = await open_ticket(live_stack.settings, person.sender, matter="SCJG-QY-SL", problem=attack)
        tid = ticket["ticket_id"]
        await console.post_json(f"/console/tickets/{tid}/claim")
        assert (await person.say(attack))["messages"] == []
        frame = await board.wait_for(lambda f: f["type"] == "message" and f["message"]["author"] == "person")
        assert frame["message"]["text"] == attack
        html = await (await console.get(f"/console/tickets/{tid}")).text()
        assert attack not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<img src=x" not in html
        listing = await (await console.get("/console/partials/lists")).text()
        assert "<script>alert" not in listing
    finally:
        await person.close()
        await console.close()
