"""``coprd`` — run the service and administer it.

Every subcommand reads the same settings (``--data-dir``, ``COPRD_*``, the TOML file) and
works on the database they name; refusals end with one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import getpass
import logging
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coprd import datadir
from coprd.config import URL_FILE, ConfigError, Settings, load_settings
from coprd.core import chroots, cleanup, groups, projects, repositories, tokens, users
from coprd.core.errors import CoprdError
from coprd.core.names import parse_digits
from coprd.db.engine import make_session_factory, read_session, write_session
from coprd.db.migrate import current_revision, head_revision, upgrade
from coprd.instance import create_first_admin, local_builder_token, prepare
from coprd.publish.prune import ResultsPruner
from coprd.publish.publisher import Publisher
from coprd.publish.signing import keyring_for

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from coprd.builder.sandbox import SandboxPolicy

EXIT_REFUSED = 1


class CommandError(Exception):
    """A refusal the CLI reports in one line."""


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    return load_settings({"data_dir": getattr(args, "data_dir", None), **extra})


def _session_write(settings: Settings) -> Any:
    return write_session(make_session_factory(prepare(settings)))


def _session_read(settings: Settings) -> Any:
    return read_session(make_session_factory(prepare(settings)))


def _published(settings: Settings) -> tuple[sessionmaker[Session], Publisher]:
    """A session factory whose commits the publisher follows, for the commands whose
    changes reach the results: it moves, removes and indexes them after each commit."""
    factory = make_session_factory(prepare(settings))
    publisher = Publisher(settings.results_dir, keyring_for(settings))
    publisher.attach(factory)
    return factory, publisher


# --- serve -----------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from coprd.app import create_app

    settings = _settings(args, host=args.host, port=args.port, url=args.url, builders=args.builders)
    shown_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"
    settings = replace(settings, url=settings.url or f"http://{shown_host}:{settings.port}")
    engine = prepare(settings)
    (settings.data_dir / URL_FILE).write_text(settings.public_url + "\n")
    with write_session(make_session_factory(engine)) as session:
        first = create_first_admin(settings, session)

    print(f"coprd: data directory {settings.data_dir}", flush=True)
    print(f"coprd: database {_redacted(settings.effective_database_url)}", flush=True)
    if first is not None:
        print(
            f"coprd: created the admin account {first.name!r} (web password: {first.password})\n"
            f"coprd: its copr-cli config is {first.config_path}\n"
            f"coprd:   use it with: copr-cli --config {first.config_path} whoami",
            flush=True,
        )
    agents: list[subprocess.Popen[bytes]] = []
    if settings.builders:
        with write_session(make_session_factory(engine)) as session:
            token_file = local_builder_token(settings, session)
        for i in range(settings.builders):
            agents.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "coprd.cli",
                        "worker",
                        "--server",
                        f"http://{shown_host}:{settings.port}",
                        "--token-file",
                        str(token_file),
                        "--workdir",
                        str(settings.agent_work_dir("serve") / f"agent-{i}"),
                        "--build-uid",
                        str(settings.build_uid + i),
                        # The agents read this host's settings as the server does (their
                        # limits: max_log_bytes, max_result_files, ...), from the same place.
                        "--data-dir",
                        str(settings.data_dir),
                    ],
                    preexec_fn=_die_with_parent,
                )
            )
        print(f"coprd: started {settings.builders} local builder agent(s)", flush=True)
    print(f"coprd: serving on {settings.public_url}", flush=True)
    _log_background_work()
    app = create_app(settings, engine)
    # What exists now (the framework, the app, the models) lives as long as the process;
    # without this, every full collection re-walks it and stalls a request by ~100 ms.
    gc.collect()
    gc.freeze()
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=args.log_level,
            # Idle agents' claims wait up to CLAIM_WAIT_S for work; a stopping server
            # does not wait for them (the agents claim again once it is back).
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        )
    finally:
        for agent in agents:
            agent.terminate()
        for agent in agents:
            try:
                agent.wait(timeout=15)
            except subprocess.TimeoutExpired:
                agent.kill()
        with contextlib.suppress(OSError):  # the agents removed theirs; only if empty
            settings.agent_work_dir("serve").rmdir()


GRACEFUL_SHUTDOWN_S = 3


def _log_background_work() -> None:
    """What the server's background jobs do (each build the pruner removes, an expired
    project deleted, a repository repaired) goes to its output, as uvicorn's access log
    does: without a handler, Python's logging would drop everything below a warning."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    coprd_log = logging.getLogger("coprd")
    coprd_log.addHandler(handler)
    coprd_log.setLevel(logging.INFO)


