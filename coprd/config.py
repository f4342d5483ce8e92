"""The one settings object of coprd.

Settings are read once, in this order of precedence: explicit overrides (command-line
flags), environment variables (``COPRD_*``), an optional TOML file (``COPRD_CONFIG`` or
``<data_dir>/coprd.toml``), then the defaults below. The embedded default needs nothing but
a writable data directory: SQLite in WAL mode lives inside it.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from coprd.core.names import parse_digits

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
URL_FILE = "server.url"
# What gpg may make a project's signing key of; the first is the default.
SIGNING_KEY_TYPES = ("rsa2048", "rsa3072", "rsa4096", "ed25519")
# The most packages an agent's finish may name (agent_api.schemas.FinishIn): a higher
# max_result_files could never be reported.
MAX_FINISH_PACKAGES = 10_000


class ConfigError(Exception):
    """A setting has a value coprd cannot use."""


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "coprd"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=_default_data_dir)
    database_url: str = ""
    url: str = ""
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    builders: int = 1
    token_days: int = 180
    max_upload_bytes: int = 1024 * 1024 * 1024
    max_comps_bytes: int = 4 * 1024 * 1024
    # How long a claimed task stays an agent's without a heartbeat (agents beat every 3 s).
    lease_seconds: int = 60
    secret_key: str = ""
    # Where source tasks fetch from: a PyPI simple index, a RubyGems source, a dist-git
    # laid out as Fedora's (clones at <url>/<namespace>/<name>.git, sources at
    # <url>/repo/pkgs/...).
    pypi_index: str = "https://pypi.org/simple"
    rubygems_source: str = "https://rubygems.org"
    distgit_url: str = "https://src.fedoraproject.org"
    # Sign every published RPM with its project's GPG key (gpg and rpmsign on the host
    # that publishes); off, the .repo files say gpgcheck=0. See coprd/publish/signing.py
    # for the key type (rsa2048, rsa3072, rsa4096 or ed25519) and lifetime.
    signing: bool = True
    signing_key_type: str = SIGNING_KEY_TYPES[0]
    signing_key_days: int = 5 * 365 + 1
    # Builder agents (coprd serve's and coprd worker's, each reading the settings of the
    # host it runs on): where builds work, as whom, and what each build may consume. See
    # coprd/builder/sandbox.py.
    work_dir: Path | None = None
    build_uid: int = 2_000_000_000
    build_max_procs: int = 4096
    build_memory_mb: int = 0
    build_disk_mb: int = 40 * 1024
    build_max_files: int = 2_000_000
    allow_builds_without_userns: bool = False
    # What one task may leave behind (coprd/core/limits.py). The agent holds a build to
    # the settings of the host it runs on, the server to its own.
    # A log keeps its first max_log_bytes, then a line that says it was cut, then the last
    # log_tail_bytes of the rest (which the agent holds in memory while the build runs).
    # 64 MiB is many times the log of an ordinary build, yet what a runaway loop prints in
    # seconds; it gzips to a few MiB in the results.
    max_log_bytes: int = 64 * 1024 * 1024
    log_tail_bytes: int = 1024 * 1024
    # Result files (RPMs) per task, and their total size. 2000 lets big packages through
    # (the kernel makes ~100); texlive (~6,000 subpackages) needs it raised, on the server
    # and on its builders, up to MAX_FINISH_PACKAGES.
    max_result_files: int = 2000
    max_result_bytes: int = 20 * 1024 * 1024 * 1024
    # Failed logins and API or builder authentications (coprd/core/throttling.py): past
    # this many in the window, an account or an address waits, from the first delay
    # doubling to the largest; 0 turns a limit off.
    auth_failures_per_account: int = 10
    auth_failures_per_address: int = 50
    auth_failure_window_seconds: int = 3600
    auth_delay_seconds: int = 60
    auth_max_delay_seconds: int = 900
    # The pruner (coprd/core/pruning.py) removes old results this many days after their
    # build ended, keeping every package's latest good and latest finished build.
    prune_days: int = 14

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'coprd.sqlite'}"

    @property
    def public_url(self) -> str:
        """The base URL users and clients reach this service at, without a trailing slash.

        An explicit ``url`` wins; otherwise the URL the last ``coprd serve`` on this data
        directory recorded, so that ``coprd token`` run beside a server prints a working
        ``copr_url``; otherwise the default bind address.
        """
        if self.url:
            return self.url.rstrip("/")
        recorded = self.data_dir / URL_FILE
        if recorded.is_file():
            text = recorded.read_text().strip()
            if text:
                return text.rstrip("/")
        return f"http://{self.host}:{self.port}"

    def agent_work_dir(self, key: str) -> Path:
        """The work root of this host's builder agents named ``key`` (``serve``, ``worker``):
        ``work_dir`` if set; else, for an unprivileged agent, under the data directory; for
        a root agent, whose builds run as other uids that must be able to reach it, under
        ``/var/lib/coprd/builds/`` (a home directory such as ``/root`` is closed to them)."""
        if self.work_dir is not None:
            return self.work_dir / key
        if os.geteuid() != 0:
            return self.data_dir / "work" / key
        digest = hashlib.sha256(os.fsencode(self.data_dir.absolute())).hexdigest()[:12]
        return Path("/var/lib/coprd/builds") / f"{key}-{digest}"

    @property
    def build_memory_bytes(self) -> int:
        """``build_memory_mb``, or for 0 three quarters of this host's memory."""
        if self.build_memory_mb:
            return self.build_memory_mb * 1024 * 1024
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 3 // 4

    @property
    def results_url(self) -> str:
        return f"{self.public_url}/results"

    @property
    def results_dir(self) -> Path:
        return self.data_dir / "results"

    @property
    def prune_log_dir(self) -> Path:
        """Where each run of the pruner that removed anything leaves its record."""
        return self.data_dir / "prune-log"


