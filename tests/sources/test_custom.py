"""Custom sources: the user's script, run in the sandbox, makes the spec and sources."""

from __future__ import annotations

import secrets
from pathlib import Path

from coprd.builder.srpm import inspect_srpm
from tests.sources.conftest import RunSource, requires_tools
from tests.sources.servers import FileServer
from tests.sources.specs import data_spec, srpm_files

pytestmark = requires_tools


def custom(script: str, **fields: str) -> dict[str, str]:
    return {
        "script": script,
        "chroot": "fedora-latest-x86_64",
        "builddeps": "",
        "resultdir": "",
        "repos": "",
        **fields,
    }


def test_script_writes_spec_and_sources_into_resultdir(
    run_source: RunSource, files_server: FileServer
) -> None:
    (files_server.root / "upstream.txt").write_text("downloaded by the script\n")
    spec = data_spec("scripted", "2.5", sources=("upstream.txt", "env.txt"))
    script = f"""#!/bin/sh
set -e
mkdir -p out
cd out
curl -sSf -o upstream.txt {files_server.url}/upstream.txt
echo "$COPR_OWNER/$COPR_PROJECT in $COPR_RESULTDIR from $(pwd)" > env.txt
cat > scripted.spec <<'SPEC'
{spec}
SPEC
"""
    outcome = run_source(
        "custom",
        custom(script, resultdir="out", builddeps="curl make", repos="https://example.com/r"),
    )
    srpm = outcome.ok()
    assert srpm.name == "scripted-2.5-1.src.rpm"
    assert srpm_files(srpm) == ["env.txt", "scripted.spec", "upstream.txt"]
    assert "not installed: curl make" in outcome.log
    assert "not used: https://example.com/r" in outcome.log
    assert "the script asks for the fedora-latest-x86_64 chroot" in outcome.log


def test_script_without_shebang_runs_under_sh(run_source: RunSource) -> None:
    spec = data_spec("plainsh", sources=("hello.txt",))
    script = f"echo hi > hello.txt\ncat > plainsh.spec <<'SPEC'\n{spec}\nSPEC\n"
    outcome = run_source("custom", custom(script))
    assert inspect_srpm(outcome.ok()).name == "plainsh"


def test_failing_script_and_missing_results_fail(run_source: RunSource) -> None:
    failing = run_source("custom", custom("#!/bin/sh\necho trying; exit 3\n"))
    assert failing.error == "the custom script failed: /builddir/script exited with status 3"
    assert "trying" in failing.log
    nothing = run_source("custom", custom("#!/bin/sh\ntrue\n", resultdir="out"))
    assert nothing.error == (
        "the script left no result directory 'out' "
        "(resultdir is relative to the directory the script starts in)"
    )
    nospec = run_source("custom", custom("#!/bin/sh\ntouch x.txt\n"))
    assert nospec.error == "no .spec file in 'work'"


def test_script_cannot_escape_the_sandbox(run_source: RunSource, tmp_path: Path) -> None:
    data = tmp_path / "server-data"
    data.mkdir()
    (data / "coprd.sqlite").write_text("database\n")
    nonce = secrets.token_hex(4)
    script = (
        "#!/bin/sh\n"
        f"ls {data} || echo no-data-dir\n"
        f"touch /usr/escaped-{nonce} || echo no-usr\n"
        "ln -s / out\n"
    )
    outcome = run_source("custom", custom(script, resultdir="out"))
    assert f"ls: cannot access '{data}': No such file or directory" in outcome.log
    assert f"touch: cannot touch '/usr/escaped-{nonce}': Read-only file system" in outcome.log
    assert not Path(f"/usr/escaped-{nonce}").exists()
    # A result directory that points out of the work directory is refused.
    assert outcome.error is not None and outcome.error.startswith(
        "the script left no result directory 'out'"
    )


def test_a_spec_that_swaps_the_srpm_directory_for_a_symlink_yields_nothing(
    run_source: RunSource, outside: Path, tmp_path: Path
) -> None:
    # While rpmbuild -bs parses it, the spec replaces the directory the SRPM goes to by a
    # symlink to ``outside``: the sandbox's own /tmp there, a host directory here that
    # holds someone else's SRPM.
    (outside / "foreign-1-1.src.rpm").write_bytes(b"someone else's package")
    srpm_dir = "/builddir/.coprd-srpm"
    swap = f"rm -rf {srpm_dir}; mkdir -p {outside}; ln -s {outside} {srpm_dir}"
    spec = data_spec("swapsrpm", header=f"%global swapped %({swap})")
    script = f"echo hi > hello.txt\ncat > swapsrpm.spec <<'SPEC'\n{spec}\nSPEC\n"
    outcome = run_source("custom", custom(script))
    assert "Wrote: /builddir/.coprd-srpm/swapsrpm-1.0-1.src.rpm" in outcome.log
    assert outcome.error == "rpmbuild -bs's output directory .coprd-srpm is a symlink"
    assert list((tmp_path / "task-1" / "result").iterdir()) == []
