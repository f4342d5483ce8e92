"""python-copr 1.63, the client of the legacy API and APIv2, in a virtual environment of its own.

1.63 does not import on Python 3.10+ as published (``collections.Iterable``) and needs
marshmallow 2; ``../shared/reference/legacy-and-apiv2-client-surface.md`` section 5 gives the
recipe used here. The environment is made once per machine under ``.venv-copr163`` in the
checkout (pip takes a few seconds) and reused while its stamp matches ``PACKAGES``.

Tests drive the client by running a small Python script in that environment
(:func:`run_copr163`): the script prints one JSON document, which is returned.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGES = ("copr==1.63", "marshmallow==2.21.0", "requests-toolbelt==1.0.0")
VENV = Path(__file__).resolve().parents[2] / ".venv-copr163"
# python-copr 1.109, the last release with the legacy client (Copr dropped both in 2021):
# it sends fields 1.63 did not. Made and run the same way, in an environment of its own.
LAST_LEGACY_PACKAGES = ("copr==1.109", "marshmallow==2.21.0", "requests-toolbelt==1.0.0")
LAST_LEGACY_VENV = VENV.with_name(".venv-copr109")
# Runs before the first ``import copr`` of every interpreter of the environment.
_SHIM = "import collections, collections.abc; collections.Iterable = collections.abc.Iterable\n"

# The two 1.63 bugs on Python 3 that stop requests before they are sent (reference 1.6,
# 2.9): v2 build creation JSON-encodes a map object. Scripts that submit v2 builds call
# ``patch_v2_map()`` first.
PRELUDE = textwrap.dedent(
    """
    import json, sys

    def patch_v2_map():
        import copr.client_v2.handlers as handlers
        handlers.map = lambda f, xs: [f(x) for x in xs]

    def emit(value):
        json.dump(value, sys.stdout, default=str)
    """
)


def ensure_copr163() -> Path:
    """The environment's python, made first if it is missing or stale."""
    return _ensure(VENV, PACKAGES)


def ensure_copr109() -> Path:
    """The python of the 1.109 environment, made first if it is missing or stale."""
    return _ensure(LAST_LEGACY_VENV, LAST_LEGACY_PACKAGES)


def _ensure(venv: Path, packages: tuple[str, ...]) -> Path:
    # Test workers (pytest-xdist) may ask at once: one makes it, the others wait and reuse it.
    with (venv.parent / f"{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _made(venv, packages)


def _made(venv: Path, packages: tuple[str, ...]) -> Path:
    python = venv / "bin" / "python"
    stamp = venv / ".coprd-packages"
    want = "\n".join(packages)
    if python.exists() and stamp.exists() and stamp.read_text() == want:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *packages],
        check=True,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "copr163_compat.pth").write_text(_SHIM)
    stamp.write_text(want)
    return python


@pytest.fixture(scope="session")
def copr163() -> Path:
    """The python of the 1.63 environment (made on first use)."""
    return ensure_copr163()


def run_copr163(
    python: Path, script: str, env: dict[str, str] | None = None, timeout: float = 120
) -> object:
    """Run ``script`` (after :data:`PRELUDE`) with the 1.63 client; return what it ``emit``s.

    A script that raises fails the calling test with the script's traceback.
    """
    result = subprocess.run(
        [str(python), "-c", PRELUDE + textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if result.returncode != 0:
        raise AssertionError(f"the legacy client script failed:\n{result.stderr}")
    return json.loads(result.stdout) if result.stdout.strip() else None