_ENV_PREFIX = "COPRD_"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_CHOICES = {"signing_key_type": SIGNING_KEY_TYPES}
_RANGES = {"max_result_files": (1, MAX_FINISH_PACKAGES), "prune_days": (1, 36500)}


def _coerce(name: str, kind: type[Any] | str, raw: Any) -> Any:
    kind_name = kind if isinstance(kind, str) else kind.__name__
    if kind_name == "bool":
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise ConfigError(f"setting {name!r} must be true or false, not {raw!r}")
    try:
        if "int" in kind_name:
            # A whole number: TOML's integer, or ASCII digits (int() alone also takes
            # True, 1.9, "1_000" and other scripts' digits).
            if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
                return raw
            value = parse_digits(raw.strip()) if isinstance(raw, str) else None
            if value is None:
                raise ValueError
            return value
        if "Path" in kind_name:
            return Path(str(raw)).expanduser()
        return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name!r} has an invalid value: {raw!r}") from None


def load_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Build the settings from overrides, the environment, a TOML file and defaults."""
    known = {f.name: f.type for f in fields(Settings)}
    values: dict[str, Any] = {}

    env = {
        key[len(_ENV_PREFIX) :].lower(): value
        for key, value in os.environ.items()
        if key.startswith(_ENV_PREFIX) and key[len(_ENV_PREFIX) :].lower() in known
    }
    explicit = {k: v for k, v in (overrides or {}).items() if v is not None}

    data_dir = Path(
        str(explicit.get("data_dir") or env.get("data_dir") or _default_data_dir())
    ).expanduser()
    config_path = os.environ.get("COPRD_CONFIG")
    toml_file = Path(config_path) if config_path else data_dir / "coprd.toml"
    if config_path and not toml_file.is_file():
        raise ConfigError(f"COPRD_CONFIG points to {toml_file}, which is not a file")
    if toml_file.is_file():
        try:
            parsed = tomllib.loads(toml_file.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{toml_file}: {exc}") from None
        table = parsed.get("coprd", parsed)
        for key, value in table.items():
            if key not in known:
                raise ConfigError(f"{toml_file}: unknown setting {key!r}")
            values[key] = value

    values.update(env)
    values.update(explicit)
    values["data_dir"] = data_dir
    coerced = {name: _coerce(name, known[name], raw) for name, raw in values.items()}
    for name, choices in _CHOICES.items():
        if name in coerced and coerced[name] not in choices:
            raise ConfigError(
                f"setting {name!r} is {coerced[name]!r}, not one of {', '.join(choices)}"
            )
    for name, (low, high) in _RANGES.items():
        if name in coerced and not low <= coerced[name] <= high:
            raise ConfigError(f"setting {name!r} must be from {low} to {high}, not {coerced[name]}")
    return replace(Settings(), **coerced)
