"""The mock backend's command line, and its handling of what mock leaves (with a script in
mock's place: mock itself cannot run on this Debian host)."""

from __future__ import annotations

import configparser
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coprd.builder.backends import (
    BuildRepo,
    MockBackend,
    RpmResult,
    RpmTask,
    mock_command,
    mock_config,
)
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


def run_config(text: str) -> tuple[list[str], dict[str, Any]]:
    """Execute a mock config as mock does (Python, with ``include`` and ``config_opts``
    given), with the chroot's config standing in as an empty ``dnf.conf``: the files it
    includes and the options it leaves."""
    included: list[str] = []
    opts: dict[str, Any] = {"dnf.conf": "[main]\n"}
    exec(text, {"include": included.append, "config_opts": opts})
    return included, opts


def dnf_sections(opts: dict[str, Any]) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(opts["dnf.conf"])
    return {name: dict(parser[name]) for name in parser.sections() if name != "main"}


def test_minimal_command() -> None:
    assert mock_command(task()) == [
        "mock",
        "-r",
        "/work/42/coprd-mock.cfg",
        "--resultdir",
        "/work/42/results",
        f"--uniqueext={uniqueext(task())}",
        "--rebuild",
        "/work/42/hello-1.0-1.src.rpm",
    ]


def test_minimal_config_includes_the_chroots_and_turns_the_network_off() -> None:
    included, opts = run_config(mock_config(task()))
    assert included == ["/etc/mock/fedora-45-x86_64.cfg"]
    assert opts == {"dnf.conf": "[main]\n", "rpmbuild_networking": False, "use_host_resolv": False}


def test_bconds_go_on_the_command_line() -> None:
    command = mock_command(task(with_opts=("tests", "docs"), without_opts=("gui",)))
    assert command[6:-2] == ["--with=tests", "--with=docs", "--without=gui"]


def test_every_option_in_the_config() -> None:
    included, opts = run_config(
        mock_config(
            task(
                enable_net=True,
                repos=(
                    BuildRepo(
                        "https://example.org/results/alice/p/fedora-45-x86_64/",
                        id="copr_base",
                        name="Copr repository",
                        priority=5,
                        module_hotfixes=True,
                    ),
                    BuildRepo("https://example.org/other/", id="example_org_other"),
                ),
                buildroot_pkgs=("python3-devel", "gcc-c++"),
                modules=("nodejs:20", "!perl", "ruby:3.3/default"),
                isolation="simple",
                bootstrap="custom_image",
                bootstrap_image="registry.fedoraproject.org/fedora:45",
            )
        )
    )
    assert included == ["/etc/mock/fedora-45-x86_64.cfg"]
    assert opts["rpmbuild_networking"] is True and opts["use_host_resolv"] is True
    assert opts["chroot_additional_packages"] == "python3-devel gcc-c++"
    assert opts["module_setup_commands"] == [
        ("enable", "nodejs:20"),
        ("disable", "perl"),
        ("enable", "ruby:3.3/default"),
    ]
    assert opts["isolation"] == "simple"
    assert opts["use_bootstrap"] is True and opts["use_bootstrap_image"] is True
    assert opts["bootstrap_image"] == "registry.fedoraproject.org/fedora:45"
    sections = dnf_sections(opts)
    base = sections["copr_base"]
    assert base["baseurl"] == "https://example.org/results/alice/p/fedora-45-x86_64/"
    assert base["priority"] == "5" and base["module_hotfixes"] == "1"
    other = sections["example_org_other-1"]
    assert other["baseurl"] == "https://example.org/other/"
    assert "priority" not in other and "module_hotfixes" not in other


@pytest.mark.parametrize(
    ("bootstrap", "expected"),
    [
        ("on", {"use_bootstrap": True, "use_bootstrap_image": False}),
        ("off", {"use_bootstrap": False, "use_bootstrap_image": False}),
        ("image", {"use_bootstrap": True, "use_bootstrap_image": True}),
        ("default", {}),
    ],
)
def test_bootstrap_modes(bootstrap: str, expected: dict[str, bool]) -> None:
    _, opts = run_config(mock_config(task(bootstrap=bootstrap)))
    assert {k: v for k, v in opts.items() if k.startswith("use_bootstrap")} == expected
    assert "bootstrap_image" not in opts