def _die_with_parent() -> None:
    """In a local agent: get SIGTERM when ``coprd serve`` ends, however it ends.

    uvicorn re-raises SIGTERM after its graceful shutdown, so code after ``uvicorn.run``
    may never run; the kernel's parent-death signal does not depend on it.
    """
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _redacted(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


# --- worker, builders ---------------------------------------------------------------


def cmd_worker(args: argparse.Namespace) -> None:

    from coprd.builder.agent import AgentConfig, run_agents
    from coprd.builder.backends.base import Backend
    from coprd.builder.backends.local import LocalBackend
    from coprd.builder.backends.mock import MockBackend
    from coprd.builder.sandbox import SandboxPolicy

    token = args.token or os.environ.get("COPRD_BUILDER_TOKEN")
    if args.token_file:
        token = Path(args.token_file).read_text().strip()
    if not token:
        raise CommandError("give --token, --token-file or COPRD_BUILDER_TOKEN")
    settings = _settings(args)
    arches = tuple(args.arch or [platform.machine()])
    workdir = Path(args.workdir) if args.workdir else settings.agent_work_dir("worker")
    first_uid = args.build_uid  # None: the build_uid setting
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    def backend() -> Backend:
        return MockBackend() if args.backend == "mock" else LocalBackend()

    policies = [SandboxPolicy.of(settings, i, first_uid) for i in range(args.concurrency)]
    if args.backend == "local":
        _check_sandbox(policies[0])
    configs = [
        AgentConfig(
            args.server,
            token,
            arches,
            workdir / f"slot-{i}",
            policy=policy,
            max_log_bytes=settings.max_log_bytes,
            log_tail_bytes=settings.log_tail_bytes,
            max_result_files=settings.max_result_files,
            max_result_bytes=settings.max_result_bytes,
        )
        for i, policy in enumerate(policies)
    ]
    print(
        f"coprd worker: {args.concurrency} slot(s) for {', '.join(arches)} "
        f"({args.backend}) from {args.server}",
        flush=True,
    )
    made = [path for path in (workdir, *workdir.parents) if not path.exists()]
    try:
        run_agents(configs, backend)
    finally:
        # The slots remove their own directories; the ones made for them go too, if empty.
        for path in made:
            with contextlib.suppress(OSError):
                path.rmdir()


def _check_sandbox(policy: SandboxPolicy) -> None:
    """Say which of the sandbox's protections this host lacks; refuse to start where builds
    could not get a user namespace (unless the settings allow it)."""
    from coprd.builder import cgroups, protections

    offered = protections.probe(policy.user)
    who = f"uid {policy.user.uid}" if policy.user else f"the agent's uid {os.geteuid()}"
    print(f"coprd worker: builds run as {who}, uid 1000 in their user namespace", flush=True)
    for line in cgroups.describe(offered.cgroups):
        print(f"coprd worker: cgroup {line}", flush=True)
    for line in offered.report():
        print(f"coprd worker: degraded: {line}", file=sys.stderr, flush=True)
    if not offered.userns and not policy.allow_without_userns:
        raise CommandError("refusing to run builds without a user namespace (see above)")


def cmd_builder_add(args: argparse.Namespace) -> None:
    from coprd.core.builders import create_builder

    with _session_write(_settings(args)) as session:
        _, token = create_builder(session, args.name)
    print(token)


# --- db --------------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> None:
    from coprd.db.engine import make_engine

    settings = _settings(args)
    datadir.make_data_dir(settings.data_dir)
    datadir.tighten(settings)
    engine = make_engine(settings.effective_database_url)
    before = current_revision(engine)
    upgrade(engine)
    print(f"database schema: {before or 'empty'} -> {head_revision()}")


# --- users, tokens, groups -------------------------------------------------------------


def cmd_user_add(args: argparse.Namespace) -> None:
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif args.password:
        password = getpass.getpass(f"password for {args.name}: ")
    with _session_write(_settings(args)) as session:
        user = users.create_user(
            session, args.name, email=args.email, is_admin=args.admin, password=None
        )
        if password:
            users.set_password(session, user, password)
    print(f"created user {args.name}{' (admin)' if args.admin else ''}")


def cmd_user_password(args: argparse.Namespace) -> None:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"new password for {args.name}: ")
    with _session_write(_settings(args)) as session:
        users.set_password(session, users.get_user(session, args.name), password)
    print(f"set the web password of {args.name}; their web sessions have ended")


