"""The mock backend's command line, and its handling of what mock leaves (with a script in
mock's place: mock itself cannot run on this Debian host)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from coprd.builder.backends import MockBackend, RpmResult, RpmTask, mock_command
from coprd.builder.backends.mock import uniqueext
from coprd.builder.srpm import inspect_rpm
from tests.builder.conftest import BuildSrpm, requires_tools


def task(**changes: object) -> RpmTask:
    values: dict[str, object] = {
        "srpm": Path("/work/42/hello-1.0-1.src.rpm"),
        "chroot": "fedora-45-x86_64",
        "outdir": Path("/results/42"),
        "workdir": Path("/work/42"),
        "enable_net": False,
        "timeout_s": 18000,
        "memory_bytes": None,
        "with_opts": (),
        "without_opts": (),
        "repos": (),
        "buildroot_pkgs": (),
        **changes,
    }
    return RpmTask(**values)  # type: ignore[arg-type]


def test_minimal_command() -> None:
    assert mock_command(task()) == [
        "mock",
        "-r",
        "fedora-45-x86_64",
        "--resultdir",
        "/work/42/results",
        f"--uniqueext={uniqueext(task())}",
        "--config-opts=rpmbuild_networking=False",
        "--config-opts=use_host_resolv=False",
        "--rebuild",
        "/work/42/hello-1.0-1.src.rpm",
    ]


def test_every_option() -> None:
    command = mock_command(
        task(
            enable_net=True,
            with_opts=("tests", "docs"),
            without_opts=("gui",),
            repos=("https://example.org/repo/", "https://example.org/other/"),
            buildroot_pkgs=("python3-devel", "gcc-c++"),
        ),
        mock="/usr/bin/mock",
        isolation="simple",
        bootstrap=False,
    )
    assert command[:3] == ["/usr/bin/mock", "-r", "fedora-45-x86_64"]
    assert command[-2:] == ["--rebuild", "/work/42/hello-1.0-1.src.rpm"]
    middle = command[5:-2]
    assert middle == [
        f"--uniqueext={uniqueext(task())}",
        "--enable-network",
        "--with=tests",
        "--with=docs",
        "--without=gui",
        "--addrepo=https://example.org/repo/",
        "--addrepo=https://example.org/other/",
        "--additional-package=python3-devel",
        "--additional-package=gcc-c++",
        "--isolation=simple",
        "--no-bootstrap-chroot",
    ]
    assert not any("rpmbuild_networking" in part for part in command)


def test_bootstrap_on_and_default_isolation() -> None:
    command = mock_command(task(), bootstrap=True)
    assert "--bootstrap-chroot" in command
    assert not any(part.startswith("--isolation") for part in command)


def test_uniqueext_separates_work_directories() -> None:
    one, same, other = (uniqueext(task(workdir=Path(p))) for p in ("/work/1", "/work/1", "/work/2"))
    assert one == same != other
    assert one.startswith("coprd-") and one.replace("-", "").isalnum()


@pytest.mark.parametrize(
    "changes",
    [
        {"with_opts": ("--define=x",)},
        {"without_opts": ("a b",)},
        {"repos": ("--config-opts=x",)},
        {"buildroot_pkgs": ("gcc\n",)},
        {"chroot": "fedora"},
        {"timeout_s": 0},
    ],
)
def test_tasks_that_would_smuggle_options_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        task(**changes)


@pytest.mark.skipif(shutil.which("mock") is not None, reason="mock is installed here")
def test_without_mock_the_backend_fails_clearly(tmp_path: Path) -> None:
    output = bytearray()
    result = MockBackend().build_rpm(
        task(workdir=tmp_path / "work", outdir=tmp_path / "out"), output.extend
    )
    assert result == RpmResult("failed", [], "mock (mock) is not installed on this builder")
    assert b"not installed" in output


def _fake_mock(tmp_path: Path, body: str) -> str:
    """An executable standing in for mock: ``body`` runs with ``$resultdir`` set from
    ``--resultdir``."""
    script = tmp_path / "fake-mock"
    script.write_text(
        "#!/bin/sh\nset -e\n"
        'while [ $# -gt 0 ]; do [ "$1" = --resultdir ] && resultdir=$2; shift; done\n' + body
    )
    script.chmod(0o755)
    return str(script)


@requires_tools
def test_results_are_read_through_the_work_directory(
    build_srpm: BuildSrpm,
    build_binary_rpm: Callable[[str], Path],
    make_task: Callable[..., RpmTask],
    tmp_path: Path,
) -> None:
    # mock fills its result directory from a buildroot the build controlled: the binary
    # RPMs and mock's logs are copied out of it into outdir, nothing else.
    rpm = build_binary_rpm("hello")
    mock = _fake_mock(
        tmp_path,
        f'cp {rpm} "$resultdir/"\n'
        'echo source > "$resultdir/hello-1.0-1.src.rpm"\n'
        'echo log > "$resultdir/build.log"\n',
    )
    task = make_task(build_srpm("hello"))
    output = bytearray()
    result = MockBackend(mock=mock).build_rpm(task, output.extend)
    assert result.state == "succeeded", output.decode()
    assert result.packages == [inspect_rpm(rpm)]
    assert sorted(p.name for p in task.outdir.iterdir()) == ["build.log", "hello-1.0-1.noarch.rpm"]
    assert (task.outdir / "build.log").read_text() == "log\n"


@requires_tools
def test_mock_logs_are_kept_when_the_build_fails(
    build_srpm: BuildSrpm, make_task: Callable[..., RpmTask], tmp_path: Path
) -> None:
    # root.log says why dependencies could not be installed: wanted most when mock fails.
    # A log the build swapped for a symlink is not followed.
    mock = _fake_mock(
        tmp_path,
        'echo "no package provides foo" > "$resultdir/root.log"\n'
        'ln -s /etc/passwd "$resultdir/build.log"\n'
        'echo "state" > "$resultdir/state.log"\n'
        "exit 30\n",
    )
    task = make_task(build_srpm("hello"))
    output = bytearray()
    result = MockBackend(mock=mock).build_rpm(task, output.extend)
    assert result.state == "failed"
    assert sorted(p.name for p in task.outdir.iterdir()) == ["root.log", "state.log"]
    assert (task.outdir / "root.log").read_text() == "no package provides foo\n"
    assert b"skipped build.log: not a regular file" in output


@requires_tools
def test_a_result_directory_swapped_for_a_symlink_yields_nothing(
    build_srpm: BuildSrpm,
    build_binary_rpm: Callable[[str], Path],
    make_task: Callable[..., RpmTask],
    tmp_path: Path,
) -> None:
    host = tmp_path / "host"
    host.mkdir()
    shutil.copy(build_binary_rpm("hello"), host)
    mock = _fake_mock(tmp_path, f'rm -rf "$resultdir"\nln -s {host} "$resultdir"\n')
    task = make_task(build_srpm("hello"))
    output = bytearray()
    result = MockBackend(mock=mock).build_rpm(task, output.extend)
    assert result == RpmResult(
        "failed", [], "mock's results cannot be collected: results is a symlink"
    )
    assert not task.outdir.exists() or list(task.outdir.iterdir()) == []
