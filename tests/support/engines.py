"""Real PostgreSQL and Redis servers for tests: Debian's binaries, started in a temporary folder on a free port,
stopped at the end. Nothing is mocked; a machine without the packages fails loudly (.ci/run installs them)."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

from bot.supervisor import free_ports

START_TIMEOUT = 60.0


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (see .ci/run)")
    return found[-1]  # the newest installed major version


def _as_postgres_user(command: List[str]) -> List[str]:
    # initdb refuses to run as root; CI runs as root, developers usually do not
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def _wait_for_port(port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {START_TIMEOUT:.0f} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextmanager
def running_postgres(databases: tuple = ("assistant",)) -> Iterator[str]:
    """A PostgreSQL server in a fresh folder; yields the URL of the first database (the others share its server)."""
    # directly under /tmp: the postgres user must reach it, and pytest's folders are private to root
    folder = Path(tempfile.mkdtemp(prefix="test-postgres-"))
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        postgres = pwd.getpwnam("postgres")
        for path in (folder, sockets):
            os.chown(path, postgres.pw_uid, postgres.pw_gid)
        os.chmod(folder, 0o700)
    subprocess.run(_as_postgres_user([_postgres_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                      "-E", "UTF8", "--locale=C.UTF-8"]),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    port = free_ports(1)[0]
    process = subprocess.Popen(
        _as_postgres_user([_postgres_bin("postgres"), "-D", str(data), "-p", str(port), "-k", str(sockets),
                           "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200"]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process, "postgres")
        ready = _postgres_bin("pg_isready")
        deadline = time.monotonic() + START_TIMEOUT
        while subprocess.run([ready, "-h", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL).returncode:
            if time.monotonic() > deadline:
                raise RuntimeError("postgres did not accept connections")
            time.sleep(0.05)
        for name in databases:
            subprocess.run([_postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", name],
                           check=True)
        yield f"postgresql://postgres@127.0.0.1:{port}/{databases[0]}"
    finally:
        _stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def fresh_database(server_url: str, prefix: str) -> str:
    """A new, empty database on a running server (one per test module: its rows stay its own); its URL."""
    import uuid

    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    connection = psycopg2.connect(server_url)
    connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    connection.close()
    return f"{server_url.rsplit('/', 1)[0]}/{name}"


@contextmanager
def running_redis(folder: Path, port: Optional[int] = None) -> Iterator[str]:
    """A Redis server in `folder` with persistence off (on `port`, to start one again where it was); its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("Redis is not installed: apt-get install redis-server (see .ci/run)")
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_ports(1)[0]
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
                                "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    """A new, empty database on the server of `server_url`; its URL (several stacks share one test server)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return str(make_url(server_url).set(database=name))