def cmd_user_list(args: argparse.Namespace) -> None:
    with _session_read(_settings(args)) as session:
        for user in users.list_users(session):
            flags = [
                f for f, on in (("admin", user.is_admin), ("disabled", not user.is_active)) if on
            ]
            extra = f"  [{', '.join(flags)}]" if flags else ""
            print(f"{user.name}\t{user.email or '-'}{extra}")


def cmd_user_disable(args: argparse.Namespace) -> None:
    with _session_write(_settings(args)) as session:
        users.disable_user(session, args.name)
    print(f"disabled user {args.name}")


def cmd_token(args: argparse.Namespace) -> None:
    settings = _settings(args)
    with _session_write(settings) as session:
        user = users.get_user(session, args.name)
        if not user.is_active:
            raise CommandError(f"user {args.name!r} is disabled")
        days = settings.token_days if args.days is None else args.days
        issued = tokens.issue_token(session, user, days)
    sys.stdout.write(tokens.copr_cli_config(issued, settings.public_url))


def cmd_group_add(args: argparse.Namespace) -> None:
    with _session_write(_settings(args)) as session:
        groups.create_group(session, args.name)
    print(f"created group @{args.name}")


def cmd_group_add_member(args: argparse.Namespace) -> None:
    with _session_write(_settings(args)) as session:
        group = groups.get_group(session, args.group)
        groups.add_member(session, group, users.get_user(session, args.user))
    print(f"added {args.user} to @{args.group}")


# --- chroots ---------------------------------------------------------------------------


def cmd_chroot_add(args: argparse.Namespace) -> None:
    with _session_write(_settings(args)) as session:
        chroots.add_mock_chroot(session, args.name, comment=args.comment or "")
    print(f"added chroot {args.name}")


def cmd_chroot_list(args: argparse.Namespace) -> None:
    with _session_read(_settings(args)) as session:
        for mc in chroots.list_mock_chroots(session, active_only=not args.all):
            state = "active" if mc.is_active else ("eol" if mc.eol_on else "inactive")
            comment = f"\t{mc.comment}" if mc.comment else ""
            print(f"{mc.name}\t{state}{comment}")


def _chroot_setter(active: bool) -> Callable[[argparse.Namespace], None]:
    def run(args: argparse.Namespace) -> None:
        with _session_write(_settings(args)) as session:
            chroots.set_mock_chroot_active(session, args.name, active)
        print(f"{'activated' if active else 'deactivated'} chroot {args.name}")

    return run


def cmd_chroot_eol(args: argparse.Namespace) -> None:
    with _session_write(_settings(args)) as session:
        mc = chroots.mark_mock_chroot_eol(session, args.name)
        eol_on = mc.eol_on
    print(f"chroot {args.name} is end of life since {eol_on}")


def cmd_chroot_branch(args: argparse.Namespace) -> None:
    """Branch a release from rawhide in every project that follows Fedora branching."""
    from coprd.core.branching import RAWHIDE, branch_release

    source = RAWHIDE if args.command_name == "branch-fedora" else args.source
    # The publisher makes empty repositories for the projects with nothing to copy.
    factory, publisher = _published(_settings(args))
    with write_session(factory) as session:
        done = branch_release(session, source, args.target)
    for name in done.chroots_added:
        print(f"added chroot {name}")
    for name in done.chroots_activated:
        print(f"activated chroot {name}")
    for name in done.projects_enabled:
        print(f"enabled {name}")
    for name, build_ids in sorted(done.builds_forked.items()):
        listed = ", ".join(map(str, build_ids))
        print(f"forked {len(build_ids)} build(s) into {name}: {listed}")
    # The results, signed and indexed; also those a run that stopped half-way had left.
    copied = publisher.copy_results(done.copies)
    if copied:
        print(f"copied the results of {copied} build(s)")
    if not (
        done.chroots_added
        or done.chroots_activated
        or done.projects_enabled
        or done.builds_forked
        or copied
    ):
        print("nothing to do: already branched")


