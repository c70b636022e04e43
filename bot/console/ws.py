"""The console's WebSocket: live tickets, messages, notes and typing; also the helper's presence (on duty).

The auth middleware has already checked the session cookie and the Origin before the upgrade. The session
is checked again on every ping, so an expired or ended session closes the socket.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time

from aiohttp import web

from bot.handoff.hub import json_objects
from bot.web import keys

from .auth import TOKEN, current_helper

logger = logging.getLogger(__name__)

HEARTBEAT = 20.0
SESSION_RECHECK = 10.0
CLOSE_SESSION_ENDED = 4401


async def console_ws(request: web.Request) -> web.StreamResponse:
    runtime = request.app.get(keys.HANDOFF)
    if runtime is None:
        return web.json_response({"error": "handoff_unavailable"}, status=503)
    helper = current_helper(request)
    settings = request.app[keys.SETTINGS]
    grace = runtime.config.on_duty_grace_seconds
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=16 * 1024)
    await ws.prepare(request)
    runtime.console_hub.add(ws, helper)
    await runtime.db.set_on_duty(helper.id, grace)
    last_check = time.monotonic()
    try:
        await ws.send_str(json.dumps({"type": "hello", "helper": {"id": helper.id, "name": helper.display_name}},
                                     ensure_ascii=False))
        async for data in json_objects(ws):
            kind = data.get("type")
            if kind == "ping" or time.monotonic() - last_check > SESSION_RECHECK:
                last_check = time.monotonic()
                found = await runtime.db.session(request[TOKEN], settings.console_session_minutes)
                if found is None:
                    await ws.close(code=CLOSE_SESSION_ENDED, message=b"session ended")
                    break
                helper = found[0]
                runtime.console_hub.update_helper(helper)  # queues may have changed
                await runtime.db.set_on_duty(helper.id, grace)
                if kind == "ping":
                    await ws.send_str('{"type":"pong"}')
            if kind == "typing":
                try:
                    ticket_id = int(data.get("ticket_id"))
                except (TypeError, ValueError):
                    continue
                await runtime.helper_typing(helper, ticket_id)
    except ConnectionError:
        pass
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("console socket failed for helper %s", helper.id)
    finally:
        runtime.console_hub.remove(ws)
        if not runtime.stopping and not runtime.console_hub.helper_connected(helper.id):
            try:
                await runtime.db.set_on_duty(helper.id, None)
                await runtime.live.console_left(helper.id)  # still on duty if a console is open on another process
            except Exception:
                logger.exception("could not mark helper %s off duty", helper.id)
    return ws
