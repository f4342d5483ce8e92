"""The buildroot's dependency resolver: libsolv over the task's repositories, run in a sandbox.

This file is a program of its own. ``buildroot.py`` copies it into the sandbox and runs it
with the host's system Python (``/usr/bin/python3 -I``), which has libsolv's binding
(``python3-solv``, on Debian and Fedora alike); it imports nothing of coprd. What it reads
is hostile: the repositories' metadata was written from RPM headers that builds chose, and
an additional repository is whatever server the project named. So it runs where a build
runs, as the build's uid, and the agent reads back only its JSON answer (through a
``ConfinedDir``, size-limited) and the packages it downloaded (checked against the
metadata's checksums before they are unpacked, again in the sandbox).

Input, ``request.json`` in the current directory::

    {"arch": "x86_64",
     "repos": [{"id": "copr_base", "baseurl": "http://…/", "priority": 99,
                "local": "repos/0" | null}, …],
     "requires": [{"name": "libfoo-devel", "flags": 12, "version": "1.0"}, …],
     "rpmdb": "/usr/lib/sysimage/rpm" | null,
     "max_bytes": 4294967296}

``local`` names a directory where the agent already put the repository's ``repodata/``
(the server's own repositories, which a sandbox cannot reach: they may live on the host's
loopback); any other repository is fetched here from its ``baseurl`` (http, https, ftp).
``flags`` are rpm's sense flags (``RPMSENSE_LESS`` 2, ``GREATER`` 4, ``EQUAL`` 8); a name
in parentheses is a rich dependency.

How a requirement is met, in this order (the rule the local backend documents):

1. a package of the repositories provides it: that package is installed, with what it
   requires from the repositories (``install``). Priorities are dnf's (a lower number
   wins; 99 when unset); libsolv picks the best version among the winners;
2. the host's rpm database provides it (``rpmdb``, the database's directory: Fedora or EL
   hosts; asked with ``rpm -q --whatprovides``, libsolv comparing the versions): the host's
   toolchain has it (``host``);
3. neither: with an rpm database the requirement is ``missing`` and the build fails as
   mock fails; without one (Debian) it is ``assumed`` to come from the host's toolchain.

What the chosen packages require and no repository provides is the host's in the same way
(one installed solvable stands for the host's toolchain and provides it); those that no
rpm database confirmed are listed in ``assumed_by_packages``.

Output, ``result.json``: ``install`` (nevra, repo index, location, checksum type and hex,
size, ``file`` where this program downloaded it or null for the agent to download),
``host``, ``assumed``, ``assumed_by_packages``, ``missing``, ``problems`` (the solver's
sentences), ``notes`` (what rpm said on its error output) and ``error`` (a repository
that could not be read, …).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ElementTree
from typing import Any

import solv  # type: ignore[import-not-found,unused-ignore]

REPOMD_NS = "{http://linux.duke.edu/metadata/repo}"
MAX_METADATA = 512 * 1024 * 1024
FETCH_TIMEOUT_S = 60
SCHEMES = ("http", "https", "ftp")
# rpm's sense flags, and libsolv's relation flags.
RPMSENSE_LESS, RPMSENSE_GREATER, RPMSENSE_EQUAL = 2, 4, 8


class Refused(Exception):
    """A repository or package could not be had; ``str`` is the sentence for the log."""


class _NoFileRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        if urllib.parse.urlsplit(newurl).scheme not in SCHEMES:
            raise Refused(f"{req.full_url} redirects to {newurl}, which is not http(s) or ftp")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        urllib.request.FTPHandler(),
        _NoFileRedirects(),
        urllib.request.HTTPErrorProcessor(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.UnknownHandler(),
    ):
        opener.add_handler(handler)
    return opener


def fetch(url: str, dest: str, limit: int) -> None:
    """``url`` into the file ``dest``, at most ``limit`` bytes."""
    if urllib.parse.urlsplit(url).scheme not in SCHEMES:
        raise Refused(f"not fetched: {url} (only http, https and ftp)")
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    try:
        with _opener().open(url, timeout=FETCH_TIMEOUT_S) as answer, open(dest, "wb") as out:
            size = 0
            while chunk := answer.read(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    raise Refused(f"{url} is larger than {limit} bytes")
                out.write(chunk)
    except urllib.error.HTTPError as error:
        raise Refused(f"could not fetch {url}: the server answered {error.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise Refused(f"could not fetch {url}: {reason}") from None


def metadata_files(repomd: str) -> dict[str, str]:
    """``type`` → ``location href`` of a ``repomd.xml``, for primary and filelists."""
    try:
        root = ElementTree.parse(repomd).getroot()
    except (ElementTree.ParseError, OSError) as error:
        raise Refused(f"unreadable repomd.xml: {error}") from None
    found = {}
    for data in root.findall(f"{REPOMD_NS}data"):
        kind = data.get("type")
        location = data.find(f"{REPOMD_NS}location")
        if kind in ("primary", "filelists") and location is not None:
            href = location.get("href") or ""
            parts = href.split("/")
            if href.startswith("/") or ".." in parts or not href:
                raise Refused(f"repomd.xml names an unsafe location: {href!r}")
            found[kind] = href
    if "primary" not in found:
        raise Refused("repomd.xml names no primary metadata")
    return found


def load_repo(pool: Any, index: int, spec: dict[str, Any], want_files: bool) -> Any:
    """Read one repository into ``pool``; fetch its metadata first unless it is local."""
    base = spec["baseurl"].rstrip("/") + "/"
    where = spec.get("local") or f"repos/{index}"
    if not spec.get("local"):
        fetch(base + "repodata/repomd.xml", f"{where}/repodata/repomd.xml", MAX_METADATA)
    files = metadata_files(f"{where}/repodata/repomd.xml")
    repo = pool.add_repo(f"{index}:{spec['id']}")
    repo.appdata = index
    # dnf's priorities: a lower number wins. libsolv's: a higher one.
    repo.priority = -int(spec.get("priority") or 99)
    for kind in ("primary", "filelists") if want_files else ("primary",):
        href = files.get(kind)
        if href is None:
            continue
        path = f"{where}/{href}"
        if not spec.get("local"):
            fetch(base + href, path, MAX_METADATA)
        handle = solv.xfopen(path)
        if handle is None:
            raise Refused(f"cannot read {href} of {spec['baseurl']}")
        flags = solv.Repo.REPO_EXTEND_SOLVABLES if kind == "filelists" else 0
        if not repo.add_rpmmd(handle, None, flags):
            handle.close()
            raise Refused(f"unreadable {kind} metadata in {spec['baseurl']}")
        handle.close()
    repo.internalize()
    return repo


def requirement(pool: Any, item: dict[str, Any]) -> Any:
    name = str(item["name"])
    if name.startswith("("):
        return pool.parserpmrichdep(name)
    dep = pool.Dep(name)
    flags = int(item.get("flags") or 0)
    version = str(item.get("version") or "")
    relation = (
        (solv.REL_LT if flags & RPMSENSE_LESS else 0)
        | (solv.REL_GT if flags & RPMSENSE_GREATER else 0)
        | (solv.REL_EQ if flags & RPMSENSE_EQUAL else 0)
    )
    if relation and version:
        return dep.Rel(relation, pool.Dep(version))
    return dep


def solve(request: dict[str, Any]) -> dict[str, Any]:
    pool = solv.Pool()
    # Debian builds libsolv for its own packages; these are rpm's (noarch, epochs, rich deps).
    pool.setdisttype(solv.Pool.DISTTYPE_RPM)
    pool.setarch(request["arch"])
    wanted = [requirement(pool, item) for item in request["requires"]]
    want_files = any(str(dep).startswith("/") for dep in wanted)
    repos = [load_repo(pool, i, spec, want_files) for i, spec in enumerate(request["repos"])]
    pool.addfileprovides()
    pool.createwhatprovides()

    result: dict[str, Any] = {
        "install": [],
        "host": [],
        "assumed": [],
        "assumed_by_packages": [],
        "missing": [],
        "problems": [],
        "notes": [],
        "error": None,
    }
    # What no repository provides: the BuildRequires, and what the repositories' packages
    # require. Asked before the pool changes: adding a repository invalidates libsolv's
    # index of providers until it is made again.
    unmet: dict[str, Any] = {}
    from_repos: dict[str, list[int]] = {}
    for dep in wanted:
        providers = pool.whatprovides(dep)
        if providers:
            from_repos[str(dep)] = [s.id for s in providers]
        else:
            unmet[str(dep)] = dep
    for repo in repos:
        for package in repo.solvables:
            for dep in package.lookup_deparray(solv.SOLVABLE_REQUIRES):
                text = str(dep)
                skip = text in unmet or text.startswith("rpmlib(")
                if not skip and not pool.whatprovides(dep):
                    unmet[text] = dep

    # The host's toolchain stands in for all of that, as one installed package: with an rpm
    # database it provides what the database's packages provide; without one, all of it.
    host_repo = pool.add_repo("@host")
    host = host_repo.add_solvable()
    host.name, host.evr, host.arch = "host-toolchain", "0", "noarch"
    if request.get("rpmdb"):
        for name, relation, evr in host_provides(request["rpmdb"], list(unmet), result["notes"]):
            dep = pool.Dep(name)
            host.add_deparray(
                solv.SOLVABLE_PROVIDES, dep.Rel(relation, pool.Dep(evr)) if relation else dep
            )
    else:
        for dep in unmet.values():
            host.add_deparray(solv.SOLVABLE_PROVIDES, dep)
    host_repo.internalize()
    pool.installed = host_repo
    pool.createwhatprovides()

    jobs: list[Any] = []
    for dep in wanted:
        text = str(dep)
        if text in from_repos:
            jobs.append(from_repos[text])
        elif not pool.whatprovides(dep):
            result["missing"].append(text)
        elif request.get("rpmdb"):
            result["host"].append(text)
        else:
            result["assumed"].append(text)
    if result["missing"] or not jobs:
        return result

    solver = pool.Solver()
    one_of = solv.Job.SOLVER_SOLVABLE_ONE_OF | solv.Job.SOLVER_INSTALL
    # Made now: the pool's index of providers, which they point into, is final.
    jobs = [pool.Job(one_of, pool.towhatprovides(ids)) for ids in jobs]
    solver.set_flag(solv.Solver.SOLVER_FLAG_IGNORE_RECOMMENDED, 1)
    problems = solver.solve(jobs)
    if problems:
        result["problems"] = [str(problem) for problem in problems]
        return result
    for package in solver.transaction().newsolvables():
        location, _medianr = package.lookup_location()
        checksum = package.lookup_checksum(solv.SOLVABLE_CHECKSUM)
        result["install"].append(
            {
                "nevra": str(package),
                "repo": package.repo.appdata,
                "location": location,
                "checksum": [checksum.typestr(), checksum.hex()] if checksum else None,
                "size": package.lookup_num(solv.SOLVABLE_DOWNLOADSIZE),
                "file": None,
            }
        )
        for dep in package.lookup_deparray(solv.SOLVABLE_REQUIRES):
            providers = pool.whatprovides(dep)
            if providers and all(p.repo == host_repo for p in providers):
                result["assumed_by_packages"].append(f"{dep} (for {package})")
    return result


# Words of rich dependencies that are no package names.
_RICH_WORDS = frozenset({"and", "or", "if", "else", "with", "without", "unless"})
_RELATIONS = {"=": solv.REL_EQ, "<": solv.REL_LT, ">": solv.REL_GT}


def _names(text: str) -> list[str]:
    """The names a requirement's text asks for (several for a rich dependency)."""
    words = text.replace("(", " ").replace(")", " ").split()
    names, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word in _RICH_WORDS:
            continue
        elif set(word) <= set("<>="):
            skip = True  # the version after the relation
        elif not word.startswith("-"):
            names.append(word)
    return names


