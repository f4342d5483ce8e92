"""The publisher: turns finished tasks and enabled chroots into published repositories.

It runs where the results store is (inside ``coprd serve`` for the embedded default) and
is the only writer of repodata; ``createrepo.update_repo`` holds a per-repository lock,
so several frontend processes on one shared store stay correct.

With a ``Keyring`` it also signs (see ``publish/signing.py``): every package of a
succeeded task is signed with its project's key before it is revealed and indexed, and
the project's ``pubkey.gpg`` is kept beside its repositories. A new project's key is made
in the background (``make_keys_forever``), or at its first publish if that comes first;
``refresh_keys_forever`` extends keys that near their expiry. Packages published before
signing was turned on (or while it was off) are signed once at the next start
(``sign_published``), so a ``gpgcheck=1`` repository never silently offers unsigned ones.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
import threading
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from sqlalchemy import event, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from coprd.core.builds import chroot_tasks
from coprd.core.results import (
    COMPS_CHANGED,
    FORKS_WANTED,
    REPOS_REGENERATED,
    REPOS_WANTED,
    RESULTS_UNWANTED,
    project_dir,
    repo_dir,
    task_dir,
)
from coprd.db.models import SOURCE_TASK_CHROOT, Build, BuildState, Project
from coprd.publish._fs import remove_tree, write_bytes_atomically
from coprd.publish.builddir import (
    PENDING_PREFIX,
    drop_packages,
    finish_build_dir,
    mark_success,
    note,
    pending_name,
    reveal_packages,
)
from coprd.publish.createrepo import (
    COMPS_FILE,
    DEVEL,
    REPODATA,
    STAGING_PREFIX,
    CreaterepoFailed,
    ensure_repo,
    regenerate_repo,
    update_repo,
)
from coprd.publish.signing import PUBKEY, KeyMaker, Keyring, SigningFailed
from coprd.publish.store import LocalStore

log = logging.getLogger("coprd.publish")

# In the results root: "every published package is signed" (see sign_published).
SIGNED_MARK = ".coprd-all-signed"
# Keys are extended when they expire within this many days; checked once a day.
EXTEND_WITHIN_DAYS = 180
REFRESH_INTERVAL_S = 24 * 3600.0


def _owner_and_dir(rel: str) -> tuple[str, str, str]:
    """``owner/dirname/…`` → (owner, dirname, project): a CoprDir ``demo:pr:4`` is
    signed with its project's (``demo``) key."""
    owner, dirname = PurePosixPath(rel).parts[:2]
    return owner, dirname, dirname.partition(":")[0]