# --- cleanup ---------------------------------------------------------------------------


def cmd_cleanup(args: argparse.Namespace) -> None:
    """What ``coprd serve`` does every hour, now: on a server that is not running, or from
    cron on a setup that runs the publisher elsewhere."""
    settings = _settings(args)
    # The publisher removes the deleted builds' and projects' results after the commit,
    # and the pruned ones (publish/prune.py).
    factory, publisher = _published(settings)
    cleaned = cleanup.cleanup(
        factory,
        remove_results=ResultsPruner(publisher, settings.prune_log_dir),
        prune_days=settings.prune_days,
    )
    for name in cleaned.projects:
        print(f"deleted the expired project {name}")
    if cleaned.builds:
        print(f"deleted {len(cleaned.builds)} old build(s): {', '.join(map(str, cleaned.builds))}")
    if cleaned.pruned:
        builds = sorted({result.build_id for result in cleaned.pruned})
        repos = sorted({result.repo for result in cleaned.pruned})
        print(
            f"pruned {len(cleaned.pruned)} old chroot build(s) of {len(builds)} build(s) from "
            f"{len(repos)} repositor{'y' if len(repos) == 1 else 'ies'} (older than "
            f"{settings.prune_days} days); the record is in {settings.prune_log_dir}"
        )
        for repo in repos:
            names = [r.name for r in cleaned.pruned if r.repo == repo]
            print(f"  {repo}: {', '.join(names)}")


def cmd_regenerate_repos(args: argparse.Namespace) -> None:
    """``copr-cli regenerate-repos`` for the operator: every chroot's metadata, now."""
    # The publisher rebuilds the metadata after the commit (core/results.want_regenerated).
    factory, _ = _published(_settings(args))
    owner, _, name = args.project.partition("/")
    with write_session(factory) as session:
        chroots = repositories.regenerate_all(session, projects.get_project(session, owner, name))
    print(f"regenerated the repository metadata of {args.project}: {', '.join(chroots)}")


# --- parser ----------------------------------------------------------------------------


