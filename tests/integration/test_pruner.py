"""The server's own background cleanup runs the pruner: a real ``coprd serve``, builds
made with copr-cli, their end moved a month back in the database, and a restart (the
hourly job's first run is at start)."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from coprd.db.engine import make_engine
from coprd.db.models import Build, BuildTask, utcnow
from tests.integration.conftest import restart_server, start_server, stop_server

pytestmark = pytest.mark.integration

RAWHIDE = "fedora-rawhide-x86_64"
SRPM_URL = "https://example.org/hello-1.0-1.src.rpm"  # never fetched: no builders run


def test_the_hourly_cleanup_prunes(tmp_path: Path) -> None:
    srv = start_server(tmp_path)
    try:
        alice = srv.add_user_with_project("alice", "demo", RAWHIDE)
        ids = []
        for _ in range(2):
            built = srv.copr_cli(alice, "build", "--nowait", "demo", SRPM_URL)
            match = re.search(r"Created builds: (\d+)", built.stdout)
            assert match, built.stdout + built.stderr
            ids.append(int(match.group(1)))
            assert srv.copr_cli(alice, "cancel", match.group(1)).returncode == 0
        repo = srv.data_dir / "results" / "alice" / "demo" / RAWHIDE
        dirs = [repo / f"{build_id:08d}-unknown" for build_id in ids]
        for directory in dirs:  # what a canceled build's agent could have left: its log
            directory.mkdir()
            (directory / "builder-live.log").write_text("canceled\n")
        url = srv.env.get("COPRD_DATABASE_URL") or f"sqlite:///{srv.data_dir / 'coprd.sqlite'}"
        engine = make_engine(url)
        month_ago = utcnow() - dt.timedelta(days=30)
        with engine.begin() as conn:
            conn.execute(
                update(BuildTask).where(BuildTask.build_id.in_(ids)).values(ended_on=month_ago)
            )
            conn.execute(update(Build).where(Build.id.in_(ids)).values(ended_on=month_ago))
        engine.dispose()

        srv.process.terminate()
        srv.process.wait(timeout=30)
        srv = restart_server(srv)

        deadline = time.monotonic() + 60
        while dirs[0].exists():
            assert time.monotonic() < deadline, srv.server_log()
            time.sleep(0.2)
        assert dirs[1].is_dir()  # the package's latest finished build keeps its log
        (record,) = (srv.data_dir / "prune-log").iterdir()
        assert [json.loads(line)["build_id"] for line in record.read_text().splitlines()] == [
            ids[0]
        ]
        assert f"pruned alice/demo/{RAWHIDE}/{ids[0]:08d}-unknown" in srv.server_log()
        status = srv.copr_cli(alice, "status", str(ids[0]))  # the build stays, as on Copr
        assert (status.returncode, status.stdout.strip()) == (0, "canceled")
    finally:
        if srv.process.poll() is None:
            stop_server(srv)
