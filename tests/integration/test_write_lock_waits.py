"""Many writers waiting for SQLite's write lock do not freeze the server.

While one transaction holds the lock, every other write request waits for it in a worker
thread, holding a database connection. If at that moment the event loop itself waited for a
connection (an async route reading the database in the loop, as the agents' claim once did)
the whole server stopped: the lock holder could not finish either, until the waiters gave up
after SQLite's 30 s busy timeout and answered 503 ("database is locked"). This happened to
20 concurrent copr-cli builds in CI.

Here the lock is held from outside for a moment while 24 writers and an agent's claim arrive;
once it is released, every one of them gets through.
"""

from __future__ import annotations

import base64
import configparser
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import POSTGRES
from tests.integration.conftest import Server

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(POSTGRES), reason="SQLite's single write lock"),
]

WRITERS = 24
CHROOT = "fedora-rawhide-x86_64"


def test_writers_queued_behind_the_lock_all_get_through(server: Server) -> None:
    config = server.add_user("walter")
    parser = configparser.ConfigParser()
    parser.read(config)
    section = parser["copr-cli"]
    pair = f"{section['login']}:{section['token']}".encode()
    user = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    token = server.coprd("builder", "add", "lock-test").stdout.strip()
    builder = {"Authorization": f"Bearer {token}"}

    def write(i: int) -> int:
        answer = httpx.post(
            f"{server.url}/api_3/project/add/walter",
            json={"name": f"queued-{i}", "chroots": [CHROOT]},
            headers=user,
            timeout=120,
        )
        return answer.status_code

    def claim() -> int:
        answer = httpx.post(
            f"{server.url}/backend/claim",
            json={"arches": ["x86_64"], "wait_s": 0},
            headers=builder,
            timeout=120,
        )
        return answer.status_code

    lock = sqlite3.connect(server.data_dir / "coprd.sqlite", timeout=30)
    lock.isolation_level = None
    lock.execute("BEGIN IMMEDIATE")
    released = threading.Event()
    try:
        with ThreadPoolExecutor(WRITERS + 1) as pool:
            writes = [pool.submit(write, i) for i in range(WRITERS)]
            time.sleep(1.5)  # the writers are all waiting for the lock now
            claimed = pool.submit(claim)
            time.sleep(0.5)
            lock.execute("ROLLBACK")
            released.set()
            statuses = [w.result() for w in writes]
            assert claimed.result() in (200, 204)
    finally:
        if not released.is_set():
            lock.execute("ROLLBACK")
        lock.close()
    assert statuses == [200] * WRITERS, statuses
    listed = httpx.get(f"{server.url}/api_3/project/list", params={"ownername": "walter"})
    assert len(listed.json()["items"]) == WRITERS