def test_the_agents_settings_apply_where_the_task_says_default() -> None:
    _, opts = run_config(mock_config(task(), isolation="nspawn", bootstrap=False))
    assert opts["isolation"] == "nspawn" and opts["use_bootstrap"] is False
    _, opts = run_config(
        mock_config(task(isolation="simple", bootstrap="on"), isolation="nspawn", bootstrap=False)
    )
    assert opts["isolation"] == "simple" and opts["use_bootstrap"] is True


def test_quotes_in_values_stay_values() -> None:
    # Every value is a Python literal in the file: a value cannot close its string.
    quotes = "'" * 3 + '"' * 3 + "\\"
    repo = BuildRepo(f"https://e.org/{quotes}+__import__('os')/", id="x", name=f"n{quotes}")
    image = f"img{quotes}"
    _, opts = run_config(mock_config(task(repos=(repo,), bootstrap="image", bootstrap_image=image)))
    assert opts["bootstrap_image"] == image
    assert dnf_sections(opts)["x"]["baseurl"] == repo.baseurl


def test_uniqueext_separates_work_directories() -> None:
    one, same, other = (uniqueext(task(workdir=Path(p))) for p in ("/work/1", "/work/1", "/work/2"))
    assert one == same != other
    assert one.startswith("coprd-") and one.replace("-", "").isalnum()


@pytest.mark.parametrize(
    "repo",
    [
        {"baseurl": "--config-opts=x"},
        {"baseurl": "https://e.org/\n[evil]"},
        {"baseurl": "https://e.org/ x"},
        {"baseurl": "https://e.org/", "id": "a]\n[b"},
        {"baseurl": "https://e.org/", "name": "n\nbaseurl=x"},
        {"baseurl": "https://e.org/", "priority": 0},
        # mock renders its config as Jinja templates: a value must not run code there.
        {"baseurl": "https://e.org/{{7*7}}/"},
        {"baseurl": "https://e.org/", "name": "n{%print(1)%}"},
    ],
)
def test_repositories_that_would_smuggle_dnf_options_are_refused(repo: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        BuildRepo(**repo)


@pytest.mark.parametrize(
    "changes",
    [
        {"with_opts": ("--define=x",)},
        {"without_opts": ("a b",)},
        {"buildroot_pkgs": ("gcc\n",)},
        {"buildroot_pkgs": ("gcc make",)},
        {"modules": ("nodejs:20\n[evil]",)},
        {"modules": ("a b",)},
        {"isolation": "chroot"},
        {"bootstrap": "maybe"},
        {"bootstrap_image": "img\nx=1"},
        {"buildroot_pkgs": ("{{lipsum.__globals__}}",)},
        {"bootstrap_image": "img{#x#}"},
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


@requires_tools
def test_mock_runs_with_the_tasks_config_file(
    build_srpm: BuildSrpm,
    build_binary_rpm: Callable[[str], Path],
    make_task: Callable[..., RpmTask],
    tmp_path: Path,
) -> None:
    seen = tmp_path / "seen.cfg"
    rpm = build_binary_rpm("hello")
    script = tmp_path / "fake-mock"
    script.write_text(
        "#!/bin/sh\nset -e\n"
        '[ "$1" = -r ] && cp "$2" ' + str(seen) + "\n"
        'while [ $# -gt 0 ]; do [ "$1" = --resultdir ] && resultdir=$2; shift; done\n'
        f'cp {rpm} "$resultdir/"\n'
    )
    script.chmod(0o755)
    task = make_task(
        build_srpm("hello"),
        modules=("nodejs:20",),
        bootstrap="off",
        repos=(BuildRepo("https://example.org/r/", id="copr_base", priority=3),),
    )
    output = bytearray()
    result = MockBackend(mock=str(script)).build_rpm(task, output.extend)
    assert result.state == "succeeded", output.decode()
    assert seen.read_text() == mock_config(task)
    _, opts = run_config(seen.read_text())
    assert opts["module_setup_commands"] == [("enable", "nodejs:20")]
    assert opts["use_bootstrap"] is False
    assert dnf_sections(opts)["copr_base"]["priority"] == "3"
    # The log shows the config, each line marked as coprd's.
    assert b"[coprd] coprd-mock.cfg: config_opts['use_bootstrap'] = False\n" in output
