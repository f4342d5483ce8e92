"""The contract every build backend keeps, run against each backend that can run here.

A backend is parametrized in when it can build on this host: the local backend wherever
rpmbuild and bubblewrap are installed, mock where mock is, and a fake (below) always. The fake
is what tests of the agent's claim loop can use instead of a real build.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from coprd.builder.backends import Backend, LocalBackend, MockBackend, RpmResult, RpmTask
from coprd.builder.backends.base import (
    TooManyResults,
    collect_packages,
    failed,
    log_line,
    srpm_problem,
    write_note,
)
from coprd.builder.confined import ConfinedDir, ConfinementError
from coprd.builder.macros import chroot_macros
from coprd.builder.srpm import Nevra, inspect_rpm, inspect_srpm
from tests.builder.conftest import Build, BuildSrpm, binary_rpms, requires_tools

pytestmark = requires_tools


class FakeBackend:
    """Pretends to build, quickly and without a sandbox, by the spec's name.

    ``failing`` fails, ``sleeper`` runs until canceled or timed out, anything else
    "succeeds" with an empty noarch package of the SRPM's name, version and release (plus
    the chroot's %dist), made with ``rpmbuild -bb`` from a generated spec.
    """

    name = "fake"

    def build_rpm(
        self,
        task: RpmTask,
        on_output: Callable[[bytes], None],
        cancel: threading.Event | None = None,
    ) -> RpmResult:
        problem = srpm_problem(task)
        if problem is not None:
            return failed(on_output, problem)
        info = inspect_srpm(task.srpm)
        write_note(on_output, f"fake build of {info.name}")
        if info.name == "failing":
            return failed(on_output, "fake build failed")
        if info.name == "sleeper":
            write_note(on_output, "sleeper: sleeping")
            if (cancel or threading.Event()).wait(task.timeout_s):
                return RpmResult("canceled", [], "canceled")
            return failed(on_output, f"timed out after {task.timeout_s:g} s")
        release = info.release + chroot_macros(task.chroot).get("dist", "")
        topdir = task.workdir / "fake"
        topdir.mkdir(parents=True, exist_ok=True)
        spec = topdir / "fake.spec"
        spec.write_text(
            f"Name: {info.name}\nVersion: {info.version}\nRelease: {release}\n"
            "Summary: fake\nLicense: MIT\nBuildArch: noarch\n%description\nfake\n%files\n"
        )
        subprocess.run(
            ["rpmbuild", "--define", f"_topdir {topdir}", "-bb", str(spec)],
            check=True,
            capture_output=True,
        )
        with ConfinedDir(task.workdir) as files:
            packages = collect_packages(files, "fake/RPMS", task.outdir, on_output)
        return RpmResult("succeeded", packages, f"built {len(packages)} package(s)")


BACKENDS: dict[str, Callable[[], Backend]] = {
    "local": LocalBackend,
    "fake": FakeBackend,
    "mock": MockBackend,
}


@pytest.fixture(
    params=[
        "local",
        "fake",
        pytest.param(
            "mock",
            marks=pytest.mark.skipif(shutil.which("mock") is None, reason="needs mock"),
        ),
    ]
)
def backend(request: pytest.FixtureRequest) -> Backend:
    return BACKENDS[request.param]()


def test_builds_a_noarch_package(
    backend: Backend, build_srpm: BuildSrpm, make_task: Callable[..., RpmTask]
) -> None:
    build = Build(backend, make_task(build_srpm("hello")))
    result = build.run()
    assert result.state == "succeeded", build.output.decode()
    expected = Nevra("hello", None, "1.0", "1.fc45", "noarch")
    assert result.packages == [expected]
    assert binary_rpms(build.task.outdir) == ["hello-1.0-1.fc45.noarch.rpm"]
    assert inspect_rpm(build.task.outdir / "hello-1.0-1.fc45.noarch.rpm") == expected
    assert build.output


def test_a_failing_build_fails_with_a_reason(
    backend: Backend, build_srpm: BuildSrpm, make_task: Callable[..., RpmTask]
) -> None:
    build = Build(backend, make_task(build_srpm("failing")))
    result = build.run()
    assert result.state == "failed"
    assert result.packages == []
    assert result.message
    assert result.message.encode() in build.output  # the log says why it ended
    assert not build.task.outdir.exists() or binary_rpms(build.task.outdir) == []


def test_an_invalid_srpm_fails_without_building(
    backend: Backend, tmp_path: Path, make_task: Callable[..., RpmTask]
) -> None:
    upload = tmp_path / "upload.src.rpm"
    upload.write_text("<html>404 Not Found</html>\n")
    result = Build(backend, make_task(upload)).run()
    assert result.state == "failed"
    assert "upload.src.rpm: not an RPM package" in result.message


def test_an_excluded_architecture_fails_without_building(
    backend: Backend, build_srpm: BuildSrpm, make_task: Callable[..., RpmTask]
) -> None:
    result = Build(backend, make_task(build_srpm("exclusive"))).run()
    assert result.state == "failed"
    assert "ExclusiveArch: s390x" in result.message


def test_cancel_stops_a_running_build(
    backend: Backend, build_srpm: BuildSrpm, make_task: Callable[..., RpmTask]
) -> None:
    build = Build(backend, make_task(build_srpm("sleeper")))
    outcome: list[RpmResult] = []
    worker = threading.Thread(target=lambda: outcome.append(build.run()))
    worker.start()
    deadline = time.monotonic() + 30
    while b"sleeper: sleeping" not in build.output and time.monotonic() < deadline:
        time.sleep(0.02)
    assert b"sleeper: sleeping" in build.output
    canceled_at = time.monotonic()
    build.cancel.set()
    worker.join(timeout=30)
    assert time.monotonic() - canceled_at < 10
    assert outcome == [RpmResult("canceled", [], "canceled")]


def test_timeout_fails_the_build(
    backend: Backend, build_srpm: BuildSrpm, make_task: Callable[..., RpmTask]
) -> None:
    build = Build(backend, make_task(build_srpm("sleeper"), timeout_s=1.5))
    started = time.monotonic()
    result = build.run()
    assert time.monotonic() - started < 1.5 + 10
    assert result == RpmResult("failed", [], "timed out after 1.5 s")


def test_collect_packages_copies_only_the_builds_own_binary_rpms(
    build_binary_rpm: Callable[[str], Path], tmp_path: Path
) -> None:
    # A result directory as mock leaves it (flat: RPMs, the SRPM, logs), with what a hostile
    # build could add: links to RPMs and to a directory of RPMs on the host.
    rpm = build_binary_rpm("hello")
    host = tmp_path / "host"
    host.mkdir()
    shutil.copy(rpm, host / "foreign-1-1.noarch.rpm")
    work = tmp_path / "work"
    results = work / "results"
    results.mkdir(parents=True)
    with ConfinedDir(work) as files:
        shutil.copy(rpm, results / "renamed.rpm")
        (results / "hello-1.0-1.src.rpm").write_text("not collected")
        (results / "build.log").write_text("log")
        (results / "stolen.rpm").symlink_to(host / "foreign-1-1.noarch.rpm")
        (results / "more").symlink_to(host)
        notes = bytearray()
        outdir = tmp_path / "out"
        packages = collect_packages(files, "results", outdir, notes.extend)
        assert packages == [inspect_rpm(rpm)]
        assert binary_rpms(outdir) == ["hello-1.0-1.noarch.rpm"]
        assert sorted(p.name for p in outdir.iterdir()) == ["hello-1.0-1.noarch.rpm"]
        assert notes.decode().splitlines() == [
            "[coprd] skipped more: not a regular file",
            "[coprd] skipped stolen.rpm: not a regular file",
        ]
        # The result directory itself swapped for a link to the host: nothing is collected.
        results.rename(work / "moved")
        results.symlink_to(host)
        with pytest.raises(ConfinementError, match=r"^results is a symlink$"):
            collect_packages(files, "results", tmp_path / "out2", notes.extend)
        assert collect_packages(files, "missing", tmp_path / "out3", notes.extend) == []
    assert not (tmp_path / "out2").exists()


def test_names_the_build_chose_cannot_fake_a_line_of_coprd() -> None:
    # A file the build named "x\n[coprd] built evil.rpm" is reported on one line.
    name = "x\n[coprd] built evil-1-1.noarch.rpm\r\x1b[2K"
    line = log_line("coprd", f"skipped {name}: not a regular file")
    assert line.count(b"\n") == 1 and line.endswith(b"\n")
    assert line == (
        b"[coprd] skipped x\\x0a[coprd] built evil-1-1.noarch.rpm\\x0d\\x1b[2K: "
        b"not a regular file\n"
    )


def test_too_many_packages_are_refused_before_any_is_copied(tmp_path: Path) -> None:
    results = tmp_path / "work" / "results"
    results.mkdir(parents=True)
    for i in range(5):
        (results / f"p{i}-1-1.noarch.rpm").write_bytes(b"not even an rpm")
    notes = bytearray()
    with ConfinedDir(tmp_path / "work") as files, pytest.raises(TooManyResults) as refused:
        collect_packages(files, "results", tmp_path / "out", notes.extend, max_files=4)
    assert str(refused.value) == (
        "the build made 5 packages; this builder accepts at most 4 (setting max_result_files)"
    )
    # Refused on the count alone: nothing was copied (or found not to be an RPM).
    assert not (tmp_path / "out").exists()


def test_the_tasks_other_results_count_with_the_packages(tmp_path: Path) -> None:
    # The SRPM and spec the agent uploads itself, and a tool's logs, share the limits.
    results = tmp_path / "work" / "results"
    results.mkdir(parents=True)
    for i in range(3):
        (results / f"p{i}-1-1.noarch.rpm").write_bytes(b"r" * 1000)
    with ConfinedDir(tmp_path / "work") as files:
        with pytest.raises(TooManyResults) as refused:
            collect_packages(
                files, "results", tmp_path / "out", lambda _: None, max_files=4, besides_files=2
            )
        assert str(refused.value) == (
            "the build made 3 packages besides 2 other result files; this builder accepts "
            "at most 4 (setting max_result_files)"
        )
        with pytest.raises(TooManyResults) as refused:
            collect_packages(
                files,
                "results",
                tmp_path / "out",
                lambda _: None,
                max_bytes=3500,
                besides_bytes=600,
            )
        assert str(refused.value) == (
            "the build's packages take 2.9 KiB besides 600 bytes of other result files; "
            "this builder accepts at most 3.4 KiB (setting max_result_bytes)"
        )
    assert not (tmp_path / "out").exists()


def test_too_large_packages_are_refused_before_any_is_copied(tmp_path: Path) -> None:
    results = tmp_path / "work" / "results" / "noarch"
    results.mkdir(parents=True)
    for i in range(3):
        (results / f"p{i}-1-1.noarch.rpm").write_bytes(b"r" * 1000)
    with ConfinedDir(tmp_path / "work") as files, pytest.raises(TooManyResults) as refused:
        collect_packages(files, "results", tmp_path / "out", lambda _: None, max_bytes=2048)
    assert str(refused.value) == (
        "the build's packages take 2.9 KiB; this builder accepts at most 2 KiB "
        "(setting max_result_bytes)"
    )
    assert not (tmp_path / "out").exists()