def host_provides(dbpath: str, unmet: list[str], notes: list[str]) -> list[tuple[str, int, str]]:
    """What the packages of the rpm database at ``dbpath`` that provide any of the names in
    ``unmet`` provide (name, libsolv relation, evr), with the file paths among those names
    that a package of it owns. The versions are left to libsolv to compare."""
    names = sorted({name for text in unmet for name in _names(text)})
    if not names:
        return []
    found: list[tuple[str, int, str]] = []
    for start in range(0, len(names), 500):
        chunk = names[start : start + 500]
        done = subprocess.run(
            [
                "rpm",
                "--dbpath",
                dbpath,
                "-q",
                "--qf",
                "[%{PROVIDENEVRS}\n]",
                "--whatprovides",
                "--",
                *chunk,
            ],
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
        )
        notes += [line for line in done.stderr.splitlines()[:20] if line.strip()]
        absent = {
            line[len("no package provides ") :]
            for line in done.stdout.splitlines()
            if line.startswith("no package provides ")
        }
        for line in done.stdout.splitlines():
            if line.startswith("no package provides "):
                continue
            parts = line.split(" ")
            if len(parts) == 3 and set(parts[1]) <= set("<>="):
                relation = 0
                for sign in parts[1]:
                    relation |= _RELATIONS[sign]
                found.append((parts[0], relation, parts[2]))
            elif len(parts) == 1 and parts[0]:
                found.append((parts[0], 0, ""))
        found += [(name, 0, "") for name in chunk if name.startswith("/") and name not in absent]
    return found