def _positive(text: str) -> int:
    value = parse_digits(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of 0 or more")
    return value


def _token_days(text: str) -> int:
    """A token's validity: 0 days would make a token that has already expired, so it is
    refused rather than read as "the default" (the help promises the default only when
    ``--days`` is left out)."""
    value = _positive(text)
    if not 1 <= value <= tokens.MAX_DAYS:
        raise argparse.ArgumentTypeError(f"must be from 1 to {tokens.MAX_DAYS} days")
    return value


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        default=argparse.SUPPRESS,
        help="data directory (default $COPRD_DATA_DIR or ~/.local/share/coprd)",
    )

    parser = argparse.ArgumentParser(
        prog="coprd", description="A self-hosted Copr build service.", parents=[common]
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, func: Callable[[argparse.Namespace], None], help: str, parent: Any = sub
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(
            name, help=help, description=help, parents=[common]
        )
        p.set_defaults(func=func)
        return p

    serve = add("serve", cmd_serve, "run the frontend (and, later, builders and publisher)")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_positive, help="port (default 8080)")
    serve.add_argument("--url", help="public base URL, if not http://HOST:PORT")
    serve.add_argument("--builders", type=_positive, help="local builder agents to start")
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )

    worker = add("worker", cmd_worker, "run a builder agent that takes tasks from a server")
    worker.add_argument("--server", required=True, help="the coprd URL, e.g. http://host:8080")
    worker.add_argument("--token", help="builder token (see `coprd builder add`)")
    worker.add_argument("--token-file", help="read the builder token from this file")
    worker.add_argument("--arch", action="append", help="architecture to build (repeatable)")
    worker.add_argument("--backend", choices=["local", "mock"], default="local")
    worker.add_argument("--concurrency", type=_positive, default=1, help="tasks at once")
    worker.add_argument("--workdir", help="where builds run (default: see the work_dir setting)")
    worker.add_argument(
        "--build-uid",
        type=_positive,
        help="a root agent's first build uid; slot N builds as this + N (default build_uid)",
    )

    builder = add("builder", lambda a: None, "builder agents' credentials").add_subparsers(
        dest="builder_command", required=True, metavar="ACTION"
    )
    add("add", cmd_builder_add, "register an agent and print its token", builder).add_argument(
        "name"
    )

    db = add("db", lambda a: None, "database schema").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    add("upgrade", cmd_db_upgrade, "upgrade the schema to the newest version", db)

    user = add("user", lambda a: None, "local accounts").add_subparsers(
        dest="user_command", required=True, metavar="ACTION"
    )
    user_add = add("add", cmd_user_add, "create an account", user)
    user_add.add_argument("name")
    user_add.add_argument("--admin", action="store_true", help="make it a site admin")
    user_add.add_argument("--email")
    pw = user_add.add_mutually_exclusive_group()
    pw.add_argument("--password", action="store_true", help="ask for a web password")
    pw.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    user_password = add("password", cmd_user_password, "set an account's web password", user)
    user_password.add_argument("name")
    user_password.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    add("list", cmd_user_list, "list accounts", user)
    add("disable", cmd_user_disable, "disable an account", user).add_argument("name")

    token = add("token", cmd_token, "create an API token and print its copr-cli config")
    token.add_argument("name", help="user name")
    token.add_argument(
        "--days", type=_token_days, help=f"validity in days, 1 to {tokens.MAX_DAYS} (default 180)"
    )

    group = add("group", lambda a: None, "groups (projects owned by @group)").add_subparsers(
        dest="group_command", required=True, metavar="ACTION"
    )
    add("add", cmd_group_add, "create a group", group).add_argument("name")
    member = add("add-member", cmd_group_add_member, "add a user to a group", group)
    member.add_argument("group")
    member.add_argument("user")

    chroot = add("chroot", lambda a: None, "mock chroots offered").add_subparsers(
        dest="chroot_command", required=True, metavar="ACTION"
    )
    chroot_add = add("add", cmd_chroot_add, "offer a new chroot", chroot)
    chroot_add.add_argument("name", help="e.g. fedora-45-x86_64")
    chroot_add.add_argument("--comment")
    add("list", cmd_chroot_list, "list chroots", chroot).add_argument(
        "--all", action="store_true", help="also inactive and EOL ones"
    )
    for name, active in (("activate", True), ("deactivate", False)):
        add(name, _chroot_setter(active), f"{name} a chroot", chroot).add_argument("name")
    add("eol", cmd_chroot_eol, "mark a chroot end of life", chroot).add_argument("name")
    branch_help = (
        "branch a release from rawhide: add its chroots and, in every project that follows "
        "Fedora branching, enable them and copy the newest rawhide builds into them"
    )
    branch = add("branch", cmd_chroot_branch, branch_help, chroot)
    branch.add_argument("source", help="the release to branch from, e.g. fedora-rawhide")
    branch.add_argument("target", help="the new release, e.g. fedora-46")
    branch.set_defaults(command_name="branch")
    # Copr's own name for it: `copr-frontend branch-fedora 46`.
    fedora = add("branch-fedora", cmd_chroot_branch, f"{branch_help} (fedora-rawhide)", chroot)
    fedora.add_argument("target", help="the new Fedora version, e.g. 46")
    fedora.set_defaults(command_name="branch-fedora")

    add(
        "cleanup",
        cmd_cleanup,
        "delete expired projects and builds past their package's max_builds, and prune old "
        "results (serve does this every hour)",
    )
    add(
        "regenerate-repos",
        cmd_regenerate_repos,
        "rebuild the repository metadata of every chroot of a project now",
    ).add_argument("project", help="OWNER/PROJECT")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (CoprdError, CommandError, ConfigError) as exc:
        print(f"coprd: error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
