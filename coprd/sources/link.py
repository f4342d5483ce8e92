"""SRPM and spec URLs (``link`` builds, ``copr-cli build demo https://…``), fetched in the
sandbox.

The URL is the user's. Fetched by the agent on the builder's own network it could reach
what listens only on the builder's loopback (a database, the coprd server of a laptop
setup) and tell the user, by its answer, what is there. So curl fetches it inside the
sandbox, whose network has no way to the host's 127.0.0.1 (``builder/network.py``);
redirects are followed only to http, https, ftp and ftps, and what arrives is cut off past
:data:`MAX_SRPM` bytes. The agent then reads the file as any sandbox output: only through
``Job.copy_out`` (``Job.files``: a regular file, no symlink on the way).

A URL whose file name ends in ``.spec`` is built into an SRPM there (``rpmbuild -bs``,
with its Source URLs downloaded), as Copr does with spec links.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from coprd.sources.common import FILE_NAME, MAX_SRPM, Job, SourceFailed, check_url

_SCHEMES = ("http", "https", "ftp")
_PROTOCOLS = "=http,https,ftp,ftps"
# curl's output goes through head so that a server that never stops sending (or does not
# say how much it sends, which --max-filesize needs) cannot fill the builder's disk.
_FETCH = 'curl "$@" | head -c "$LIMIT" > "$DEST"'
# What curl's exit codes mean for a user (https://curl.se/libcurl/c/libcurl-errors.html).
_CURL_ERRORS = {
    1: "a redirect to a protocol that is not fetched",
    3: "the URL is malformed",
    6: "the host name does not resolve",
    7: "nothing answers there (builds cannot reach the builder's own loopback)",
    22: "the server answered with an error",
    28: "the server took too long",
    35: "the TLS handshake failed",
    47: "too many redirects",
    52: "the server answered nothing",
    56: "the connection broke",
    60: "the server's certificate is not trusted",
}
_CURL_TOO_LARGE = 63  # the server announced more than --max-filesize


def file_name(url: str) -> str:
    """The name to store the download as: the URL's own if it names an SRPM or a spec."""
    name = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    if name.endswith((".src.rpm", ".spec")) and FILE_NAME.fullmatch(name):
        return name
    return "source.src.rpm"


def make_srpm(job: Job) -> Path:
    url = str(job.task.get("source_url") or job.source.get("url") or "")
    check_url(url, "the source URL", _SCHEMES)
    directory = job.fresh_dir(job.root / "download")
    dest = directory / file_name(url)
    curl = [
        "--fail",
        "--silent",
        "--show-error",
        "--location",
        "--max-redirs",
        "10",
        "--proto",
        _PROTOCOLS,
        "--proto-redir",
        _PROTOCOLS,
        "--max-filesize",
        str(MAX_SRPM),
        "--retry",
        "3",
        "--connect-timeout",
        "30",
        url,
    ]
    env = {"LIMIT": str(MAX_SRPM + 1), "DEST": str(job.inside(dest))}
    result, _ = job.run(
        ["bash", "-o", "pipefail", "-c", _FETCH, "fetch", *curl],
        "downloading the source",
        env=env,
        check=False,
        shown=["curl", url],
    )
    entry = job.lstat(dest)
    size = entry.size if entry is not None and entry.kind == "file" else 0
    if size > MAX_SRPM or result.returncode == _CURL_TOO_LARGE:
        raise SourceFailed(f"could not download {url}: it is larger than {MAX_SRPM} bytes")
    if result.returncode != 0:
        # curl said why on its own line of the log ("curl: (22) … error: 404").
        why = _CURL_ERRORS.get(result.returncode, "curl failed")
        raise SourceFailed(
            f"could not download {url}: {why} (curl exit {result.returncode}; see the log)"
        )
    if size == 0:
        raise SourceFailed(f"could not download {url}: it is empty")
    if dest.name.endswith(".spec"):
        return job.rpmbuild_srpm(dest, directory)
    return job.copy_out(dest)
