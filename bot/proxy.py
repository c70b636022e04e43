"""The proxy in front of several Rasa processes (RASA_WORKERS > 1): deploy/haproxy.cfg with this machine's
addresses filled in, written under var/ for `haproxy -f`. The routing rules live in that file only."""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import List

from bot.settings import Settings
from bot.supervisor import StackError

TEMPLATE = Path("deploy") / "haproxy.cfg"
_SERVERS = re.compile(r"^([ \t]*)# BEGIN rasa servers\n.*?^[ \t]*# END rasa servers$", re.M | re.S)


class ProxyError(StackError):
    """HAProxy is missing or its file has no server block."""


def haproxy_binary() -> str:
    return shutil.which("haproxy") or "/usr/sbin/haproxy"  # Debian's; not on a non-root PATH


def check_installed() -> None:
    if not Path(haproxy_binary()).exists():
        raise ProxyError("RASA_WORKERS > 1 needs HAProxy in front of the Rasa processes: apt-get install haproxy")


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def render(settings: Settings, template: str) -> str:
    """The template with the bind address and one server line per Rasa process."""
    match = _SERVERS.search(template)
    if match is None:
        raise ProxyError(f"{TEMPLATE} has no '# BEGIN rasa servers' ... '# END rasa servers' block")
    indent = match.group(1)
    servers: List[str] = [f'{indent}server rasa{i} {_address(settings.connect_host.strip("[]"), port)}'
                          for i, port in enumerate(settings.rasa_worker_ports, 1)]
    block = "\n".join([f"{indent}# BEGIN rasa servers (written by bot/proxy.py)", *servers,
                       f"{indent}# END rasa servers"])
    text = template[:match.start()] + block + template[match.end():]
    text = text.replace("nbsrv(rasa) lt 1", f"nbsrv(rasa) lt {len(servers)}")  # healthy once it sees them all
    return text.replace('"${RASA_PROXY_BIND}"', _address(settings.host, settings.rasa_port))


def target(settings: Settings) -> Path:
    return settings.project_dir / "var" / f"haproxy-{settings.rasa_port}.cfg"


def write(settings: Settings) -> Path:
    text = render(settings, (settings.project_dir / TEMPLATE).read_text(encoding="utf-8"))
    path = target(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
