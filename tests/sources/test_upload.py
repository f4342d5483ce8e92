"""An uploaded spec file, built into an SRPM in the sandbox with its Source URLs."""

from __future__ import annotations

from pathlib import Path

from coprd.builder.srpm import inspect_srpm
from tests.sources.conftest import RunSource, requires_tools
from tests.sources.servers import FileServer
from tests.sources.specs import data_spec, srpm_files

pytestmark = requires_tools


def test_an_uploaded_spec_is_built_with_its_remote_sources(
    run_source: RunSource, files_server: FileServer, tmp_path: Path
) -> None:
    (files_server.root / "upstream.txt").write_text("from the Source URL\n")
    spec = tmp_path / "fetched" / "uploaded.spec"
    spec.parent.mkdir()
    spec.write_text(data_spec("uploaded", "2.0", sources=(f"{files_server.url}/upstream.txt",)))
    outcome = run_source("upload", {"pkg": "uploaded.spec"}, uploaded=spec)
    srpm = outcome.ok()
    assert inspect_srpm(srpm).name == "uploaded"
    assert srpm_files(srpm) == ["uploaded.spec", "upstream.txt"]
    assert "building the SRPM from the uploaded uploaded.spec" in outcome.log


def test_a_spec_that_rpmbuild_refuses_fails_the_task(run_source: RunSource, tmp_path: Path) -> None:
    spec = tmp_path / "broken.spec"
    spec.write_text("Name: broken\n%description\n")
    outcome = run_source("upload", {"pkg": "broken.spec"}, uploaded=spec)
    assert outcome.error == "rpmbuild -bs failed: rpmbuild exited with status 1"


def test_without_the_uploaded_file_the_task_fails(run_source: RunSource) -> None:
    outcome = run_source("upload", {"pkg": "gone.spec"})
    assert outcome.error == "this build's uploaded spec file is missing"
