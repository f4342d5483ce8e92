"""The admin CLI, in-process: what it prints, and one line and exit 1 on bad input."""

from __future__ import annotations

import datetime as dt
import io
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from coprd.cli import main
from coprd.config import load_settings
from coprd.core import builds, logins, projects, users
from coprd.db.engine import make_session_factory, write_session
from coprd.db.models import BuildState, WebSession, utcnow
from coprd.instance import prepare
from coprd.publish import ensure_repo

RAWHIDE = "fedora-rawhide-x86_64"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("COPRD_DATABASE_URL", raising=False)
    monkeypatch.delenv("COPRD_URL", raising=False)
    monkeypatch.setenv("COPRD_DATA_DIR", str(tmp_path))

    def invoke(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_user_lifecycle(run) -> None:  # type: ignore[no-untyped-def]
    assert run("user", "add", "alice", "--email", "alice@example.com")[0] == 0
    code, out, _ = run("user", "list")
    assert code == 0 and "alice\talice@example.com" in out
    assert run("user", "disable", "alice")[0] == 0
    assert "[disabled]" in run("user", "list")[1]
    code, _, err = run("token", "alice")
    assert code == 1 and err.strip() == "coprd: error: user 'alice' is disabled"


def test_token_prints_a_config_block(run) -> None:  # type: ignore[no-untyped-def]
    run("user", "add", "alice")
    code, out, _ = run("token", "alice", "--days", "7")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "[copr-cli]"
    assert "username = alice" in lines
    assert "encrypted = False" in lines
    assert lines[-1].startswith("# expiration date: ")


@pytest.mark.parametrize("days", ["0", "3651", "-1"])
def test_token_days_out_of_range_are_refused(  # type: ignore[no-untyped-def]
    run, capsys: pytest.CaptureFixture[str], days: str
) -> None:
    """``--days 0`` made a token of the default 180 days; it is refused, as any value
    outside 1 to 3650 is."""
    run("user", "add", "alice")
    with pytest.raises(SystemExit) as exit_info:
        run("token", "alice", "--days", days)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "coprd token: error: argument --days: " in err, err


@pytest.mark.parametrize(
    "args",
    [
        ("user", "add", "../etc"),
        ("user", "add", "x" * 300),
        ("token", "ghost"),
        ("group", "add-member", "nogroup", "nobody"),
        ("chroot", "add", "not a chroot"),
        ("chroot", "activate", "fedora-0-x86_64"),
        ("chroot", "eol", "fedora-0-x86_64"),
    ],
)
def test_refusals_are_one_line(run, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(*args)
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("coprd: error: ")


def test_duplicate_user_group_and_chroot(run) -> None:  # type: ignore[no-untyped-def]
    run("user", "add", "alice")
    assert run("user", "add", "alice")[0] == 1
    run("group", "add", "devs")
    assert run("group", "add", "devs")[0] == 1
    run("group", "add-member", "devs", "alice")
    assert run("group", "add-member", "devs", "alice")[0] == 1
    assert run("chroot", "add", "fedora-rawhide-x86_64")[0] == 1


def test_chroot_lifecycle(run) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run("chroot", "list")
    assert code == 0
    seeded = [line.split("\t")[0] for line in out.splitlines()]
    for name in (
        "fedora-rawhide-x86_64",
        "fedora-rawhide-aarch64",
        "epel-9-x86_64",
        "epel-10-aarch64",
        "fedora-45-x86_64",
        "fedora-44-aarch64",
    ):
        assert name in seeded
    assert run("chroot", "add", "centos-stream-10-x86_64", "--comment", "CS 10")[0] == 0
    assert "centos-stream-10-x86_64\tactive\tCS 10" in run("chroot", "list")[1]
    run("chroot", "deactivate", "centos-stream-10-x86_64")
    assert "centos-stream-10-x86_64" not in run("chroot", "list")[1]
    assert "centos-stream-10-x86_64\tinactive" in run("chroot", "list", "--all")[1]
    run("chroot", "eol", "epel-9-x86_64")
    assert "epel-9-x86_64\teol\tEOL since" in run("chroot", "list", "--all")[1]


def test_chroot_branch_says_what_it_did_and_then_that_nothing_is_left(  # type: ignore[no-untyped-def]
    run, tmp_path: Path
) -> None:
    run("user", "add", "alice")
    settings = load_settings({"data_dir": str(tmp_path)})
    with write_session(make_session_factory(prepare(settings))) as db:
        alice = users.get_user(db, "alice")
        for name, follow, devel in (
            ("devel", True, True),
            ("follows", True, False),
            ("stays", False, False),
        ):
            new = projects.NewProject(
                name=name, chroots=[RAWHIDE], follow_fedora_branching=follow, devel_mode=devel
            )
            projects.create_project(db, alice, "alice", new)
    code, out, _ = run("chroot", "branch", "fedora-rawhide", "fedora-46")
    assert (code, out) == (
        0,
        "added chroot fedora-46-aarch64\n"
        "added chroot fedora-46-x86_64\n"
        "enabled alice/devel fedora-46-x86_64\n"
        "enabled alice/follows fedora-46-x86_64\n",
    )
    # An empty repository (no builds to copy); none for the project that stays. A project
    # in devel mode gets its devel repository too, which its builds' buildroots name.
    results = settings.results_dir / "alice"
    assert (results / "follows" / "fedora-46-x86_64" / "repodata" / "repomd.xml").is_file()
    assert not (results / "follows" / "fedora-46-x86_64" / "devel").exists()
    devel = results / "devel" / "fedora-46-x86_64"
    assert (devel / "repodata" / "repomd.xml").is_file()
    assert (devel / "devel" / "repodata" / "repomd.xml").is_file()
    assert not (results / "stays" / "fedora-46-x86_64").exists()
    assert run("chroot", "branch-fedora", "46") == (0, "nothing to do: already branched\n", "")
    code, _, err = run("chroot", "branch", "fedora-rawhide", "fedora-rawhide")
    assert (code, err) == (1, "coprd: error: cannot branch fedora-rawhide from itself\n")


def test_db_upgrade_reports_versions(run) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run("db", "upgrade")
    assert code == 0 and out.startswith("database schema: empty -> ")


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (
        ["--help"],
        ["serve", "--help"],
        ["user", "add", "--help"],
        ["user", "password", "--help"],
        ["token", "--help"],
        ["group", "add-member", "--help"],
        ["chroot", "eol", "--help"],
        ["chroot", "branch", "--help"],
        ["chroot", "branch-fedora", "--help"],
        ["db", "upgrade", "--help"],
        ["cleanup", "--help"],
        ["regenerate-repos", "--help"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        assert exit_info.value.code == 0
        assert "usage: coprd" in capsys.readouterr().out


def test_unknown_option_exits_non_zero() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["user", "add"])
    assert exit_info.value.code == 2


def test_cleanup_deletes_expired_projects_with_their_results(  # type: ignore[no-untyped-def]
    run, tmp_path: Path
) -> None:
    run("user", "add", "alice")
    assert run("cleanup") == (0, "", "")
    settings = load_settings({"data_dir": str(tmp_path)})
    with write_session(make_session_factory(prepare(settings))) as db:
        alice = users.get_user(db, "alice")
        for new in (
            projects.NewProject(name="pr-1", chroots=[RAWHIDE], delete_after_days=1),
            projects.NewProject(name="kept", chroots=[RAWHIDE]),
        ):
            projects.create_project(db, alice, "alice", new)
        projects.get_project(db, "alice", "pr-1").delete_after = utcnow()  # due now
    results = settings.results_dir / "alice"
    for name in ("pr-1", "kept"):
        (results / name).mkdir(parents=True)
    code, out, _ = run("cleanup")
    assert (code, out) == (0, "deleted the expired project alice/pr-1\n")
    assert sorted(p.name for p in results.iterdir()) == ["kept"]


def test_cleanup_prunes_old_results_and_says_what(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COPRD_PRUNE_DAYS", "7")
    run("user", "add", "alice")
    settings = load_settings({"data_dir": str(tmp_path)})
    ten_days_ago = utcnow() - dt.timedelta(days=10)
    with write_session(make_session_factory(prepare(settings))) as db:
        alice = users.get_user(db, "alice")
        demo = projects.create_project(
            db, alice, "alice", projects.NewProject(name="demo", chroots=[RAWHIDE])
        )
        ids = []
        for _ in range(2):
            source = builds.Source(type="upload", data={"pkg": "hello-1.0-1.src.rpm"})
            build = builds.submit_build(db, alice, demo, source, builds.BuildOptions())
            build.pkg_name = "hello"
            for task in build.tasks:
                task.state, task.ended_on = BuildState.succeeded, ten_days_ago
            builds.refresh_build(db, build)
            ids.append(build.id)
    repo = settings.results_dir / "alice" / "demo" / RAWHIDE
    for build_id in ids:
        (repo / f"{build_id:08d}-hello").mkdir(parents=True)
    ensure_repo(repo)

    code, out, _ = run("cleanup")

    old = f"{ids[0]:08d}-hello"
    assert code == 0
    assert out == (
        "pruned 1 old chroot build(s) of 1 build(s) from 1 repository (older than 7 days); "
        f"the record is in {settings.prune_log_dir}\n"
        f"  alice/demo/{RAWHIDE}: {old}\n"
    )
    assert sorted(p.name for p in repo.iterdir() if p.name[0].isdigit()) == [f"{ids[1]:08d}-hello"]
    (record,) = settings.prune_log_dir.iterdir()
    assert f'"path": "alice/demo/{RAWHIDE}/{old}"' in record.read_text()
    assert run("cleanup") == (0, "", "")


def test_a_worker_holds_builds_to_its_hosts_settings(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """The limits of what a build may leave behind are the settings of the host the agent
    runs on (here from its data directory's coprd.toml), not the server's."""
    from coprd.builder import agent

    (tmp_path / "coprd.toml").write_text("max_log_bytes = 5000\nmax_result_files = 30\n")
    monkeypatch.setenv("COPRD_LOG_TAIL_BYTES", "700")
    started: list[agent.AgentConfig] = []
    monkeypatch.setattr(agent, "run_agents", lambda configs, _backend: started.extend(configs))
    code, _, err = run("worker", "--server", "http://x", "--token", "t", "--concurrency", "2")
    assert code == 0, err
    assert [(c.max_log_bytes, c.log_tail_bytes, c.max_result_files) for c in started] == [
        (5000, 700, 30),
        (5000, 700, 30),
    ]
    assert started[0].max_result_bytes == 20 * 1024**3


def test_the_first_open_tightens_an_older_data_directory(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert run("user", "add", "alice")[0] == 0
    database = tmp_path / "coprd.sqlite"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    # As an older coprd left them.
    database.chmod(0o644)
    tmp_path.chmod(0o755)
    (tmp_path / "copr-cli-admin.conf").write_text("[copr-cli]\n")
    (tmp_path / "copr-cli-admin.conf").chmod(0o644)
    with caplog.at_level("WARNING", logger="coprd.datadir"):
        assert run("user", "list")[0] == 0
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "copr-cli-admin.conf").stat().st_mode) == 0o600
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o711
    assert f"tightened {database} from 0644 to 0600" in caplog.messages
    assert f"tightened {tmp_path} from 0755 to 0711" in caplog.messages


def test_a_new_password_ends_the_users_web_sessions(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("user", "add", "alice")[0] == 0
    settings = load_settings({"data_dir": str(tmp_path)})
    factory = make_session_factory(prepare(settings))
    with write_session(factory) as db:
        logins.start_login(db, users.get_user(db, "alice"))
    monkeypatch.setattr("sys.stdin", io.StringIO("a brand new password\n"))
    code, out, _ = run("user", "password", "alice", "--password-stdin")
    assert code == 0 and "their web sessions have ended" in out
    with factory() as db:
        alice = users.get_user(db, "alice")
        assert users.check_password(alice, "a brand new password")
        assert db.scalars(select(WebSession)).all() == []
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _, err = run("user", "password", "alice", "--password-stdin")
    assert code == 1 and "at least 8 characters" in err


def test_regenerate_repos_rebuilds_every_chroots_metadata(  # type: ignore[no-untyped-def]
    run, tmp_path: Path
) -> None:
    run("user", "add", "alice")
    settings = load_settings({"data_dir": str(tmp_path)})
    with write_session(make_session_factory(prepare(settings))) as db:
        alice = users.get_user(db, "alice")
        new = projects.NewProject(name="demo", chroots=[RAWHIDE], devel_mode=True)
        projects.create_project(db, alice, "alice", new)
    chroot = settings.results_dir / "alice" / "demo" / RAWHIDE
    chroot.mkdir(parents=True)  # the server that would have made it is not running

    code, out, _ = run("regenerate-repos", "alice/demo")

    assert (code, out) == (0, f"regenerated the repository metadata of alice/demo: {RAWHIDE}\n")
    assert (chroot / "repodata" / "repomd.xml").is_file()
    assert (chroot / "devel" / "repodata" / "repomd.xml").is_file()
    code, _, err = run("regenerate-repos", "alice/nope")
    assert code == 1 and "nope" in err and err.count("\n") == 1
