"""The live log on the server: cut past max_log_bytes whatever arrives, in chunks of any
size, from any number of writers; its tail written below the cut when the task ends."""

from __future__ import annotations

import gzip
import random
import threading
from pathlib import Path

import pytest

from coprd.core.limits import cut_marker
from coprd.publish.builddir import finish_build_dir
from coprd.publish.livelog import RING, append_log, close_log, cut_log


def cut_as_the_rule_says(data: bytes, cap: int, tail: int) -> bytes:
    if len(data) <= cap:
        return data
    marker = cut_marker(cap, tail, after_newline=data[cap - 1 : cap] in (b"", b"\n"))
    return data[:cap] + marker + data[max(cap, len(data) - tail) :]


def log_of(directory: Path) -> bytes:
    return (directory / "builder-live.log").read_bytes()


@pytest.mark.parametrize("seed", range(20))
def test_chunks_of_any_size_give_head_line_and_tail(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    cap, tail = rng.choice([0, 1, 100, 1000]), rng.choice([0, 1, 64, 300])
    data = rng.randbytes(rng.randrange(0, 5000))
    at = 0
    while at < len(data):
        size = rng.choice([1, 7, 64, 299, 300, 301, 1000, 4000])
        append_log(tmp_path, data[at : at + size], max_bytes=cap, tail_bytes=tail)
        at += size
    close_log(tmp_path)
    assert log_of(tmp_path) == cut_as_the_rule_says(data, cap, tail)
    assert not (tmp_path / RING).exists()


def test_the_log_on_disk_stays_bounded_while_the_task_runs(tmp_path: Path) -> None:
    chunk = b"y\n" * 32 * 1024  # 64 KiB
    for _ in range(1600):  # 100 MiB
        append_log(tmp_path, chunk, max_bytes=1024 * 1024, tail_bytes=64 * 1024)
    marker = cut_marker(1024 * 1024, 64 * 1024, after_newline=True)
    assert marker == (
        b"[coprd] the log is longer than 1 MiB: the rest is cut, "
        b"only its last 64 KiB is kept below\n"
    )
    assert (tmp_path / "builder-live.log").stat().st_size == 1024 * 1024 + len(marker)
    assert (tmp_path / RING).stat().st_size == 16 + 64 * 1024
    close_log(tmp_path)
    assert log_of(tmp_path) == b"y\n" * 512 * 1024 + marker + b"y\n" * 32 * 1024


def test_writers_at_once_never_store_more_than_the_cut(tmp_path: Path) -> None:
    """Several replicas (threads here, each with its own descriptors) appending to one
    log: whatever the order, head + one line + tail."""
    barrier = threading.Barrier(8)

    def write(n: int) -> None:
        barrier.wait()
        for _ in range(50):
            append_log(tmp_path, bytes([65 + n]) * 97, max_bytes=2000, tail_bytes=500)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    close_log(tmp_path)
    log = log_of(tmp_path)
    assert log.count(b"the log is longer than") == 1
    head, _, tail = log.partition(cut_marker(2000, 500, after_newline=False))
    assert len(head) == 2000 and len(tail) == 500
    # Each chunk went in whole, none into the middle of another.
    assert all(len(set(head[i : i + 97])) == 1 for i in range(0, 2000 - 97, 97))


def test_an_agents_own_cut_is_kept_once(tmp_path: Path) -> None:
    append_log(tmp_path, b"head\n", max_bytes=1000, tail_bytes=10)
    cut_log(tmp_path, b"[coprd] cut by the agent", tail_bytes=10)
    cut_log(tmp_path, b"[coprd] cut again\n", tail_bytes=10)
    append_log(tmp_path, b"0123456789abcdef", max_bytes=1000, tail_bytes=10)
    assert log_of(tmp_path) == b"head\n[coprd] cut by the agent\n"
    close_log(tmp_path)
    assert log_of(tmp_path) == b"head\n[coprd] cut by the agent\n6789abcdef"


def test_finishing_the_build_dir_writes_the_tail_then_gzips(tmp_path: Path) -> None:
    data = b"".join(b"%05d\n" % i for i in range(1000))
    append_log(tmp_path, data, max_bytes=600, tail_bytes=60)
    finish_build_dir(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["builder-live.log.gz"]
    log = gzip.decompress((tmp_path / "builder-live.log.gz").read_bytes())
    assert log == cut_as_the_rule_says(data, 600, 60)
    assert log.endswith(b"00990\n00991\n00992\n00993\n00994\n00995\n00996\n00997\n00998\n00999\n")
    assert finish_build_dir(tmp_path) == []  # again: nothing to do


def test_a_log_within_the_cap_is_whole(tmp_path: Path) -> None:
    append_log(tmp_path, b"x" * 999, max_bytes=1000, tail_bytes=10)
    append_log(tmp_path, b"\n", max_bytes=1000, tail_bytes=10)
    append_log(tmp_path, b"", max_bytes=1000, tail_bytes=10)
    close_log(tmp_path)
    assert log_of(tmp_path) == b"x" * 999 + b"\n"
    assert not (tmp_path / RING).exists()