class Publisher:
    def __init__(self, results_dir: Path, keyring: Keyring | None = None) -> None:
        results_dir.mkdir(parents=True, exist_ok=True)
        self.store = LocalStore(results_dir)
        self.keyring = keyring
        self._factory: sessionmaker[Session] | None = None
        self.keymaker = (
            KeyMaker(keyring, wanted=self._project_exists, made=self._key_made)
            if keyring is not None
            else None
        )

    def path(self, rel: str) -> Path:
        return self.store.local_path(rel)

    def attach(self, factory: sessionmaker[Session]) -> None:
        """After each commit, make the repositories the transaction asked for
        (``want_repo``, in the devel mode it asked for), rebuild the metadata it asked
        for (``want_regenerated``, before the answer goes out: ``regenerate-repos`` is
        done when it returns), and remove the results of what it deleted (``unwant_*``).

        A project that wants a repository (every new project does) also wants a signing
        key: it is queued for the background key maker."""
        self._factory = factory

        @event.listens_for(factory, "after_commit")
        def _made(session: Session) -> None:
            wanted: dict[str, bool] = session.info.pop(REPOS_WANTED, {})
            for rel, devel in sorted(wanted.items()):
                try:
                    ensure_repo(self.path(rel), devel=devel)
                except (CreaterepoFailed, OSError, ValueError):
                    log.exception("could not create the repository %s", rel)
                if self.keymaker is not None:
                    owner, _dirname, project = _owner_and_dir(rel)
                    self.keymaker.want(owner, project)
            for rel, comps in sorted(session.info.pop(COMPS_CHANGED, {}).items()):
                try:
                    self.set_comps(rel, comps)
                except (CreaterepoFailed, OSError, ValueError):
                    log.exception("could not publish the comps.xml of %s", rel)
            regenerated: dict[str, bool] = session.info.pop(REPOS_REGENERATED, {})
            for rel, devel in sorted(regenerated.items()):
                try:
                    regenerate_repo(self.path(rel), devel=devel)
                except (CreaterepoFailed, OSError, ValueError):
                    log.exception("could not regenerate the repository %s", rel)
            gone = session.info.pop(RESULTS_UNWANTED, ())
            if gone:
                self.remove(gone)
            forks = session.info.pop(FORKS_WANTED, ())
            if forks:
                # Copying and signing a project's packages takes a while; the fork's API
                # call answers at once, as Copr's does, and copr_forks finishes it.
                threading.Thread(
                    target=self.copy_forks, args=(sorted(forks),), name="fork", daemon=True
                ).start()

        @event.listens_for(factory, "after_rollback")
        def _dropped(session: Session) -> None:
            session.info.pop(REPOS_WANTED, None)
            session.info.pop(REPOS_REGENERATED, None)
            session.info.pop(RESULTS_UNWANTED, None)
            session.info.pop(FORKS_WANTED, None)
            session.info.pop(COMPS_CHANGED, None)

    def set_comps(self, repo_rel: str, comps: bytes | None) -> None:
        """Put a project chroot's uploaded comps (None: remove it) in its repository as
        ``comps.xml`` and regenerate the metadata, which carries it as the group file
        (``createrepo.py``), so ``dnf group`` sees the project's groups."""
        repo = self.path(repo_rel)
        repo.mkdir(parents=True, exist_ok=True)
        target = repo / COMPS_FILE
        if comps is None:
            target.unlink(missing_ok=True)
        else:
            write_bytes_atomically(target, comps)
        update_repo(repo)

    def remove(self, rels: Iterable[str]) -> None:
        """Remove results of deleted builds and projects (``core.results.unwant_*``).

        A chroot build (``owner/project/chroot/00000042-hello``) leaves its repository's
        metadata before its files go (``update_repo(remove=…)``), so dnf is never told of
        a package that is gone; anything else (a source step's directory, a whole project)
        just goes. Failures are logged: the database no longer knows these files.
        """
        by_repo: dict[str, list[str]] = defaultdict(list)
        for rel in sorted(set(rels)):
            parts = PurePosixPath(rel).parts
            if len(parts) == 4 and parts[2] != SOURCE_TASK_CHROOT:
                by_repo[str(PurePosixPath(*parts[:3]))].append(parts[3])
            else:
                path = self.path(rel)
                if path.exists():
                    remove_tree(path)
                if len(parts) == 2 and ":" not in parts[1] and self.keyring is not None:
                    try:  # a whole project: its key goes too
                        self.keyring.remove(parts[0], parts[1])
                    except (OSError, ValueError):
                        log.exception("could not remove the signing key of %s", rel)
        for repo, names in by_repo.items():
            path = self.path(repo)
            try:
                if path.is_dir():
                    update_repo(path, remove=names)
            except (CreaterepoFailed, OSError, ValueError):
                log.exception("could not remove %s from the repository %s", names, repo)

    def result_file(self, build_rel: str, name: str) -> Path:
        """Where an agent's upload of ``name`` for a running task is stored."""
        directory = self.path(build_rel)
        directory.mkdir(parents=True, exist_ok=True)
        return directory / pending_name(name)

    def publish_build(self, repo_rel: str, build_rel: str, *, devel: bool = False) -> None:
        """Index a succeeded chroot build into its repository; raises CreaterepoFailed.

        ``devel``: the project is in devel mode, the build goes into the chroot's
        ``devel/`` repository only (``publish/createrepo.py``); a repository still in the
        other mode (the switch's own update has not run yet) is switched first.

        Safe to repeat: an agent that lost the server mid-publish sends its finish again.
        The packages are signed before they are revealed (``SigningFailed``, a kind of
        CreaterepoFailed, if that fails: nothing is revealed then).
        """
        directory = self.path(build_rel)
        try:
            pending = sorted(directory.glob(f"{PENDING_PREFIX}*.rpm"))
            self.sign(build_rel, pending)
            if pending and self.keyring is not None:
                note(directory, f"signed {len(pending)} package(s)")
            revealed = reveal_packages(directory)
            repo = self.path(repo_rel)
            if (repo / DEVEL).is_dir() != devel:
                ensure_repo(repo, devel=devel)
            update_repo(repo)
            where = f"{repo_rel}/{DEVEL}" if devel else repo_rel
            note(directory, f"published {len(revealed)} package(s) into {where}")
            mark_success(directory)
        except CreaterepoFailed as exc:
            note(directory, f"publishing failed: {exc}")
            raise
        finally:
            finish_build_dir(directory)

    def close(self, build_rel: str, *, succeeded: bool) -> None:
        """End a task that is not published into a repository: a source task, or a chroot
        build that failed or was canceled (its packages are dropped).

        A source task's SRPM is signed too; if that fails it is kept unsigned (it is in
        no repository, and the build need not fail for it) and the failure is logged.
        """
        directory = self.path(build_rel)
        if not directory.is_dir():
            return
        if succeeded:
            try:
                self.sign(build_rel, sorted(directory.glob(f"{PENDING_PREFIX}*.rpm")))
            except SigningFailed as exc:
                log.error("could not sign the packages of %s: %s", build_rel, exc)
                note(directory, f"could not sign the packages: {exc}")
            reveal_packages(directory)
            mark_success(directory)
        else:
            drop_packages(directory)
        finish_build_dir(directory)

    def sign(self, rel: str, rpms: list[Path]) -> None:
        """Sign ``rpms``, results below ``rel`` (``owner/dirname/…``), with the project's
        key, and put its ``pubkey.gpg`` beside them. Nothing without a keyring."""
        if self.keyring is None or not rpms:
            return
        owner, dirname, project = _owner_and_dir(rel)
        self.keyring.sign(owner, project, rpms)
        if self.keyring.key(owner, project) is not None:
            self.publish_pubkey(owner, project, dirname)

    def publish_pubkey(self, owner: str, project: str, *dirnames: str) -> None:
        """Write the project's public key as ``pubkey.gpg`` into its results directory
        and those of the CoprDirs ``dirnames``, where the directory exists and the file
        differs."""
        if self.keyring is None:
            return
        armored = self.keyring.public_key(owner, project)
        for dirname in dict.fromkeys((project, *dirnames)):
            rel = f"{owner}/{dirname}"
            if not self.path(rel).is_dir():
                continue
            target = self.path(f"{rel}/{PUBKEY}")
            try:
                if target.read_bytes() == armored:
                    continue
            except FileNotFoundError:
                pass
            self.store.put_stream(f"{rel}/{PUBKEY}", io.BytesIO(armored))

    def _project_exists(self, owner: str, project: str) -> bool:
        if self._factory is None:
            return True
        with self._factory() as session:
            found = session.scalar(
                select(Project.id).where(Project.owner_name == owner, Project.name == project)
            )
        return found is not None

    def _key_made(self, owner: str, project: str) -> None:
        self.publish_pubkey(owner, project)

    def make_keys_forever(self, stop: threading.Event) -> None:
        """The background key maker (``coprd serve`` runs it in a thread)."""
        if self.keymaker is not None:
            self.keymaker.run(stop)

    def refresh_keys(self, within_days: int = EXTEND_WITHIN_DAYS) -> int:
        """Extend every key that expires within ``within_days`` and publish its public
        key again (in the project's directory and its CoprDirs'); returns how many."""
        if self.keyring is None:
            return 0
        extended = 0
        for owner, project in list(self.keyring.projects()):
            try:
                if self.keyring.extend(owner, project, within_days=within_days) is None:
                    continue
                owner_dir = self.path(owner)
                coprdirs = (
                    [d.name for d in owner_dir.glob(f"{project}:*") if (d / PUBKEY).is_file()]
                    if owner_dir.is_dir()
                    else []
                )
                self.publish_pubkey(owner, project, *coprdirs)
                extended += 1
            except (SigningFailed, OSError, ValueError):
                log.exception("could not extend the signing key of %s/%s", owner, project)
        return extended

    def refresh_keys_forever(
        self, stop: threading.Event, interval_s: float = REFRESH_INTERVAL_S
    ) -> None:
        """``refresh_keys`` now and then every ``interval_s`` until ``stop`` is set."""
        while not stop.is_set():
            self.refresh_keys()
            stop.wait(interval_s)

    def sign_published(self) -> int:
        """Sign every published package that its project's key has not signed, and
        update the repositories they are in; returns how many were signed.

        Runs at start (after ``repair``). Walks the whole results tree only once:
        afterwards every publish signs, which a mark in the results root records; a start
        with signing off removes the mark, so a later start with it on walks again.
        """
        mark = self.path("") / SIGNED_MARK
        if self.keyring is None:
            mark.unlink(missing_ok=True)
            return 0
        if mark.exists():
            return 0
        signed = 0
        for top in sorted(self.path("").glob("*/*")):
            owner, dirname = top.parent.name, top.name
            if owner.startswith(".") or dirname.startswith(".") or not top.is_dir():
                continue
            project = dirname.partition(":")[0]
            for chroot_dir in sorted(top.iterdir()):
                if chroot_dir.name.startswith(".") or not chroot_dir.is_dir():
                    continue
                rpms = sorted(
                    rpm
                    for rpm in chroot_dir.glob("*/*.rpm")
                    if not rpm.name.startswith(".") and not rpm.parent.name.startswith(".")
                )
                try:
                    done = self.keyring.sign(owner, project, rpms)
                    if done and (chroot_dir / REPODATA).is_dir():
                        update_repo(chroot_dir)
                    if rpms:
                        self.publish_pubkey(owner, project, dirname)
                except (CreaterepoFailed, OSError, ValueError) as exc:
                    log.error("could not sign the packages in %s: %s", chroot_dir, exc)
                    return signed  # no mark: the next start tries again
                signed += len(done)
        mark.touch()
        if signed:
            log.info("signed %d packages published before signing was on", signed)
        return signed

    def copy_forks(self, build_ids: Iterable[int]) -> int:
        """Copy the results of forked builds (``core/forks.py``) from the builds they were
        forked from, sign their packages with the fork's key, and index them; returns
        the task directories copied. A directory already in place is left alone, so this
        is safe to repeat (``finish_forks`` does, at start). Failures are logged."""
        if self._factory is None:
            return 0
        # (fork's build id, source directory, target directory, target's repository)
        copies: list[tuple[int, str, str, str | None]] = []
        with self._factory() as session:  # read, then let go: copying takes a while
            forks = session.scalars(
                select(Build)
                .where(Build.id.in_(list(build_ids)), Build.forked_from_id.is_not(None))
                .options(selectinload(Build.tasks), selectinload(Build.project))
            ).all()
            originals = {
                build.id: build
                for build in session.scalars(
                    select(Build)
                    .where(Build.id.in_([fork.forked_from_id for fork in forks]))
                    .options(selectinload(Build.tasks), selectinload(Build.project))
                )
            }
            for fork in forks:
                original = originals.get(fork.forked_from_id or 0)
                if original is None:
                    log.warning("build %d: the build it was forked from is gone", fork.id)
                    continue
                sources = {task.chroot_name: task for task in original.tasks}
                for task in fork.tasks:
                    source = sources.get(task.chroot_name)
                    if source is not None:
                        repo = (
                            None
                            if task.chroot_name == SOURCE_TASK_CHROOT
                            else str(repo_dir(fork, task.chroot_name))
                        )
                        copies.append(
                            (
                                fork.id,
                                str(task_dir(original, source)),
                                str(task_dir(fork, task)),
                                repo,
                            )
                        )
        return self.copy_results(copies)

    def copy_results(self, copies: Iterable[tuple[int, str, str, str | None]]) -> int:
        """Copy task directories into place: ``(build id, source, target, the target's
        repository or None)``, results-relative; returns the directories copied.

        Used by forks (``copy_forks``) and by a release branched from rawhide
        (``core/branching.py``). Each target is copied whole (a hidden copy, signed with
        its project's key, renamed), the packages of one project directory signed in one
        go; then each repository that got something is indexed once. A target already in
        place is left alone, so this is safe to repeat. Failures are logged.
        """
        staged: dict[str, list[tuple[int, Path, str, str | None]]] = defaultdict(list)
        for build_id, source_rel, target_rel, repo in copies:
            try:
                staging = self._stage_copy(source_rel, target_rel)
            except OSError as exc:
                log.error("could not copy the results of build %d: %s", build_id, exc)
                continue
            if staging is not None:
                owner, dirname, _project = _owner_and_dir(target_rel)
                staged[f"{owner}/{dirname}"].append((build_id, staging, target_rel, repo))
        copied = 0
        repos: set[str] = set()
        for directory, items in staged.items():
            try:
                rpms = sorted(rpm for _, st, _, _ in items for rpm in st.glob("*.rpm"))
                self.sign(directory, rpms)
                for _build_id, staging, target_rel, repo in items:
                    if self._place(staging, self.path(target_rel)):
                        copied += 1
                        if repo is not None:
                            repos.add(repo)
            except (CreaterepoFailed, OSError, ValueError) as exc:
                log.error("could not copy results into %s: %s", directory, exc)
            finally:
                for _, staging, _, _ in items:
                    if staging.exists():
                        shutil.rmtree(staging, ignore_errors=True)
        for repo in sorted(repos):
            try:
                update_repo(self.path(repo))
            except (CreaterepoFailed, OSError) as exc:
                log.error("could not update the repository %s after a copy: %s", repo, exc)
        return copied

    def _stage_copy(self, source_rel: str, target_rel: str) -> Path | None:
        """A hidden copy of a task directory beside its target; None if the target is in
        place already or the source is gone."""
        source, target = self.path(source_rel), self.path(target_rel)
        if target.exists() or not source.is_dir():
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".fork-{target.name}.", dir=target.parent))
        try:
            shutil.copytree(
                source,
                staging,
                dirs_exist_ok=True,
                ignore=lambda _dir, names: [name for name in names if name.startswith(".")],
            )
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        os.chmod(staging, 0o755)  # mkdtemp made it 0700; a web server reads results
        return staging

    @staticmethod
    def _place(staging: Path, target: Path) -> bool:
        """Rename a signed staging copy into place; False if another copier was first."""
        try:
            os.rename(staging, target)
        except OSError:
            if target.exists():
                return False
            raise
        return True

    def finish_forks(self) -> int:
        """At start: copy what a fork's copier had not copied when the server stopped."""
        if self._factory is None:
            return 0
        with self._factory() as session:
            forks = session.scalars(
                select(Build)
                .where(Build.forked_from_id.is_not(None), Build.state == BuildState.forked)
                .options(selectinload(Build.tasks), selectinload(Build.project))
            ).all()
            unfinished = [
                fork.id
                for fork in forks
                if any(not self.path(str(task_dir(fork, task))).exists() for task in fork.tasks)
            ]
        return self.copy_forks(unfinished) if unfinished else 0

    def repair(self) -> int:
        """Finish what a crash interrupted: every chroot repository with a leftover staging
        directory (the server died during a publish) is updated again, so its metadata
        is complete and names every package on disk. Returns the repositories updated.

        Cheap when nothing crashed: one directory listing per repository.
        """
        repaired = 0
        root = self.path("")
        stagings = [
            *root.glob(f"*/*/*/{STAGING_PREFIX}*"),
            *root.glob(f"*/*/*/{DEVEL}/{STAGING_PREFIX}*"),
        ]
        for staging in sorted(stagings):
            repo = staging.parent.parent if staging.parent.name == DEVEL else staging.parent
            if not staging.exists():  # an earlier update of the same repo removed it
                continue
            try:
                update_repo(repo)
            except (CreaterepoFailed, OSError) as exc:
                log.error("could not repair the repository %s: %s", repo, exc)
                continue
            log.info("repaired the repository %s after an interrupted publish", repo)
            repaired += 1
        return repaired

    def publish_prebuilt(self, build: Build, rpm: Path, name: str) -> None:
        """Put an uploaded binary RPM into each chroot it was accepted for, and index it.

        The RPM is signed first, in place: ``rpm`` is the caller's temporary copy.
        """
        accepted = [task for task in chroot_tasks(build) if task.state == BuildState.succeeded]
        if accepted:
            self.sign(str(project_dir(build)), [rpm])
        for task in accepted:
            directory = str(task_dir(build, task))
            self.store.put_file(f"{directory}/{name}", rpm)
            self.publish_build(
                str(repo_dir(build, task.chroot_name)), directory, devel=build.project.devel_mode
            )