def download(request: dict[str, Any], result: dict[str, Any]) -> None:
    """Fetch the chosen packages of repositories that are not local, checking each."""
    total = 0
    for package in result["install"]:
        spec = request["repos"][package["repo"]]
        if spec.get("local"):
            continue
        location = package["location"]
        if location.startswith("/") or ".." in location.split("/"):
            raise Refused(f"the metadata names an unsafe package location: {location!r}")
        dest = f"rpms/{len(os.listdir('rpms')) if os.path.isdir('rpms') else 0}.rpm"
        fetch(spec["baseurl"].rstrip("/") + "/" + location, dest, request["max_bytes"] - total)
        total += os.path.getsize(dest)
        verify(dest, package["checksum"], package["nevra"])
        package["file"] = dest


def verify(path: str, checksum: list[str] | None, what: str) -> None:
    if not checksum:
        raise Refused(f"the metadata gives no checksum for {what}")
    kind, expected = checksum
    if kind not in hashlib.algorithms_available:
        raise Refused(f"unknown checksum type {kind} for {what}")
    digest = hashlib.new(kind)
    with open(path, "rb") as file:
        shutil.copyfileobj(file, _Digest(digest))
    if digest.hexdigest() != expected:
        raise Refused(f"{what} does not match the checksum of its repository's metadata")


class _Digest:
    def __init__(self, digest: Any) -> None:
        self.digest = digest

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return len(data)


def main() -> int:
    with open("request.json", encoding="utf-8") as file:
        request = json.load(file)
    try:
        result = solve(request)
        if result["install"] and not (result["missing"] or result["problems"]):
            download(request, result)
    except Refused as error:
        result = {"error": str(error)}
    with open("result.json.part", "w", encoding="utf-8") as out:
        json.dump(result, out)
    os.replace("result.json.part", "result.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
